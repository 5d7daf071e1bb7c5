"""The index folder on disk: does it exist, can it be written, is its disk full, who is writing.

Chroma opens its database read-write even to read it, so an index that cannot be written (a
library on a read-only share, a snapshot, a backup, a full disk) cannot be opened in place.
Reading such an index goes through a private temporary copy (``read_copy``), made once per
state of the index and reused until the index changes.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from tools.private import private_dir

DB_FILE = "chroma.sqlite3"
COPY_MARGIN = 64 << 20  # bytes a copy needs beyond the index's own size
NEARLY_FULL = 16 << 20  # below this, Chroma cannot be trusted to open or write an index


class IndexMissing(RuntimeError):
    pass


class DiskFull(RuntimeError):
    def __init__(self, folder: Path, free: int, needed: int):
        super().__init__(f"the disk holding the index is full: {free >> 20} MB free at {folder} "
                         f"(indexing stops below {needed >> 20} MB; RECALL_MIN_FREE_MB sets it). "
                         "Nothing stored is lost: free some space and run the same command again.")
        self.free = free


def index_exists(db: Path) -> bool:
    return (Path(db) / DB_FILE).is_file()


def free_bytes(folder: Path) -> int:
    probe = Path(folder)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free


def check_free_space(folder: Path, min_free: int) -> None:
    """Raise DiskFull when the disk holding ``folder`` has less than ``min_free`` bytes free."""
    free = free_bytes(folder)
    if free < min_free:
        raise DiskFull(Path(folder), free, min_free)


def on_read_only_filesystem(db: Path) -> bool:
    """A read-only mount, where sqlite must be told the file is immutable (it cannot lock it)."""
    try:
        return bool(os.statvfs(db).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def writable_in_place(db: Path, min_free: int) -> bool:
    """Can Chroma open the index where it is (it writes even to read)?"""
    db = Path(db)
    if not os.access(db, os.W_OK) or not os.access(db / DB_FILE, os.W_OK):
        return False  # a read-only mount answers EROFS even to root
    try:
        statvfs = os.statvfs(db)
    except OSError:
        return False
    if statvfs.f_flag & os.ST_RDONLY:
        return False
    return free_bytes(db) >= min(min_free, NEARLY_FULL)


def is_write_failure(error: BaseException) -> bool:
    """Chroma's wording for a full disk or a read-only database."""
    text = str(error).lower()
    return any(s in text for s in ("disk is full", "no space left", "readonly database", "read-only file system"))


def _index_size(db: Path) -> int:
    return sum(f.stat().st_size for f in db.rglob("*") if f.is_file())


def _fingerprint(db: Path) -> str:
    digest = hashlib.blake2b(digest_size=16)
    for path in sorted(db.rglob("*")):
        if path.is_file() and not path.name.endswith(".lock"):
            st = path.stat()
            digest.update(f"{path.relative_to(db)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _own(folder: Path) -> None:
    for root, dirs, files in os.walk(folder):
        os.chmod(root, 0o700)
        for name in files:
            os.chmod(os.path.join(root, name), 0o600)


def read_copy(db: Path, cache_dir: Path) -> Path:
    """A private copy of the index at ``db`` to open instead of it; reused while the index is
    unchanged. Tries the cache folder, then the temporary folder, then /dev/shm (RAM), for one
    with room (the index's disk may be the full one)."""
    db = Path(db).resolve()
    key = hashlib.blake2b(str(db).encode("utf-8", "surrogateescape"), digest_size=8).hexdigest()
    fingerprint = _fingerprint(db)
    needed = _index_size(db) + COPY_MARGIN
    candidates = [Path(cache_dir) / "index-copies", Path(tempfile.gettempdir()) / f"photo-recall-{os.getuid()}",
                  Path("/dev/shm") / f"photo-recall-{os.getuid()}"]
    for base in candidates:
        folder = base / key
        if (folder / "fingerprint").is_file() and (folder / "fingerprint").read_text() == fingerprint:
            return folder / "db"
    problems = []
    for base in candidates:
        try:
            private_dir(base)
            if free_bytes(base) < needed:
                problems.append(f"{base}: {free_bytes(base) >> 20} MB free")
                continue
            folder = base / key
            staging = Path(tempfile.mkdtemp(prefix=".copy-", dir=base))
        except OSError as error:
            problems.append(f"{base}: {error.strerror or error}")
            continue
        try:
            # copyfile, not copy2: a read-only snapshot's modes must not make the copy read-only.
            shutil.copytree(db, staging / "db", ignore=shutil.ignore_patterns("*.lock"),
                            copy_function=shutil.copyfile)
            _own(staging)
            (staging / "fingerprint").write_text(fingerprint)
            shutil.rmtree(folder, ignore_errors=True)
            os.replace(staging, folder)
            return folder / "db"
        except OSError as error:
            problems.append(f"{base}: {error.strerror or error}")
            shutil.rmtree(staging, ignore_errors=True)
    raise OSError(f"the index at {db} cannot be written, and no folder has room for a temporary copy "
                  f"({'; '.join(problems)})")
