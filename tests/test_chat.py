"""`recall chat` through Textual's headless pilot: a real app on a real index, keys as a person presses them."""
from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from evals.library import build_library
from recall.chat.screens.help import HelpScreen
from recall.chat.widgets.conversation import Choices
from recall.chat.widgets.detail import DetailPane
from recall.chat.widgets.results import ResultsGrid
from tests.chat_support import cards, chat_settings, make_app, messages, plain, ready, run, say, settle, wait_for
from tests.conftest import FLICKR, ROOT
from tests.photos import write_photo
from tests.test_agent_search import FINLAND, ITALY, caption
from tools.understand.analysis import Analyzer
from tools.index.indexer import Indexer
from tools.models.registry import Models
from tools.index.store import PhotoStore

QUIET = dict(analyze_faces=False, analyze_objects=False)
NO_PIXEL_TAGS = dict(QUIET, analyze_captions=False, analyze_colour=False, analyze_scenes=False, analyze_ocr=False)


def build_index(db: Path, base: Path, folder: Path) -> None:
    settings = chat_settings(db, base, **QUIET)
    store, models = PhotoStore(settings), Models(settings)
    Indexer(settings, store, models).run([folder])
    Analyzer(settings, store, models).run()


@pytest.fixture(scope="module")
def flickr_index(tmp_path_factory):
    base = tmp_path_factory.mktemp("chat")
    build_library(base / "lib", FLICKR, count=40)
    build_index(base / "db", base, base / "lib")
    return base / "db", base


@pytest.fixture
def fresh(flickr_index, tmp_path):
    """The shared index with this test's own sessions, caches and logs."""
    db, _ = flickr_index
    return db, tmp_path


def test_typing_a_memory_shows_results_and_the_reply(fresh):
    app = make_app(*fresh, session="t1")

    async def script(pilot):
        await ready(pilot, app)
        await say(pilot, app, "a dog running through the water")
        await settle(pilot, app)
        return cards(app), messages(app)

    shown, said = run(app, script)
    assert 5 <= len(shown) <= 10
    assert said[0] == "a dog running through the water" and said[1].startswith("This looks like it: #1")
    assert app.errors == []


def test_a_selected_photo_shows_its_explanation_and_why_bars(fresh):
    app = make_app(*fresh, session="t2")

    async def script(pilot):
        await ready(pilot, app)
        await say(pilot, app, "a dog running through the water")
        await settle(pilot, app)
        await pilot.press("tab")  # to the results
        await pilot.press("right", "enter")
        await wait_for(pilot, lambda: app.query_one(DetailPane).display)
        await pilot.pause(0.3)
        pane = app.query_one(DetailPane)
        return (app.query_one(ResultsGrid).current.number, plain(pane.query_one("#explanation")),
                plain(pane.query_one("#detail-title")))

    number, explanation, title = run(app, script)
    assert number == 2 and "caption" in explanation and title.startswith("#2 ")


def test_feedback_by_key_changes_the_order_and_is_saved(fresh):
    db, base = fresh
    app = make_app(db, base, session="t3")

    async def script(pilot):
        await ready(pilot, app)
        await say(pilot, app, "children playing outside")
        await settle(pilot, app)
        before = cards(app)
        await pilot.press("tab", "right", "right", "plus")  # #3 is close
        await wait_for(pilot, lambda: any(m == "#3 is close" for m in messages(app, "user")))
        await settle(pilot, app)
        return before, cards(app)

    before, after = run(app, script)
    assert before != after and before[2] in after
    saved = json.loads(next((base / "sessions").glob("*/t3.json")).read_text())
    assert saved["liked"] == [before[2]] and [t["user"] for t in saved["turns"]][-1] == "#3 is close"


def test_a_question_is_answered_with_one_key(tmp_path):
    library = tmp_path / "lib"
    for i in range(6):
        where = ITALY if i % 2 == 0 else FINLAND
        photo = write_photo(library / f"p{i}.jpg", seed=i, gps=where, taken="2021:07:0%d 12:00:00" % (i + 1))
        caption(photo, "a picnic in the park with friends")
    build_index(tmp_path / "db", tmp_path, library)
    app = make_app(tmp_path / "db", tmp_path, session="q")

    async def script(pilot):
        await ready(pilot, app)
        await say(pilot, app, "that picnic in the park")
        await settle(pilot, app)
        choices = app.query_one(Choices)
        options = list(choices.answers)
        focused = app.focused is choices
        await pilot.press("2")
        await wait_for(pilot, lambda: len(messages(app, "user")) == 2)
        await settle(pilot, app)
        return options, focused, messages(app, "user")[-1], [c.photo.path for c in app.query_one(ResultsGrid).cards]

    options, focused, answered, paths = run(app, script)
    assert sorted(options) == ["Finland", "Italy"] and focused
    assert answered == options[1]
    wanted = 1 if options[1] == "Finland" else 0
    assert paths and all(int(Path(p).stem[1:]) % 2 == wanted for p in paths)


