"""Indexing and query speed, through the product's own code paths (Indexer, PhotoStore).

Phases (each with its wall time and peak memory in the report):
1. ``index_clip``: index the Flickr8k-test photos (no sidecars) with CLIP on. The CLIP folder is
   the real ViT-B/32 architecture with RANDOM weights (tests/support/synthetic_clip.py): the
   figures are about speed only. Next to photos/s it reports the model's own rate on the same
   batches (the adapter's ``busy_seconds``/``images_embedded``) and the model busy fraction =
   CLIP forward time / indexing wall time.
2. ``forward``: ``embed_pixels`` alone on random batches of 16; median seconds per photo.
3. ``index_no_clip``: CLIP off: metadata + the one caption per photo (sidecars) + its MiniLM
   embedding; and metadata only (no sidecars).
4. ``rerun``: index the unchanged library again (3 times; median wall time).
5. ``cli`` (with ``--cli``): cold ``recall search/status/people`` processes, this code next to
   ``--cli-against REF`` in the same run (evals/cli_speed.py).
6. ``vectors``: query latency (p50/p95) of ``PhotoStore.query_vectors`` on a ``clip`` vector
   collection holding 1k / 100k (/ 1M with ``--big``) random unit vectors of dim 512, with and
   without a ``taken_ts`` range filter that keeps ~10% of the records; insert rate too.

    .venv/bin/python -m evals.speed                  # full run (1k and 100k vectors)
    .venv/bin/python -m evals.speed --big            # adds 1M vectors (stops after 15 min of inserts)
    .venv/bin/python -m evals.speed --count 100 --sizes 1000 --queries 10   # quick look
    .venv/bin/python -m evals.speed --cli --cli-against a851db3 --skip-index --skip-vectors --understanding-count 0
"""
from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # `python evals/speed.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from evals.common import (busy_machine_warning, default_report, finish_report, log, machine_facts, maxrss_mb, median,
                          percentile, Phase, rounded, table, temp_dir, TextProgress)
from evals.library import DEFAULT_FLICKR, build_library

RANDOM_CLIP = "vit-b-32-random-weights"
SPEED_ONLY = "ViT-B/32, random weights: speed only"
DIM = 512
TS_START, TS_SPAN = 1_262_304_000, 15 * 365 * 86_400  # 2010-01-01 + 15 years, uniform
FILTER_FRACTION = 0.10


# ---- indexing ---------------------------------------------------------------------------------
def index_once(settings, folder: Path, label: str, every: float, preload: tuple[str, ...] = (),
               profile_to: Path | None = None) -> dict:
    """One ``Indexer.run`` with a fresh store and models, as ``recall index`` would do it."""
    from tools.index.indexer import Indexer
    from tools.models.registry import Models
    from tools.index.store import PhotoStore

    opened = time.perf_counter()
    store = PhotoStore(settings)
    models = Models(settings)
    open_seconds = time.perf_counter() - opened
    loads = {}
    for kind in preload:  # loaded before timing, so the run measures the pipeline, not the load
        started = time.perf_counter()
        loaded = getattr(models, kind)()
        loads[kind] = round(time.perf_counter() - started, 3)
        if loaded is None:
            loads[kind] = f"not available: {models.problems.get(kind)}"
    clip = models._clip
    busy0, images0 = (clip.busy_seconds, clip.images_embedded) if clip else (0.0, 0)
    profiler = cProfile.Profile() if profile_to else None
    if profiler:
        profiler.enable()
    report = Indexer(settings, store, models, TextProgress(label, every)).run([folder])
    if profiler:
        profiler.disable()
        write_profile(profiler, profile_to, f"{label}: Indexer.run (main thread; decoding runs in other threads)")
    clip = models._clip
    busy = (clip.busy_seconds - busy0) if clip else 0.0
    images = (clip.images_embedded - images0) if clip else 0
    done = report.new + report.updated + report.moved
    out = {
        "files_seen": report.files_seen, "new": report.new, "unchanged": report.unchanged,
        "skipped": report.skipped, "clip": report.clip, "clip_embedded": report.clip_embedded,
        "text_embedded": report.text_embedded,
        "wall_seconds": round(report.seconds, 3),  # IndexReport.seconds: the whole run
        "store_open_seconds": round(open_seconds, 3),
        "model_load_seconds": loads,
        "photos_per_second": round(done / report.seconds, 2) if report.seconds and done else None,
        "report_clip_seconds": round(report.clip_seconds, 3),  # the adapter's running total
        "clip_forward_seconds": round(busy, 3),  # this run's share of it
        "clip_images": images,
    }
    if images:
        out["model_photos_per_second"] = round(images / busy, 2)
        out["model_busy_fraction"] = round(busy / report.seconds, 3)
    if report.problems:
        out["problems"] = [p.model_dump() for p in report.problems[:10]]
    return out


