"""Each case a careful new user or a security reviewer found, reproduced first, then fixed."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from PIL import Image

from agent.dialogue import Agent
from agent.state import DialogueState, load_state, save_state, session_path
from recall.safe_text import json_safe, markup, visible
from tests.conftest import EXIF_PHOTOS, ROOT
from tests.photos import write_photo
from tests.test_agent_search import ITALY, caption, index
from tools.index.indexer import Indexer
from tools.models.registry import Models
from tools.index.records import SkippedFile
from tools.index.store import PhotoStore

NOW = datetime(2026, 11, 22, 12, 0)
LATIN1_NAME = os.fsdecode(b"2\xe9t\xe9.jpg")  # "été" written by an old Windows or Samba share
ESCAPES_NAME = "evil\x1b]0;pwned\x07\x1b[2J.jpg"


def recall(*args: str, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "recall", *args], cwd=ROOT, capture_output=True, timeout=timeout,
                          env={**os.environ, "RECALL_ANALYZE_FACES": "false", **(env or {})})


def text(result: subprocess.CompletedProcess) -> tuple[str, str]:
    return (result.stdout.decode("utf-8", "backslashreplace"), result.stderr.decode("utf-8", "backslashreplace"))


def one_line_error(result: subprocess.CompletedProcess) -> str:
    stdout, stderr = text(result)
    assert result.returncode == 2, (result.returncode, stderr)
    assert "Traceback" not in stdout + stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


# ---- 1. file names that are not UTF-8 --------------------------------------------------------------
@pytest.fixture(scope="module")
def odd_library(tmp_path_factory):
    """Camera photos under names that broke indexing or the screen: invalid UTF-8, markup, escapes."""
    base = tmp_path_factory.mktemp("odd")
    lib = base / "lib"
    (lib / "[wedding] 2019").mkdir(parents=True)
    (lib / "a[/b").mkdir(parents=True)
    shutil.copy2(EXIF_PHOTOS / "DSCN0010.jpg", lib / LATIN1_NAME)
    shutil.copy2(EXIF_PHOTOS / "DSCN0012.jpg", lib / "[wedding] 2019" / "x.jpg")
    shutil.copy2(EXIF_PHOTOS / "DSCN0021.jpg", lib / "a[/b" / ESCAPES_NAME)
    shutil.copy2(EXIF_PHOTOS / "DSCN0025.jpg", lib / "plain.jpg")
    db = base / "db"
    first = recall("index", str(lib), "--db", str(db))
    assert first.returncode == 0, text(first)
    return lib, db, first


def test_a_name_that_is_not_utf8_is_indexed_with_the_rest(odd_library):
    lib, db, first = odd_library
    stdout, _ = text(first)
    assert "Indexed 4 new photos" in stdout and "0 skipped" in stdout
    status = json.loads(recall("status", "--json", "--db", str(db)).stdout)
    assert status["photos"] == 4 and not status["skipped"]
    assert status["understood"].get("objects") == 4  # the understanding pass ran over every photo
    again = recall("index", str(lib), "--db", str(db), "--quick")
    assert "Indexed 0 new photos (0 moved, 4 unchanged" in text(again)[0]  # the stored path is exact


def test_the_odd_name_is_shown_readably_and_stays_exact_in_the_store(odd_library, tmp_path):
    lib, db, _ = odd_library
    stdout, _ = text(recall("search", "--near", "Arezzo", "--db", str(db)))
    assert "2\\xe9t\\xe9.jpg" in stdout
    rows = [json.loads(line) for line in recall("search", "--near", "Arezzo", "--json", "--db", str(db)).stdout.splitlines()]
    assert any(r["path"].endswith("2\\xe9t\\xe9.jpg") for r in rows)
    store = PhotoStore(_settings(db), mode="read")
    assert os.path.join(str(lib), LATIN1_NAME) in store.file_table()  # lossless: the real bytes


def test_a_moved_photo_with_an_odd_name_is_recognised(tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    shutil.copy2(EXIF_PHOTOS / "DSCN0010.jpg", lib / LATIN1_NAME)
    db = tmp_path / "db"
    assert recall("index", str(lib), "--db", str(db), "--quick").returncode == 0
    os.rename(lib / LATIN1_NAME, lib / "renamed.jpg")
    moved = text(recall("index", str(lib), "--db", str(db), "--quick"))[0]
    assert "Indexed 0 new photos (1 moved" in moved


def _settings(db: Path):
    from tools.settings import load_settings

    return load_settings(db=db)


# ---- 3. user data is text, never markup or terminal control -------------------------------------------
def test_paths_with_markup_and_escape_sequences_print_as_text(odd_library):
    _, db, _ = odd_library
    result = recall("search", "--near", "Arezzo", "--db", str(db))
    stdout, stderr = text(result)
    assert result.returncode == 0, stderr
    assert "[wedding] 2019/x.jpg" in stdout and "a[/b/" in stdout
    assert "\x1b" not in stdout and "\x07" not in stdout  # nothing reaches the terminal raw
    assert "evil\\x1b]0;pwned\\x07\\x1b[2J.jpg" in stdout
    listed = text(recall("status", "--db", str(db)))[0]
    assert "\x1b" not in listed


def test_errors_that_quote_markup_stay_one_line(odd_library):
    _, db, _ = odd_library
    assert "[/]bob" in one_line_error(recall("search", "x", "--person", "[/]bob", "--db", str(db)))
    assert "[/x" in one_line_error(recall("search", "--near", "[/x", "--db", str(db)))


def test_a_person_named_like_markup_is_listed_and_searchable(tmp_path):
    from tests.conftest import FACES

    lib = tmp_path / "lib"
    lib.mkdir()
    for name in ("img1.jpg", "img2.jpg"):
        shutil.copy2(FACES / "images" / name, lib / name)
    db = tmp_path / "db"
    env = {"RECALL_ANALYZE_FACES": "true", "RECALL_ANALYZE_OBJECTS": "false"}
    assert recall("index", str(lib), "--db", str(db), env=env).returncode == 0
    people = [json.loads(line) for line in recall("people", "--json", "--db", str(db)).stdout.splitlines()]
    assert people, "the faces model found nobody"
    named = recall("people", "name", people[0]["id"], "[/]bob \x1b[31m", "--db", str(db), env=env)
    assert named.returncode == 2 and b"control characters" in named.stderr  # control characters refused
    named = recall("people", "name", people[0]["id"], "[/]bob", "--db", str(db), env=env)
    assert named.returncode == 0, text(named)
    listing = recall("people", "--db", str(db))
    assert listing.returncode == 0 and "[/]bob" in text(listing)[0] and "Traceback" not in text(listing)[1]
    found = recall("search", "--person", "[/]bob", "--json", "--db", str(db))
    assert found.returncode == 0 and len(found.stdout.splitlines()) == 2


@pytest.mark.parametrize("raw, shown", [
    ("\x1b]0;title\x07", "\\x1b]0;title\\x07"),
    ("a\nb\tc\r", "a\\nb\\tc\\r"),
    ("\u202eevil", "\\u202eevil"),  # a right-to-left override reorders what follows
    ("\x9b2J", "\\x9b2J"),  # an 8-bit CSI
    (LATIN1_NAME, "2\\xe9t\\xe9.jpg"),
    ("plain [b]bold[/b] été", "plain [b]bold[/b] été"),
])
def test_visible_makes_every_character_printable(raw, shown):
    assert visible(raw) == shown
    assert markup("[b]x[/b]") == "\\[b]x\\[/b]"


def test_json_output_holds_only_encodable_strings():
    value = json_safe({"path": LATIN1_NAME, "list": [LATIN1_NAME, 1]})
    json.dumps(value, ensure_ascii=False).encode("utf-8")  # no lone surrogate left
    assert value["path"] == "2\\xe9t\\xe9.jpg"


# ---- 8. smaller cases -----------------------------------------------------------------------------
def test_a_fifo_named_jpg_is_skipped_not_waited_on(tmp_path):
    lib = tmp_path / "lib"
    write_photo(lib / "ok.jpg")
    os.mkfifo(lib / "pipe.jpg")
    db = tmp_path / "db"
    result = recall("index", str(lib), "--db", str(db), "--quick", timeout=120)
    assert result.returncode == 0, text(result)
    status = json.loads(recall("status", "--json", "--db", str(db)).stdout)
    assert status["photos"] == 1
    assert any(s["path"].endswith("pipe.jpg") and "not a regular file" in s["reason"] for s in status["skipped"])


def test_a_file_once_unreadable_is_tried_again(make_settings, library):
    """Fixing a file's permissions changes neither its size nor its time, so "unchanged since it
    was skipped" must not keep an unreadable file skipped."""
    photo = write_photo(library / "fixed.jpg")
    settings = make_settings()
    store, models = PhotoStore(settings), Models(settings)
    st = photo.stat()
    store.record_skipped([SkippedFile(path=str(photo), reason="unreadable file: Permission denied",
                                      size=st.st_size, mtime_ns=st.st_mtime_ns)])
    report = Indexer(settings, store, models).run([library])
    assert report.new == 1 and report.still_skipped == 0 and not store.skipped_table()


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a file whatever its mode; the rule itself is tested above")
def test_a_file_unreadable_then_readable_is_indexed(tmp_path):
    lib = tmp_path / "lib"
    photo = write_photo(lib / "locked.jpg")
    photo.chmod(0)
    db = tmp_path / "db"
    recall("index", str(lib), "--db", str(db), "--quick")
    photo.chmod(0o644)
    assert "Indexed 1 new" in text(recall("index", str(lib), "--db", str(db), "--quick"))[0]


