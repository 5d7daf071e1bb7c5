"""The `recall` command line: index, search, ask, events, people, status, doctor, models."""
from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Annotated, Literal, Optional

import typer

from .local_llm import choose_planner
from .output import (err, error_line, json_document, json_line, note, print_analysis, print_doctor,
                     print_events, print_index_report, print_models, print_people, print_reply, print_results, print_status,
                     say)
from .safe_text import markup

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Find the photo you half-remember, on your own machine.")
models_app = typer.Typer(help="List the models, or fetch the default CLIP (`recall models pull`).")
app.add_typer(models_app, name="models")

MAX_KM = 20_000.0  # half the Earth's circumference: anything more is everywhere
SESSION_WAIT_S = 300.0  # a turn waits this long for another turn of the same session

DbOption = Annotated[Optional[Path], typer.Option("--db", help="index folder (default: user data dir; env RECALL_DB)")]
UrlOption = Annotated[Optional[str], typer.Option("--chroma-url", help="use a Chroma server, e.g. http://localhost:8000")]
ModelsOption = Annotated[Optional[Path], typer.Option("--models-dir", help="model folder (env RECALL_MODELS)")]
JsonOption = Annotated[bool, typer.Option("--json", help="machine-readable output")]


# What `recall serve` keeps loaded between commands (recall/service/resident.py); None outside it.
_resident = None


class UserError(Exception):
    """Something the user can fix; shown as one line."""


@contextlib.contextmanager
def friendly_errors():
    """Every failure reaches the user as one line; RECALL_DEBUG=1 shows the traceback."""
    from pydantic import ValidationError

    from tools.index.folder import is_write_failure

    try:
        yield
    except typer.Exit:
        raise
    except BrokenPipeError:  # `recall search ... | head`: the reader has all it wanted
        _quiet_stdout()
        raise typer.Exit(141) from None
    except KeyboardInterrupt:
        err.print("[yellow]Interrupted.[/] Everything reported done is saved; run the same command to resume.")
        raise typer.Exit(130) from None
    except _user_errors() as error:
        error_line(str(error))
        raise typer.Exit(2) from None
    except ValidationError as error:  # a value outside what a setting or query allows
        first = error.errors()[0]
        error_line(f"{'.'.join(map(str, first['loc'])) or 'value'}: {first['msg']}")
        raise typer.Exit(2) from None
    except Exception as error:  # noqa: BLE001 - the promise is: no traceback at a user
        if os.environ.get("RECALL_DEBUG"):
            raise
        if is_write_failure(error):
            error_line(f"cannot write the index (the disk is full or read-only): {error}")
            raise typer.Exit(2) from None
        error_line(f"{type(error).__name__}: {error} (RECALL_DEBUG=1 shows details)")
        raise typer.Exit(1) from None


def _quiet_stdout() -> None:
    # Python flushes stdout again at exit and would report the closed pipe a second time.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


# Errors worded for the user, by module. Only a module that was imported can have raised one,
# so they are looked up when an error happens: importing them all up front (the agent, the
# gazetteer, speech) cost a cold `recall search` ~0.5 s.
USER_ERRORS = (("agent.state", "SessionError"), ("tools.dates.dates", "DateError"),
               ("tools.models.clip", "ModelMissing"), ("tools.models.speech", "SpeechError"),
               ("tools.understand.people", "PeopleError"), ("tools.query.search", "SearchError"),
               ("tools.index.store", "StoreError"), ("tools.index.ray_work", "RayError"))


def _user_errors() -> tuple[type[BaseException], ...]:
    found = [getattr(sys.modules[module], name) for module, name in USER_ERRORS if module in sys.modules]
    return (UserError, *found)


def _settings(db: Path | None, chroma_url: str | None, models_dir: Path | None):
    from tools.settings import load_settings

    if _resident is not None:
        return _resident.settings(load_settings, db=db, chroma_url=chroma_url, models_dir=models_dir)
    return load_settings(db=db, chroma_url=chroma_url, models_dir=models_dir)


