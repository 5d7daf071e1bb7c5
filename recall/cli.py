"""The `recall` command line: index, search, status, models."""
from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Find the photo you half-remember, on your own machine.")
models_app = typer.Typer(help="List the models, or fetch the default CLIP (`recall models pull`).")
app.add_typer(models_app, name="models")

# Piped output is for reading later or grepping: do not fold it to an imagined 80 columns.
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 200)
err = Console(stderr=True, soft_wrap=True)
PHRASING_CONTEXT = 512  # tokens: a question prompt is ~120

DbOption = Annotated[Optional[Path], typer.Option("--db", help="index folder (default: user data dir; env RECALL_DB)")]
UrlOption = Annotated[Optional[str], typer.Option("--chroma-url", help="use a Chroma server, e.g. http://localhost:8000")]
ModelsOption = Annotated[Optional[Path], typer.Option("--models-dir", help="model folder (env RECALL_MODELS)")]
JsonOption = Annotated[bool, typer.Option("--json", help="machine-readable output")]


class UserError(Exception):
    """Something the user can fix; shown as one line."""


@contextlib.contextmanager
def friendly_errors():
    """Every failure reaches the user as one line; RECALL_DEBUG=1 shows the traceback."""
    from tools.dates import DateError
    from tools.models.clip import ModelMissing
    from tools.people import PeopleError
    from tools.search import SearchError
    from tools.store import StoreError

    try:
        yield
    except typer.Exit:
        raise
    except KeyboardInterrupt:
        err.print("[yellow]Interrupted.[/] Everything reported done is saved; run the same command to resume.")
        raise typer.Exit(130) from None
    except (UserError, DateError, ModelMissing, SearchError, StoreError, PeopleError) as error:
        err.print(f"[red]error:[/] {error}", highlight=False)
        raise typer.Exit(2) from None
    except Exception as error:  # noqa: BLE001 - the promise is: no traceback at a user
        if os.environ.get("RECALL_DEBUG"):
            raise
        err.print(f"[red]error:[/] {type(error).__name__}: {error} (RECALL_DEBUG=1 shows details)", highlight=False)
        raise typer.Exit(1) from None


def _context(db: Path | None, chroma_url: str | None, models_dir: Path | None):
    from tools.models.registry import Models
    from tools.settings import load_settings
    from tools.store import PhotoStore

    settings = load_settings(db=db, chroma_url=chroma_url, models_dir=models_dir)
    return settings, PhotoStore(settings), Models(settings)


# ---- index ---------------------------------------------------------------------------------------
@app.command()
def index(paths: Annotated[list[Path], typer.Argument(help="folders (or files) of photos")],
          db: DbOption = None, chroma_url: UrlOption = None, models_dir: ModelsOption = None,
          limit: Annotated[Optional[int], typer.Option(help="index at most N new photos this run")] = None,
          quick: Annotated[bool, typer.Option("--quick", help="skip the understanding pass (faces, objects, captions)")] = False,
          captions_only: Annotated[bool, typer.Option("--captions-only", help="only add captions, no re-embedding")] = False,
          as_json: JsonOption = False) -> None:
    """Index photos: new ones are added, moved ones recognised, deleted ones removed.

    A second pass then finds faces, objects and captions; search works before it ends.
    """
    from tools.analysis import Analyzer
    from tools.indexer import Indexer

    from .progress import RichProgress

    with friendly_errors():
        settings, store, models = _context(db, chroma_url, models_dir)
        report = analysis = None
        with RichProgress(err) as progress:
            if not captions_only:
                report = Indexer(settings, store, models, progress).run(paths, limit=limit)
            if not quick:
                analysis = Analyzer(settings, store, models, progress).run(
                    only={"caption"} if captions_only else None)
        if as_json:
            out.print_json(json.dumps({"index": report.model_dump(mode="json") if report else None,
                                       "analysis": analysis.model_dump(mode="json") if analysis else None}))
            return
        if report is not None:
            _print_index_report(report)
        if analysis is not None:
            _print_analysis(analysis)


def _print_index_report(report) -> None:
    out.print(f"Indexed {report.new} new photos ({report.moved} moved, {report.unchanged} unchanged, "
              f"{report.removed} removed, {report.skipped} skipped) in {report.seconds:.1f} s.")
    if report.clip_embedded:
        out.print(f"CLIP embedded {report.clip_embedded} photos.")
    if report.clip != "on":
        out.print(f"[yellow]Visual search is off[/]: {report.clip}. `recall models` says how to turn it on.")
    for problem in report.problems[:10]:
        out.print(f"  skipped {problem.path}: {problem.reason}", highlight=False)
    if len(report.problems) > 10:
        out.print(f"  ... and {len(report.problems) - 10} more (`recall status` lists them)")


