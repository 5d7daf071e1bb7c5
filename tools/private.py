"""Owner-only files: the index holds face embeddings (biometric data), sessions hold a person's words.

Whatever the umask, what photo-recall creates is readable by its owner only: folders 0700,
files 0600. ``restrict_umask`` makes that so for everything the process (Chroma included)
creates from then on; ``private_dir`` creates a folder that way and tightens one an older
version left open; ``write_private`` writes a file atomically with mode 0600, and
``write_private_with`` does the same for a file another library writes (a model export).
"""
from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path
from typing import Callable

DIR_MODE = 0o700
FILE_MODE = 0o600


def restrict_umask() -> None:
    """Files and folders created from now on are the owner's alone (umask 077)."""
    os.umask(0o077)


def private_dir(path: Path | str, tighten_tree: bool = False) -> Path:
    """Create ``path`` (and missing parents) as 0700; with ``tighten_tree``, take group and other
    access off everything already inside it (an index made before this rule existed)."""
    path = Path(path)
    missing = []
    probe = path
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=DIR_MODE)
        _chmod(folder, DIR_MODE)
    _tighten(path)
    if tighten_tree:
        for root, dirs, files in os.walk(path):
            for name in dirs + files:
                _tighten(Path(root) / name)
    return path


def _tighten(path: Path) -> None:
    try:
        st = os.lstat(path)
    except OSError:
        return
    if stat.S_ISLNK(st.st_mode) or not st.st_mode & 0o077 or st.st_uid != os.geteuid():
        return
    _chmod(path, stat.S_IMODE(st.st_mode) & 0o700)


def _chmod(path: Path, mode: int) -> None:
    with contextlib.suppress(OSError):  # a read-only share: nothing to tighten, nothing to leak
        os.chmod(path, mode)


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` as 0600, atomically: a crash leaves the old file, never half a file
    or a stray temporary one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, FILE_MODE)  # O_CREAT's mode only applies to a new file
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def write_private_with(target: Path, write: Callable[[Path], None]) -> Path:
    """Let ``write`` make ``target`` under a staging name, then give it mode 0600 and its name: a
    killed export leaves no half file for the next run to load."""
    private_dir(target.parent)
    staging = target.with_name(f".{target.stem}.{os.getpid()}.tmp{target.suffix}")
    try:
        write(staging)
        os.chmod(staging, FILE_MODE)
        os.replace(staging, target)
    finally:
        with contextlib.suppress(OSError):
            staging.unlink()
    return target


def save_private_arrays(folder: Path, file: str, arrays: dict, stale: str) -> None:
    """Save NumPy ``arrays`` as ``folder/file`` (.npz) atomically and 0600 from its creation, then
    remove the files matching the glob ``stale`` that are not it (older states of the same data)."""
    import numpy as np  # here: `recall status` imports this module and needs no numpy

    folder = private_dir(folder)
    staging = folder / f".{file}.tmp"
    with open(os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE), "wb") as handle:
        np.savez(handle, **arrays)
    os.replace(staging, folder / file)
    for old in folder.glob(stale):
        if old.name != file:
            with contextlib.suppress(OSError):
                old.unlink()