def test_indexing_only_missing_paths_fails_and_some_missing_is_fine(tmp_path):
    db = tmp_path / "db"
    assert "does not exist" in one_line_error(recall("index", str(tmp_path / "nope"), "--db", str(db)))
    write_photo(tmp_path / "lib" / "a.jpg")
    mixed = recall("index", str(tmp_path / "lib"), str(tmp_path / "nope"), "--db", str(db), "--quick")
    assert mixed.returncode == 0 and "Indexed 1 new" in text(mixed)[0]


def test_read_commands_never_create_an_index(tmp_path):
    typo = tmp_path / "dbb"
    for args in (["status"], ["search", "dog"], ["people"], ["ask", "a dog", "--no-llm"], ["people", "show", "x"],
                 ["people", "name", "p1", "Ann"], ["doctor"]):
        assert "there is no index at" in one_line_error(recall(*args, "--db", str(typo)))
    assert not typo.exists()


@pytest.mark.parametrize("args, message", [
    (["--km", "-5", "--near", "Arezzo"], "--km takes a radius above 0"),
    (["--km", "0", "--near", "Arezzo"], "--km takes a radius above 0"),
    (["--km", "5"], "--km is a radius around --near"),
    (["--near", " "], "--near needs a place name"),
    (["x", "--person", ""], "name or id cannot be empty"),
    (["x", "--people-mode", "xyz"], "--people-mode takes all, any or only"),
])
def test_bad_search_options_get_one_line_errors(odd_library, args, message):
    _, db, _ = odd_library
    assert message in one_line_error(recall("search", *args, "--db", str(db)))


