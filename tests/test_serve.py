"""`recall serve`: real processes on a real index. The second search is answered by the service
(its own count says so), with the same bytes and exit codes as without it; a killed, hung or
stale service is replaced without the person noticing; an index run is seen by the next search;
the socket is owner-only, nothing listens on TCP, and nothing of the index changes."""
from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import FLICKR, ROOT
from tests.test_search_no_write import snapshot

QUERY = "a dog runs through the water"


def recall(env: dict, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "recall", *args], cwd=ROOT, env=env, capture_output=True,
                          timeout=300)
    if check:
        assert done.returncode == 0, done.stderr
    assert b"Traceback" not in done.stderr
    return done


def service_status(env: dict, db: Path) -> dict | None:
    from recall.service.client import ask_service

    answer = ask_service(["--db", str(db)], "status", env=env)
    return answer if answer and answer.get("ok") else None


def wait_for_service(env: dict, db: Path, not_pid: int | None = None, limit_s: float = 60.0) -> dict:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        found = service_status(env, db)
        if found and found["pid"] != not_pid:
            return found
        time.sleep(0.1)
    raise AssertionError("no service came up")


def stop_service(env: dict, db: Path) -> None:
    found = service_status(env, db)
    if found:
        os.kill(found["pid"], signal.SIGKILL)
        wait_gone(found["pid"])


