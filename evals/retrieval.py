"""Text -> image retrieval on Flickr8k-test: Recall@1/5/10 and median rank, per backbone.

Backbones:
- ``captions`` (always available): every photo gets ONE of its five human captions in an XMP
  sidecar (evals/library.py); the library is indexed without CLIP and queried with the other
  four captions. Besides the fused ranking, each signal is scored on its own from the same
  responses (results sorted by ``why[signal].rank``; a result without that signal is unranked),
  which shows whether fusion beats its parts.
- ``clip``: only when a CLIP folder exists under ``--models-dir``; photos are indexed without
  sidecars (pixels only) and queried with all five captions.
- ``pixels``: no sidecars and no CLIP, the understanding pass on (faces, objects, scenes,
  colour, OCR; no Florence-2 captions): what a user who never ran ``recall models pull`` has.
  Queried with all five captions, twice from one index: ``pixels (faces+objects)`` after only
  the faces and objects signals ran (the figure before the scene, colour and OCR signals), then
  ``pixels`` after the rest. Also reports how many photos each signal tagged.

The correct photo's rank is its position in the response; a response holds at most
``CANDIDATES`` photos per signal, so a target that is not in it is "beyond": a miss for every
Recall@K, rank N+1 for the median. This is a benchmark that prints figures and writes a JSON
report (default evals/reports/retrieval.json), not a test.

    .venv/bin/python -m evals.retrieval                 # full run: 1,000 photos, 4,000 queries
    .venv/bin/python -m evals.retrieval --count 100 --queries-per-photo 1   # quick look
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # `python evals/retrieval.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evals.common import (busy_machine_warning, default_report, finish_report, log, machine_facts, median,
                          percentile, Phase, rounded, table, temp_dir, TextProgress)
from evals.library import DEFAULT_FLICKR, build_library

# Published zero-shot figures for the default CLIP, quoted when the weights are absent here.
CLIP_ANCHOR = {"model": "OpenAI ViT-B/32", "dataset": "Flickr8k-test text->image (1,000 photos, 5 captions)",
               "R@1": 55.4, "R@5": 81.6, "R@10": 89.1}
CLIP_SKIPPED = (f"CLIP weights not present: skipped (published anchor {CLIP_ANCHOR['model']} "
                f"R@1 {CLIP_ANCHOR['R@1']} / R@5 {CLIP_ANCHOR['R@5']} / R@10 {CLIP_ANCHOR['R@10']})")
KS = (1, 5, 10)
# Other fusions of the same signals, recomputed from each response's ``why`` (every candidate of
# every signal is in the response when k >= the library size): would they beat the product's?
# name -> (method, parameter, per-signal weights; a signal not named weighs 1). "minmax" is a
# weighted sum of per-query min-max normalised scores, "rrf" is reciprocal rank fusion with k.
FUSION_VARIANTS: dict[str, tuple[str, int, dict[str, float]]] = {
    "minmax words x0.1": ("minmax", 0, {"words": 0.1}),
    "minmax words x0.2": ("minmax", 0, {"words": 0.2}),
    "minmax words x0.5": ("minmax", 0, {"words": 0.5}),
    "minmax equal": ("minmax", 0, {}),
    "rrf60 equal": ("rrf", 60, {}),
    "rrf60 words x0.25": ("rrf", 60, {"words": 0.25}),
    "rrf10 words x0.5": ("rrf", 10, {"words": 0.5}),
}
BREAKDOWN_QUERIES = 50  # queries whose latency is also split into its parts


# ---- scoring ----------------------------------------------------------------------------------
def rank_in(paths: list[str], target: str) -> int | None:
    for position, path in enumerate(paths, start=1):
        if path == target:
            return position
    return None


def rankings(response, signals: list[str]) -> dict[str, list[str]]:
    """The fused order, and each signal's own order rebuilt from ``why``."""
    out = {"fused": [r.path for r in response.results]}
    for signal in signals:
        ranked = [r for r in response.results if signal in r.why]
        ranked.sort(key=lambda r: r.why[signal].rank)
        out[signal] = [r.path for r in ranked]
    return out


