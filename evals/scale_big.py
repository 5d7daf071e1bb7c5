"""``evals/scale.py --big``: the read path's query code at 1M rows, on in-memory data.

Why in memory: writing 1M photos through Chroma runs at ~85-100 photos/s on two shared cores
(evals/scale.py measures it at 100k), ~3 hours, so this times what a search does once the
index is there: ``ReadOnlyCollection.query`` itself (filter columns -> NumPy mask -> exact
product on the selected rows; unfiltered: the k-means cell shortlist, tools/index/ann.py),
answered from arrays shaped as the saved files are (tools/index/columns.py, vector_files.py)
instead of the sqlite, next to NumPy brute force. The data is generated vectorised with the
same shape as evals/scale_library.py (events over ten years, cities, Zipf people, clustered
512-d vectors).
"""
from __future__ import annotations

import time

import numpy as np

from evals.common import log, median, percentile, rounded

DIM = 512


class _Client:
    """What ReadOnlyCollection asks of its client, from arrays."""

    def __init__(self, columns, vectors, cells):
        self._columns, self._vectors, self._cells = columns, vectors, cells
        self.identity = np.arange(len(vectors.ids), dtype=np.int64)

    def stamp(self, segment):
        return 1

    def columns(self, collection):
        return self._columns

    def vectors(self, collection):
        return self._vectors

    def vector_rows(self, collection, columns, vectors):
        return self.identity

    def ann(self, collection, vectors):
        return self._cells


