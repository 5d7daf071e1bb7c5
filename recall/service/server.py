"""The resident service: a Unix socket, the CLI's own commands run in a process that stays up.

A client (recall/service/client.py) sends its command line, environment and working folder, and
its stdin, stdout and stderr themselves (SCM_RIGHTS). The service puts those descriptors in
place of its own, runs the very same Typer command the CLI would, and answers the exit code: the
output is the command's own, written straight to the person's terminal or pipe, so it is the
same bytes as in-process (Rich sees the same terminal, width and environment).

One command runs at a time (they swap the process's standard streams). A thread answers at once
on the socket, so a client can tell a busy service (it runs the command itself) from a hung
one (no answer in time: it is replaced). The service exits after ``idle_s`` without a command,
when a client of a newer code version reaches it, or when its socket is taken away.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import queue
import signal
import socket
import struct
import sys
import threading
import time
import warnings

from .address import Address, code_version

MAX_REQUEST = 4 << 20  # bytes: a command line and an environment
GREETING_TIMEOUT_S = 5.0  # a client that connects and says nothing is dropped
LOCK_WAIT_S = 10.0  # a new service waits this long for the one it replaces to go
WATCH_S = 5.0  # how often an idle service checks that its socket is still its own


class AlreadyRunning(RuntimeError):
    def __init__(self, pid: str):
        super().__init__(f"a service already runs for this index (pid {pid or '?'})")
        self.pid = pid


def read_message(conn: socket.socket, with_fds: bool = False) -> tuple[dict | None, list[int]]:
    """One JSON line (and the descriptors sent with its first bytes)."""
    fds: list[int] = []
    data = b""
    while not data.endswith(b"\n"):
        if with_fds and not data:
            chunk, got, _, _ = socket.recv_fds(conn, 65536, 3)
            fds += got
        else:
            chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
        if len(data) > MAX_REQUEST:
            break
    try:
        return (json.loads(data) if data.endswith(b"\n") else None), fds
    except ValueError:
        return None, fds


def send_message(conn: socket.socket, message: dict) -> None:
    with contextlib.suppress(OSError):
        conn.sendall(json.dumps(message).encode() + b"\n")


def _peer_uid(conn: socket.socket) -> int:
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", creds)[1]


class Service:
    """``run_command(args, prog_name) -> exit code`` runs one CLI command in this process."""

    def __init__(self, address: Address, run_command, idle_s: float, log=None):
        self.address = address
        self.run_command = run_command
        self.idle_s = idle_s
        self.version = code_version()
        self.log = log or (lambda text: None)
        self.started = time.time()
        self.served = 0
        self.last_used = time.monotonic()
        self.work: queue.Queue = queue.Queue()
        self.state_lock = threading.Lock()
        self.busy = False
        self.in_command = False
        self.stopping: str | None = None
        self.listener: socket.socket | None = None
        self.socket_inode = None
        self.lock_fd: int | None = None

    # ---- life ----------------------------------------------------------------------------------
    def take_lock(self, wait_s: float = LOCK_WAIT_S) -> None:
        """Hold the index's service lock for life: one service per index."""
        fd = os.open(self.address.lock, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
                    os.close(fd)
                    raise AlreadyRunning(holder) from None
                time.sleep(0.1)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self.lock_fd = fd

    def listen(self) -> None:
        """Bind under a private name, make it owner-only, then move it into place (a client never
        sees a half-made socket); an older socket at that name is dead (we hold the lock)."""
        staging = os.path.join(self.address.folder, f".{self.address.key}.{os.getpid()}.sock")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(staging)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_umask = os.umask(0o177)
        try:
            listener.bind(staging)
        finally:
            os.umask(old_umask)
        os.chmod(staging, 0o600)
        listener.listen(16)
        os.replace(staging, self.address.socket)
        self.socket_inode = os.stat(self.address.socket).st_ino
        self.listener = listener

    def serve(self) -> str:
        """Answer commands until idle, stopped or replaced; returns why it stopped."""
        self.last_used = time.monotonic()  # idle from now, not from before the models loaded
        signal.signal(signal.SIGUSR1, self._interrupt)  # a client's Ctrl-C, forwarded
        signal.signal(signal.SIGTERM, self._terminate)
        threading.Thread(target=self._accept_loop, daemon=True, name="recall-serve-accept").start()
        self.log(f"serving {self.address.socket} (pid {os.getpid()}, idle exit after {self.idle_s:g} s)")
        try:
            while self.stopping is None:
                idle_left = self.idle_s - (time.monotonic() - self.last_used)
                if idle_left <= 0:
                    self.stopping = "idle"
                    break
                try:
                    item = self.work.get(timeout=min(idle_left, WATCH_S))
                except queue.Empty:
                    if not self._socket_is_mine():
                        self.stopping = "replaced"
                    continue
                except KeyboardInterrupt:  # Ctrl-C in `recall serve` (foreground)
                    self.stopping = "interrupted"
                    break
                if item is not None:
                    self._run(*item)
        finally:
            self.close()
        return self.stopping or "stopped"

    def close(self) -> None:
        if self.listener is not None:
            if self._socket_is_mine():
                with contextlib.suppress(OSError):
                    os.unlink(self.address.socket)
            with contextlib.suppress(OSError):
                self.listener.close()
            self.listener = None
        if self.lock_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.lock_fd)
            self.lock_fd = None

    def _socket_is_mine(self) -> bool:
        try:
            return os.stat(self.address.socket).st_ino == self.socket_inode
        except OSError:
            return False

    def _interrupt(self, signum, frame) -> None:
        if self.in_command:
            raise KeyboardInterrupt

    def _terminate(self, signum, frame) -> None:
        self.stopping = "terminated"
        # Not put() here: the handler may run while this very thread holds the queue's lock.
        threading.Thread(target=self.work.put, args=(None,), daemon=True).start()
        if self.in_command:
            raise KeyboardInterrupt

    # ---- the socket ----------------------------------------------------------------------------
    def _accept_loop(self) -> None:
        while self.stopping is None and self.listener is not None:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            try:
                self._greet(conn)
            except Exception as error:  # noqa: BLE001 - one bad client must not stop the service
                self.log(f"dropped a client: {type(error).__name__}: {error}")
                with contextlib.suppress(OSError):
                    conn.close()

    def _greet(self, conn: socket.socket) -> None:
        conn.settimeout(GREETING_TIMEOUT_S)
        if _peer_uid(conn) != os.getuid():  # the folder is 0700 already; never another user's
            conn.close()
            return
        request, fds = read_message(conn, with_fds=True)
        queued = False
        try:
            op = (request or {}).get("op")
            if op == "status":
                send_message(conn, self.status())
            elif op == "stop":
                send_message(conn, {"ok": True, "pid": os.getpid()})
                self.stopping = "stopped"
                self.work.put(None)
            elif op == "run":
                answer = self._admit(request, fds)
                send_message(conn, answer)
                queued = answer["ok"]
                if queued:
                    self.work.put((conn, request, fds))
            else:
                send_message(conn, {"ok": False, "why": "bad request"})
        finally:
            if not queued:
                for fd in fds:
                    with contextlib.suppress(OSError):
                        os.close(fd)
                conn.close()

    def _admit(self, request: dict, fds: list[int]) -> dict:
        if request.get("version") != self.version:
            self.stopping = "a newer version"  # the client starts the new code's service
            self.work.put(None)
            return {"ok": False, "why": "version", "pid": os.getpid()}
        if request.get("key") != self.address.key:
            return {"ok": False, "why": "key", "pid": os.getpid()}
        if len(fds) != 3:
            return {"ok": False, "why": "no streams", "pid": os.getpid()}
        with self.state_lock:
            if self.busy or self.stopping is not None:
                return {"ok": False, "why": "busy", "pid": os.getpid()}
            self.busy = True
        return {"ok": True, "pid": os.getpid()}

    def status(self) -> dict:
        return {"ok": True, "pid": os.getpid(), "socket": str(self.address.socket), "key": self.address.key,
                "version": self.version, "started": self.started, "served": self.served, "busy": self.busy,
                "idle_s": self.idle_s, "idle_for_s": round(time.monotonic() - self.last_used, 3)}

    # ---- one command ---------------------------------------------------------------------------
    def _run(self, conn: socket.socket, request: dict, fds: list[int]) -> None:
        started = time.perf_counter()
        rc: int | None = 1
        failure = ""
        try:
            with _client_process(request, fds):
                self.in_command = True
                try:
                    rc = self.run_command(list(request["args"]), request.get("prog") or "recall")
                finally:
                    self.in_command = False
        except KeyboardInterrupt:
            rc = 130
        except Exception as error:  # noqa: BLE001 - the service failed, not the command: the client runs it itself
            failure = f"{type(error).__name__}: {error}"
            self.log(f"could not run a command: {failure}")
            rc = None
        finally:
            self.served += 1
            self.last_used = time.monotonic()
            with self.state_lock:
                self.busy = False
        send_message(conn, {"rc": rc} if rc is not None else {"failed": failure})
        with contextlib.suppress(OSError):
            conn.close()
        self.log(f"{' '.join(request['args'][:1])}: rc {rc} in {time.perf_counter() - started:.3f} s")