def fused_variant(response, method: str, rrf_k: int, weights: dict[str, float]) -> list[str]:
    why = {r.path: r.why for r in response.results}
    if method == "product":  # the product's own fusion function, as a check on the recomputation
        from tools.query.search import fuse_scores

        scores = fuse_scores(why)
    elif method == "rrf":
        scores = {p: sum(weights.get(s, 1.0) / (rrf_k + v.rank) for s, v in w.items()) for p, w in why.items()}
    else:
        bounds: dict[str, tuple[float, float]] = {}
        for w in why.values():
            for s, v in w.items():
                low, high = bounds.get(s, (v.score, v.score))
                bounds[s] = (min(low, v.score), max(high, v.score))
        scores = {p: sum(weights.get(s, 1.0) * ((v.score - bounds[s][0]) / (bounds[s][1] - bounds[s][0])
                                                 if bounds[s][1] > bounds[s][0] else 1.0) for s, v in w.items())
                  for p, w in why.items()}
    return sorted(scores, key=lambda path: -scores[path])


def summarise(ranks: list[int | None], library_size: int) -> dict:
    n = len(ranks)
    if not n:
        return {"queries": 0}
    beyond = library_size + 1
    out = {"queries": n}
    for k in KS:
        out[f"R@{k}"] = round(100 * sum(1 for r in ranks if r is not None and r <= k) / n, 2)
    out["median_rank"] = median([r if r is not None else beyond for r in ranks])
    out["mean_reciprocal_rank"] = round(sum(1 / r for r in ranks if r is not None) / n, 4)
    out["found_in_results_pct"] = round(100 * sum(r is not None for r in ranks) / n, 2)
    return out


def paired(fused: list[int | None], part: list[int | None], beyond: int) -> dict:
    """How often fusion ranks the target better / worse / the same as one signal alone."""
    better = worse = same = 0
    for f, p in zip(fused, part):
        f, p = f or beyond, p or beyond
        better += f < p
        worse += f > p
        same += f == p
    return {"fused_better": better, "fused_worse": worse, "same": same}


# ---- one backbone ------------------------------------------------------------------------------
def run_backbone(name: str, settings, library: dict[str, list[str]], folder: Path, signals: list[str],
                 k: int | None, progress_every: float, sink: dict) -> dict:
    from tools.index.indexer import Indexer
    from tools.models.registry import Models
    from tools.index.store import PhotoStore

    size = len(library)
    store = PhotoStore(settings)
    models = Models(settings)

    log(f"[{name}] indexing {size} photos from {folder}")
    with Phase(f"{name}: index", sink) as index_phase:
        report = Indexer(settings, store, models, TextProgress(name, progress_every)).run([folder])
    index = report.model_dump(mode="json", exclude={"problems"})
    index["problems"] = [p.model_dump() for p in report.problems[:10]]
    index["photos_per_second"] = round(report.new / report.seconds, 2) if report.seconds else None
    log(f"[{name}] indexed {report.new} photos in {report.seconds:.1f}s "
        f"({index['photos_per_second']} photos/s; clip: {report.clip})")
    result = query_backbone(name, store, models, library, signals, k, progress_every, sink)
    return {**result, "index": index, "index_wall_seconds": round(index_phase.seconds, 3)}


def analyze(name: str, settings, store, models, only: set[str], progress_every: float, sink: dict) -> dict:
    """The understanding pass for ``only`` (faces, objects, scenes, colour, ocr) on the index."""
    from tools.understand.analysis import Analyzer

    with Phase(f"{name}: understand {'+'.join(sorted(only))}", sink) as phase:
        report = Analyzer(settings, store, models, TextProgress(name, progress_every)).run(only=only)
    out = report.model_dump(mode="json", exclude={"failed"})
    out["failed"] = [f.model_dump() for f in report.failed[:10]]
    out["wall_seconds"] = round(phase.seconds, 1)
    out["ms_per_photo_per_signal"] = {key: round(1000 * v / max(1, report.photos), 1)
                                      for key, v in report.seconds_per_signal.items()}
    log(f"[{name}] understood {report.photos} photos ({'+'.join(sorted(only))}) in {phase.seconds:.1f}s; "
        f"off: {report.off or 'none'}")
    return out


