"""A shortlist for unfiltered vector queries on a large library: k-means cells over the matrix.

Why: an exact query is one matrix product over every row (tools/index/sqlite_read.py), which
at 100k photos of 512 numbers is ~10-15 ms on a quiet 2-core machine and grows with the
library, and an unfiltered query is the common case. A filtered query stays exact: it
multiplies only the rows that pass the filter (~10% of them for a year, a place or a person).

What: an inverted file (IVF, as faiss's IndexIVFFlat) in NumPy over the saved matrix itself:
the rows are split into ``cells_for(rows)`` k-means cells (spherical k-means on a sample); a
query scores the cell centres, takes the rows of its ``NPROBE`` nearest cells and ranks them
exactly, with the same float32 similarity an exact query uses. So every score is exact and only
a true neighbour lying outside all the scanned cells can be missed (recall@10 against brute
force in README, "At scale"). IVF rather than a graph (HNSW) because the collection changes
with every index run: the trained centres are kept and every row is assigned again (seconds at
100k), where a graph is rebuilt from nothing (minutes); and it needs no second copy of the
vectors and no new dependency. The writer saves it beside the vector matrix at the same stamp
(``<name>-<stamp>.cells.npz``: centres, and the rows grouped by cell); a reader uses it only at
exactly the matrix's stamp, else queries exactly. Below ``MIN_ROWS`` rows nothing is built: the
exact product is fast enough there.
"""
from __future__ import annotations

import contextlib
import math
import os
from pathlib import Path

from tools.lazy import lazy_module

from tools.private import private_dir

np = lazy_module("numpy")

MIN_ROWS = 50_000
NPROBE = 48
TRAIN_PER_CELL = 32  # k-means sample: rows per cell (at most TRAIN_MAX rows)
TRAIN_MAX = 65536
TRAIN_ROUNDS = 10
RETRAIN_GROWTH = 2.0  # centres are trained again once the collection is 2x (or 1/2) the trained size
FORMAT = 1


def cells_for(rows: int) -> int:
    """~4 sqrt(rows) cells, a power of two: 1024 at 100k, 4096 at 1M."""
    return int(min(16384, max(64, 2 ** round(math.log2(4 * math.sqrt(max(rows, 1)))))))


class Cells:
    """Centres, and the matrix rows of each cell (``order[offsets[c]:offsets[c + 1]]``)."""

    def __init__(self, centres, order, offsets, stamp: int, trained_rows: int, nprobe: int = NPROBE):
        self.centres = centres
        self.order = order
        self.offsets = offsets
        self.stamp = stamp
        self.trained_rows = trained_rows
        self.nprobe = nprobe

    @property
    def rows(self) -> int:
        return len(self.order)

    def search(self, query: np.ndarray, n: int) -> np.ndarray:
        """Candidate matrix rows for a unit query: the rows of its nearest cells (at least ``n``)."""
        # einsum, not BLAS: a product this small costs more in waking BLAS threads on a busy machine
        score = np.einsum("ij,j->i", self.centres, query)
        probe = min(len(score), self.nprobe)
        nearest = np.argpartition(-score, probe - 1)[:probe]
        nearest = nearest[np.argsort(-score[nearest])]
        sizes = self.offsets[nearest + 1] - self.offsets[nearest]
        # a query near a few small cells: more cells until the shortlist can hold n
        if sizes.sum() < n and probe < len(score):
            nearest = np.argsort(-score)
            sizes = self.offsets[nearest + 1] - self.offsets[nearest]
            probe = int(np.searchsorted(np.cumsum(sizes), n)) + 1
            nearest, sizes = nearest[:probe], sizes[:probe]
        return np.concatenate([self.order[self.offsets[c]:self.offsets[c + 1]] for c in nearest.tolist()]) \
            if len(nearest) else np.zeros(0, np.int64)


def file_name(name: str, stamp: int) -> str:
    return f"{name}-{stamp}.cells.npz"


def load(folder: Path, name: str, stamp: int, rows: int) -> Cells | None:
    """The cells of ``name`` at exactly ``stamp`` over ``rows`` rows, or None."""
    try:
        with np.load(Path(folder) / file_name(name, stamp), allow_pickle=False) as data:
            if int(data["format"][0]) != FORMAT or int(data["stamp"][0]) != stamp:
                return None
            cells = Cells(data["centres"], data["order"], data["offsets"], stamp, int(data["trained_rows"][0]))
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None
    return cells if cells.rows == rows else None