def write_profile(profiler: cProfile.Profile, path: Path, title: str) -> None:
    buffer = io.StringIO()
    stats = pstats.Stats(profiler, stream=buffer)
    stats.sort_stats("cumulative").print_stats(35)
    stats.sort_stats("tottime").print_stats(20)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"# {title}\n{buffer.getvalue()}", encoding="utf-8")
    log(f"  profile written to {path}")


def forward_benchmark(clip, batches: int, batch_size: int = 16) -> dict:
    """``embed_pixels`` alone on random pixel batches: the model's ceiling on this machine."""
    rng = np.random.default_rng(0)
    size = clip.preprocess.size
    pixels = rng.standard_normal((batch_size, 3, size, size), dtype=np.float32)
    clip.embed_pixels(pixels)  # warm-up
    per_photo = []
    for _ in range(batches):
        started = time.perf_counter()
        clip.embed_pixels(pixels)
        per_photo.append((time.perf_counter() - started) / batch_size)
    return {"batch_size": batch_size, "batches": batches,
            "median_seconds_per_photo": rounded(median(per_photo), 5),
            "photos_per_second": rounded(1 / median(per_photo), 2),
            "min_seconds_per_photo": rounded(min(per_photo), 5),
            "max_seconds_per_photo": rounded(max(per_photo), 5)}


# ---- vectors ----------------------------------------------------------------------------------
class _VectorRecord:
    """Enough of a PhotoRecord for ``PhotoStore.upsert_vectors`` (id + filter fields)."""

    __slots__ = ("id", "taken_ts")

    def __init__(self, id_: str, taken_ts: int):
        self.id, self.taken_ts = id_, taken_ts

    def filter_metadata(self) -> dict:
        return {"taken_ts": self.taken_ts}