def _context(db: Path | None, chroma_url: str | None, models_dir: Path | None,
             mode: Literal["search", "write"] = "search", create: bool = False):
    """Settings, the store and the models. Commands that only read open the index to ``search``
    (it is never written, not even its files' times); ``write`` with ``create`` makes one
    (``recall index``)."""
    from tools.models.registry import Models
    from tools.index.store import PhotoStore

    settings = _settings(db, chroma_url, models_dir)
    if mode == "search" and _resident is not None:  # in `recall serve`: models and index stay open
        store, models = _resident.open(settings)
    else:
        store, models = PhotoStore(settings, mode=mode, create=create), Models(settings, queries_only=mode == "search")
    if store.notice:
        note(store.notice)
    return settings, store, models


# ---- index ---------------------------------------------------------------------------------------
@app.command()
def index(paths: Annotated[list[Path], typer.Argument(help="folders (or files) of photos")],
          db: DbOption = None, chroma_url: UrlOption = None, models_dir: ModelsOption = None,
          limit: Annotated[Optional[int], typer.Option(help="index at most N new photos this run", min=0)] = None,
          quick: Annotated[bool, typer.Option("--quick", help="skip the understanding pass (faces, objects, captions)")] = False,
          captions_only: Annotated[bool, typer.Option("--captions-only", help="only add captions, no re-embedding")] = False,
          ray: Annotated[Optional[str], typer.Option(
              "--ray", metavar="[ADDRESS]",
              help="run the model work on Ray: a local one (127.0.0.1) alone, or the cluster at ADDRESS "
                   "(host:port; needs photo-recall[scale])")] = None,
          as_json: JsonOption = False) -> None:
    """Index photos: new ones are added, moved ones recognised, deleted ones removed.

    A second pass then finds faces, objects and captions; search works before it ends.
    """
    from tools.understand.analysis import Analyzer
    from tools.index.indexer import Indexer

    from .progress import RichProgress

    with friendly_errors():
        existing = [p for p in paths if os.path.exists(os.path.expanduser(p))]
        if not existing and not captions_only:
            raise UserError("nothing to index: " + ", ".join(str(p) for p in paths)
                            + (" does not exist" if len(paths) == 1 else " do not exist"))
        settings, store, models = _context(db, chroma_url, models_dir, mode="write", create=True)
        cluster = _ray_cluster(settings, ray) if ray is not None else None
        report = analysis = None
        with store.writing("recall index"), cluster or contextlib.nullcontext(), RichProgress(err) as progress:
            if not captions_only:
                report = Indexer(settings, store, models, progress, cluster=cluster).run(paths, limit=limit)
            if not quick:
                analysis = Analyzer(settings, store, models, progress, cluster=cluster).run(
                    only={"caption"} if captions_only else None)
        if as_json:
            json_document({"index": report.model_dump(mode="json") if report else None,
                           "analysis": analysis.model_dump(mode="json") if analysis else None})
            return
        if report is not None:
            print_index_report(report)
        if analysis is not None:
            print_analysis(analysis)


def _ray_cluster(settings, address: str):
    """The Ray connection for `--ray [ADDRESS]` (tools/index/ray_work.py, the only place Ray is imported)."""
    from tools.index.ray_work import LOCAL, RayCluster

    if address != LOCAL and os.path.exists(os.path.expanduser(address)) and ":" not in address:
        raise UserError(f"--ray takes a cluster address (host:port), not the folder {address}: "
                        "put the folders first, `recall index PATH --ray`")
    return RayCluster(settings, address)


def _ray_without_address(args: list[str]) -> list[str]:
    """`--ray` followed by nothing or another option means a local Ray (click has no optional values)."""
    return [f"--ray={LOCAL_RAY}" if a == "--ray" and (i + 1 == len(args) or args[i + 1].startswith("-")) else a
            for i, a in enumerate(args)]


LOCAL_RAY = "local"  # tools.index.ray_work.LOCAL, without importing it


# ---- search --------------------------------------------------------------------------------------
PeopleMode = Literal["all", "any", "only"]