def test_which_occasion_is_asked_as_choices_and_one_key_keeps_to_it(tmp_path):
    """Two evenings in one town, one caption: only the occasion tells them apart."""
    library = tmp_path / "lib"
    for i in range(6):
        day, minute = (3, 10 + i) if i % 2 == 0 else (10, 10 + i)
        photo = write_photo(library / f"p{i}.jpg", seed=i, gps=FINLAND, taken=f"2021:07:{day:02d} 19:{minute}:00")
        caption(photo, "a picnic in the park with friends")
    settings = chat_settings(tmp_path / "db", tmp_path, **NO_PIXEL_TAGS)
    store, models = PhotoStore(settings), Models(settings)
    Indexer(settings, store, models).run([library])
    Analyzer(settings, store, models).run()
    app = make_app(tmp_path / "db", tmp_path, session="ev", **NO_PIXEL_TAGS)

    async def script(pilot):
        await ready(pilot, app)
        await say(pilot, app, "that picnic in the park")
        await settle(pilot, app)
        question, choices = app.reply.question, app.query_one(Choices)
        options, focused = list(choices.answers), app.focused is choices
        await pilot.press("2")
        await wait_for(pilot, lambda: len(messages(app, "user")) == 2)
        await settle(pilot, app)
        return question, options, focused, messages(app, "user")[-1], [c.photo.path for c in app.query_one(ResultsGrid).cards]

    question, options, focused, answered, paths = run(app, script)
    assert question is not None and question.attribute == "event" and focused
    assert options == question.options and sorted(options) == ["Helsinki, Sat 10 Jul 2021", "Helsinki, Sat 3 Jul 2021"]
    assert answered == options[1]
    wanted = 0 if options[1].endswith("3 Jul 2021") else 1
    assert paths and all(int(Path(p).stem[1:]) % 2 == wanted for p in paths)


def test_help_opens_and_lists_the_keys(fresh):
    app = make_app(*fresh, session="t4")

    async def script(pilot):
        await ready(pilot, app)
        await pilot.press("f1")
        await pilot.pause(0.2)
        shown = isinstance(app.screen, HelpScreen)
        text = " ".join(plain(w) for w in app.screen.query("Static"))
        await pilot.press("escape")
        await pilot.pause(0.2)
        return shown, text, isinstance(app.screen, HelpScreen)

    shown, text, still = run(app, script)
    assert shown and not still
    assert "closer" in text and "none of these" in text
    # Every signal, on or off; one that is off says the line that turns it on.
    for name in ("words", "visual", "meaning", "scenes", "text in photos", "colour", "captions"):
        assert f"✓ {name}: " in text or f"✗ {name}: " in text, name
    assert "✗ visual: run `recall models pull`" in text


def test_the_status_bar_names_every_signal_where_it_has_room_and_the_ones_off_where_not():
    from recall.chat.engine import LibraryFacts, Signal
    from recall.chat.widgets.status_bar import fitting, library_lines

    signals = [Signal(name=n, on=n not in ("visual", "captions"), short="text" if n == "text in photos" else "")
               for n in ("words", "visual", "meaning", "faces", "objects", "scenes", "text in photos", "colour",
                         "captions", "voice")]
    lines = library_lines(LibraryFacts(photos=8, people=0, signals=signals), "snapshot")
    said = {width: fitting(lines, width).plain for width in (200, 104, 64, 45, 10)}
    assert said[200] == ("8 photos · 0 people · ✓words ✗visual ✓meaning ✓faces ✓objects ✓scenes ✓text ✓colour "
                         "✗captions ✓voice · session snapshot")
    assert said[104] == said[200].removesuffix(" · session snapshot")  # 120 columns, less the LLM's state
    assert said[64] == "8 photos · 0 people · ✓8 signals ✗visual ✗captions"  # 80 columns
    assert said[45] == said[10] == "8 photos · 0 people · ✓8 ✗2 signals (F1)"
    on = [s.model_copy(update={"on": True}) for s in signals]
    assert fitting(library_lines(LibraryFacts(photos=1, signals=on, read_only=True), "s"), 50).plain == (
        "1 photos · 0 people · ✓all 10 signals on · read-only")


