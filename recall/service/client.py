"""The `recall` entry point: a search or ask goes to the index's service when one answers.

This module imports only the standard library's socket, json and os (a fresh `recall search`
through a service is ~40 ms of Python start-up and this); everything else is the CLI's own
(recall/cli.py), imported only when the command runs here.

When no service answers, the command runs in this process exactly as without a service, and a
service is started in the background for the next command (it waits for this one to finish
before it loads anything, so this answer is not slowed). A socket whose service is gone, a
service that does not answer within ``ANSWER_S``, one of another code version, or one that dies
during a command are all handled the same way: the command runs here, and a new service
replaces the old. A busy service (another command in flight) is left alone.
RECALL_SERVICE=off turns all this off.
"""
from __future__ import annotations

import json
import os
import socket
import sys

from .address import (Address, address_for, code_version, python_path_for_child, service_key, service_setting)

SERVED = ("search", "ask")  # these start a service when none runs: they load models
# These need no model: a running service answers them (its index is open), none is started.
SERVED_IF_RUNNING = ("status", "events", "people")
ANSWER_S = 3.0  # a service that has not answered a command by then is taken for hung
ALIVE_POLL_S = 1.0  # while a command runs there, how often the client checks the service lives


def main() -> None:
    args = sys.argv[1:]
    if _servable(args) and service_setting() == "auto":
        rc = _through_service(args, start=args[0] in SERVED)
        if rc is not None:
            _exit(rc)
    from recall.cli import main as run_here

    run_here()


def _servable(args: list[str]) -> bool:
    if not args or "--help" in args:
        return False
    if args[0] == "people":  # the list only: not name, merge, split, unassign, show
        rest = args[1:]
        while rest:
            if rest[0] in ("--db", "--chroma-url") and len(rest) > 1:
                rest = rest[2:]
            elif rest[0] == "--json" or rest[0].startswith(("--db=", "--chroma-url=")):
                rest = rest[1:]
            else:
                return False
    return args[0] in SERVED or args[0] in SERVED_IF_RUNNING


def _exit(rc: int) -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(rc)


def program_name() -> str:
    """What click calls this program in usage lines (click.utils._detect_program_name), so a
    command run by the service words its errors as it would here."""
    main_module = sys.modules.get("__main__")
    path = sys.argv[0]
    package = getattr(main_module, "__package__", None)
    if package in (None, ""):
        return os.path.basename(path)
    name = os.path.splitext(os.path.basename(path))[0]
    if name != "__main__":
        package = f"{package}.{name}"
    return f"python -m {package.lstrip('.')}"


def _encoding(stream) -> list[str] | None:
    try:
        return [stream.encoding, stream.errors]
    except AttributeError:
        return None


def run_in_service(args: list[str], stdin: int, stdout: int, stderr: int) -> int | None:
    """A command run by the index's running service with these descriptors as its standard
    streams (`recall chat`'s turns: pipes, never the app's terminal), or None when no service
    answers: the caller runs it itself. Never starts a service."""
    return _through_service(args, start=False, fds=(stdin, stdout, stderr),
                            encodings={name: ["utf-8", "strict"] for name in ("stdin", "stdout", "stderr")})


def service_running(args: list[str]) -> bool:
    found = ask_service(args, "status")
    return bool(found and found.get("ok"))


def _through_service(args: list[str], start: bool = True, fds: tuple[int, int, int] = (0, 1, 2),
                     encodings: dict | None = None) -> int | None:
    """The command's exit code from the service, or None: run it here (a service is started or
    replaced where needed, when ``start``)."""
    key = service_key(args)
    if key is None:
        return None
    address = address_for(key, create=True)
    if address is None:
        return None
    conn = _connect(address)
    if conn is None:  # no socket, or nobody behind it (a service that died)
        if start:
            start_service(address, args)
        return None
    request = {"op": "run", "version": code_version(), "key": key, "args": args, "argv0": sys.argv[0],
               "prog": program_name(), "cwd": os.getcwd(), "env": dict(os.environ),
               "encodings": encodings or {"stdin": _encoding(sys.stdin), "stdout": _encoding(sys.stdout),
                                          "stderr": _encoding(sys.stderr)}}
    try:
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        socket.send_fds(conn, [json.dumps(request).encode() + b"\n"], list(fds))
        answer = _read_line(conn)
    except socket.timeout:
        conn.close()
        if start:
            replace_service(address, args)
        return None
    except (OSError, ValueError):
        conn.close()
        if start:
            start_service(address, args)
        return None
    if answer is None:  # closed without a word: it died as we spoke
        conn.close()
        if start:
            start_service(address, args)
        return None
    if not answer.get("ok"):
        conn.close()
        if answer.get("why") == "version":
            if start:  # the old one is on its way out
                start_service(address, args, force=True)
        elif answer.get("why") == "key":
            if start:
                start_service(address, args)
        return None
    return _wait_for_exit_code(conn, int(answer.get("pid") or 0), address, args if start else None)