@app.command()
def search(text: Annotated[str, typer.Argument(help="what you remember seeing")] = "",
           k: Annotated[int, typer.Option("-k", "--limit", help="how many results", min=1, max=10000)] = 20,
           date_from: Annotated[Optional[str], typer.Option("--from", help="taken on or after (YYYY[-MM[-DD]])")] = None,
           date_to: Annotated[Optional[str], typer.Option("--to", help="taken on or before")] = None,
           near: Annotated[Optional[str], typer.Option(help="a place: city, region or country")] = None,
           lat: Annotated[Optional[float], typer.Option(help="latitude of a point to search around")] = None,
           lon: Annotated[Optional[float], typer.Option(help="longitude of that point")] = None,
           km: Annotated[Optional[float], typer.Option(help="radius around --near/--lat/--lon, km (default 25)")] = None,
           camera: Annotated[Optional[str], typer.Option(help="camera make or model contains this")] = None,
           person: Annotated[Optional[list[str]], typer.Option("--person", help="a named person (repeatable)")] = None,
           people_mode: Annotated[str, typer.Option("--people-mode", help="all | any | only")] = "all",
           faces: Annotated[Optional[str], typer.Option("--faces", help="N faces exactly, or N+ for at least N")] = None,
           event: Annotated[Optional[str], typer.Option("--event", help="only this event's photos (`recall events` lists them)")] = None,
           all_frames: Annotated[bool, typer.Option("--all-frames", help="every frame of a burst, not one per burst")] = False,
           db: DbOption = None, chroma_url: UrlOption = None, models_dir: ModelsOption = None,
           as_json: JsonOption = False) -> None:
    """Search the index; filters narrow it down."""
    from tools.dates.dates import parse_date_bound
    from tools.understand.people import PeopleBook
    from tools.query.search import SearchQuery, Searcher

    with friendly_errors():
        if people_mode not in PeopleMode.__args__:
            raise UserError(f"--people-mode takes all, any or only, not {people_mode!r}")
        if km is not None and not 0 < km <= MAX_KM:
            raise UserError(f"--km takes a radius above 0 and up to {MAX_KM:.0f} km, not {km:g}")
        settings, store, models = _context(db, chroma_url, models_dir)
        place = _place_filter(store, near, lat, lon, km)
        people = PeopleBook(store).resolve(person) if person else []
        query = SearchQuery(text=text, k=k, camera=camera, place=place, people=people, people_mode=people_mode,
                            faces=_faces_filter(faces), event=event, all_frames=all_frames,
                            date_from=parse_date_bound(date_from) if date_from else None,
                            date_to=parse_date_bound(date_to, end=True) if date_to else None)
        if store.count() == 0:
            raise UserError(f"the index at {store.location} is empty: run `recall index PATH` first")
        if event and _event_book(settings, store).get(event) is None:
            raise UserError(f"there is no event {event!r}: `recall events` lists them")
        response = Searcher(store, models).search(query)
        if as_json:
            for result in response.results:
                row = result.model_dump(include={"path", "score", "taken_at", "place", "lat", "lon", "camera",
                                                 "event_id", "event", "burst_id", "burst_count", "why"})
                if result.text_in_photo:  # text read in the photo comes with it: "the sign said OPEN"
                    row["text_in_photo"] = result.text_in_photo
                json_line(row)
        else:
            print_results(response)
        for notice in response.notices:
            note(notice)


def _faces_filter(text: str | None) -> tuple[int, bool] | None:
    """"2" -> exactly two faces; "2+" -> at least two."""
    if text is None:
        return None
    raw = text.strip()
    at_least = raw.endswith("+")
    try:
        count = int(raw.rstrip("+"))
    except ValueError:
        raise UserError(f"--faces takes a number, or a number and + (e.g. 2+), not {text!r}") from None
    if count < 0 or count > 1000:
        raise UserError(f"--faces {count} is not a sensible number of faces")
    return count, at_least


