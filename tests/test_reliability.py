"""Reliability as real processes on real files: full disks, read-only indexes, two processes at
once, private files, an index that adds up, and a fuzz pass over files, arguments and sessions.

Mounting a small tmpfs (the full disk) or a read-only bind mount needs root or CAP_SYS_ADMIN;
where the machine does not allow it, those tests are skipped with that reason.
"""
from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from evals.library import build_library
from tests.conftest import EXIF_PHOTOS, FACES, FLICKR, ROOT
from tests.photos import write_photo
from tests.test_agent_search import caption

QUIET = {"RECALL_ANALYZE_FACES": "false", "RECALL_ANALYZE_OBJECTS": "false"}


def recall_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "recall", *args]


def recall(*args: str, env: dict | None = None, timeout: int = 300, umask: int | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(recall_cmd(*args), cwd=ROOT, capture_output=True, timeout=timeout,
                          env={**os.environ, **QUIET, **(env or {})},
                          preexec_fn=(lambda: os.umask(umask)) if umask is not None else None)


def out(result: subprocess.CompletedProcess) -> str:
    return (result.stdout + result.stderr).decode("utf-8", "backslashreplace")


def assert_clean(result: subprocess.CompletedProcess, codes=(0, 2)) -> None:
    """A clear exit code and no traceback, and no unexpected error either."""
    text = out(result)
    assert result.returncode in codes, (result.returncode, text[-2000:])
    assert "Traceback" not in text and "RECALL_DEBUG=1 shows details" not in text, text[-2000:]


def photo_count(db: Path) -> int:
    status = recall("status", "--json", "--db", str(db))
    assert status.returncode == 0, out(status)
    return json.loads(status.stdout)["photos"]


@contextlib.contextmanager
def mounted(target: Path, *args: str):
    target.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", *args, str(target)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount here ({done.stderr.strip() or 'mount failed'}): needs root or CAP_SYS_ADMIN")
    try:
        yield target
    finally:
        subprocess.run(["umount", "-l", str(target)], capture_output=True)


