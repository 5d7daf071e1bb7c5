"""Search at scale: a synthetic 100k-photo index (``--big``: 1M) through the product's store,
queried side by side, interleaved, by Chroma, NumPy brute force and the product's read path.

What is measured (evals/scale_library.py makes the library: dates over ten years, places,
people, cameras, events; clustered 512-d CLIP-like and 384-d MiniLM-like unit vectors):
- building: insert rate through ``PhotoStore`` (batches of 2,000, and the indexer's 32 at the
  end), disk size, the time to save the search files (matrices, filter columns, cells) after a
  write (what a reader needs fresh: stale ones are rebuilt at the next write's end);
- per query, for each filter (none; a year; a place circle; a person; combinations), each
  kept at ~10% of the photos where the filter is one field):
  ``chroma``: Chroma's own ``collection.query`` with the same ``where`` (HNSW);
  ``numpy``: brute force on in-memory arrays (row selection by a precomputed mask, matmul,
  argpartition): the reference every recall@10 is measured against;
  ``product``: ``PhotoStore(mode="search").query_vectors``, the read path search uses (filter
  columns, exact product on the selected rows; unfiltered at scale: the cell shortlist);
  ``product_exact``: the same with the cells off (unfiltered only);
  ``faiss_hnsw`` (when faiss-cpu is installed; unfiltered only): an HNSW graph, M 32;
  ``search``: the whole ``Searcher.search`` (visual + meaning + words signals, the circle, one
  per burst) with the query vectors given, so model time is left out;
- the words signal and the whole search with 2-4 words, old (the full-text index asked per
  term, matches tokenized again) and new (postings built once per index state) interleaved,
  their rankings compared on every query (``--words-only``: just this, on the built index);
- a cold start: a new search store's first filtered query (loads columns and matrices).

    python -m evals.scale                 # 100k (builds the index once into --cache, ~15 min on 2 busy cores)
    python -m evals.scale --quick         # 12k, a few queries: a smoke run
    python -m evals.scale --big           # adds 1M: the read path on in-memory data (see --help)
"""
from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime
from pathlib import Path

if __package__ in (None, ""):  # `python evals/scale.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from evals.common import default_report, finish_report, log, machine_facts, median, percentile, rounded, table
from evals import scale_library as L

K = 10  # recall@10
CANDIDATES = 200  # what search asks each vector signal for (tools/query/search.py)


# ---- filters ----------------------------------------------------------------------------------
def choose_filters(library: L.Library) -> list[dict]:
    """The product's own where for each filter kind (tools/query/search.py ``_where``), with the
    SearchQuery that makes it and the brute-force row mask."""
    from tools.places.place_models import PlaceFilter
    from tools.query.search import SearchQuery, _where

    records = library.records
    years = np.array([r.taken_at.year for r in records])
    counts = {y: int((years == y).sum()) for y in set(years.tolist())}
    year = min(counts, key=lambda y: abs(counts[y] / len(records) - 0.10))
    people: dict[str, int] = {}
    for r in records:
        for p in r.people:
            people[p] = people.get(p, 0) + 1
    person = min(people, key=lambda p: abs(people[p] / len(records) - 0.10))
    other = min(people, key=lambda p: abs(people[p] / len(records) - 0.04))
    rome = next(c for c in L.CITIES if c[0] == "Rome")
    place = PlaceFilter(kind="city", label="Rome, Italy", country_code="IT", lat=rome[4], lon=rome[5], radius_km=25.0)
    lo, hi = L.year_range(year)
    queries = {
        "none": SearchQuery(text="x"),
        "year": SearchQuery(text="x", date_from=lo, date_to=hi),
        "place": SearchQuery(text="x", place=place),
        "person": SearchQuery(text="x", people=[person]),
        "year+person": SearchQuery(text="x", date_from=datetime(year - 2, 1, 1), date_to=hi, people=[person]),
        "place+person+year": SearchQuery(text="x", place=place, people=[other], date_from=datetime(year - 4, 1, 1), date_to=hi),
        "two people": SearchQuery(text="x", people=[person, other], people_mode="any"),
    }
    from tools.index.where import matches

    metas = [r.filter_metadata() for r in records]
    out = []
    for name, query in queries.items():
        where = _where(query, [])
        mask = np.fromiter((matches(where, m) for m in metas), bool, len(metas))
        out.append({"name": name, "query": query, "where": where, "rows": np.flatnonzero(mask),
                    "fraction": round(float(mask.mean()), 4)})
    return out