def coverage(store) -> dict:
    """How many photos each tag source tagged, and how many have text read in them."""
    from tools.understand.tags import tags_from_json

    photos, sources, text = 0, {}, 0
    for record in store.iter_photos():
        photos += 1
        text += bool(record.text_in_photo)
        for source in {t.source for t in tags_from_json(record.tags_detail)}:
            sources[source] = sources.get(source, 0) + 1
    return {"photos": photos, "photos_tagged_by_source": dict(sorted(sources.items())), "photos_with_text": text}


def run_pixels(settings, library: dict[str, list[str]], folder: Path, k: int | None, progress_every: float,
               sink: dict) -> dict[str, dict]:
    """Index once without sidecars or CLIP; query after faces+objects, then after everything."""
    from tools.index.indexer import Indexer
    from tools.models.registry import Models
    from tools.index.store import PhotoStore

    store, models = PhotoStore(settings), Models(settings)
    log(f"[pixels] indexing {len(library)} photos from {folder}")
    with Phase("pixels: index", sink) as index_phase:
        report = Indexer(settings, store, models, TextProgress("pixels", progress_every)).run([folder])
    index = report.model_dump(mode="json", exclude={"problems"})
    index["wall_seconds"] = round(index_phase.seconds, 1)
    index["photos_per_second"] = round(report.new / report.seconds, 2) if report.seconds else None
    out = {}
    for name, only in (("pixels (faces+objects)", {"faces", "objects"}),
                       ("pixels", {"faces", "objects", "scenes", "colour", "ocr"})):
        understood = analyze(name, settings, store, models, only, progress_every, sink)
        result = query_backbone(name, store, models, library, ["words", "meaning"], k, progress_every, sink)
        out[name] = {**result, "index": index, "understanding": understood, "coverage": coverage(store)}
    return out


def query_backbone(name: str, store, models, library: dict[str, list[str]], signals: list[str], k: int | None,
                   progress_every: float, sink: dict) -> dict:
    from tools.query.search import SearchQuery, Searcher

    size = len(library)
    k = min(k or size, 10_000)
    searcher = Searcher(store, models)
    searcher.search(SearchQuery(text="warm up the models", k=k))  # loads the models, not timed
    queries = [(path, caption) for path, captions in library.items() for caption in captions]
    order = ["fused", *signals]
    ranks: dict[str, list[int | None]] = {r: [] for r in order}
    variants: dict[str, list[int | None]] = {}
    variant_table = dict(FUSION_VARIANTS)
    try:
        from tools.query.search import fuse_scores  # noqa: F401 - present in the product since the min-max fusion
        variant_table = {"product fuse_scores (check)": ("product", 0, {}), **variant_table}
    except ImportError:
        pass
    latencies: list[float] = []
    cpu_times: list[float] = []  # process CPU time per query: less sensitive to a busy machine
    used_counts: dict[str, int] = {}
    result_counts: list[int] = []
    notices: set[str] = set()
    progress = TextProgress(name, progress_every)
    progress.start("queries", len(queries))
    with Phase(f"{name}: queries", sink):
        for path, caption in queries:
            started, cpu_started = time.perf_counter(), time.process_time()
            response = searcher.search(SearchQuery(text=caption, k=k))
            latencies.append(time.perf_counter() - started)
            cpu_times.append(time.process_time() - cpu_started)
            for signal in response.signals_used:
                used_counts[signal] = used_counts.get(signal, 0) + 1
            notices.update(response.notices)
            result_counts.append(len(response.results))
            for ranking, paths in rankings(response, signals).items():
                ranks[ranking].append(rank_in(paths, path))
            if len(signals) > 1:
                for variant, (method, rrf_k, weights) in variant_table.items():
                    variants.setdefault(variant, []).append(
                        rank_in(fused_variant(response, method, rrf_k, weights), path))
            progress.advance()

    breakdown = latency_breakdown(searcher, models, store, [c for _, c in queries[:BREAKDOWN_QUERIES]])
    beyond = size + 1
    return {
        "library_size": size,
        "queries": len(queries),
        "k": k,
        "metrics": {r: summarise(ranks[r], size) for r in order},
        "fusion_vs_parts": {s: paired(ranks["fused"], ranks[s], beyond) for s in signals},
        "fusion_variants": {v: summarise(r, size) for v, r in variants.items()},
        "fusion_variants_note": ("recomputed from the same responses' why scores and ranks; 'product "
                                 "fuse_scores (check)' should match 'fused' (up to ties)") if variants else None,
        "signals_fired": used_counts,
        "results_per_query_median": median(result_counts),
        "notices": sorted(notices),
        "latency": {
            "queries": len(latencies),
            "median_ms": rounded(1000 * median(latencies), 1),
            "p95_ms": rounded(1000 * percentile(latencies, 95), 1),
            "max_ms": rounded(1000 * max(latencies), 1) if latencies else None,
            "cpu_median_ms": rounded(1000 * median(cpu_times), 1),
            "total_seconds": round(sum(latencies), 1),
            "breakdown_median_ms": breakdown,
        },
    }


