"""Each vector collection's vectors as a NumPy matrix file, for searching without Chroma.

Chroma keeps vectors in its HNSW files, in a format only Chroma reads, and opening Chroma writes
to the index even to read it. So the writer also saves every vector collection as
``<name>-<stamp>.npy`` (float32, one row per record) plus ``<name>.json`` (the stamp, the row
ids), in ``recall-vectors/`` inside the index folder, when its writer lock is let go. The stamp
is the ``max_seq_id`` Chroma's sqlite keeps for the collection's metadata segment: every write to
the collection raises it, so a file whose stamp differs from the index's is stale and is not
used. A reader that finds a stale or missing file builds its own in the cache folder (from a
private copy of the index), never in the index. The writer's next file takes the rows that did
not change from the previous one (store.export_vectors); beside it go the filter columns
(tools/index/columns.py) and, from 50k rows, the k-means cells (tools/index/ann.py).
"""
from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from tools.lazy import lazy_module

from tools.private import private_dir

# numpy/PIL on first use (tools/lazy.py): `recall status` and `recall people` need neither
np = lazy_module("numpy")

FOLDER = "recall-vectors"


class VectorFile:
    """A loaded matrix (memory-mapped) and its ids."""

    def __init__(self, ids: list[str], matrix: np.ndarray, stamp: int):
        self.ids = ids
        self.matrix = matrix
        self.stamp = stamp
        self.row = {id_: i for i, id_ in enumerate(ids)}
        self._inverse_norm: np.ndarray | None = None

    @property
    def inverse_norm(self) -> np.ndarray:
        """1 / each row's length, computed once (in slices: no second copy of the matrix)."""
        if self._inverse_norm is None:
            out = np.empty(len(self.matrix), np.float32)
            for start in range(0, len(self.matrix), 16384):
                part = np.asarray(self.matrix[start:start + 16384], dtype=np.float32)
                out[start:start + len(part)] = 1.0 / np.maximum(np.sqrt(np.einsum("ij,ij->i", part, part)), 1e-12)
            self._inverse_norm = out
        return self._inverse_norm

    def similarity(self, query: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Cosine similarity of a unit ``query`` to every row (or to ``rows``), exact, float32.

        einsum rather than BLAS: one query is one pass over memory, and on a busy machine waking
        BLAS's threads cost more than they saved (100k x 512 rows at load 12: 28 ms against 56;
        4k rows: 8 against 28; evals/scale.py)."""
        if rows is None:
            return np.einsum("ij,j->i", self.matrix, query) * self.inverse_norm
        return np.einsum("ij,j->i", self.matrix[rows], query) * self.inverse_norm[rows]


def load(folder: Path, name: str, stamp: int | None) -> VectorFile | None:
    """The file for ``name`` at exactly ``stamp`` (None: whatever stamp it has), or None
    (missing, stale or unreadable)."""
    try:
        info = json.loads((Path(folder) / f"{name}.json").read_text(encoding="utf-8"))
        if stamp is not None and int(info["stamp"]) != int(stamp):
            return None
        stamp = int(info["stamp"])
        ids = list(info["ids"])
        if not ids:
            return VectorFile([], np.zeros((0, int(info.get("dim", 0))), np.float32), stamp)
        matrix = np.load(Path(folder) / info["file"], mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if matrix.ndim != 2 or matrix.shape[0] != len(ids):
        return None
    return VectorFile(ids, matrix, stamp)


def save(folder: Path, name: str, stamp: int, ids: list[str], matrix: np.ndarray) -> None:
    """Write the matrix, then its json (atomically, owner-only); older matrices go."""
    folder = private_dir(folder)
    matrix = np.ascontiguousarray(matrix, dtype=np.float32)
    matrix = matrix.reshape(len(ids), -1) if len(ids) else np.zeros((0, matrix.shape[-1] if matrix.ndim == 2 else 0), np.float32)
    file = f"{name}-{stamp}.npy"
    staging = folder / f".{file}.tmp"
    with open(os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as handle:
        np.save(handle, matrix, allow_pickle=False)
    os.replace(staging, folder / file)
    info = json.dumps({"stamp": int(stamp), "file": file, "dim": int(matrix.shape[1]), "ids": ids})
    staging = folder / f".{name}.json.tmp"
    with open(os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as handle:
        handle.write(info)
    os.replace(staging, folder / f"{name}.json")
    for old in folder.glob(f"{name}-*.npy"):
        if old.name != file:
            with contextlib.suppress(OSError):
                old.unlink()