# ---- candidates ------------------------------------------------------------------------------------
def brute(matrix: np.ndarray, rows: np.ndarray | None, q: np.ndarray, n: int) -> np.ndarray:
    part = matrix if rows is None else matrix[rows]
    s = part @ q
    n = min(n, len(s))
    top = np.argpartition(-s, n - 1)[:n]
    top = top[np.argsort(-s[top])]
    return top if rows is None else rows[top]


class GivenVectors:
    """Stands in for the model registry: the query's vectors are given (model time is not the
    index's), so ``Searcher.search`` runs the rest of its real path."""

    def __init__(self):
        self.clip_vector = self.text_vector = None
        outer = self

        class Clip:
            name, dim = L.CLIP_MODEL, L.CLIP_DIM

            def embed_texts(self, texts):
                return outer.clip_vector[None, :]

        class Text:
            name, dim = L.TEXT_MODEL, L.TEXT_DIM

            def embed(self, texts):
                return outer.text_vector[None, :]

        self._clip, self._text = Clip(), Text()

    def clip_available(self) -> bool:
        return True

    def clip(self):
        return self._clip

    def text(self):
        return self._text


def stats(latencies: list[float], recalls: list[float] | None = None) -> dict:
    out = {"p50_ms": rounded(1000 * median(latencies), 2), "p95_ms": rounded(1000 * percentile(latencies, 95), 2),
           "queries": len(latencies)}
    if recalls:
        out["recall_at_10"] = rounded(float(np.mean(recalls)), 4)
        out["recall_min"] = rounded(float(np.min(recalls)), 4)
    return out


def recall_of(found_ids: list[str], truth_ids: list[str]) -> float:
    truth = truth_ids[:K]
    return len(set(found_ids[:K]) & set(truth)) / max(1, len(truth))