def _place_filter(store, near: str | None, lat: float | None, lon: float | None, km: float | None):
    radius = 25.0 if km is None else km
    if (lat is None) != (lon is None):
        raise UserError("--lat and --lon go together")
    if lat is None and near is None and km is None:
        return None  # no place: the gazetteer (~0.5 s to import) is not needed
    from tools.places import geo

    if lat is not None:
        if not geo.valid_coordinates(lat, lon):
            raise UserError(f"not a place on Earth: {lat}, {lon}")
        return geo.PlaceFilter(kind="city", label=f"{lat:.4f}, {lon:.4f}", country_code="", lat=lat, lon=lon,
                               radius_km=radius)
    if near is not None and not near.strip():
        raise UserError("--near needs a place name")
    if not near:
        if km is not None:
            raise UserError("--km is a radius around --near or --lat/--lon: give one of them")
        return None
    known = [geo.Place(**p) for p in store.get_meta("places", [])]
    place = geo.resolve_place(near, known, radius_km=radius)
    if place is None:
        close = geo.close_place_names(near)
        raise UserError(f"unknown place {near!r}" + (f"; did you mean {', '.join(close)}?" if close else ""))
    return place


# ---- ask (the agent, one turn at a time) --------------------------------------------------------
@app.command()
def ask(text: Annotated[Optional[str], typer.Argument(help="what you remember, or feedback on the last results")] = None,
        audio: Annotated[Optional[Path], typer.Option("--audio", help="say it instead: a recording, transcribed here")] = None,
        session: Annotated[str, typer.Option("--session", help="dialogue name; turns with the same name continue it")] = "default",
        new: Annotated[bool, typer.Option("--new", help="start the session afresh")] = False,
        k: Annotated[int, typer.Option("-k", help="photos to show", min=1, max=100)] = 10,
        no_llm: Annotated[bool, typer.Option("--no-llm", help="plan with rules only")] = False,
        stream: Annotated[bool, typer.Option("--stream", help='with --json: the rules\' reply first, on a line of its own marked "quick": true, then the LLM\'s')] = False,
        db: DbOption = None, chroma_url: UrlOption = None, models_dir: ModelsOption = None,
        as_json: JsonOption = False) -> None:
    """Talk to the agent: a vague memory, answers to its questions, "#3 is close", "not 1 or 2"."""
    from agent.dialogue import Agent
    from agent.state import DialogueState, adopt_legacy_sessions, load_state, save_state, session_lock
    from tools.query.search import Searcher

    with friendly_errors():
        if (text is None) == (audio is None):
            raise UserError("say what you remember as words, or give --audio FILE (one of them, not both)")
        transcript = None
        if audio is not None:  # before the session is locked or read: a bad recording changes nothing
            from tools.models.speech import SpeechToText

            transcript = SpeechToText(_settings(db, chroma_url, models_dir)).transcribe(audio)
            text = transcript.text
            if not as_json:
                say(f"heard: {text}")
        settings, store, models = _context(db, chroma_url, models_dir)
        if store.count() == 0:
            raise UserError(f"the index at {store.location} is empty: run `recall index PATH` first")
        sessions = settings.sessions_path
        adopt_legacy_sessions(settings.legacy_sessions_path, sessions, store.all_ids)
        planner, phraser, planner_note = (_resident.planner(settings, no_llm) if _resident is not None
                                          else choose_planner(settings, no_llm))
        quick: list = []

        def show_quick(first) -> None:  # the rules' results at once; the LLM's follow if they differ
            quick.append(first)
            if as_json and stream:
                json_line({"quick": True, "session": session, **first.model_dump(mode="json")})
            if not as_json and first.results:
                print_reply(first)
                err.print("[dim]refining with the local LLM...[/]", highlight=False)

        def waiting(holder: str) -> None:
            err.print(f"[dim]waiting for another turn of session {markup(session)} ({markup(holder)})...[/]",
                      highlight=False)

        agent = Agent(store, Searcher(store, models), planner=planner, shown=k, phraser=phraser)
        with session_lock(sessions, session, wait_s=SESSION_WAIT_S, on_wait=waiting):
            state, problem = (DialogueState(), None) if new else load_state(sessions, session)
            reply = agent.turn(state, text, on_quick=show_quick)
            save_state(state, sessions, session)
        notices = [n for n in (problem, planner_note) if n] + reply.notices
        if as_json:
            heard = {"transcript": transcript.model_dump()} if transcript else {}
            json_line({"session": session, **heard, **reply.model_dump(mode="json"), "notices": notices})
            return
        if quick and quick[0].results and [p.id for p in quick[0].results] == [p.id for p in reply.results]:
            err.print("[dim]the LLM's reading gives the same photos[/]", highlight=False)
            if reply.message != quick[0].message:  # e.g. the question in the LLM's words
                say(reply.message)
        else:
            print_reply(reply)
        for notice in notices:
            note(notice)