def generate(n: int, seed: int):
    from tools.index.columns import Columns, Field

    rng = np.random.default_rng(seed)
    sizes = np.minimum(400, np.maximum(1, rng.lognormal(2.3, 1.1, size=n // 4).astype(np.int64)))
    sizes = sizes[: int(np.searchsorted(np.cumsum(sizes), n)) + 1]
    sizes[-1] -= sizes.sum() - n
    event = np.repeat(np.arange(len(sizes)), sizes)
    start, span = 1451606400, 10 * 365 * 86400  # 2016-01-01 .. ~2026
    day = rng.integers(0, span // 86400, len(sizes)) * 86400 + start + 8 * 3600
    taken = (day[event] + rng.integers(0, 3 * 3600, n)).astype(np.float64)
    city_lat = np.array([52.52, 41.903, 48.857, 43.77, 51.507, 40.713])
    city_lon = np.array([13.405, 12.496, 2.352, 11.25, -0.128, -74.006])
    city = rng.choice(len(city_lat), len(sizes), p=[0.45, 0.10, 0.15, 0.1, 0.1, 0.1])[event]
    located = (rng.random(len(sizes)) > 0.12)[event]
    lat = np.where(located, city_lat[city] + rng.normal(0, 0.05, n), np.nan)
    lon = np.where(located, city_lon[city] + rng.normal(0, 0.07, n), np.nan)
    weights = 1.0 / np.arange(1, 401) ** 1.1
    weights /= weights.sum()
    faces = np.minimum(3, rng.poisson(0.9, n))
    owner = np.repeat(np.arange(n), faces).astype(np.int32)
    person = rng.choice(400, len(owner), p=weights).astype(np.int32)
    ids = np.array([f"{i:032x}".encode() for i in range(n)], dtype="S32")
    nothing = np.zeros(n, bool)

    def numbers(values):
        return Field(values, np.full(n, -1, np.int32), [], np.zeros(0, np.int32), np.zeros(0, np.int32), nothing)

    fields = {"taken_ts": numbers(taken), "lat": numbers(lat), "lon": numbers(lon),
              "faces": numbers(faces.astype(np.float64)),
              "people": Field(np.full(n, np.nan), np.full(n, -1, np.int32), [f"p{i}" for i in range(400)],
                              owner, person, nothing)}
    columns = Columns(ids, np.arange(n, dtype=np.int64), fields, 1, None)
    log(f"  [big] metadata for {n:,} rows; vectors ...")
    mean = rng.standard_normal(DIM).astype(np.float32)
    mean /= np.linalg.norm(mean)
    themes = rng.standard_normal((300, DIM)).astype(np.float32)
    themes /= np.linalg.norm(themes, axis=1, keepdims=True)
    centres = 1.2 * mean + themes[rng.integers(0, 300, len(sizes))] + \
        0.6 * rng.standard_normal((len(sizes), DIM)).astype(np.float32) / np.sqrt(DIM)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    matrix = np.empty((n, DIM), np.float32)
    for lo in range(0, n, 65536):
        hi = min(n, lo + 65536)
        part = centres[event[lo:hi]] + 0.55 * rng.standard_normal((hi - lo, DIM)).astype(np.float32) / np.sqrt(DIM)
        matrix[lo:hi] = part / np.linalg.norm(part, axis=1, keepdims=True)
    return columns, matrix, taken, owner, person, lat, lon


def run_big(n: int, queries: int, seed: int, with_cells: bool = True) -> dict:
    """``with_cells=False`` skips the k-means cells (training and assigning 1M rows takes tens of
    minutes on two busy cores): filtered and exact unfiltered queries only."""
    from tools.index import ann
    from tools.index.sqlite_read import ReadOnlyCollection
    from tools.index.vector_files import VectorFile

    began = time.perf_counter()
    columns, matrix, taken, owner, person, lat, lon = generate(n, seed)
    out: dict = {"photos": n, "generate_seconds": round(time.perf_counter() - began, 1)}
    vectors = VectorFile(columns.id_list, matrix, 1)
    cells = None
    if with_cells:
        began = time.perf_counter()
        cells = ann.build(vectors)
        out["cells_build_seconds"] = round(time.perf_counter() - began, 1)
        out["cells"] = len(cells.centres)
        log(f"  [big] {len(cells.centres)} cells built in {out['cells_build_seconds']}s")
    product = ReadOnlyCollection(_Client(columns, vectors, cells), "clip-big", "segment")
    exact = ReadOnlyCollection(_Client(columns, vectors, None), "clip-big", "segment")
    year_lo = 1451606400 + 4 * 365 * 86400
    year = {"$and": [{"taken_ts": {"$gte": year_lo}}, {"taken_ts": {"$lte": year_lo + 365 * 86400}}]}
    year_rows = np.flatnonzero((taken >= year_lo) & (taken <= year_lo + 365 * 86400))
    p = int(np.argmin(np.abs(np.bincount(person, minlength=400) / n - 0.10)))
    person_where = {"people": {"$contains": f"p{p}"}}
    person_rows = np.unique(owner[person == p])
    box = {"$and": [{"lat": {"$gte": 41.678}}, {"lat": {"$lte": 42.128}}, {"lon": {"$gte": 12.194}}, {"lon": {"$lte": 12.798}}]}
    with np.errstate(invalid="ignore"):
        box_rows = np.flatnonzero((lat >= 41.678) & (lat <= 42.128) & (lon >= 12.194) & (lon <= 12.798))
    rng = np.random.default_rng(seed + 3)
    filters = [("none", None, None), ("year", year, year_rows), ("person", person_where, person_rows),
               ("place box", box, box_rows)]
    lat_ms: dict[str, list[float]] = {}
    rec: dict[str, list[float]] = {}
    for _ in range(queries):
        q = matrix[int(rng.integers(0, n))] + 0.9 * rng.standard_normal(DIM).astype(np.float32) / np.sqrt(DIM)
        q /= np.linalg.norm(q)
        for name, where, rows in filters:
            t = time.perf_counter()
            part = matrix if rows is None else matrix[rows]
            s = part @ q
            top = np.argpartition(-s, 199)[:200]
            top = top[np.argsort(-s[top])]
            truth = set((top if rows is None else rows[top])[:10].tolist())
            lat_ms.setdefault(f"{name}: numpy", []).append(time.perf_counter() - t)
            for label, collection in (("product", product), ("product_exact", exact)):
                if label == "product_exact" and (where is not None or cells is None):
                    continue
                t = time.perf_counter()
                got = collection.query([q], 200, where)["ids"][0]
                lat_ms.setdefault(f"{name}: {label}", []).append(time.perf_counter() - t)
                rec.setdefault(f"{name}: {label}", []).append(len({int(i, 16) for i in got[:10]} & truth) / 10)
        out["fractions"] = {name: round(len(rows) / n, 4) for name, _, rows in filters if rows is not None}
    out["paths"] = {k: {"p50_ms": rounded(1000 * median(v), 2), "p95_ms": rounded(1000 * percentile(v, 95), 2),
                        **({"recall_at_10": rounded(float(np.mean(rec[k])), 4)} if k in rec else {})}
                    for k, v in lat_ms.items()}
    return out