# ---- the run ----------------------------------------------------------------------------------------
def run_size(n: int, queries: int, cache: Path, seed: int) -> dict:
    from tools.index.store import PhotoStore
    from tools.query.search import Searcher

    folder = cache / f"scale-{n}-{seed}"
    log(f"[scale] {n:,} photos: index at {folder} (built once, reused)")
    built = L.build_index(folder, n, seed, log=log)
    settings = L.settings_for(folder)
    out: dict = {"photos": n, "build": built}

    log("[scale] saving the search files after a write (what a stale set costs to rebuild)")
    writer = PhotoStore(settings, mode="write")
    started = time.perf_counter()
    with writer.writing("scale: export"):
        pass  # nothing written: files that are there and fresh are kept, missing ones are made
    out["export_seconds_missing_files"] = round(time.perf_counter() - started, 2)
    out["disk_bytes"] = _du(folder / "db")
    out["search_files_bytes"] = _du(folder / "db" / "recall-vectors")

    library = L.build_library(n, seed)
    filters = choose_filters(library)
    ids = [r.id for r in library.records]
    text_rows = np.flatnonzero(library.has_text)
    text_ids = [ids[i] for i in text_rows]
    text_matrix = library.text[text_rows]
    clip_chroma = writer.vectors("clip", L.CLIP_MODEL, L.CLIP_DIM)
    reader = PhotoStore(settings, mode="search")
    clip_product = reader.vectors("clip", L.CLIP_MODEL, L.CLIP_DIM)
    searcher = Searcher(reader, models := GivenVectors())
    exact = PhotoStore(settings, mode="search")
    exact.client._ann_for = None  # the same read path with the cell shortlist off
    clip_exact = exact.vectors("clip", L.CLIP_MODEL, L.CLIP_DIM)
    hnsw = _faiss_hnsw(library.clip)

    started = time.perf_counter()
    cold = PhotoStore(settings, mode="search")
    q0, _ = next(L.query_vectors(library, 1, seed=1))
    cold.query_vectors(cold.vectors("clip", L.CLIP_MODEL, L.CLIP_DIM), q0, CANDIDATES, filters[1]["where"])
    out["cold_first_filtered_query_seconds"] = round(time.perf_counter() - started, 3)
    reader.query_vectors(clip_product, q0, CANDIDATES, None)  # warm: files loaded, as in the chat app

    lat: dict[str, dict[str, list[float]]] = {}
    rec: dict[str, dict[str, list[float]]] = {}

    def timed(kind: str, name: str, call, truth: list[str] | None = None):
        began = time.perf_counter()
        found = call()
        lat.setdefault(kind, {}).setdefault(name, []).append(time.perf_counter() - began)
        if truth is not None:
            rec.setdefault(kind, {}).setdefault(name, []).append(recall_of(found, truth))
        return found

    words = [f"{a} {b}" for a, b in zip(L.WORDS[::2], L.WORDS[1::2])]
    log(f"[scale] {queries} queries x {len(filters)} filters, candidates interleaved")
    for i, (qc, qt) in enumerate(L.query_vectors(library, queries)):
        for f in filters:
            rows = None if f["name"] == "none" else f["rows"]
            where = f["where"]
            truth = [ids[j] for j in brute(library.clip, rows, qc, K)]
            timed(f["name"], "numpy", lambda: [ids[j] for j in brute(library.clip, rows, qc, CANDIDATES)], truth)
            timed(f["name"], "chroma", lambda: [h for h, _ in writer.query_vectors(clip_chroma, qc, CANDIDATES, where)], truth)
            timed(f["name"], "product", lambda: [h for h, _ in reader.query_vectors(clip_product, qc, CANDIDATES, where)], truth)
            if rows is None:
                timed("none", "product_exact", lambda: [h for h, _ in exact.query_vectors(clip_exact, qc, CANDIDATES, None)], truth)
                if hnsw is not None:
                    timed("none", "faiss_hnsw", lambda: [ids[j] for j in hnsw.search(qc[None], CANDIDATES)[1][0]], truth)
                # the meaning signal's collection too (384-d, captioned photos only)
                t_truth = [text_ids[j] for j in brute(text_matrix, None, qt, K)]
                text_product = reader.vectors("text", L.TEXT_MODEL, L.TEXT_DIM)
                timed("none (384-d)", "numpy", lambda: [text_ids[j] for j in brute(text_matrix, None, qt, CANDIDATES)], t_truth)
                timed("none (384-d)", "product", lambda: [h for h, _ in reader.query_vectors(text_product, qt, CANDIDATES, None)], t_truth)
            models.clip_vector, models.text_vector = qc, qt
            query = f["query"].model_copy(update={"text": words[i % len(words)], "k": 20})
            timed(f["name"], "search", lambda: searcher.search(query))
        if (i + 1) % max(1, queries // 4) == 0:
            log(f"  [scale] {i + 1}/{queries} query rounds")
    out["filters"] = {f["name"]: {"fraction": f["fraction"], "where": f["where"],
                                  **{kind: stats(lat[f["name"]][kind], rec.get(f["name"], {}).get(kind))
                                     for kind in lat[f["name"]]}} for f in filters}
    out["filters"]["none (384-d)"] = {kind: stats(lat["none (384-d)"][kind], rec["none (384-d)"].get(kind))
                                      for kind in lat["none (384-d)"]}
    out["words"] = words_side_by_side(settings, library, filters, queries)
    out["small_batches"] = small_batches(writer, library, seed)
    return out


def run_words_only(n: int, queries: int, cache: Path, seed: int) -> dict:
    folder = cache / f"scale-{n}-{seed}"
    built = L.build_index(folder, n, seed, log=log)
    library = L.build_library(n, seed)
    return {"photos": n, "build": built, "filters": {},
            "words": words_side_by_side(L.settings_for(folder), library, choose_filters(library), queries)}


def word_queries(count: int) -> list[str]:
    """2-4 word queries from the library's caption words (one with a stopword in it)."""
    words, out = L.WORDS, []
    for i in range(count):
        n = 2 + i % 3
        picked = [words[(i * 7 + j * 5) % len(words)] for j in range(n)]
        out.append(" ".join(picked) if i % 4 else f"{picked[0]} with the {' '.join(picked[1:])}")
    return out


def words_side_by_side(settings, library: L.Library, filters: list[dict], queries: int) -> dict:
    """The words signal and the whole text search, old (the store's full-text index asked per term,
    each match tokenized again) and new (postings built once per index state), interleaved; the
    two rankings are compared on every query."""
    import os

    from tools.index.store import PhotoStore
    from tools.index import word_postings
    from tools.query.search import Searcher, words_from_store
    from tools.query.text_match import query_terms

    class OldWords(Searcher):
        def _words(self, text, where):
            return words_from_store(self.store, query_terms(text), where)

    reader = PhotoStore(settings, mode="search")
    saved = sorted(Path(settings.cache_dir).rglob("photos-*.words.npz"))
    started = time.perf_counter()
    word_postings.for_collection(reader.photos)
    build_s = time.perf_counter() - started
    how = "loaded from the reader's cache" if saved else "built"
    models = GivenVectors()
    new, old = Searcher(reader, models), OldWords(reader, models)
    lat: dict[str, dict[str, list[float]]] = {}
    different = 0
    texts = word_queries(queries)
    log(f"[scale] words: {queries} queries x {len(filters)} filters, old and new interleaved "
        f"(postings {how} in {build_s:.2f} s)")
    for i, (qc, qt) in enumerate(L.query_vectors(library, queries, seed=11)):
        models.clip_vector, models.text_vector = qc, qt
        for f in filters:
            where = f["where"]
            query = f["query"].model_copy(update={"text": texts[i], "k": 20})
            pairs = [("words_old", lambda: old._words(texts[i], where)), ("words_new", lambda: new._words(texts[i], where)),
                     ("search_old", lambda: old.search(query)), ("search_new", lambda: new.search(query))]
            if i % 2:
                pairs.reverse()
            found = {}
            for name, call in pairs:
                began = time.perf_counter()
                found[name] = call()
                lat.setdefault(f["name"], {}).setdefault(name, []).append(time.perf_counter() - began)
            different += found["words_old"] != found["words_new"]
            different += [(r.id, r.score) for r in found["search_old"].results] != \
                [(r.id, r.score) for r in found["search_new"].results]
    return {"postings_seconds": round(build_s, 2), "postings": how, "rankings_different": different,
            "load_average": list(os.getloadavg()),
            "filters": {name: {kind: stats(v) for kind, v in kinds.items()} for name, kinds in lat.items()}}


def _faiss_hnsw(matrix: np.ndarray):
    try:
        import faiss
    except ImportError:
        log("  [scale] faiss-cpu not installed: no HNSW comparison (pip install faiss-cpu)")
        return None
    started = time.perf_counter()
    index = faiss.IndexHNSWFlat(matrix.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = 80
    index.add(matrix)
    index.hnsw.efSearch = 256
    log(f"  [scale] faiss HNSW built in {time.perf_counter() - started:.0f}s")
    return index


def small_batches(writer, library: L.Library, seed: int, count: int = 320) -> dict:
    """The indexer's batch size (32) at this size: insert ``count`` new photos, then delete them,
    each inside ``writing()`` so that its end rebuilds the stale search files (timed apart)."""
    from tools.index.records import PhotoRecord

    rng = np.random.default_rng(seed + 1)
    extra = [PhotoRecord(**{**r.model_dump(), "id": f"extra-{k:05d}", "path": f"/extra/{k}.jpg"})
             for k, r in enumerate(library.records[:count])]
    clip = L._unit(library.clip[:count] + 0.1 * rng.standard_normal((count, L.CLIP_DIM)).astype(np.float32))
    collection = writer.vectors("clip", L.CLIP_MODEL, L.CLIP_DIM)
    text = writer.vectors("text", L.TEXT_MODEL, L.TEXT_DIM)
    exported = {}
    original = writer._export_vectors

    def export() -> None:
        began = time.perf_counter()
        original()
        exported["seconds"] = time.perf_counter() - began

    writer._export_vectors = export
    try:
        began = time.perf_counter()
        with writer.writing("scale: small batches"):
            for lo in range(0, count, 32):
                writer.upsert_vectors(collection, extra[lo:lo + 32], clip[lo:lo + 32])
                writer.upsert_vectors(text, extra[lo:lo + 32], library.text[lo:lo + 32])
                writer.upsert_photos(extra[lo:lo + 32])
        total = time.perf_counter() - began
        insert_export = exported["seconds"]
        began = time.perf_counter()
        with writer.writing("scale: delete them"):
            writer.delete_photos([r.id for r in extra])
        delete_total = time.perf_counter() - began
    finally:
        writer._export_vectors = original
    return {"photos": count, "batch": 32, "insert_rate_photos_per_s": round(count / (total - insert_export), 1),
            "search_files_rebuild_seconds": round(insert_export, 2),
            "delete_seconds": round(delete_total - exported["seconds"], 2),
            "search_files_rebuild_after_delete_seconds": round(exported["seconds"], 2)}


def _du(path: Path) -> int:
    import subprocess

    done = subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True)
    return int(done.stdout.split()[0]) if done.returncode == 0 and done.stdout else 0


# ---- report -----------------------------------------------------------------------------------------
def print_summary(out: dict) -> None:
    for size in out["sizes"]:
        b = size["build"]
        if "disk_bytes" in size:
            print(f"\n{size['photos']:,} photos: insert {b['insert_rate_photos_per_s']}/s in batches of {b['batch']} "
                  f"(last 10%: {b['insert_rate_last_10pct_photos_per_s']}/s), disk {size['disk_bytes'] / 2**20:.0f} MiB "
                  f"(search files {size['search_files_bytes'] / 2**20:.0f} MiB); search files saved in "
                  f"{size['export_seconds_missing_files']} s; cold first filtered query "
                  f"{size['cold_first_filtered_query_seconds']} s")
        s = size.get("small_batches")
        if s:
            print(f"  batches of 32: {s['insert_rate_photos_per_s']}/s; stale search files rebuilt in "
                  f"{s['search_files_rebuild_seconds']} s after the insert, {s['search_files_rebuild_after_delete_seconds']} s after the delete")
        rows = []
        for name, f in size["filters"].items():
            for kind, v in f.items():
                if isinstance(v, dict) and "p50_ms" in v:
                    rows.append([name, f.get("fraction", ""), kind, v["p50_ms"], v["p95_ms"], v.get("recall_at_10", "")])
        if rows:
            print(table(["filter", "kept", "path", "p50 ms", "p95 ms", "recall@10"], rows))
        w = size.get("words")
        if w:
            print(f"\nwords signal and whole text search, old vs new (postings {w['postings']} in {w['postings_seconds']} s; "
                  f"rankings different: {w['rankings_different']}; load {w['load_average']})")
            print(table(["filter", "path", "p50 ms", "p95 ms"],
                        [[name, kind, v["p50_ms"], v["p95_ms"]] for name, kinds in w["filters"].items()
                         for kind, v in kinds.items()]))
    for size in out.get("big", []):
        print(f"\n{size['photos']:,} rows (in memory, no Chroma): " + ", ".join(
            f"{k} p50 {v['p50_ms']} ms recall {v.get('recall_at_10', '')}" for k, v in size["paths"].items()))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="12k photos, 8 query rounds: a smoke run")
    parser.add_argument("--big", action="store_true", help="also 1M rows: the read path on in-memory data")
    parser.add_argument("--big-no-cells", action="store_true",
                        help="with --big: skip building the 1M cells (tens of minutes on 2 busy cores)")
    parser.add_argument("--photos", type=int, default=None, help="library size (default 100,000; --quick 12,000)")
    parser.add_argument("--queries", type=int, default=None, help="query rounds (default 40; --quick 8)")
    parser.add_argument("--words-only", action="store_true",
                        help="only the words signal / whole text search, old vs new, on the built index")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/recall-scale"),
                        help="where built indexes are kept for later runs")
    parser.add_argument("--report", type=Path, default=default_report("scale"))
    args = parser.parse_args(argv)
    n = args.photos or (12_000 if args.quick else 100_000)
    queries = args.queries or (8 if args.quick else 40)
    started = time.perf_counter()
    if args.words_only:
        return finish_report({"machine": machine_facts(), "sizes": [run_words_only(n, queries, args.cache, args.seed)]},
                             started, args.report, print_summary)
    out = {"machine": machine_facts(), "sizes": [run_size(n, queries, args.cache, args.seed)]}
    if args.big:
        from evals.scale_big import run_big

        out["big"] = [run_big(1_000_000, max(10, queries // 2), args.seed, with_cells=not args.big_no_cells)]
    return finish_report(out, started, args.report, print_summary)


if __name__ == "__main__":
    main()