# ---- events --------------------------------------------------------------------------------------
def _event_book(settings, store):
    from tools.understand.moments import EventBook

    return EventBook(store, settings)


@app.command()
def events(db: DbOption = None, chroma_url: UrlOption = None, as_json: JsonOption = False) -> None:
    """The events in the library (photos grouped by time and place), oldest first."""
    from tools.understand.people import PeopleBook

    with friendly_errors():
        settings, store, _ = _context(db, chroma_url, None)
        found = _event_book(settings, store).list()
        names = {p.id: p.label for p in PeopleBook(store).list(with_photos=False)} if found else {}
        rows = [{"id": e.id, "label": e.label, "start": e.start.isoformat(), "end": e.end.isoformat(),
                 "count": e.count, "place": e.place, "country_code": e.country_code, "lat": e.lat, "lon": e.lon,
                 "people": [names.get(p, p) for p in e.people], "tags": e.tags} for e in found]
        if as_json:
            for row in rows:
                json_line(row)
            return
        print_events(rows)


# ---- chat (the terminal app) ---------------------------------------------------------------------
@app.command()
def chat(session: Annotated[str, typer.Option("--session", help="dialogue name; resumes it if it exists")] = "chat",
         new: Annotated[bool, typer.Option("--new", help="start the session afresh")] = False,
         no_llm: Annotated[bool, typer.Option("--no-llm", help="plan with rules only")] = False,
         index_paths: Annotated[Optional[list[Path]], typer.Option("--index", help="also index this folder in the background (repeatable)")] = None,
         db: DbOption = None, chroma_url: UrlOption = None, models_dir: ModelsOption = None) -> None:
    """The chat app: say what you remember, look at the photos, steer with keys. F1 lists the keys."""
    with friendly_errors():
        if not (sys.stdin.isatty() and sys.stdout.isatty()):
            raise UserError("recall chat needs a terminal; for scripts use `recall ask --session NAME`")
        from tools.index.folder import index_exists

        settings = _settings(db, chroma_url, models_dir)
        for path in index_paths or []:
            if not path.expanduser().exists():
                raise UserError(f"nothing to index: {path} does not exist")
        if index_paths and not settings.chroma_url and not index_exists(settings.db):
            from tools.index.store import PhotoStore

            PhotoStore(settings, mode="write", create=True)  # a first run: make the index to fill
        elif not settings.chroma_url and not index_exists(settings.db):
            raise UserError(f"there is no index at {settings.db}: `recall index PATH` makes one, "
                            "or `recall chat --index PATH` makes it while you chat")
        from .chat.app import RecallApp
        from .chat.engine import ChatEngine
        from .service.address import service_setting

        shared = service_setting() == "auto"  # a running `recall serve` of this index may answer the turns
        engine = ChatEngine(settings, session=session, no_llm=no_llm, new=new,
                            service_args=_index_args(db, chroma_url, models_dir) if shared else None)
        chat_app = RecallApp(engine, index_paths=[p.expanduser() for p in index_paths or []])
        chat_app.run()
        if chat_app.errors:
            note(f"{len(chat_app.errors)} problem(s) were logged to {chat_app.log_path}")


# ---- people --------------------------------------------------------------------------------------
people_app = typer.Typer(help="People found in your photos: list, name, merge, split, unassign, show.")
app.add_typer(people_app, name="people")


@people_app.callback(invoke_without_command=True)
def people_list(ctx: typer.Context, db: DbOption = None, chroma_url: UrlOption = None,
                as_json: JsonOption = False) -> None:
    """Each person (a cluster of faces): id, name, how many photos, a sample."""
    if ctx.invoked_subcommand:
        return
    from tools.understand.people import PeopleBook

    with friendly_errors():
        _, store, _ = _context(db, chroma_url, None)
        people = PeopleBook(store).list()
        if as_json:
            for person in people:
                json_line({"id": person.id, "name": person.name, "count": person.count, "photos": person.photos})
            return
        print_people(people)