def test_the_details_say_the_occasion_and_the_text_in_the_photo():
    from recall.chat.widgets.detail import fact_rows
    from tools.index.records import PhotoRecord

    record = PhotoRecord(id="a", path="/p/a.jpg", size=1, mtime_ns=1, text_in_photo="OPEN 24 HOURS", event_id="ev-1",
                         event_label="Berlin, Sat 12 Jul 2025")
    rows = {label: value.plain for label, value in fact_rows(record, [], {"open"})}
    assert rows["from"] == "Berlin, Sat 12 Jul 2025" and rows["text in it"] == "OPEN 24 HOURS"
    only_a_day = record.model_copy(update={"event_label": "Sat 12 Jul 2025", "text_in_photo": ""})
    assert [label for label, _ in fact_rows(only_a_day, [], set())] == []  # the date row says that day


def test_a_session_resumes_with_its_words_and_photos(fresh):
    db, base = fresh
    first = make_app(db, base, session="resume")

    async def one(pilot):
        await ready(pilot, first)
        await say(pilot, first, "a man riding a bike")
        await settle(pilot, first)
        return cards(first)

    shown = run(first, one)
    second = make_app(db, base, session="resume")

    async def two(pilot):
        await ready(pilot, second)
        await settle(pilot, second)
        return messages(second), cards(second)

    said, resumed = run(second, two)
    assert "a man riding a bike" in said and resumed == shown


def test_words_typed_before_the_index_opens_are_searched_when_it_does(fresh):
    app = make_app(*fresh, session="early")

    async def script(pilot):
        await say(pilot, app, "a dog")  # at once, before anything has loaded
        await ready(pilot, app)
        await settle(pilot, app)
        return messages(app), cards(app)

    said, shown = run(app, script)
    assert said.count("a dog") == 1 and shown


def test_escape_cancels_a_turn_and_its_results_never_show(fresh, tmp_path):
    from tests.test_llm_planner import CACHE
    from tools.models.llm_setup import assemble_llm

    db, base = fresh
    models = tmp_path / "models"
    (models / "llm").mkdir(parents=True)
    gguf = assemble_llm(CACHE, "0.5b", log=lambda m: None)
    (models / "llm" / gguf.name).symlink_to(gguf)
    app = make_app(db, base, session="esc", no_llm=False, models_dir=models, llm_threads=1)

    async def script(pilot):
        await ready(pilot, app)
        await wait_for(pilot, lambda: app.engine.llm_ready.is_set(), 120, "the LLM to load")
        await say(pilot, app, "uh, a black dog jumping over a log in the snow I think")
        await wait_for(pilot, lambda: bool(cards(app)), 30, "the rules' quick results")
        quick = cards(app)
        await pilot.press("escape")
        await pilot.pause(8.0)  # longer than the LLM's turn takes: its results would have come by now
        return quick, cards(app), messages(app)

    quick, later, said = run(app, script)
    assert later == quick  # nothing replaced the list after Esc
    assert any("cancelled" in m for m in said) and not any(m.startswith("This looks like it") for m in said)
    session = next((base / "sessions").glob("*/esc.json"), None)
    assert session is None or json.loads(session.read_text())["turns"] == []  # the session is unchanged