def vector_benchmark(db: Path, sizes: list[int], queries: int, batch: int, every: float, sink: dict,
                     budget_seconds: float | None = None) -> list[dict]:
    """Grow one collection through ``sizes``, timing queries at each; inserting stops (and the
    size reached is measured instead) once the insert time passes ``budget_seconds``."""
    from tools.query.search import CANDIDATES
    from tools.settings import load_settings
    from tools.index.store import PhotoStore

    store = PhotoStore(load_settings(db=db, models_dir=db.parent / "no-models"))
    collection = store.vectors("clip", "synthetic-random-unit", DIM)
    rng = np.random.default_rng(1234)
    lo = TS_START + int(0.45 * TS_SPAN)
    hi = lo + int(FILTER_FRACTION * TS_SPAN)
    where = {"$and": [{"taken_ts": {"$gte": lo}}, {"taken_ts": {"$lt": hi}}]}
    inserted, insert_seconds, in_window = 0, 0.0, 0
    results = []
    for size in sorted(sizes):
        progress = TextProgress("vectors", every)
        progress.start(f"inserting up to {size:,}", size - inserted)
        batch_rates: list[float] = []
        stopped = False
        with Phase(f"vectors: insert to {size:,}", sink) as insert_phase:
            while inserted < size:
                if budget_seconds is not None and insert_seconds > budget_seconds:
                    stopped = True
                    log(f"  [vectors] insert budget of {budget_seconds / 60:.0f} min spent at {inserted:,} vectors: "
                        f"stopping there")
                    break
                n = min(batch, size - inserted)
                vectors = rng.standard_normal((n, DIM), dtype=np.float32)
                vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
                stamps = rng.integers(TS_START, TS_START + TS_SPAN, n)
                in_window += int(((stamps >= lo) & (stamps < hi)).sum())
                records = [_VectorRecord(f"v{inserted + i:08d}", int(t)) for i, t in enumerate(stamps)]
                started = time.perf_counter()
                store.upsert_vectors(collection, records, vectors)  # the indexer's own write path
                took = time.perf_counter() - started
                insert_seconds += took
                batch_rates.append(n / took)
                inserted += n
                progress.advance(n)
        step = insert_phase.seconds
        count = collection.count()
        previous = results[-1]["vectors"] if results else 0
        row = {"vectors": count, "target": size, "stopped_by_budget": stopped,
               "insert_seconds_this_step": round(step, 2),
               "insert_rate_per_second": round((count - previous) / step, 1) if step else None,
               # the rate falls as the index grows: the last batches say what the next ones cost
               "insert_rate_last_5_batches": round(median(batch_rates[-5:]), 1) if batch_rates else None,
               "cumulative_insert_seconds": round(insert_seconds, 2),
               "filter_matches": in_window, "filter_fraction": round(in_window / max(count, 1), 4),
               "n_results": CANDIDATES}
        for label, condition in (("plain", None), ("filtered", where)):
            latencies, returned = time_queries(store, collection, rng, queries, CANDIDATES, condition)
            row[label] = {"queries": queries, "p50_ms": rounded(1000 * median(latencies), 2),
                          "p95_ms": rounded(1000 * percentile(latencies, 95), 2),
                          "max_ms": rounded(1000 * max(latencies), 2), "results_median": median(returned)}
        row["maxrss_mb"] = maxrss_mb()
        row["phase"] = sink[f"vectors: insert to {size:,}"]
        log(f"  [vectors] {count:,}: insert {row['insert_rate_per_second']}/s "
            f"(last batches {row['insert_rate_last_5_batches']}/s), query p50 {row['plain']['p50_ms']} ms "
            f"p95 {row['plain']['p95_ms']} ms; filtered p50 {row['filtered']['p50_ms']} ms "
            f"p95 {row['filtered']['p95_ms']} ms")
        results.append(row)
        if stopped:
            break
    return results


def time_queries(store, collection, rng, queries: int, n: int, where: dict | None) -> tuple[list[float], list[int]]:
    def unit() -> np.ndarray:
        v = rng.standard_normal(DIM, dtype=np.float32)
        return v / np.linalg.norm(v)

    store.query_vectors(collection, unit(), n, where)  # warm-up
    latencies, returned = [], []
    for _ in range(queries):
        vector = unit()
        started = time.perf_counter()
        hits = store.query_vectors(collection, vector, n, where)
        latencies.append(time.perf_counter() - started)
        returned.append(len(hits))
    return latencies, returned