@contextlib.contextmanager
def _client_process(request: dict, fds: list[int]):
    """For the block, this process looks like the client's: its streams, environment, folder
    and argv; everything is put back afterwards."""
    from recall.output import renew_consoles

    saved_fds = [os.dup(n) for n in (0, 1, 2)]
    saved_streams = (sys.stdin, sys.stdout, sys.stderr)
    saved_env = dict(os.environ)
    saved_cwd = os.getcwd()
    saved_argv = sys.argv
    saved_filters = list(warnings.filters)
    try:
        for n, fd in enumerate(fds):
            os.dup2(fd, n)
        encodings = request.get("encodings") or {}
        sys.stdin = _stream(0, "r", encodings.get("stdin"))
        sys.stdout = _stream(1, "w", encodings.get("stdout"))
        sys.stderr = _stream(2, "w", encodings.get("stderr"), line_buffering=True)
        os.environ.clear()
        os.environ.update(request.get("env") or {})
        os.chdir(request["cwd"])
        sys.argv = [request.get("argv0") or "recall", *request["args"]]
        warnings._filters_mutated()  # "shown once" warnings show again, as in a fresh process
        renew_consoles()
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        sys.stdin, sys.stdout, sys.stderr = saved_streams
        for n, fd in enumerate(saved_fds):
            os.dup2(fd, n)
            os.close(fd)
        for fd in fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        os.environ.clear()
        os.environ.update(saved_env)
        with contextlib.suppress(OSError):
            os.chdir(saved_cwd)
        sys.argv = saved_argv
        warnings.filters[:] = saved_filters
        warnings._filters_mutated()
        with contextlib.suppress(Exception):
            renew_consoles()


def _stream(fd: int, mode: str, encoding: list | None, line_buffering: bool | None = None):
    """A text stream on ``fd`` as the client's Python had it (encoding, errors, buffering)."""
    name, errors = (encoding or ["utf-8", "strict"])[:2]
    if line_buffering is None:
        line_buffering = mode == "w" and os.isatty(fd)
    return open(fd, mode, buffering=1 if line_buffering else -1, encoding=name, errors=errors, closefd=False)


def wait_for_exit(pid: int, limit_s: float = 60.0) -> None:
    """Sleep until process ``pid`` (the command that started this service) has ended, so that
    loading the models does not slow its answer."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        except PermissionError:
            return
        time.sleep(0.02)


def truncate_log(path: str, keep: int = 1 << 20) -> None:
    with contextlib.suppress(OSError):
        if os.stat(path).st_size > keep:
            os.truncate(path, 0)