def _people_command(action, db: Path | None, chroma_url: str | None, mode: Literal["search", "write"] = "write"):
    """Run a PeopleBook action on the chosen index (which must exist), with one-line errors."""
    from tools.understand.people import PeopleBook

    with friendly_errors():
        return action(PeopleBook(_context(db, chroma_url, None, mode=mode)[1]))


@people_app.command("name")
def people_name(who: Annotated[str, typer.Argument(help="a person id (p3) or current name")],
                name: Annotated[str, typer.Argument(help="the name to give")],
                db: DbOption = None, chroma_url: UrlOption = None) -> None:
    """Name a person (naming two clusters alike merges them)."""
    cluster = _people_command(lambda book: book.name(who, name), db, chroma_url)
    say(f"{cluster.id} is now {cluster.name} ({cluster.count} faces).")


@people_app.command("merge")
def people_merge(into: str, other: str, db: DbOption = None, chroma_url: UrlOption = None) -> None:
    """Merge OTHER into INTO: they are the same person."""
    cluster = _people_command(lambda book: book.merge(into, other), db, chroma_url)
    say(f"Merged into {cluster.name or cluster.id} ({cluster.count} faces).")


@people_app.command("split")
def people_split(who: str, db: DbOption = None, chroma_url: UrlOption = None) -> None:
    """Split a person whose faces belong to several people."""
    parts = _people_command(lambda book: book.split(who), db, chroma_url)
    say("Split into " + ", ".join(f"{p.id} ({p.count} faces)" for p in parts) + ".")


@people_app.command("unassign")
def people_unassign(who: str, photo: Annotated[Path, typer.Argument(help="the photo whose face is not this person")],
                    db: DbOption = None, chroma_url: UrlOption = None) -> None:
    """Take a wrongly matched photo's face out of a person, for good."""
    _people_command(lambda book: book.unassign(who, str(photo.resolve())), db, chroma_url)
    say(f"Removed {photo} from {who}.")


@people_app.command("show")
def people_show(who: str, db: DbOption = None, chroma_url: UrlOption = None, as_json: JsonOption = False) -> None:
    """The photos of one person."""
    def show(book):
        cluster = book.find(who)
        return next(p for p in book.list() if p.id == cluster.id)

    person = _people_command(show, db, chroma_url, mode="search")
    if as_json:
        json_line(person.model_dump())
        return
    say(f"{person.label} ({person.id}): {person.count} faces")
    for path in person.photos:
        say(f"  {path}")


# ---- status and doctor ---------------------------------------------------------------------------
@app.command()
def status(db: DbOption = None, chroma_url: UrlOption = None, models_dir: ModelsOption = None,
           as_json: JsonOption = False) -> None:
    """What is indexed, what was skipped and why, and which models are on."""
    from tools.index import summary
    from tools.models.registry import model_statuses
    from tools.understand.people import PeopleBook

    with friendly_errors():
        settings, store, _ = _context(db, chroma_url, models_dir)
        skipped = summary.skipped_files(store)
        statuses = model_statuses(settings)
        counts = summary.photo_counts(store)
        facts = {
            "index": store.location,
            **{k: counts[k] for k in ("photos", "dates", "with_gps", "with_place", "with_user_text")},
            "vectors": store.vector_collections(),
            "understood": counts["understood"],
            "people": summary.record_count(PeopleBook(store).people),
            "skipped": [s.model_dump(include={"path", "reason"}) for s in skipped],
            "models": [m.model_dump() for m in statuses],
            "last_index": store.get_meta("last_index"),
        }
        if as_json:
            json_document(facts)
            return
        print_status(facts, skipped, statuses)


@app.command()
def doctor(db: DbOption = None, chroma_url: UrlOption = None, models_dir: ModelsOption = None,
           as_json: JsonOption = False) -> None:
    """Check that the index adds up (vectors, filter fields, people, counts) and mend it."""
    from tools.index.doctor import check_index

    with friendly_errors():
        _, store, models = _context(db, chroma_url, models_dir, mode="write")
        report = check_index(store, models)
        if as_json:
            json_document({**report.model_dump(), "repaired": report.repaired, "unrepaired": report.unrepaired})
        else:
            print_doctor(report)
        if report.unrepaired:
            raise typer.Exit(1)