def latency_breakdown(searcher, models, store, texts: list[str]) -> dict:
    """Where a query's time goes, on a few queries: each part timed on its own (medians, ms)."""
    from tools.query.search import CANDIDATES
    parts: dict[str, list[float]] = {}

    def timed(part: str, fn) -> None:
        started = time.perf_counter()
        fn()
        parts.setdefault(part, []).append(1000 * (time.perf_counter() - started))

    clip = models.clip() if models.clip_available() else None
    text_model = models.text()
    text_collection = store.vectors("text", text_model.name, text_model.dim) if text_model else None
    for text in texts:
        if clip is not None:
            timed("clip_text_embed", lambda: clip.embed_texts([text]))
        if text_collection is not None and text_collection.count():  # the meaning signal ran
            vector = text_model.embed([text])[0]
            timed("minilm_embed", lambda: text_model.embed([text]))
            timed("meaning_vector_query", lambda: store.query_vectors(text_collection, vector, CANDIDATES))
        if hasattr(searcher, "_words"):  # private; a diagnostic only
            timed("words_bm25", lambda: searcher._words(text, None))
    return {part: rounded(median(values), 2) for part, values in parts.items()}


# ---- main -------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> dict:
    from tools.models.registry import clip_status
    from tools.settings import load_settings

    defaults = load_settings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=None, help="photos in the library (default: all 1,000)")
    parser.add_argument("--queries-per-photo", type=int, default=None,
                        help="captions queried per photo (default: all: 4 for captions, 5 for clip)")
    parser.add_argument("--backbone", choices=["captions", "clip", "pixels", "all"], default="all")
    parser.add_argument("--images", type=Path, default=DEFAULT_FLICKR, help="the flickr8k-test folder")
    parser.add_argument("--models-dir", type=Path, default=defaults.models_dir,
                        help=f"where a CLIP folder is looked for (default {defaults.models_dir})")
    parser.add_argument("--clip-model", default=defaults.clip_model, help="CLIP folder name under models/clip")
    parser.add_argument("--k", type=int, default=None, help="results asked per query (default: library size)")
    parser.add_argument("--report", type=Path, default=default_report("retrieval"))
    parser.add_argument("--progress-every", type=float, default=15.0, help="seconds between progress lines")
    parser.add_argument("--keep", action="store_true", help="keep the temporary library and index")
    args = parser.parse_args(argv)

    warning = busy_machine_warning()
    if warning:
        log(warning)
    command = " ".join([sys.executable, "-m", "evals.retrieval", *(sys.argv[1:] if argv is None else argv)])
    out: dict = {"benchmark": "retrieval", "command": command,
                 "machine": machine_facts(), "data": str(args.images.resolve()),
           "settings": {k: getattr(defaults, k) for k in ("torch_threads", "decode_threads", "clip_batch_size",
                                                            "text_model")},
           "backbones": {}, "phases": {}}
    started = time.perf_counter()

    def trim(library: dict[str, list[str]]) -> dict[str, list[str]]:
        n = args.queries_per_photo
        return {p: c[:n] if n else c for p, c in library.items()}

    with temp_dir("recall-retrieval-", keep=args.keep) as tmp:
        if args.backbone in ("captions", "all"):
            folder = tmp / "library-captions"
            library = trim(build_library(folder, args.images, count=args.count, sidecar_caption=0))
            settings = load_settings(db=tmp / "db-captions", models_dir=tmp / "no-models",
                                     clip_model="no-clip-on-purpose")
            out["backbones"]["captions"] = run_backbone(
                "captions", settings, library, folder, ["words", "meaning"], args.k, args.progress_every,
                out["phases"])

        if args.backbone in ("clip", "all"):
            settings = load_settings(db=tmp / "db-clip", models_dir=args.models_dir, clip_model=args.clip_model)
            status = clip_status(settings)
            if not status.found:
                print(CLIP_SKIPPED)
                out["backbones"]["clip"] = {"skipped": True, "reason": CLIP_SKIPPED, "looked_in": status.location,
                                            "published_anchor": CLIP_ANCHOR}
            else:
                folder = tmp / "library-pixels"
                library = trim(build_library(folder, args.images, count=args.count, sidecar_caption=None))
                result = run_backbone("clip", settings, library, folder, ["visual"], args.k,
                                      args.progress_every, out["phases"])
                result["model"] = {"name": args.clip_model, "location": status.location}
                result["published_anchor"] = CLIP_ANCHOR
                out["backbones"]["clip"] = result

        if args.backbone in ("pixels", "all"):
            folder = tmp / "library-pixels-only"
            library = trim(build_library(folder, args.images, count=args.count, sidecar_caption=None))
            settings = load_settings(db=tmp / "db-pixels", models_dir=tmp / "no-models",
                                     clip_model="no-clip-on-purpose", analyze_captions=False)
            out["backbones"].update(run_pixels(settings, library, folder, args.k, args.progress_every,
                                               out["phases"]))

    return finish_report(out, started, args.report, print_summary)