def test_a_small_radius_is_kept(odd_library):
    _, db, _ = odd_library
    found = {}
    for km in ("0.02", "25"):
        result = recall("search", "--lat", "43.46745", "--lon", "11.88513", "--km", km, "--json", "--db", str(db))
        assert result.returncode == 0
        found[km] = [Path(json.loads(line)["path"]).name for line in result.stdout.splitlines()]
    assert found["0.02"] == ["2\\xe9t\\xe9.jpg"] and len(found["25"]) == 4


def test_empty_names_are_errors_in_people_commands(odd_library):
    _, db, _ = odd_library
    assert "cannot be empty" in one_line_error(recall("people", "name", "", "X", "--db", str(db)))
    assert "cannot be empty" in one_line_error(recall("people", "merge", "p4", "", "--db", str(db)))


def test_feedback_on_a_photo_not_on_screen_says_so(make_settings, library):
    for i in range(3):
        caption(write_photo(library / f"d{i}.jpg", seed=i), f"a dog on the beach number {i}")
    searcher = index(make_settings(), library)
    agent = Agent(searcher.store, searcher, now=NOW, shown=3)
    state = DialogueState()
    agent.turn(state, "a dog on the beach")
    before = state.plan.model_copy()
    reply = agent.turn(state, "#99 is close")
    assert any("there is no #99 on screen (#1 to #3 are shown)" in n for n in reply.notices)
    assert state.plan.visual == before.visual and not state.liked  # nothing added to the query
    fresh = DialogueState()
    reply = agent.turn(fresh, "#2 is close")
    assert any("no photos are shown yet" in n for n in reply.notices) and not fresh.plan.visual


def test_words_that_match_nothing_in_a_place_are_told_apart_from_a_wrong_place(make_settings, library):
    for i in range(3):  # camera photos with no words at all, as most are
        write_photo(library / f"it{i}.jpg", seed=i, gps=ITALY, taken="2021:07:01 12:00:00")
    searcher = index(make_settings(), library)
    agent = Agent(searcher.store, searcher, now=NOW)
    reply = agent.turn(DialogueState(), "a church in italy")
    assert reply.results and any("no photo in Italy matches 'church'" in n or "no photo in Italy matches 'a church'" in n
                                 for n in reply.notices), reply.notices
    assert not any("nothing matched in Italy" in n for n in reply.notices)