def _print_analysis(analysis) -> None:
    if analysis.photos:
        out.print(f"Understood {analysis.photos} photos: {analysis.faces} faces, {analysis.objects} objects, "
                  f"{analysis.captions} captions in {analysis.seconds:.1f} s.")
    for key, why in analysis.off.items():
        out.print(f"[yellow]{key} off[/]: {why}", highlight=False)
    for failure in analysis.failed[:10]:
        out.print(f"  {failure.path}: {failure.reason}", highlight=False)


# ---- search --------------------------------------------------------------------------------------
@app.command()
def search(text: Annotated[str, typer.Argument(help="what you remember seeing")] = "",
           k: Annotated[int, typer.Option("-k", "--limit", help="how many results", min=1, max=10000)] = 20,
           date_from: Annotated[Optional[str], typer.Option("--from", help="taken on or after (YYYY[-MM[-DD]])")] = None,
           date_to: Annotated[Optional[str], typer.Option("--to", help="taken on or before")] = None,
           near: Annotated[Optional[str], typer.Option(help="a place: city, region or country")] = None,
           lat: Annotated[Optional[float], typer.Option(help="latitude of a point to search around")] = None,
           lon: Annotated[Optional[float], typer.Option(help="longitude of that point")] = None,
           km: Annotated[Optional[float], typer.Option(help="radius around --near/--lat/--lon, km")] = None,
           camera: Annotated[Optional[str], typer.Option(help="camera make or model contains this")] = None,
           person: Annotated[Optional[list[str]], typer.Option("--person", help="a named person (repeatable)")] = None,
           people_mode: Annotated[str, typer.Option("--people-mode", help="all | any | only")] = "all",
           faces: Annotated[Optional[str], typer.Option("--faces", help="N faces exactly, or N+ for at least N")] = None,
           db: DbOption = None, chroma_url: UrlOption = None, models_dir: ModelsOption = None,
           as_json: JsonOption = False) -> None:
    """Search the index; filters narrow it down."""
    from tools.dates import parse_date_bound
    from tools.people import PeopleBook
    from tools.search import SearchQuery, Searcher

    with friendly_errors():
        settings, store, models = _context(db, chroma_url, models_dir)
        place = _place_filter(store, near, lat, lon, km)
        people = PeopleBook(store).resolve(person) if person else []
        query = SearchQuery(text=text, k=k, camera=camera, place=place, people=people, people_mode=people_mode,
                            faces=_faces_filter(faces),
                            date_from=parse_date_bound(date_from) if date_from else None,
                            date_to=parse_date_bound(date_to, end=True) if date_to else None)
        if store.count() == 0:
            raise UserError(f"the index at {store.location} is empty: run `recall index PATH` first")
        response = Searcher(store, models).search(query)
        if as_json:
            for result in response.results:
                print(json.dumps(result.model_dump(include={"path", "score", "taken_at", "place", "lat", "lon",
                                                            "camera", "why"}), ensure_ascii=False))
        else:
            _print_results(response)
        for notice in response.notices:
            err.print(f"[yellow]note:[/] {notice}", highlight=False)


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
    from tools import geo

    if (lat is None) != (lon is None):
        raise UserError("--lat and --lon go together")
    if lat is not None:
        if not geo.valid_coordinates(lat, lon):
            raise UserError(f"not a place on Earth: {lat}, {lon}")
        return geo.PlaceFilter(kind="city", label=f"{lat:.4f}, {lon:.4f}", country_code="", lat=lat, lon=lon,
                               radius_km=km or 25.0)
    if not near:
        return None
    known = [geo.Place(**p) for p in store.get_meta("places", [])]
    place = geo.resolve_place(near, known, radius_km=km or 25.0)
    if place is None:
        close = geo.close_place_names(near)
        raise UserError(f"unknown place {near!r}" + (f"; did you mean {', '.join(close)}?" if close else ""))
    return place