def _wait_for_exit_code(conn: socket.socket, pid: int, address: Address, args: list[str] | None) -> int | None:
    """The exit code, or None where the service died first (``args``: start another)."""
    conn.settimeout(ALIVE_POLL_S)
    interrupted = False
    while True:
        try:
            answer = _read_line(conn)
        except socket.timeout:
            if not _alive(pid):
                conn.close()
                if args is not None:
                    start_service(address, args)
                return None
            continue
        except KeyboardInterrupt:  # the command is the service's: it stops the way it would here
            if interrupted or not _alive(pid):
                conn.close()
                return 130
            interrupted = True
            _signal(pid, "SIGUSR1")
            continue
        except (OSError, ValueError):
            answer = None
        conn.close()
        if answer is None or "rc" not in answer:  # it died during the command: answer here
            if args is not None:
                start_service(address, args)
            return None
        return int(answer["rc"])


_pending = b""


def _read_line(conn: socket.socket) -> dict | None:
    global _pending
    data = _pending
    while b"\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            _pending = b""
            return None
        data += chunk
    line, _, _pending = data.partition(b"\n")
    return json.loads(line)


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is not alive
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[-1].split()[0] != b"Z"
    except OSError:
        return True


def _signal(pid: int, name: str) -> None:
    import signal

    try:
        os.kill(pid, getattr(signal, name))
    except OSError:
        pass


# ---- starting and replacing --------------------------------------------------------------------
def _lock_holder(address: Address) -> int | None:
    """The pid of the service holding this index's lock (alive, starting or hung), or None."""
    import fcntl

    try:
        fd = os.open(address.lock, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        return -1  # cannot tell: do not start another
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        try:
            return int(os.pread(fd, 32, 0).decode().strip() or 0) or -1
        except ValueError:
            return -1
        finally:
            os.close(fd)
    os.close(fd)  # free: closing lets it go
    return None


def _is_our_service(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            words = handle.read().split(b"\0")
    except OSError:
        return False
    return b"serve" in words and b"--detached" in words


def replace_service(address: Address, args: list[str]) -> None:
    """A service that holds the lock but does not answer: end it and start another."""
    pid = _lock_holder(address)
    if pid and pid > 0 and _is_our_service(pid):
        _signal(pid, "SIGKILL")
    start_service(address, args, force=True)  # it waits for the old one's lock


def start_service(address: Address, args: list[str], force: bool = False) -> None:
    """Start this index's service, detached, unless one is already there or starting (``force``:
    the one there is on its way out; the new one takes over its lock when it is gone)."""
    if not force:
        holder = _lock_holder(address)
        if holder is not None and (holder < 0 or _alive(holder)):
            return  # running, busy or still loading (it binds its socket when ready): not a second
    import subprocess

    from .address import PATH_OPTIONS, VALUE_OPTIONS, option_values

    options = option_values(args) or {}
    index_args = [word for name in PATH_OPTIONS + VALUE_OPTIONS if name in options for word in (name, options[name])]
    try:
        log = os.open(address.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    except OSError:
        return
    try:
        subprocess.Popen([sys.executable, "-m", "recall", "serve", "--detached", "--after", str(os.getpid()),
                          *index_args], cwd="/", env=python_path_for_child(dict(os.environ)),
                         stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True, close_fds=True)
    except OSError:
        pass  # no service this time: the command still runs here
    finally:
        os.close(log)


def ask_service(args: list[str], op: str, env: dict[str, str] | None = None) -> dict | None:
    """A ``status`` or ``stop`` answer from the service of the index these arguments name."""
    key = service_key(args, env)
    address = address_for(key, create=True, env=env) if key else None
    conn = _connect(address) if address is not None else None
    if conn is None:
        return None
    try:
        conn.sendall(json.dumps({"op": op}).encode() + b"\n")
        return _read_line(conn)
    except (OSError, ValueError):
        return None
    finally:
        conn.close()


def _connect(address: Address) -> socket.socket | None:
    """A connection to the service's socket (timing out after ``ANSWER_S``), or None: no socket,
    or nobody behind it."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.settimeout(ANSWER_S)
    try:
        conn.connect(address.socket)
    except OSError:
        conn.close()
        return None
    return conn