@pytest.mark.parametrize("content", ["[" * 100_000, "{" * 50_000, '{"turns": "x"}', "\x00\xff" * 10])
def test_an_unusable_session_file_starts_fresh(tmp_path, content):
    path = session_path(tmp_path, "s")
    path.write_text(content, encoding="utf-8", errors="surrogateescape")
    state, notice = load_state(tmp_path, "s")
    assert state.turns == [] and "starting fresh" in notice


def test_a_session_path_that_is_a_folder_is_an_error_and_leaves_nothing_behind(odd_library, tmp_path):
    _, db, _ = odd_library
    sessions = tmp_path / "sessions"
    env = {"RECALL_SESSIONS_DIR": str(sessions)}
    folder = _settings(db).model_copy(update={"sessions_dir": sessions}).sessions_path / "dir.json"
    folder.mkdir(parents=True)
    message = one_line_error(recall("ask", "a photo in Arezzo", "--session", "dir", "--no-llm", "--db", str(db), env=env))
    assert "is not a file" in message
    assert sorted(p.name for p in folder.parent.iterdir() if not p.name.endswith(".lock")) == ["dir.json"]
    with pytest.raises(Exception, match="is not a file"):
        save_state(DialogueState(), folder.parent, "dir")
    assert not list(folder.parent.glob("*.tmp")) and not list(folder.parent.glob(".*.tmp"))


def test_the_image_size_limit_is_one_value_in_every_message(tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    Image.new("RGB", (2000, 1000)).save(lib / "two-mp.png")  # over the limit
    Image.new("RGB", (3000, 1000)).save(lib / "three-mp.png")  # over twice the limit: PIL's own refusal
    db = tmp_path / "db"
    recall("index", str(lib), "--db", str(db), "--quick", env={"RECALL_MAX_IMAGE_PIXELS": "1000000"})
    reasons = {Path(s["path"]).name: s["reason"] for s in json.loads(recall("status", "--json", "--db", str(db)).stdout)["skipped"]}
    assert set(reasons) == {"two-mp.png", "three-mp.png"}
    assert all("over the 1 MP limit" in r for r in reasons.values()), reasons
    assert "300" not in " ".join(reasons.values())


# ---- 7. sessions per index ------------------------------------------------------------------------
def test_two_indexes_keep_their_own_sessions_and_old_ones_move_to_theirs(tmp_path):
    from tools.settings import load_settings

    dbs = {}
    for name, photo in (("a", "DSCN0010.jpg"), ("b", "IMG_5195.HEIC")):
        lib = tmp_path / f"lib-{name}"
        lib.mkdir()
        shutil.copy2(EXIF_PHOTOS / photo, lib / photo)
        dbs[name] = tmp_path / name / "db"
        assert recall("index", str(lib), "--db", str(dbs[name]), "--quick").returncode == 0
    env = {"RECALL_SESSIONS_DIR": str(tmp_path / "sessions")}
    first = recall("ask", "a photo in Italy", "--session", "trip", "--no-llm", "--json", "--db", str(dbs["a"]), env=env)
    assert first.returncode == 0, text(first)
    other = recall("ask", "not 1", "--session", "trip", "--no-llm", "--json", "--db", str(dbs["b"]), env=env)
    assert other.returncode == 0 and json.loads(other.stdout)["message"]
    a_sessions = load_settings(db=dbs["a"], sessions_dir=tmp_path / "sessions").sessions_path
    b_sessions = load_settings(db=dbs["b"], sessions_dir=tmp_path / "sessions").sessions_path
    assert a_sessions != b_sessions
    assert len(json.loads((a_sessions / "trip.json").read_text())["turns"]) == 1  # b's "not 1" went to b's own
    assert len(json.loads((b_sessions / "trip.json").read_text())["turns"]) == 1

    # A session saved where sessions used to live (beside the index folder) moves to its index.
    legacy = dbs["a"].parent / "sessions"
    legacy.mkdir()
    shutil.copy2(a_sessions / "trip.json", legacy / "old.json")
    env["RECALL_SESSIONS_DIR"] = str(tmp_path / "new-sessions")
    moved = recall("ask", "#1 is close", "--session", "old", "--no-llm", "--json", "--db", str(dbs["a"]), env=env)
    assert moved.returncode == 0, text(moved)
    adopted = load_settings(db=dbs["a"], sessions_dir=tmp_path / "new-sessions").sessions_path / "old.json"
    assert len(json.loads(adopted.read_text())["turns"]) == 2 and not (legacy / "old.json").exists()