def _print_results(response) -> None:
    if not response.results:
        out.print("No photos matched.")
        return
    table = Table(show_edge=False, pad_edge=False)
    for column in ("#", "score", "taken", "place", "path", "why"):
        table.add_column(column, overflow="fold")
    for number, result in enumerate(response.results, start=1):
        why = ", ".join(f"{name} {value.score:.2f} (#{value.rank})" for name, value in result.why.items())
        taken = (result.taken_at or "")[:16].replace("T", " ")
        if taken and result.date_source == "file":
            taken += " (file time)"  # no camera date: what the file system says
        table.add_row(str(number), f"{result.score:.3f}", taken,
                      result.place or "", result.path, why)
    out.print(table)


# ---- ask (the agent, one turn at a time) --------------------------------------------------------
@app.command()
def ask(text: Annotated[str, typer.Argument(help="what you remember, or feedback on the last results")],
        session: Annotated[str, typer.Option("--session", help="dialogue name; turns with the same name continue it")] = "default",
        new: Annotated[bool, typer.Option("--new", help="start the session afresh")] = False,
        k: Annotated[int, typer.Option("-k", help="photos to show", min=1, max=100)] = 10,
        no_llm: Annotated[bool, typer.Option("--no-llm", help="plan with rules only")] = False,
        db: DbOption = None, chroma_url: UrlOption = None, models_dir: ModelsOption = None,
        as_json: JsonOption = False) -> None:
    """Talk to the agent: a vague memory, answers to its questions, "#3 is close", "not 1 or 2"."""
    from agent.dialogue import Agent
    from agent.state import DialogueState, load_state, save_state
    from tools.search import Searcher

    with friendly_errors():
        settings, store, models = _context(db, chroma_url, models_dir)
        if store.count() == 0:
            raise UserError(f"the index at {store.location} is empty: run `recall index PATH` first")
        state, problem = (DialogueState(), None) if new else load_state(settings.sessions_path, session)
        planner, phraser, planner_note = _planner(settings, no_llm)
        quick: list = []

        def show_quick(first) -> None:  # the rules' results at once; the LLM's follow if they differ
            quick.append(first)
            if not as_json and first.results:
                _print_reply(first)
                err.print("[dim]refining with the local LLM...[/]", highlight=False)

        agent = Agent(store, Searcher(store, models), planner=planner, shown=k, phraser=phraser)
        reply = agent.turn(state, text, on_quick=show_quick)
        save_state(state, settings.sessions_path, session)
        notices = [n for n in (problem, planner_note) if n] + reply.notices
        if as_json:
            print(json.dumps({"session": session, **reply.model_dump(mode="json"), "notices": notices},
                             ensure_ascii=False))
            return
        if quick and quick[0].results and [p.id for p in quick[0].results] == [p.id for p in reply.results]:
            err.print("[dim]the LLM's reading gives the same photos[/]", highlight=False)
            if reply.message != quick[0].message:  # e.g. the question in the LLM's words
                out.print(reply.message, highlight=False)
        else:
            _print_reply(reply)
        for notice in notices:
            err.print(f"[yellow]note:[/] {notice}", highlight=False)


def _print_reply(reply) -> None:
    out.print(reply.message, highlight=False)
    for photo in reply.results:
        out.print(f"  #{photo.number} {photo.path}", highlight=False)
        out.print(f"      {photo.explanation}", style="dim", highlight=False)


def _planner(settings, no_llm: bool):
    """(planner, question phraser, note): the LLM's when a model is here and wanted; else the
    rules' and no phraser, with a note saying why."""
    from agent.dialogue import rules_planner

    if no_llm or not settings.use_llm:
        return rules_planner, None, None
    from tools.models.llm import LLMUnavailable, LocalLLM, find_llm, idle_threads

    path = find_llm(settings.models_dir, settings.llm_model)
    if path is None:
        return rules_planner, None, ("no local LLM: planning with rules (python -m tools.models.llm_setup "
                                     f"--size 1.5b --models-dir {settings.models_dir} adds one)")
    try:
        from agent.llm_planner import make_llm_planner
        from agent.phrasing import make_llm_phraser

        # The evaluated prompt prefix is kept on disk: a fresh `recall ask` need not re-read it.
        threads, state_dir = idle_threads(settings.llm_threads), settings.cache_dir / "llm-state"
        llm = LocalLLM(path, threads=threads, state_dir=state_dir)
        # Questions get a context of their own (small; the weights are shared through mmap), so
        # wording one does not evict the planner's long cached prefix.
        wording = LocalLLM(path, n_ctx=PHRASING_CONTEXT, threads=threads,
                           state_dir=state_dir)
    except (LLMUnavailable, ImportError) as error:
        return rules_planner, None, f"LLM off ({error}): planning with rules"
    # Load the weights while the rules' quick search runs: the first LLM call need not wait for both.
    threading.Thread(target=_load_quietly, args=(llm,), daemon=True).start()
    return make_llm_planner(llm), make_llm_phraser(wording), None