# ---- main -------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> dict:
    from tools.settings import load_settings

    defaults = load_settings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=None, help="photos to index (default: all 1,000)")
    parser.add_argument("--images", type=Path, default=DEFAULT_FLICKR, help="the flickr8k-test folder")
    parser.add_argument("--repeats", type=int, default=3, help="re-runs over the unchanged library")
    parser.add_argument("--forward-batches", type=int, default=10, help="timed batches of 16 in the forward benchmark")
    parser.add_argument("--sizes", default="1000,100000", help="vector counts, comma-separated")
    parser.add_argument("--big", action="store_true", help="add 1,000,000 vectors (long: see --insert-budget-minutes)")
    parser.add_argument("--queries", type=int, default=50, help="timed queries per size and kind")
    parser.add_argument("--insert-batch", type=int, default=5000)
    parser.add_argument("--insert-budget-minutes", type=float, default=15.0,
                        help="stop growing the vector collection after this much insert time (0: no limit)")
    parser.add_argument("--skip-index", action="store_true", help="only the vector benchmark")
    parser.add_argument("--skip-vectors", action="store_true", help="only the indexing benchmarks")
    parser.add_argument("--understanding-count", type=int, default=100,
                        help="photos for the understanding-pass benchmark (faces, objects); 0 skips it")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile the CLIP indexing run into <report>-profile.txt")
    parser.add_argument("--cli", action="store_true",
                        help="also time cold `recall search/status/people` processes (evals/cli_speed.py)")
    parser.add_argument("--cli-against", default=None, help="with --cli: a commit timed next to this code")
    parser.add_argument("--report", type=Path, default=default_report("speed"))
    parser.add_argument("--progress-every", type=float, default=15.0, help="seconds between progress lines")
    parser.add_argument("--tmp", type=Path, default=None, help="parent folder for the temporary data")
    parser.add_argument("--keep", action="store_true", help="keep the temporary libraries and indexes")
    args = parser.parse_args(argv)
    sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()} | ({1_000_000} if args.big else set()))
    every = args.progress_every

    warning = busy_machine_warning()
    if warning:
        log(warning)
    command = " ".join([sys.executable, "-m", "evals.speed", *(sys.argv[1:] if argv is None else argv)])
    out: dict = {"benchmark": "speed", "command": command, "machine": machine_facts(),
                 "settings": {k: getattr(defaults, k) for k in ("torch_threads", "decode_threads", "clip_batch_size",
                                                                 "write_batch_size", "text_model")},
                 "phases": {}}
    phases = out["phases"]
    started = time.perf_counter()
    with temp_dir("recall-speed-", keep=args.keep, parent=args.tmp) as tmp:
        if args.cli:
            from evals import cli_speed

            out["cli"] = cli_speed.main(["--tmp", str(tmp), "--count", str(args.count or 1000),
                                         *(["--against", args.cli_against] if args.cli_against else [])])
        if not args.skip_index:
            run_indexing(args, tmp, out, phases, every)
        if args.understanding_count:
            out["understanding"] = understanding_benchmark(args, tmp)
        if not args.skip_vectors:
            log(f"[vectors] sizes {sizes}, {args.queries} queries each, inserts of {args.insert_batch}")
            budget = 60 * args.insert_budget_minutes if args.insert_budget_minutes > 0 else None
            out["vectors"] = vector_benchmark(tmp / "db-vectors", sizes, args.queries, args.insert_batch,
                                              every, phases, budget)
            last = out["vectors"][-1]
            if 1_000_000 not in sizes:
                out["vectors_1m"] = "not run: pass --big (inserting 1M vectors takes long on 2 cores)"
            elif last["stopped_by_budget"]:
                out["vectors_1m"] = (f"not reached: the {args.insert_budget_minutes:g}-minute insert budget was spent at "
                                     f"{last['vectors']:,} vectors (last batches {last['insert_rate_last_5_batches']}/s); "
                                     f"figures are for that size")
    out["machine"]["torch_threads_at_end"] = machine_facts()["torch_threads"]
    return finish_report(out, started, args.report, print_summary)