@contextlib.contextmanager
def read_only_view(source: Path, target: Path):
    """``source`` seen read-only at ``target`` (a read-only share or a backup, as the kernel sees it)."""
    with mounted(target, "--bind", str(source)):
        done = subprocess.run(["mount", "-o", "remount,bind,ro", str(target)], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot remount read-only here: {done.stderr.strip()}")
        yield target


def fingerprint(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def captioned(tmp_path_factory) -> Path:
    lib = tmp_path_factory.mktemp("captioned") / "lib"
    build_library(lib, FLICKR, count=120)
    return lib


# ---- a full disk ------------------------------------------------------------------------------------
def test_a_full_disk_stops_indexing_with_one_line_loses_nothing_and_resumes(tmp_path, captioned):
    with mounted(tmp_path / "disk", "-t", "tmpfs", "-o", "size=24m", "tmpfs") as disk:
        db = disk / "db"
        small = {"RECALL_MIN_FREE_MB": "8"}  # the default floor (200 MB) is more than this whole disk
        first = recall("index", str(captioned), "--db", str(db), "--limit", "30", env=small)
        assert_clean(first, codes=(0,))
        # Leave less free than the floor: the run stops before a write, saying why.
        filler = disk / "filler"
        free = shutil.disk_usage(disk).free
        subprocess.run(["fallocate", "-l", str(free - (3 << 20)), str(filler)], check=True)
        stopped = recall("index", str(captioned), "--db", str(db), env=small, timeout=120)
        assert_clean(stopped, codes=(2,))
        lines = [line for line in stopped.stderr.decode().splitlines() if line.strip() and "━" not in line]
        assert len(lines) == 1 and "the disk holding the index is full: 3 MB free" in lines[0], lines
        assert photo_count(db) == 30  # nothing already stored is lost; search and status still work
        found = recall("search", "a dog", "--json", "-k", "3", "--db", str(db))
        assert found.returncode == 0 and len(found.stdout.splitlines()) == 3

        # No floor and no space at all: Chroma's own write fails mid-batch; still one line, no hang.
        filler.unlink()
        subprocess.run(["fallocate", "-l", str(shutil.disk_usage(disk).free - (300 << 10)), str(filler)], check=True)
        started = time.monotonic()
        failed = recall("index", str(captioned), "--db", str(db), env={"RECALL_MIN_FREE_MB": "0"}, timeout=180)
        assert time.monotonic() - started < 170
        assert_clean(failed, codes=(2,))
        assert "the disk holding the index is full" in failed.stderr.decode()
        kept = photo_count(db)
        assert 30 <= kept < 120

        filler.unlink()  # space again: the same command finishes the job
        resumed = recall("index", str(captioned), "--db", str(db), env=small)
        assert_clean(resumed, codes=(0,))
        assert photo_count(db) == 120
        doctor = recall("doctor", "--db", str(db), env=small)
        assert doctor.returncode == 0 and "consistent" in out(doctor), out(doctor)


# ---- a read-only index -----------------------------------------------------------------------------
def test_a_read_only_index_answers_searches_status_and_turns_and_is_not_written(tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    for name in ("DSCN0010.jpg", "DSCN0012.jpg", "IMG_5195.HEIC"):
        shutil.copy2(EXIF_PHOTOS / name, lib / name)
    db = tmp_path / "db"
    assert recall("index", str(lib), "--db", str(db)).returncode == 0
    before = fingerprint(db)
    with read_only_view(db, tmp_path / "ro") as ro:
        env = {"RECALL_CACHE_DIR": str(tmp_path / "cache")}
        searched = recall("search", "--near", "Arezzo", "--json", "--db", str(ro), env=env)
        assert_clean(searched, codes=(0,))
        assert len(searched.stdout.splitlines()) == 2
        # searching reads the index in place (sqlite read-only, immutable): no copy is made
        assert "private copy" not in searched.stderr.decode() and not (tmp_path / "cache" / "index-copies").exists()
        assert json.loads(recall("status", "--json", "--db", str(ro), env=env).stdout)["photos"] == 3
        turn = recall("ask", "a photo in Arezzo", "--no-llm", "--json", "--db", str(ro), env=env)
        assert_clean(turn, codes=(0,))
        assert json.loads(turn.stdout)["results"]
        refused = recall("index", str(lib), "--db", str(ro), env=env)
        assert_clean(refused, codes=(2,))
        assert "read-only" in refused.stderr.decode()
    assert fingerprint(db) == before  # not one byte of the index changed


# ---- two processes at once ------------------------------------------------------------------------
def test_a_second_writer_is_told_who_holds_the_index(tmp_path):
    from tools.locks import file_lock
    from tools.settings import load_settings

    lib = tmp_path / "lib"
    write_photo(lib / "a.jpg")
    db = tmp_path / "db"
    assert recall("index", str(lib), "--db", str(db), "--quick").returncode == 0
    with file_lock(load_settings(db=db).lock_path, "recall index"):
        busy = recall("index", str(lib), "--db", str(db))
        edit = recall("people", "name", "p1", "Ann", "--db", str(db))
    for result in (busy, edit):
        assert_clean(result, codes=(2,))
        assert f"another recall process is writing to this index (pid {os.getpid()}, recall index)" in out(result)
    assert photo_count(db) == 1  # reading was never blocked


def test_two_index_runs_at_once_leave_people_and_counts_that_add_up(tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    identities = json.loads((FACES / "identities.json").read_text())["identities"]
    for person in ("person01", "person02", "person03"):
        for name in identities[person][:3]:
            shutil.copy2(FACES / "images" / name, lib / name)
    db = tmp_path / "db"
    env = {**os.environ, "RECALL_ANALYZE_FACES": "true", "RECALL_ANALYZE_OBJECTS": "false"}
    runs = [subprocess.Popen(recall_cmd("index", str(lib), "--db", str(db)), cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    results = [subprocess.CompletedProcess(r.args, r.wait(timeout=600), *r.communicate()) for r in runs]
    for result in results:
        assert_clean(result)
    assert sum(r.returncode == 0 for r in results) >= 1
    for result in results:
        if result.returncode == 2:
            assert "another recall process is writing to this index" in out(result)
    assert photo_count(db) == 9
    people = [json.loads(line) for line in recall("people", "--json", "--db", str(db)).stdout.splitlines()]
    assert sum(p["count"] for p in people) == 9  # every face has exactly one person
    doctor = recall("doctor", "--json", "--db", str(db))
    assert doctor.returncode == 0 and json.loads(doctor.stdout)["repaired"] == 0, doctor.stdout


def test_turns_sent_at_once_to_one_session_are_all_kept(tmp_path, captioned):
    db = tmp_path / "db"
    assert recall("index", str(captioned), "--db", str(db), "--limit", "20").returncode == 0
    sessions = tmp_path / "sessions"
    env = {**os.environ, **QUIET, "RECALL_SESSIONS_DIR": str(sessions)}
    words = ["a dog in the water", "children playing", "a man on a bike"]
    runs = [subprocess.Popen(recall_cmd("ask", w, "--session", "busy", "--no-llm", "--json", "--db", str(db)),
                             cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for w in words]
    for run in runs:
        assert run.wait(timeout=600) == 0, run.stderr.read().decode()
    saved = next(sessions.glob("*/busy.json"))
    turns = json.loads(saved.read_text())["turns"]
    assert sorted(t["user"] for t in turns) == sorted(words)


# ---- private files ----------------------------------------------------------------------------------
def modes(folder: Path) -> set[tuple[str, int]]:
    return {("dir" if p.is_dir() else "file", stat.S_IMODE(p.stat().st_mode)) for p in [folder, *folder.rglob("*")]}


def test_index_sessions_and_caches_are_the_owners_alone_whatever_the_umask(tmp_path):
    lib = tmp_path / "lib"
    shutil.copy2(EXIF_PHOTOS / "DSCN0010.jpg", write_photo(lib / "a.jpg").parent / "b.jpg")
    data = tmp_path / "data"
    env = {"RECALL_DATA_DIR": str(data), "RECALL_CACHE_DIR": str(tmp_path / "cache")}
    assert recall("index", str(lib), env=env, umask=0o022).returncode == 0
    assert recall("ask", "a photo in Arezzo", "--no-llm", env=env, umask=0o000).returncode == 0
    assert modes(data) <= {("dir", 0o700), ("file", 0o600)}, modes(data)
    assert any(p.name.endswith(".json") for p in (data / "sessions").rglob("*"))

    # An index written before this rule (755 folders, 644 files) is tightened by the next run.
    for path in [data / "db", *(data / "db").rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    assert recall("index", str(lib), env=env, umask=0o022).returncode == 0
    assert modes(data / "db") <= {("dir", 0o700), ("file", 0o600)}, modes(data / "db")


# ---- an index that adds up ------------------------------------------------------------------------
def test_doctor_and_index_mend_people_bookkeeping_left_uneven(tmp_path):
    from tools.understand.people import PeopleBook
    from tools.settings import load_settings
    from tools.index.store import PhotoStore

    lib = tmp_path / "lib"
    lib.mkdir()
    for name in ("img1.jpg", "img2.jpg", "img26.jpg", "img27.jpg", "img8.jpg"):
        caption(Path(shutil.copy2(FACES / "images" / name, lib / name)), f"a portrait, {name}")  # a text vector each
    db = tmp_path / "db"
    env = {"RECALL_ANALYZE_FACES": "true"}
    assert recall("index", str(lib), "--db", str(db), env=env).returncode == 0

    def damage() -> None:
        """What a killed or (before the lock) concurrent run left: a face pointing at a person who
        is not there, a count that does not add up, vectors and faces of a photo that is gone."""
        store = PhotoStore(load_settings(db=db))
        book = PeopleBook(store)
        gone = next(iter(store.iter_photos()))
        store.photos.delete(ids=[gone.id])
        faces = book.faces.get(include=["metadatas"])
        lost = next(i for i, m in enumerate(faces["metadatas"]) if m["photo_id"] != gone.id)
        book.faces.update(ids=[faces["ids"][lost]], metadatas=[{**faces["metadatas"][lost], "cluster": "p999"}])
        cluster = book.clusters()[0]
        book.save_clusters([cluster.model_copy(update={"count": cluster.count + 5})])
        store.set_meta("people_checked", None)  # the mark a run clears before it writes

    damage()
    doctor = recall("doctor", "--json", "--db", str(db))
    assert doctor.returncode == 0, out(doctor)
    report = json.loads(doctor.stdout)
    fixed = {f["check"]: f["count"] for f in report["findings"] if f["count"]}
    assert fixed.get("people: faces without a person", 0) >= 1 and fixed.get("people: person counts", 0) >= 1
    assert any("vectors of photos no longer indexed" in check for check in fixed) and fixed.get("people: orphan faces")
    again = json.loads(recall("doctor", "--json", "--db", str(db)).stdout)
    assert again["repaired"] == 0 and again["unrepaired"] == 0

    # A later `recall index` mends the people part by itself, with nothing else to do.
    assert recall("index", str(lib), "--db", str(db), env=env).returncode == 0  # the deleted photo comes back
    damage()
    mended = recall("index", str(lib), "--db", str(db), env=env)
    assert mended.returncode == 0 and "Mended the people bookkeeping" in out(mended), out(mended)
    people = [json.loads(line) for line in recall("people", "--json", "--db", str(db)).stdout.splitlines()]
    photos = json.loads(recall("status", "--json", "--db", str(db)).stdout)["photos"]
    assert photos == 5 and sum(p["count"] for p in people) == 5


# ---- fuzz: random files, names, arguments and sessions -------------------------------------------
ODD_CHARS = ["\x1b[2J", "\x07", "[/]", "[b]", "\u202e", "\n", " ", "é", "😀", "\\", "%s", "$HOME", "'", '"']


def random_name(rng: random.Random, suffix: str) -> str:
    parts = []
    for _ in range(rng.randint(1, 4)):
        kind = rng.random()
        if kind < 0.3:
            parts.append(os.fsdecode(bytes(rng.randint(0x80, 0xFF) for _ in range(rng.randint(1, 3)))))
        elif kind < 0.6:
            parts.append(rng.choice(ODD_CHARS))
        else:
            parts.append("".join(rng.choice("abcxyz019-_") for _ in range(rng.randint(1, 6))))
    return "".join(parts).replace("/", "_").lstrip(".") + suffix


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory):
    rng = random.Random(1234)
    base = tmp_path_factory.mktemp("fuzz")
    lib = base / "lib"
    lib.mkdir()
    good = 0
    for i in range(40):
        suffix = rng.choice([".jpg", ".JPG", ".png", ".heic", ".webp", ".tif"])
        path = lib / random_name(rng, suffix)
        if path.exists():
            continue
        roll = rng.random()
        if roll < 0.35:
            write_photo(path.with_suffix(".jpg") if suffix not in (".jpg", ".JPG") else path, seed=i)
            good += 1
        elif roll < 0.7:
            path.write_bytes(bytes(rng.randrange(256) for _ in range(rng.randint(0, 5000))))
        else:  # a real photo's first bytes, cut anywhere
            data = (EXIF_PHOTOS / "DSCN0010.jpg").read_bytes()
            path.write_bytes(data[: rng.randint(0, len(data))])
    db = base / "db"
    indexed = recall("index", str(lib), "--db", str(db), timeout=600)
    assert_clean(indexed, codes=(0,))
    return lib, db, good


def test_fuzzed_files_and_names_index_without_a_traceback(fuzzed):
    lib, db, good = fuzzed
    status = json.loads(recall("status", "--json", "--db", str(db)).stdout)
    assert status["photos"] >= good and status["photos"] + len(status["skipped"]) >= len(list(lib.iterdir())) - 1
    again = recall("index", str(lib), "--db", str(db), "--quick")
    assert_clean(again, codes=(0,))
    assert "Indexed 0 new photos" in out(again)  # every odd name was stored exactly
    listing = recall("search", "--from", "1900", "-k", "100", "--db", str(db))
    assert_clean(listing, codes=(0,))
    assert "\x1b" not in listing.stdout.decode("utf-8", "replace")


def random_value(rng: random.Random) -> str:
    return rng.choice(["", "-5", "0", "1e309", "nan", "inf", "-0", "99999999999999999999", "[/]", "\x1b[2J",
                       "2021-13-45", "2021-02-30", "1800", "9999-12-31", "p1", "p999", "Arezzo", "all", "xyz",
                       "3+", "+", "-k", "--json", "é" * 300, "#99", "null", "{}", "../../etc/passwd",
                       os.fsdecode(b"\xff\xfe"), " ".join(rng.choice(ODD_CHARS) for _ in range(3))])


COMMANDS = {
    "search": ["-k", "--from", "--to", "--near", "--lat", "--lon", "--km", "--camera", "--person", "--people-mode",
               "--faces"],
    "ask": ["--session", "-k"],
    "people": [],
    "people show": [],
    "people name": [],
    "people merge": [],
    "status": [],
}


def test_fuzzed_arguments_get_a_clear_answer_and_leave_the_index_as_it_was(fuzzed):
    from typer.testing import CliRunner

    from recall.cli import app

    _, db, _ = fuzzed
    before = photo_count(db)
    rng = random.Random(99)
    runner = CliRunner()
    for _ in range(60):
        command = rng.choice(list(COMMANDS))
        args = command.split()
        if command in ("search", "ask", "people show", "people name", "people merge"):
            args += [random_value(rng) for _ in range(2 if command in ("people name", "people merge") else 1)]
        for option in rng.sample(COMMANDS[command], k=min(len(COMMANDS[command]), rng.randint(0, 3))):
            args += [option, random_value(rng)]
        if command == "ask":
            args.append("--no-llm")
        result = runner.invoke(app, [*args, "--db", str(db)], catch_exceptions=True)
        shown = result.output
        assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), (
            args, repr(result.exception))
        assert result.exit_code in (0, 2), (args, result.exit_code, shown[-1500:])
        assert "Traceback" not in shown and "RECALL_DEBUG=1" not in shown, (args, shown[-1500:])
    assert photo_count(db) == before
    assert recall("search", "--from", "1900", "--db", str(db)).returncode == 0


def test_fuzzed_session_files_start_fresh_or_continue(fuzzed, tmp_path):
    from tools.settings import load_settings

    _, db, _ = fuzzed
    rng = random.Random(7)
    sessions = load_settings(db=db, sessions_dir=tmp_path / "sessions").sessions_path
    sessions.mkdir(parents=True)
    contents = [b"", b"[" * 100_000, b"{" * 100_000, b'{"turns": [{"user": 1}]}', b'{"plan": {"visual": null}}',
                b"\xff" * 1000, json.dumps({"turns": [], "liked": ["x" * 1000] * 100}).encode(),
                bytes(rng.randrange(256) for _ in range(20000)),
                json.dumps({"turns": [{"user": "x", "shown": ["nope"]}], "pending": {"attribute": "year"}}).encode()]
    for i, content in enumerate(contents):
        (sessions / f"s{i}.json").write_bytes(content)
        result = recall("ask", "#1 is close", "--session", f"s{i}", "--no-llm", "--json", "--db", str(db),
                        env={"RECALL_SESSIONS_DIR": str(tmp_path / "sessions")})
        assert_clean(result, codes=(0,))
        assert json.loads(result.stdout)["message"]
        json.loads((sessions / f"s{i}.json").read_text())  # what is saved now is a session again
