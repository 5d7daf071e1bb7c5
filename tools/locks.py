"""Advisory file locks between processes (and threads) that share an index or a session.

Chroma's embedded store is not safe for two writing processes: two ``recall index`` runs on one
index did the work twice and left faces without a person. So one process at a time writes to an
index (``recall index`` for its whole run, a people edit for its moment), and one turn at a time
runs on a session. Locks are ``flock`` locks: the kernel drops them when a process dies, even by
kill -9, so a crashed run never leaves a stale lock behind. The holder writes its pid and what
it is doing into the lock file, so a waiter can say who holds it.

Inside one process a lock is shared: the chat app's index worker and its people edits hold it
together, and serialise their commits with the store's own in-process lock instead.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

POLL_S = 0.1


class LockBusy(RuntimeError):
    """Someone else holds the lock; the message says who."""

    def __init__(self, message: str, holder: str):
        super().__init__(message)
        self.holder = holder


class _Held:
    def __init__(self) -> None:
        self.depth = 0
        self.fd: int | None = None


_registry: dict[str, _Held] = {}
_registry_lock = threading.Lock()  # guards the registry and each entry's depth and fd


def holder_of(path: Path) -> str:
    """What the lock file says about its holder, e.g. "pid 4242, recall index"."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return ""
    return text[:200]


@contextlib.contextmanager
def file_lock(path: Path, purpose: str, wait_s: float = 0.0,
              busy: Callable[[str], str] | None = None,
              on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the lock at ``path`` for the block.

    ``wait_s``: how long to wait for another holder (0: not at all; a negative value: forever).
    ``busy``: the holder's description -> the message of the LockBusy raised when waiting ends.
    ``on_wait``: called once with the holder's description when a wait begins.
    """
    key = os.path.abspath(path)
    deadline = None if wait_s < 0 else time.monotonic() + wait_s
    while True:
        with _registry_lock:
            held = _registry.setdefault(key, _Held())
            if held.depth > 0:  # this process holds it already
                held.depth += 1
                break
            try:
                fd = _try_acquire(Path(path), purpose)
            except BlockingIOError:
                fd = None
            if fd is not None:
                held.fd, held.depth = fd, 1
                break
        holder = holder_of(path) or "another process"
        if deadline is not None and time.monotonic() >= deadline:
            raise LockBusy((busy or _default_busy)(holder), holder)
        if on_wait is not None:
            on_wait(holder)
            on_wait = None
        time.sleep(POLL_S)
    try:
        yield
    finally:
        with _registry_lock:
            held.depth -= 1
            if held.depth == 0 and held.fd is not None:
                _release(held.fd)
                held.fd = None


def _default_busy(holder: str) -> str:
    return f"busy ({holder})"


def held_elsewhere(path: Path) -> bool:
    """Does another process hold the lock at ``path``? Asked without creating or writing the file
    (a search must not modify the index folder the lock lives in)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)  # closing drops a lock it took
    return False


def _try_acquire(path: Path, purpose: str) -> int:
    """The locked file descriptor; BlockingIOError when another process holds the lock."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}, {purpose}\n".encode(), 0)
        return fd
    except BaseException:
        os.close(fd)
        raise


def _release(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)  # the file stays (unlinking races a waiter); its text says nobody holds it
    with contextlib.suppress(OSError):
        fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)