def understanding_benchmark(args, tmp: Path) -> dict:
    """Photos/s of the second pass with each analyzer alone (faces, objects), on Flickr photos."""
    from tools.understand.analysis import Analyzer
    from tools.index.indexer import Indexer
    from tools.models.registry import Models
    from tools.settings import load_settings
    from tools.index.store import PhotoStore

    library = tmp / "library-understanding"
    build_library(library, args.images, count=args.understanding_count, sidecar_caption=None)
    out: dict = {"photos": args.understanding_count}
    for only in ("faces", "objects"):
        settings = load_settings(db=tmp / f"db-understanding-{only}", models_dir=tmp / "no-models",
                                 clip_model="absent", analyze_captions=False)
        store, models = PhotoStore(settings), Models(settings)
        Indexer(settings, store, models).run([library])
        models.load(only)  # loading is not part of the per-photo rate
        log(f"[understanding] {only} on {args.understanding_count} photos")
        report = Analyzer(settings, store, models).run(only={only})
        out[only] = {"photos_per_second": round(report.photos / report.seconds, 2) if report.seconds else None,
                     "seconds": round(report.seconds, 2), "found": report.faces if only == "faces" else report.objects}
    return out


def run_indexing(args, tmp: Path, out: dict, phases: dict, every: float) -> None:
    from tests.support.synthetic_clip import build_random_clip
    from tools.models.registry import Models
    from tools.settings import load_settings

    with Phase("setup: libraries + random ViT-B/32 folder", phases):
        pixels = tmp / "library-pixels"  # no sidecars: the CLIP run measures the image path alone
        captioned = tmp / "library-captions"
        count = len(build_library(pixels, args.images, count=args.count, sidecar_caption=None))
        build_library(captioned, args.images, count=args.count, sidecar_caption=0)
        models_dir = tmp / "models"
        build_random_clip(models_dir / "clip" / RANDOM_CLIP)
    out["photos"] = count
    clip_settings = load_settings(db=tmp / "db-clip", models_dir=models_dir, clip_model=RANDOM_CLIP)
    no_clip = dict(models_dir=tmp / "no-models", clip_model="no-clip-on-purpose")

    log(f"[index] {count} photos with CLIP on ({SPEED_ONLY})")
    profile_to = args.report.with_name(args.report.stem + "-profile.txt") if args.profile else None
    with Phase("index: clip on", phases):
        # zero_shot: the tagger embeds its whole prompt vocabulary with CLIP's text tower when it
        # loads (once per process, inside the first indexing run); timed apart from the pipeline.
        clip_run = index_once(clip_settings, pixels, "clip on", every, preload=("clip", "zero_shot"),
                              profile_to=profile_to)
    clip_run["label"] = SPEED_ONLY
    out["index_clip"] = clip_run
    log(f"  {clip_run['photos_per_second']} photos/s; model alone on the same batches "
        f"{clip_run.get('model_photos_per_second')} photos/s; busy fraction {clip_run.get('model_busy_fraction')}")

    with Phase("forward: embed_pixels on random batches of 16", phases):
        clip = Models(clip_settings).clip()  # the same loaded instance (models load once per process)
        out["forward"] = forward_benchmark(clip, args.forward_batches)
        out["forward"]["label"] = SPEED_ONLY
    log(f"  forward pass alone: {out['forward']['median_seconds_per_photo']} s/photo (median of "
        f"{args.forward_batches} batches of 16)")

    log(f"[index] {count} photos with CLIP off: metadata + one caption each (MiniLM)")
    with Phase("index: clip off, captions", phases):
        out["index_no_clip_captions"] = index_once(load_settings(db=tmp / "db-captions", **no_clip), captioned,
                                                   "clip off, captions", every, preload=("text",))
    log(f"  {out['index_no_clip_captions']['photos_per_second']} photos/s")
    with Phase("index: clip off, metadata only", phases):
        out["index_no_clip_metadata"] = index_once(load_settings(db=tmp / "db-metadata", **no_clip), pixels,
                                                   "clip off, metadata only", every)
    log(f"  metadata only: {out['index_no_clip_metadata']['photos_per_second']} photos/s")

    out["rerun"] = {}
    for name, settings, folder in (("clip on", clip_settings, pixels),
                                   ("clip off, captions", load_settings(db=tmp / "db-captions", **no_clip), captioned)):
        runs = []
        with Phase(f"rerun: {name}", phases):
            for _ in range(args.repeats):
                begun = time.perf_counter()
                run = index_once(settings, folder, f"rerun {name}", every)
                run["total_seconds_with_store_open"] = round(time.perf_counter() - begun, 3)
                runs.append(run)
        walls = [r["wall_seconds"] for r in runs]
        out["rerun"][name] = {"repeats": len(runs), "median_wall_seconds": rounded(median(walls), 3),
                              "walls": walls, "unchanged": runs[-1]["unchanged"], "new": runs[-1]["new"],
                              "median_total_seconds_with_store_open":
                                  rounded(median([r["total_seconds_with_store_open"] for r in runs]), 3),
                              "target_seconds": 2.0}
        log(f"  re-run ({name}) over the unchanged library: median {out['rerun'][name]['median_wall_seconds']} s")