def test_a_photo_gone_since_indexing_and_a_broken_one_do_not_break_the_screen(tmp_path):
    library = tmp_path / "lib"
    for i, name in enumerate(("gone", "broken", "fine")):
        caption(write_photo(library / f"{name}.jpg", seed=i), f"a red circle number {i}")
    build_index(tmp_path / "db", tmp_path, library)
    (library / "gone.jpg").unlink()
    (library / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a photo any more")
    app = make_app(tmp_path / "db", tmp_path, session="broken")

    async def script(pilot):
        await ready(pilot, app)
        await say(pilot, app, "a red circle")
        await settle(pilot, app)
        labels = {Path(c.photo.path).stem: plain(c.query_one(".thumb")) for c in app.query_one(ResultsGrid).cards}
        await pilot.press("tab", "o")  # open a photo that may be gone
        await pilot.pause(0.2)
        return labels

    labels = run(app, script)
    assert "photo not found" in labels["gone"] and "no preview" in labels["broken"]
    assert app.errors == []


def test_a_terminal_too_small_says_so(fresh):
    app = make_app(*fresh, session="small")

    async def script(pilot):
        await pilot.pause(0.3)
        note = app.query_one("#too-small")
        return note.display, plain(note), app.query_one("#main").display

    shown, text, main = run(app, script, size=(50, 12))
    assert shown and not main and "too small (50x12)" in text


def test_user_data_is_shown_as_text(tmp_path):
    library = tmp_path / "lib"
    caption(write_photo(library / "[wedding] 2019 \x1b[2J.jpg"), "the [b]cake[/b] at the party")
    build_index(tmp_path / "db", tmp_path, library)
    app = make_app(tmp_path / "db", tmp_path, session="markup")

    async def script(pilot):
        await ready(pilot, app)
        await say(pilot, app, "[/]cake")
        await settle(pilot, app)
        await pilot.press("tab", "enter")
        await pilot.pause(0.3)
        return plain(app.query_one("#facts")), messages(app, "user"), plain(app.query_one("#detail-title"))

    facts, said, title = run(app, script)
    assert said == ["[/]cake"] and app.errors == []
    assert "[wedding] 2019 \\x1b[2J.jpg" in title and "the [b]cake[/b] at the party" in facts


def test_recall_chat_in_a_real_terminal(tmp_path, flickr_index):
    """tmux runs `recall chat`; keys are typed into it; the screen shows results and an explanation."""
    if not shutil.which("tmux"):
        pytest.fail("tmux is not installed: scripts/dev.sh setup installs it")
    db, _ = flickr_index
    env = {**os.environ, "RECALL_DB": str(db), "RECALL_SESSIONS_DIR": str(tmp_path / "s"),
           "RECALL_CACHE_DIR": str(tmp_path / "c"), "RECALL_DATA_DIR": str(tmp_path / "d"), "TERM": "xterm-256color"}
    name = f"recall-test-{os.getpid()}"
    # A tmux server of its own (-L): a running one would start the command with its own environment.
    tmux = ["tmux", "-L", name]
    settings = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items() if k.startswith("RECALL_") or k == "TERM")
    command = f"cd {shlex.quote(str(ROOT))} && env {settings} {shlex.quote(sys.executable)} -m recall chat --no-llm --session tmux"
    subprocess.run([*tmux, "new-session", "-d", "-s", name, "-x", "120", "-y", "40", command], cwd=ROOT, env=env,
                   check=True)

    def screen() -> str:
        return subprocess.run([*tmux, "capture-pane", "-p", "-t", name], capture_output=True, text=True).stdout

    def wait(text: str, timeout: float = 90) -> str:
        import time

        started = time.monotonic()
        while time.monotonic() - started < timeout:
            shown = screen()
            if text in shown:
                return shown
            time.sleep(0.3)
        raise AssertionError(f"{text!r} never appeared:\n{screen()}")

    try:
        wait("What do you remember?")
        wait("photos ·")
        subprocess.run([*tmux, "send-keys", "-t", name, "a dog running through the water", "Enter"], check=True)
        shown = wait("This looks like it")
        assert " photos" in shown and "#1" in shown
        subprocess.run([*tmux, "send-keys", "-t", name, "Tab", "Enter"], check=True)
        shown = wait("caption words")
        assert "Traceback" not in shown
    finally:
        subprocess.run([*tmux, "send-keys", "-t", name, "C-q"], capture_output=True)
        subprocess.run([*tmux, "kill-server"], capture_output=True)


def test_audio_is_transcribed_and_searched_and_bad_audio_changes_nothing(fresh, tmp_path):
    from tests.test_voice import speak

    db, base = fresh
    good = speak("the black and white dog carrying a stick in its mouth", tmp_path / "memo.wav")
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt garbage")
    app = make_app(db, base, session="voice")

    async def script(pilot):
        await ready(pilot, app)
        for path in (bad, good):
            await pilot.press("ctrl+o")
            await pilot.pause(0.2)
            await pilot.press(*[{" ": "space"}.get(c, c) for c in str(path)], "enter")
            await wait_for(pilot, lambda: len(messages(app)) >= (1 if path == bad else 3), 120, "the recording's answer")
        await settle(pilot, app)
        return messages(app), cards(app)

    said, shown = run(app, script)
    assert "cannot" in said[0] or "damaged" in said[0] or "not" in said[0], said  # one line, and no turn
    assert said[1].startswith("heard: ") and "dog" in said[1].lower() and shown
    turns = json.loads(next((base / "sessions").glob("*/voice.json")).read_text())["turns"]
    assert len(turns) == 1  # the broken recording left the session as it was