def _index_args(db, chroma_url, models_dir) -> list[str]:
    """The index options as the person gave them: a service is keyed by them (recall/service/address.py)."""
    return [word for name, value in (("--db", db), ("--chroma-url", chroma_url), ("--models-dir", models_dir))
            if value is not None for word in (name, str(value))]


# ---- serve (the resident service: recall/service/) ------------------------------------------------
@app.command()
def serve(idle: Annotated[Optional[float], typer.Option("--idle", min=1, help="exit after this many seconds without a command (default 900; env RECALL_SERVICE_IDLE_S)")] = None,
          show_status: Annotated[bool, typer.Option("--status", help="is this index's service running? (pid, commands served); exit 1 if not")] = False,
          stop: Annotated[bool, typer.Option("--stop", help="stop this index's service")] = False,
          detached: Annotated[bool, typer.Option("--detached", hidden=True)] = False,
          after: Annotated[Optional[int], typer.Option("--after", hidden=True)] = None,
          db: DbOption = None, chroma_url: UrlOption = None, models_dir: ModelsOption = None,
          as_json: JsonOption = False) -> None:
    """Keep this index's models and records loaded, so `recall search` and `recall ask` answer at once.

    They start it on their own when none runs (RECALL_SERVICE=off: never); run it here to watch it.

    It listens on an owner-only Unix socket, never on a network port.
    """
    from .service import client

    index_args = _index_args(db, chroma_url, models_dir)
    with friendly_errors():
        if show_status or stop:
            answer = client.ask_service(index_args, "status" if show_status else "stop")
            running = bool(answer and answer.get("ok"))
            if as_json:
                json_document({"running": running, **(answer or {})})
            elif not running:
                say("No service is running for this index.")
            elif show_status:
                say(f"Service pid {answer['pid']} on {answer['socket']}: {answer['served']} commands served, "
                    f"idle for {answer['idle_for_s']:.0f} s of {answer['idle_s']:.0f} s.")
            else:
                say(f"Stopped the service (pid {answer['pid']}).")
            if show_status and not running:
                raise typer.Exit(1)
            return
        _run_service(index_args, db, chroma_url, models_dir, idle, detached, after)


def _run_service(index_args: list[str], db, chroma_url, models_dir, idle, detached: bool, after) -> None:
    global _resident, _click_app
    import time

    from .service.address import address_for, idle_seconds, service_key
    from .service.resident import Resident
    from .service.server import LOCK_WAIT_S, AlreadyRunning, Service, truncate_log, wait_for_exit

    address = address_for(service_key(index_args), create=True)
    if address is None:
        raise UserError("no private folder for the service's socket ($XDG_RUNTIME_DIR, the data folder or /tmp)")
    if after:
        wait_for_exit(after)  # the command that started this one answers first

    def log(text: str) -> None:
        err.print(f"[dim]{time.strftime('%H:%M:%S')}[/] " + markup(text), highlight=False)

    service = Service(address, _serve_command, idle_s=idle or idle_seconds(), log=log)
    try:
        service.take_lock(wait_s=LOCK_WAIT_S if detached else 0)  # a replacement waits for the old one
    except AlreadyRunning as running:
        if detached:
            return  # started twice at once: the other one serves
        raise UserError(str(running)) from None
    if detached:
        truncate_log(address.log)
    _resident = Resident()
    try:  # load what a search needs before answering anyone
        from tools.query.search import SearchQuery, Searcher

        store, models = _resident.open(_settings(db, chroma_url, models_dir))
        Searcher(store, models).search(SearchQuery(text="a photo", k=1))
    except Exception as error:  # noqa: BLE001 - no index yet: commands say so themselves
        log(f"nothing loaded ahead: {type(error).__name__}: {error}")
    _click_app = typer.main.get_command(app)
    service.listen()
    log(f"stopped ({service.serve()})")


_click_app = None  # the Click group Typer builds from `app` (~0.1 s): built once per service