def _load_quietly(llm) -> None:
    with contextlib.suppress(Exception):  # the planner's own call reports and falls back
        llm.load()


# ---- people --------------------------------------------------------------------------------------
people_app = typer.Typer(help="People found in your photos: list, name, merge, split, unassign, show.")
app.add_typer(people_app, name="people")


@people_app.callback(invoke_without_command=True)
def people_list(ctx: typer.Context, db: DbOption = None, chroma_url: UrlOption = None,
                as_json: JsonOption = False) -> None:
    """Each person (a cluster of faces): id, name, how many photos, a sample."""
    if ctx.invoked_subcommand:
        return
    from tools.people import PeopleBook

    with friendly_errors():
        _, store, _ = _context(db, chroma_url, None)
        people = PeopleBook(store).list()
        if as_json:
            for person in people:
                print(json.dumps({"id": person.id, "name": person.name, "count": person.count,
                                  "photos": person.photos}, ensure_ascii=False))
            return
        if not people:
            out.print("No faces found yet: `recall index` finds them (`recall models` says if faces are on).")
            return
        table = Table(show_edge=False, pad_edge=False)
        for column in ("id", "name", "faces", "sample"):
            table.add_column(column)
        for person in people:
            table.add_row(person.id, person.name or "", str(person.count), person.photos[0] if person.photos else "")
        out.print(table)
        out.print("Name someone with `recall people name ID NAME`.")


def _people_command(action, db: Path | None, chroma_url: str | None):
    """Run a PeopleBook action on the chosen index, with one-line errors."""
    from tools.people import PeopleBook, PeopleError

    with friendly_errors():
        try:
            return action(PeopleBook(_context(db, chroma_url, None)[1]))
        except PeopleError as error:
            raise UserError(str(error)) from None


@people_app.command("name")
def people_name(who: Annotated[str, typer.Argument(help="a person id (p3) or current name")],
                name: Annotated[str, typer.Argument(help="the name to give")],
                db: DbOption = None, chroma_url: UrlOption = None) -> None:
    """Name a person (naming two clusters alike merges them)."""
    cluster = _people_command(lambda book: book.name(who, name), db, chroma_url)
    out.print(f"{cluster.id} is now {cluster.name} ({cluster.count} faces).")


@people_app.command("merge")
def people_merge(into: str, other: str, db: DbOption = None, chroma_url: UrlOption = None) -> None:
    """Merge OTHER into INTO: they are the same person."""
    cluster = _people_command(lambda book: book.merge(into, other), db, chroma_url)
    out.print(f"Merged into {cluster.name or cluster.id} ({cluster.count} faces).")


@people_app.command("split")
def people_split(who: str, db: DbOption = None, chroma_url: UrlOption = None) -> None:
    """Split a person whose faces belong to several people."""
    parts = _people_command(lambda book: book.split(who), db, chroma_url)
    out.print("Split into " + ", ".join(f"{p.id} ({p.count} faces)" for p in parts) + ".")


@people_app.command("unassign")
def people_unassign(who: str, photo: Annotated[Path, typer.Argument(help="the photo whose face is not this person")],
                    db: DbOption = None, chroma_url: UrlOption = None) -> None:
    """Take a wrongly matched photo's face out of a person, for good."""
    _people_command(lambda book: book.unassign(who, str(photo.resolve())), db, chroma_url)
    out.print(f"Removed {photo} from {who}.")


@people_app.command("show")
def people_show(who: str, db: DbOption = None, chroma_url: UrlOption = None, as_json: JsonOption = False) -> None:
    """The photos of one person."""
    def show(book):
        cluster = book.find(who)
        return next(p for p in book.list() if p.id == cluster.id)

    person = _people_command(show, db, chroma_url)
    if as_json:
        print(json.dumps(person.model_dump(), ensure_ascii=False))
        return
    out.print(f"{person.label} ({person.id}): {person.count} faces")
    for path in person.photos:
        out.print(f"  {path}", highlight=False)