def test_naming_the_faces_in_a_photo_by_key(tmp_path):
    from tests.conftest import FACES
    from tools.understand.people import PeopleBook

    library = tmp_path / "lib"
    library.mkdir()
    for name in ("img1.jpg", "img2.jpg"):
        caption(Path(shutil.copy2(FACES / "images" / name, library / name)), "a portrait of a man smiling")
    settings = chat_settings(tmp_path / "db", tmp_path, analyze_objects=False)
    store, models = PhotoStore(settings), Models(settings)
    Indexer(settings, store, models).run([library])
    Analyzer(settings, store, models).run()
    app = make_app(tmp_path / "db", tmp_path, session="names")

    async def script(pilot):
        await ready(pilot, app)
        await say(pilot, app, "a portrait of a man")
        await settle(pilot, app)
        await pilot.press("tab", "n")
        await pilot.pause(0.3)
        await pilot.press(*"Ann", "enter")
        await wait_for(pilot, lambda: any(m.endswith("is now Ann") for m in messages(app)), 30, "the name")
        return messages(app)

    said = run(app, script)
    assert app.errors == [] and any(m.endswith("is now Ann") for m in said)
    named = [c for c in PeopleBook(PhotoStore(chat_settings(tmp_path / "db", tmp_path), mode="read")).clusters()
             if c.name == "Ann"]
    assert named and named[0].count >= 1


def test_a_background_index_run_makes_new_photos_searchable(fresh, tmp_path):
    db, base = fresh
    extra = tmp_path / "extra"
    caption(write_photo(extra / "kite.jpg", seed=7), "a purple kite above the dunes")
    app = make_app(db, base, session="bg", index_paths=[extra], **QUIET)

    async def script(pilot):
        await ready(pilot, app)
        await wait_for(pilot, lambda: any(m.startswith("indexed 1 new photos") for m in messages(app)), 120,
                       "the background index run")
        await say(pilot, app, "a purple kite")
        await settle(pilot, app)
        return [Path(c.photo.path).name for c in app.query_one(ResultsGrid).cards]

    assert run(app, script)[0] == "kite.jpg"
    assert app.errors == []


def test_a_model_that_fails_to_load_and_a_server_that_goes_away_leave_the_app_up(tmp_path):
    import signal
    import time

    from tests.test_chroma_server import free_port

    port = free_port()
    chroma = Path(sys.executable).with_name("chroma")
    server = subprocess.Popen([str(chroma), "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1",
                               "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 60
        while socket_closed(port):
            assert time.time() < deadline, "the Chroma server did not start"
            time.sleep(0.2)
        settings = chat_settings(tmp_path / "db", tmp_path, chroma_url=url, **QUIET)
        store, models = PhotoStore(settings), Models(settings)
        Indexer(settings, store, models).run([_one_photo(tmp_path)])
        models_dir = tmp_path / "models"
        (models_dir / "llm").mkdir(parents=True)
        (models_dir / "llm" / "broken-1.5b.gguf").write_bytes(b"GGUF" + b"\x00" * 64)
        app = make_app(tmp_path / "db", tmp_path, session="away", no_llm=False, chroma_url=url,
                       models_dir=models_dir, **QUIET)

        async def script(pilot):
            await ready(pilot, app)
            await wait_for(pilot, lambda: app.engine.llm_ready.is_set(), 60, "the LLM attempt")
            await say(pilot, app, "a red circle")
            await settle(pilot, app)
            found = cards(app)
            server.send_signal(signal.SIGKILL)
            server.wait(timeout=30)
            await say(pilot, app, "a blue square")
            await wait_for(pilot, lambda: any(m.startswith("that turn failed") for m in messages(app, "error")),
                           120, "the failure notice")
            return found, messages(app)

        found, said = run(app, script)
    finally:
        server.kill()
    assert found and any(m.startswith("LLM off") for m in said), said  # the broken model: rules, and why
    assert app.errors and all("Traceback" not in m for m in said)


def socket_closed(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _one_photo(tmp_path: Path) -> Path:
    caption(write_photo(tmp_path / "one" / "red.jpg"), "a red circle on white")
    return tmp_path / "one"