def print_summary(out: dict) -> None:
    rows = []
    for backbone, result in out["backbones"].items():
        if result.get("skipped"):
            continue
        for ranking, m in result["metrics"].items():
            label = "fused" if ranking == "fused" else f"{ranking} only"
            rows.append([backbone, label, m["queries"], m["R@1"], m["R@5"], m["R@10"], m["median_rank"],
                         m["mean_reciprocal_rank"], m["found_in_results_pct"]])
    print()
    if rows:
        print(table(["backbone", "ranking", "queries", "R@1 %", "R@5 %", "R@10 %", "median rank", "MRR",
                     "found %"], rows))
    for backbone, result in out["backbones"].items():
        if result.get("skipped"):
            print(f"{backbone}: {result['reason']}")
            continue
        lat, index = result["latency"], result["index"]
        parts = ", ".join(f"{k} {v} ms" for k, v in lat["breakdown_median_ms"].items())
        if result.get("understanding"):
            u, c = result["understanding"], result["coverage"]
            print(f"{backbone}: understanding pass {u['wall_seconds']}s, ms a photo per signal "
                  f"{u['ms_per_photo_per_signal']}; photos tagged by source {c['photos_tagged_by_source']}, "
                  f"{c['photos_with_text']} with text read; off: {u['off'] or 'none'}")
        print(f"{backbone}: {result['library_size']} photos indexed in {index['seconds']:.1f}s "
              f"({index.get('photos_per_second')} photos/s); query latency median {lat['median_ms']} ms, "
              f"p95 {lat['p95_ms']} ms over {lat['queries']} queries, CPU time median {lat['cpu_median_ms']} ms "
              f"(parts, medians: {parts})")
        if result.get("fusion_variants"):
            print(table([f"{backbone}: fusion variant", "R@1 %", "R@5 %", "R@10 %", "median rank", "MRR"],
                        [[v, m["R@1"], m["R@5"], m["R@10"], m["median_rank"], m["mean_reciprocal_rank"]]
                         for v, m in result["fusion_variants"].items()]))
        for signal, cmp in result["fusion_vs_parts"].items():
            print(f"  fused vs {signal} only: better on {cmp['fused_better']}, worse on {cmp['fused_worse']}, "
                  f"same on {cmp['same']} queries")
    load = out["machine"]["load_average_1_5_15"], out["machine"]["load_average_at_end"]
    print(f"machine: {out['machine']['cpu_count']} CPUs, torch threads {out['machine']['torch_threads']}, "
          f"load average at start/end {load[0]} / {load[1]}; total {out['total_seconds']}s")


if __name__ == "__main__":
    main()