# ---- status --------------------------------------------------------------------------------------
@app.command()
def status(db: DbOption = None, chroma_url: UrlOption = None, models_dir: ModelsOption = None,
           as_json: JsonOption = False) -> None:
    """What is indexed, what was skipped and why, and which models are on."""
    from tools.models.registry import model_statuses
    from tools.people import PeopleBook

    with friendly_errors():
        settings, store, _ = _context(db, chroma_url, models_dir)
        photos = list(store.iter_photos())
        skipped = sorted(store.skipped_table().values(), key=lambda s: s.path)
        facts = {
            "index": store.location,
            "photos": len(photos),
            "dates": dict(Counter(p.date_source for p in photos)),
            "with_gps": sum(p.lat is not None for p in photos),
            "with_place": sum(p.place is not None for p in photos),
            "with_user_text": sum(bool(p.user_text) for p in photos),
            "vectors": store.vector_collections(),
            "understood": dict(Counter(mark.rsplit("-", 1)[0] for p in photos for mark in p.analyzed)),
            "people": len(PeopleBook(store).clusters()),
            "skipped": [s.model_dump(include={"path", "reason"}) for s in skipped],
            "models": [m.model_dump() for m in model_statuses(settings)],
            "last_index": store.get_meta("last_index"),
        }
        if as_json:
            out.print_json(json.dumps(facts, default=str))
            return
        out.print(f"Index: {facts['index']}")
        out.print(f"Photos: {facts['photos']}  (dates from: "
                  + ", ".join(f"{k} {v}" for k, v in facts["dates"].items()) + f"; GPS {facts['with_gps']}; "
                  f"place names {facts['with_place']}; own captions {facts['with_user_text']})")
        for name, count in facts["vectors"].items():
            out.print(f"Vectors: {name}: {count}")
        if facts["understood"]:
            out.print("Understood: " + ", ".join(f"{k} {v}" for k, v in sorted(facts["understood"].items()))
                      + f"; people: {facts['people']}")
        elif photos:
            out.print("Understood: none yet (faces, objects and captions come from `recall index` without --quick)")
        _print_models(model_statuses(settings))
        if skipped:
            out.print(f"Skipped files: {len(skipped)}")
            for reason, count in Counter(s.reason.split(" (")[0] for s in skipped).most_common():
                out.print(f"  {count} x {reason}")
            for item in skipped[:20]:
                out.print(f"  {item.path}: {item.reason}", highlight=False)
            if len(skipped) > 20:
                out.print(f"  ... and {len(skipped) - 20} more (--json lists all)")


def _print_models(statuses) -> None:
    for model in statuses:
        state = "[green]found[/]" if model.found else "[yellow]missing[/]"
        out.print(f"Model {model.key} ({model.name}): {state} - {model.enables}", highlight=False)
        if model.found:
            out.print(f"    from {model.location}", highlight=False)
        else:
            out.print(f"    to turn on: {model.how_to_enable}", highlight=False)


# ---- models --------------------------------------------------------------------------------------
@models_app.callback(invoke_without_command=True)
def models_list(ctx: typer.Context, models_dir: ModelsOption = None, as_json: JsonOption = False) -> None:
    """Each model: found or missing, where from, and what it enables."""
    if ctx.invoked_subcommand:
        return
    from tools.models.registry import model_statuses
    from tools.settings import load_settings

    with friendly_errors():
        statuses = model_statuses(load_settings(models_dir=models_dir))
        if as_json:
            out.print_json(json.dumps([m.model_dump() for m in statuses]))
        else:
            _print_models(statuses)


@models_app.command("pull")
def models_pull(models_dir: ModelsOption = None,
                only: Annotated[Optional[str], typer.Option("--only", help="clip or caption")] = None) -> None:
    """Download the default CLIP and Florence-2 into the models folder (needs a network)."""
    from tools.models.registry import PULLABLE, pull_model
    from tools.settings import load_settings

    with friendly_errors():
        settings = load_settings(models_dir=models_dir)
        if only is not None and only not in PULLABLE:
            raise UserError(f"--only takes one of {', '.join(PULLABLE)}")
        for kind in [only] if only else PULLABLE:
            repo = settings.clip_hub_repo if kind == "clip" else settings.captioner_hub_repo
            try:
                path = pull_model(settings, kind)
            except Exception as error:  # noqa: BLE001 - offline is the usual cause
                raise UserError(f"could not download {repo} (is this machine online?): "
                                f"{str(error).splitlines()[0][:200] if str(error) else type(error).__name__}") from None
            out.print(f"{kind} ready at {path}.")
        out.print("Run `recall index` again: photos already indexed get the new signals.")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:  # outside any command body (e.g. while importing)
        sys.exit(130)