def print_summary(out: dict) -> None:
    print()
    if "index_clip" in out:
        c, f = out["index_clip"], out["forward"]
        rows = [
            [f"index, CLIP on ({SPEED_ONLY})", c["photos_per_second"], "photos/s", f"{c['new']} photos in {c['wall_seconds']} s"],
            ["  model alone, same batches", c.get("model_photos_per_second"), "photos/s",
             f"{c['clip_forward_seconds']} s in forward passes"],
            ["  model busy fraction", c.get("model_busy_fraction"), "", "target >= 0.8"],
            ["  load before the run: CLIP", c["model_load_seconds"].get("clip"), "s", "not in the figures above"],
            ["  load before the run: zero-shot tagger", c["model_load_seconds"].get("zero_shot"), "s",
             "CLIP text tower over the tag prompts"],
            ["forward pass, random batches of 16", f["median_seconds_per_photo"], "s/photo",
             f"median of {f['batches']} ({f['photos_per_second']} photos/s)"],
            ["index, CLIP off, captions", out["index_no_clip_captions"]["photos_per_second"], "photos/s",
             f"{out['index_no_clip_captions']['text_embedded']} captions embedded"],
            ["index, CLIP off, metadata only", out["index_no_clip_metadata"]["photos_per_second"], "photos/s", ""],
        ]
        for name, r in out["rerun"].items():
            rows.append([f"re-run unchanged ({name})", r["median_wall_seconds"], "s",
                         f"median of {r['repeats']}; target < 2 s for 1,000"])
        print(table(["indexing", "value", "unit", "note"], rows))
        print()
    if "understanding" in out:
        u = out["understanding"]
        print(table(["understanding pass", "photos/s", "found"],
                    [[name, u[name]["photos_per_second"], u[name]["found"]] for name in ("faces", "objects")]))
        print()
    if "vectors" in out:
        rows = [[f"{r['vectors']:,}", r["insert_rate_per_second"], r["plain"]["p50_ms"], r["plain"]["p95_ms"],
                 r["filtered"]["p50_ms"], r["filtered"]["p95_ms"], f"{100 * r['filter_fraction']:.1f}%",
                 r["maxrss_mb"]] for r in out["vectors"]]
        print(table(["vectors (dim 512)", "insert/s", "p50 ms", "p95 ms", "filtered p50", "filtered p95",
                     "filter keeps", "maxrss MB"], rows))
        if "vectors_1m" in out:
            print(f"1M vectors: {out['vectors_1m']}")
        print()
    rows = [[name, p["seconds"], p["cpu_seconds"], p["phase_peak_rss_mb"], p["maxrss_mb"]]
            for name, p in out["phases"].items()]
    print(table(["phase", "wall s", "CPU s", "peak RSS MB (phase)", "maxrss MB (process)"], rows))
    m = out["machine"]
    print(f"machine: {m['cpu_count']} CPUs, torch threads {m['torch_threads_at_end']}, load average at start/end "
          f"{m['load_average_1_5_15']} / {m['load_average_at_end']}; total {out['total_seconds']} s")


if __name__ == "__main__":
    main()