def build(vectors, previous: Cells | None = None, kept=None) -> Cells:
    """Cells for a vector file (``vector_files.VectorFile``), with ``previous``'s centres when the
    collection is within RETRAIN_GROWTH of the size they were trained on. ``kept``: for each row,
    its row in the matrix ``previous`` was built on when its vector is unchanged (else -1); those
    rows keep their cell, so a write of a few photos assigns a few rows."""
    rows, dim = vectors.matrix.shape
    centres, trained = None, rows
    if previous is not None and previous.centres.shape[1] == dim and \
            previous.trained_rows / RETRAIN_GROWTH <= rows <= previous.trained_rows * RETRAIN_GROWTH:
        centres, trained = previous.centres, previous.trained_rows
    else:
        kept = None
    if centres is None:
        centres = _train(vectors, cells_for(rows))
    cell = np.full(rows, -1, np.int32)
    if kept is not None and len(kept) == rows:
        old_cell = np.empty(previous.rows, np.int32)
        old_cell[previous.order] = np.repeat(np.arange(len(previous.centres), dtype=np.int32), np.diff(previous.offsets))
        same = np.flatnonzero(kept >= 0)
        cell[same] = old_cell[kept[same]]
    todo = np.flatnonzero(cell < 0)
    for start in range(0, len(todo), 8192):
        part = np.asarray(vectors.matrix[todo[start:start + 8192]], dtype=np.float32)
        cell[todo[start:start + 8192]] = np.argmax(part @ centres.T, axis=1)  # row length does not change it
    order = np.argsort(cell, kind="stable").astype(np.int64)
    offsets = np.zeros(len(centres) + 1, np.int64)
    np.cumsum(np.bincount(cell, minlength=len(centres)), out=offsets[1:])
    return Cells(centres, order, offsets, vectors.stamp, trained)


def save(folder: Path, name: str, cells: Cells) -> None:
    """Atomically, owner-only; older cell files of the collection go."""
    folder = private_dir(folder)
    file = file_name(name, cells.stamp)
    staging = folder / f".{file}.tmp"
    with open(os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as handle:
        np.savez(handle, centres=cells.centres, order=cells.order, offsets=cells.offsets,
                 stamp=np.array([cells.stamp], np.int64), trained_rows=np.array([cells.trained_rows], np.int64),
                 format=np.array([FORMAT], np.int64))
    os.replace(staging, folder / file)
    for old in folder.glob(f"{name}-*.cells.npz"):
        if old.name != file:
            with contextlib.suppress(OSError):
                old.unlink()


def latest(folder: Path, name: str) -> Cells | None:
    """The newest saved cells of ``name`` at any stamp (for their centres)."""
    found = sorted(Path(folder).glob(f"{name}-*.cells.npz"), key=lambda p: p.stat().st_mtime)
    for path in reversed(found):
        try:
            stamp = int(path.name[len(name) + 1:-len(".cells.npz")])
        except ValueError:
            continue
        try:
            with np.load(path, allow_pickle=False) as data:
                return Cells(data["centres"], data["order"], data["offsets"], stamp, int(data["trained_rows"][0]))
        except (OSError, ValueError, KeyError):
            continue
    return None


def refresh(folder: Path, name: str, vectors, previous_stamp: int | None = None, kept=None) -> Cells:
    """The cells for a vector file at its stamp: loaded if saved, else built and saved.
    ``kept`` (see ``build``) maps rows to the matrix at ``previous_stamp``."""
    found = load(folder, name, vectors.stamp, len(vectors.ids))
    if found is None:
        previous = latest(folder, name)
        usable = previous is not None and previous.stamp == previous_stamp
        found = build(vectors, previous, kept if usable else None)
        save(folder, name, found)
    return found


def _train(vectors, count: int) -> np.ndarray:
    """Spherical k-means (cosine) on a sample of unit rows."""
    rows = len(vectors.ids)
    rng = np.random.default_rng(0)
    sample_rows = np.sort(rng.choice(rows, size=min(rows, TRAIN_PER_CELL * count, TRAIN_MAX), replace=False))
    sample = np.asarray(vectors.matrix[sample_rows], dtype=np.float32) * vectors.inverse_norm[sample_rows, None]
    centres = sample[rng.choice(len(sample), size=count, replace=False)].copy()
    for _ in range(TRAIN_ROUNDS):
        cell = np.empty(len(sample), np.int64)
        for start in range(0, len(sample), 8192):
            cell[start:start + 8192] = np.argmax(sample[start:start + 8192] @ centres.T, axis=1)
        sums = np.zeros_like(centres)
        np.add.at(sums, cell, sample)
        empty = np.bincount(cell, minlength=count) == 0
        sums[empty] = sample[rng.choice(len(sample), size=int(empty.sum()), replace=False)]  # reseed empty cells
        centres = sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)
    return np.ascontiguousarray(centres, dtype=np.float32)