def wait_gone(pid: int, limit_s: float = 20.0) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat", "rb") as handle:
                if handle.read().rsplit(b")", 1)[-1].split()[0] == b"Z":
                    return
        except OSError:
            return
        time.sleep(0.05)
    raise AssertionError(f"process {pid} is still there")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A 12-photo caption index (MiniLM, no CLIP) and an environment with the service on."""
    from evals.library import build_library

    base = tmp_path_factory.mktemp("serve")
    library = base / "library"
    build_library(library, FLICKR, count=12, sidecar_caption=0)
    runtime = Path(tempfile.mkdtemp(prefix="rs-"))  # short: a socket path holds 108 bytes
    env = dict(os.environ, RECALL_DATA_DIR=str(base / "data"), RECALL_CACHE_DIR=str(base / "cache"),
               RECALL_MODELS_DIR=str(base / "models"), XDG_RUNTIME_DIR=str(runtime), RECALL_SERVICE="auto")
    for name in ("RECALL_MODELS", "RECALL_DB", "RECALL_DEBUG", "COLUMNS"):
        env.pop(name, None)
    db = base / "db"
    recall(env, "index", str(library), "--quick", "--db", str(db))
    yield db, env, library
    stop_service(env, db)
    shutil.rmtree(runtime, ignore_errors=True)


def outputs(done: subprocess.CompletedProcess) -> tuple:
    return done.returncode, done.stdout, done.stderr


def test_second_search_is_served_with_the_same_output_and_exit_codes(served):
    db, env, _ = served
    off = dict(env, RECALL_SERVICE="off")
    commands = [("search", QUERY, "--json", "--db", str(db)), ("search", QUERY, "-k", "3", "--db", str(db)),
                ("search", QUERY, "--people-mode", "some", "--db", str(db)),  # a one-line error, exit 2
                ("search", QUERY, "--bogus", "--db", str(db)),  # a usage error, exit 2
                ("ask", "a dog in the water", "--no-llm", "--new", "--session", "s", "--db", str(db)),
                ("status", "--db", str(db)), ("status", "--json", "--db", str(db)),  # no model: never start one,
                ("people", "--db", str(db)), ("events", "--json", "--db", str(db))]  # but a running one answers
    expected = [outputs(recall(off, *c, check=False)) for c in commands]
    assert [e[0] for e in expected] == [0, 0, 2, 2, 0, 0, 0, 0, 0]
    assert expected[0][1].count(b"\n") >= 1 and b"error:" in expected[2][2]

    assert service_status(env, db) is None
    assert outputs(recall(env, *commands[5])) == expected[5]
    time.sleep(1)
    assert service_status(env, db) is None  # `recall status` started none
    first = recall(env, *commands[0])  # no service yet: answered here, one starts for the next
    assert outputs(first) == expected[0]
    service = wait_for_service(env, db)
    assert service["served"] == 0
    for command, want in zip(commands, expected):
        assert outputs(recall(env, *command, check=False)) == want, command
    after = service_status(env, db)
    assert after["pid"] == service["pid"] and after["served"] == len(commands)

    shown = recall(env, "serve", "--status", "--json", "--db", str(db))
    assert f'"pid": {service["pid"]}'.encode() in shown.stdout and b'"running": true' in shown.stdout


def test_socket_is_owner_only_and_nothing_listens_on_tcp(served):
    db, env, _ = served
    recall(env, "search", QUERY, "--db", str(db))
    service = wait_for_service(env, db)
    sock = Path(service["socket"])
    assert stat.S_ISSOCK(sock.lstat().st_mode)
    assert stat.S_IMODE(sock.lstat().st_mode) == 0o600
    assert stat.S_IMODE(sock.parent.lstat().st_mode) == 0o700
    assert sock.parent.lstat().st_uid == os.getuid()
    inodes = {os.readlink(f"/proc/{service['pid']}/fd/{fd}")[8:-1] for fd in os.listdir(f"/proc/{service['pid']}/fd")
              if os.readlink(f"/proc/{service['pid']}/fd/{fd}").startswith("socket:[")}
    assert inodes, "the service holds its socket"
    listening = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6", "/proc/net/udp", "/proc/net/udp6", "/proc/net/raw",
                  "/proc/net/raw6"):
        with open(table) as rows:
            listening |= {row.split()[9] for row in list(rows)[1:]}
    assert not inodes & listening, "the service has an IP socket"
    with open("/proc/net/unix") as rows:
        unix = {row.split()[6] for row in list(rows)[1:]}
    assert inodes & unix, "its listening socket is a Unix socket"  # (a client's may close meanwhile)


def test_killed_hung_or_stale_service_is_replaced_and_the_search_still_answers(served):
    db, env, _ = served
    want = outputs(recall(dict(env, RECALL_SERVICE="off"), "search", QUERY, "--json", "--db", str(db)))
    recall(env, "search", QUERY, "--json", "--db", str(db))
    old = wait_for_service(env, db)

    os.kill(old["pid"], signal.SIGKILL)  # crashed: its socket file stays behind, stale
    wait_gone(old["pid"])
    assert Path(old["socket"]).exists()
    assert outputs(recall(env, "search", QUERY, "--json", "--db", str(db))) == want
    new = wait_for_service(env, db, not_pid=old["pid"])
    assert outputs(recall(env, "search", QUERY, "--json", "--db", str(db))) == want
    assert service_status(env, db)["served"] == 1

    os.kill(new["pid"], signal.SIGSTOP)  # hung: it never answers
    try:
        started = time.monotonic()
        assert outputs(recall(env, "search", QUERY, "--json", "--db", str(db))) == want
        assert time.monotonic() - started < 60
        wait_gone(new["pid"])  # the client ended it
    finally:
        with __import__("contextlib").suppress(ProcessLookupError):
            os.kill(new["pid"], signal.SIGCONT)
    third = wait_for_service(env, db, not_pid=new["pid"])
    assert third["pid"] != old["pid"]


def test_an_index_run_between_two_searches_is_seen_and_searching_writes_nothing(served):
    from evals.library import build_library, load_captions

    db, env, library = served
    recall(env, "search", QUERY, "--db", str(db))
    wait_for_service(env, db)
    name, captions = list(load_captions(FLICKR).items())[12]  # the 13th photo: not indexed yet
    query = ("search", captions[0], "-k", "3", "--json", "--db", str(db))
    before = snapshot(db)
    served_before = service_status(env, db)["served"]
    assert name.encode() not in recall(env, *query).stdout
    assert snapshot(db) == before  # searching through the service wrote nothing

    build_library(library, FLICKR, count=13, sidecar_caption=0)
    recall(dict(env, RECALL_SERVICE="off"), "index", str(library), "--quick", "--db", str(db))
    assert name.encode() in recall(env, *query).stdout.splitlines()[0]
    assert service_status(env, db)["served"] == served_before + 2  # both searches were the service's


def test_idle_service_exits_and_removes_its_socket(served):
    db, env, _ = served
    own = dict(env, XDG_RUNTIME_DIR=tempfile.mkdtemp(prefix="rs-"))  # a service of its own
    process = subprocess.Popen([sys.executable, "-m", "recall", "serve", "--idle", "2", "--db", str(db)], cwd=ROOT,
                               env=own, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        found = wait_for_service(own, db)
        assert found["pid"] == process.pid and found["idle_s"] == 2
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert b"stopped (idle)" in err
    assert not Path(found["socket"]).exists()
    shutil.rmtree(own["XDG_RUNTIME_DIR"], ignore_errors=True)


def test_a_service_of_older_code_is_replaced_by_the_new_codes(served, tmp_path):
    """A copy of the code, so that "a newer version" is a real edit of its files."""
    db, env, _ = served
    code = tmp_path / "code"
    for package in ("recall", "tools", "agent", "prompts"):
        shutil.copytree(ROOT / package, code / package, ignore=shutil.ignore_patterns("__pycache__"))
    copy_env = dict(env, PYTHONPATH=str(code))

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "recall", *args], cwd=code, env=copy_env, capture_output=True,
                              timeout=300)

    def status() -> dict:
        import json

        return json.loads(run("serve", "--status", "--json", "--db", str(db)).stdout)

    def wait(not_pid=None) -> dict:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = status()
            if found["running"] and found["pid"] != not_pid:
                return found
            time.sleep(0.2)
        raise AssertionError("no service came up")

    want = outputs(recall(dict(env, RECALL_SERVICE="off"), "search", QUERY, "--json", "--db", str(db)))
    assert outputs(run("search", QUERY, "--json", "--db", str(db))) == want
    old = wait()
    from recall.service.address import service_key

    assert old["key"] != service_key(["--db", str(db)], env)  # another code's service: another socket
    later = time.time() + 5
    os.utime(code / "recall" / "output.py", (later, later))  # the code changed under the service
    assert outputs(run("search", QUERY, "--json", "--db", str(db))) == want
    new = wait(not_pid=old["pid"])
    assert new["version"] != old["version"]
    wait_gone(old["pid"])
    assert outputs(run("search", QUERY, "--json", "--db", str(db))) == want
    assert status()["served"] == 1
    os.kill(new["pid"], signal.SIGTERM)
    wait_gone(new["pid"])


def test_ask_with_the_local_llm_is_served_with_the_llm_loaded_once(served, tmp_path):
    """`recall ask` with the real 0.5B planning: the service loads the LLM once and answers two
    turns of a saved session as the command does on its own (same plan, same photos)."""
    import json

    from tests.test_privacy import models_with_llm

    db, env, _ = served
    models = models_with_llm(tmp_path, tmp_path / "no-clip")
    env = dict(env, RECALL_MODELS_DIR=str(models))
    off = dict(env, RECALL_SERVICE="off")
    turns = [("ask", "a dog running through the water", "--json", "--new", "--session", "walk", "--db", str(db)),
             ("ask", "it was a black dog", "--json", "--session", "walk", "--db", str(db))]

    def replies(environment: dict) -> list[dict]:
        return [json.loads(recall(environment, *turn).stdout) for turn in turns]

    def essentials(reply: dict) -> tuple:
        return reply["planner"], [r["path"] for r in reply["results"]], (reply.get("question") or {}).get("attribute")

    alone = replies(off)
    assert [r["planner"] for r in alone] == ["llm", "llm"], [r.get("notices") for r in alone]
    assert service_status(env, db) is None
    recall(env, "search", QUERY, "--db", str(db))  # starts this models folder's service
    service = wait_for_service(env, db)
    served_replies = replies(env)
    assert [essentials(r) for r in served_replies] == [essentials(r) for r in alone]
    assert service_status(env, db)["served"] == service["served"] + len(turns)
    # --stream: the rules' reply on a line of its own first (what `recall chat` shows at once), then the LLM's
    lines = recall(env, "ask", "a dog in the water", "--json", "--stream", "--new", "--session", "streamed",
                   "--db", str(db)).stdout.splitlines()
    first, last = json.loads(lines[0]), json.loads(lines[-1])
    assert len(lines) == 2 and first["quick"] and first["planner"] == "rules" and last["planner"] == "llm"
    assert "quick" not in last and first["results"] and last["results"]
    stop_service(env, db)


class _CancelledMeanwhile:
    """A turn cancelled while the service ran it: not yet when it starts, then cancelled."""

    def check(self) -> None:
        pass

    cancelled = True


def test_chat_turns_are_answered_by_the_running_service(served, monkeypatch):
    """`recall chat` shares a running service: its turns go there (counted by the service) with
    the same photos as a turn run in the chat itself, continue the session the service keeps, a
    turn cancelled meanwhile leaves the session file as it was, and when the service goes away
    the next turn runs in the chat."""
    from agent.state import session_path
    from recall.chat.engine import CancelToken, ChatEngine, TurnCancelled
    from tools.settings import load_settings

    db, env, _ = served
    for name in set(os.environ) - set(env):
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = load_settings(db=db)
    index_args = ["--db", str(db)]
    stop_service(env, db)
    alone = ChatEngine(settings, session="chat-alone", new=True, no_llm=True, service_args=index_args)
    alone.open()
    assert not alone.via_service  # none runs: the chat's own models
    mine = alone.turn(QUERY, CancelToken(), alone.next_turn_id())

    # a shell's search starts the index's service; the shell has not imported tools/models, which
    # sets HF_HUB_OFFLINE and TRANSFORMERS_OFFLINE in every process that does (the chat's too)
    shell = {k: v for k, v in env.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    recall(shell, "search", QUERY, "--db", str(db))
    service = wait_for_service(env, db)
    shared = ChatEngine(settings, session="chat-shared", new=True, no_llm=True, service_args=index_args)
    shared.open()
    assert shared.via_service and shared.load_llm() is None and shared.llm_label == "via recall serve"
    first = shared.turn(QUERY, CancelToken(), shared.next_turn_id())
    assert [p.path for p in first.reply.results] == [p.path for p in mine.reply.results] and first.reply.results
    assert first.reply.message == mine.reply.message
    feedback = shared.turn("#1 is close", CancelToken(), shared.next_turn_id())
    assert feedback.reply.results and [t.user for t in shared.history().turns] == [QUERY, "#1 is close"]
    assert service_status(env, db)["served"] == service["served"] + 2

    path = session_path(settings.sessions_path, "chat-shared")
    before = path.read_bytes()
    with pytest.raises(TurnCancelled):
        shared.turn("not 2", _CancelledMeanwhile(), shared.next_turn_id())
    assert path.read_bytes() == before  # the service saved its turn; the chat put the file back
    assert service_status(env, db)["served"] == service["served"] + 3
    dashed = shared.turn("--help", CancelToken(), shared.next_turn_id())  # words, not an option of `ask`
    assert shared.via_service and dashed.reply.message and service_status(env, db)["served"] == service["served"] + 4

    stop_service(env, db)
    later = shared.turn("a dog in the water", CancelToken(), shared.next_turn_id())
    assert not shared.via_service and later.reply.results
    assert any("no longer answers" in n for n in later.reply.notices) and shared.llm_label == "rules (no LLM)"
    assert [t.user.strip() for t in shared.history().turns] == [QUERY, "#1 is close", "--help", "a dog in the water"]