def _serve_command(args: list[str], prog_name: str) -> int:
    """Run one CLI command inside the service; its exit code."""
    global _click_app
    if _click_app is None:
        _click_app = typer.main.get_command(app)
    try:
        _click_app.main(args=args, prog_name=prog_name)
    except SystemExit as done:
        if isinstance(done.code, str):
            print(done.code, file=sys.stderr)
            return 1
        return done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    return 0


# ---- models --------------------------------------------------------------------------------------
@models_app.callback(invoke_without_command=True)
def models_list(ctx: typer.Context, models_dir: ModelsOption = None, as_json: JsonOption = False) -> None:
    """Each model: found or missing, where from, and what it enables."""
    if ctx.invoked_subcommand:
        return
    from tools.models.registry import model_statuses

    with friendly_errors():
        statuses = model_statuses(_settings(None, None, models_dir))
        if as_json:
            json_document([m.model_dump() for m in statuses])
        else:
            print_models(statuses)


@models_app.command("pull")
def models_pull(models_dir: ModelsOption = None,
                only: Annotated[Optional[str], typer.Option("--only", help="clip or caption")] = None) -> None:
    """Download the default CLIP and Florence-2 into the models folder (needs a network; HF_ENDPOINT for a mirror)."""
    from tools.models.pull import PULLABLE, PullError, pull_model, pull_target

    with friendly_errors():
        settings = _settings(None, None, models_dir)
        if only is not None and only not in PULLABLE:
            raise UserError(f"--only takes one of {', '.join(PULLABLE)}")
        for kind in [only] if only else PULLABLE:
            repo = pull_target(settings, kind)[0]
            say(f"Fetching {kind} from {repo} ...")
            try:
                with _download_progress() as progress:
                    pulled = pull_model(settings, kind, progress)
            except PullError as error:
                raise UserError(f"could not download {repo}: {error}") from None
            if pulled.up_to_date:
                say(f"{kind} is up to date at {pulled.path} (revision {pulled.revision[:12]}).")
            else:
                say(f"{kind} ready at {pulled.path} (revision {pulled.revision[:12]}, "
                    f"{pulled.downloaded_bytes / 1e6:.1f} MB downloaded, checksums verified).")
        say("Run `recall index` again: photos already indexed get the new signals.")


@contextlib.contextmanager
def _download_progress():
    """A progress bar on a terminal; nothing in a pipe or a log."""
    if not err.is_terminal:
        yield None
        return
    from rich.progress import DownloadColumn, Progress, TransferSpeedColumn

    with Progress(*Progress.get_default_columns(), DownloadColumn(), TransferSpeedColumn(), console=err,
                  transient=True) as bar:
        tasks: dict[str, object] = {}

        def update(name: str, done: int, total: int) -> None:
            if name not in tasks:
                tasks[name] = bar.add_task(name, total=total)
            bar.update(tasks[name], completed=done)

        yield update


# Commands that only read (nothing of theirs is left to finish once they return) end the process
# at once instead of letting the interpreter tear down numpy, ONNX Runtime and thousands of
# modules: that took ~0.3 s of a cold `recall search` of ~1 s.
QUICK_EXIT = {"search", "ask", "events", "status", "people", "models"}


def _quick_exit(code: object) -> None:
    status = code if isinstance(code, int) else (0 if code is None else 1)
    if isinstance(code, str):
        print(code, file=sys.stderr)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`| head`): nothing more can reach it
            pass
    os._exit(status)


def main() -> None:
    from tools.private import restrict_umask

    restrict_umask()  # the index, sessions and caches hold private data: owner only, whatever the umask
    sys.argv[1:] = _ray_without_address(sys.argv[1:])
    command = next((a for a in sys.argv[1:] if not a.startswith("-")), None)
    quick = command in QUICK_EXIT and not (command in ("people", "models") and _edits(sys.argv[2:]))
    try:
        app()
    except KeyboardInterrupt:  # outside any command body (e.g. while importing)
        sys.exit(130)
    except SystemExit as done:
        if quick:
            _quick_exit(done.code)
        raise


def _edits(args: list[str]) -> bool:
    """`recall people name/merge/split/unassign` and `recall models pull` write: they exit normally."""
    return any(a in ("name", "merge", "split", "unassign", "pull") for a in args)
