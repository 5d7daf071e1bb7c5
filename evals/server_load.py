"""Load on a Chroma server: N clients searching while one `recall index` adds photos.

``python -m evals.server_load --clients 4 --seed 40 --add 160`` builds a Flickr8k library (one
human caption each in an XMP sidecar, evals/library.py), starts a Chroma server on 127.0.0.1
(or uses ``--chroma-url``), indexes the first ``--seed`` photos, then starts the clients, each a
process of its own running the product's search path (PhotoStore over HTTP + Searcher, the same
code as `recall search --chroma-url`) on a cycle of the library's other captions, and, once all
have answered a first query, runs `recall index --chroma-url` over the whole library, which adds
the other ``--add`` photos (both passes unless ``--quick``). Clients search until the indexer
ends. Prints per-client p50/p95/max latency, errors and searches that found nothing, and the
indexer's throughput; writes evals/reports/server_load.json.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import queue
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from evals.common import REPORTS, ROOT, machine_facts, median, percentile, rounded
from evals.library import DEFAULT_FLICKR, build_library


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def local_chroma_server(folder: Path, start_timeout_s: float = 60.0) -> Iterator[str]:
    """`chroma run` on 127.0.0.1 (a free port) over ``folder``; yields its URL, stops it after."""
    port = free_port()
    chroma = Path(sys.executable).with_name("chroma")
    server = subprocess.Popen([str(chroma), "run", "--path", str(folder), "--host", "127.0.0.1",
                               "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + start_timeout_s
        while time.time() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if server.poll() is not None:
                raise RuntimeError(f"the Chroma server exited with {server.returncode}")
            time.sleep(0.2)
        else:
            raise RuntimeError("the Chroma server did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _client(number: int, settings: dict, env: dict | None, queries: list[str], k: int,
            ready, go, stop, results) -> None:
    """One searching client: the product's search path, timed query by query."""
    if env is not None:  # a process of its own: the RECALL_* settings the indexer has
        os.environ.update(env)
    from tools.index.store import PhotoStore
    from tools.models.registry import Models
    from tools.query.search import SearchQuery, Searcher
    from tools.settings import load_settings

    latencies: list[float] = []
    errors: list[str] = []
    empty: list[str] = []
    try:
        loaded = load_settings(**settings)
        searcher = Searcher(PhotoStore(loaded, mode="search"), Models(loaded, queries_only=True))
        searcher.search(SearchQuery(text=queries[0], k=k))  # loads the models: not timed
    except Exception as error:  # noqa: BLE001 - reported, not raised: the run goes on
        errors.append(f"setup: {type(error).__name__}: {error}"[:300])
        ready.release()
        results.put({"client": number, "latencies": latencies, "errors": errors, "empty": empty})
        return
    ready.release()
    go.wait()
    turn = number  # clients start at different queries
    while not stop.is_set():
        query = SearchQuery(text=queries[turn % len(queries)], k=k)
        turn += 1
        started = time.perf_counter()
        try:
            found = searcher.search(query)
        except Exception as error:  # noqa: BLE001
            errors.append(f"{type(error).__name__}: {error}"[:300])
            continue
        latencies.append(time.perf_counter() - started)
        if not found.results:
            empty.append(query.text)
    results.put({"client": number, "latencies": latencies, "errors": errors, "empty": empty})


def run_load(url: str, library: Path, seed_paths: list[Path], queries: list[str], clients: int,
             models_dir: Path | None, quick: bool, k: int = 20, env: dict | None = None,
             clip_model: str | None = None, threads: bool = False) -> dict:
    """Seed the index, start the clients, index the library under their load; the figures.

    ``threads``: the clients are threads of this process, each with its own connection (they
    start in seconds, where processes each load torch), not processes.
    """
    env = dict(os.environ if env is None else env)
    if clip_model:
        env["RECALL_CLIP_MODEL"] = clip_model
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")

    def recall_index(*paths: Path, quick_run: bool) -> tuple[dict, float]:
        command = [sys.executable, "-m", "recall", "index", *map(str, paths), "--chroma-url", url, "--json"]
        command += ["--models-dir", str(models_dir)] if models_dir else []
        command += ["--quick"] if quick_run else []
        started = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600)
        if done.returncode != 0:
            raise RuntimeError(f"recall index failed ({done.returncode}): {done.stderr.strip()[-500:]}")
        return json.loads(done.stdout), time.perf_counter() - started

    recall_index(*seed_paths, quick_run=True)
    settings = {"chroma_url": url, **({"models_dir": models_dir} if models_dir else {}),
                **({"clip_model": clip_model} if clip_model else {})}
    # each client a fresh process, as separate users are (or a thread)
    context = threading if threads else multiprocessing.get_context("spawn")
    ready, go, stop = context.Semaphore(0), context.Event(), context.Event()
    results = queue.Queue() if threads else context.Queue()
    start = threading.Thread if threads else context.Process
    workers = [start(target=_client, args=(n, settings, None if threads else env, queries, k, ready, go, stop,
                                           results), daemon=True) for n in range(clients)]
    for worker in workers:
        worker.start()
    for _ in workers:
        ready.acquire(timeout=600)
    go.set()
    try:
        indexed, seconds = recall_index(library, quick_run=quick)
    finally:
        stop.set()
        got = [results.get(timeout=120) for _ in workers]
        for worker in workers:
            worker.join(timeout=30)
    index_report = indexed["index"]
    analysis = indexed.get("analysis") or {}
    per_client = []
    for row in sorted(got, key=lambda r: r["client"]):
        lat = row["latencies"]
        per_client.append({"client": row["client"], "searches": len(lat), "errors": len(row["errors"]),
                           "error_samples": row["errors"][:5], "empty_results": len(row["empty"]),
                           "empty_samples": sorted(set(row["empty"]))[:5],
                           "p50_ms": rounded(median(lat) and median(lat) * 1000, 1),
                           "p95_ms": rounded(percentile(lat, 95) and percentile(lat, 95) * 1000, 1),
                           "max_ms": rounded(max(lat) * 1000 if lat else None, 1)})
    every = [x for row in got for x in row["latencies"]]
    return {
        "clients": clients, "clients_are": "threads" if threads else "processes", "k": k, "queries": len(queries),
        "per_client": per_client,
        "all": {"searches": len(every), "errors": sum(c["errors"] for c in per_client),
                "p50_ms": rounded(median(every) and median(every) * 1000, 1),
                "p95_ms": rounded(percentile(every, 95) and percentile(every, 95) * 1000, 1),
                "searches_per_s": rounded(len(every) / seconds, 2)},
        "index": {"new": index_report["new"], "unchanged": index_report["unchanged"],
                  "seconds": rounded(seconds, 2), "first_pass_seconds": rounded(index_report["seconds"], 2),
                  "understanding_seconds": rounded(analysis.get("seconds"), 2),
                  "photos_per_s": rounded(index_report["new"] / seconds, 2) if seconds else None,
                  "understood": analysis.get("photos", 0)},
    }


def print_report(figures: dict) -> None:
    print(f"{'client':>6} {'searches':>8} {'errors':>6} {'empty':>5} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for row in figures["per_client"]:
        print(f"{row['client']:>6} {row['searches']:>8} {row['errors']:>6} {row['empty_results']:>5} "
              f"{row['p50_ms']!s:>8} {row['p95_ms']!s:>8} {row['max_ms']!s:>8}")
        for sample in row["error_samples"]:
            print(f"       error: {sample}")
        for sample in row["empty_samples"]:
            print(f"       nothing found: {sample!r}")
    every, index = figures["all"], figures["index"]
    print(f"   all {every['searches']:>8} {every['errors']:>6}       {every['p50_ms']!s:>8} {every['p95_ms']!s:>8}"
          f"   ({every['searches_per_s']} searches/s)")
    print(f"index: {index['new']} new photos in {index['seconds']} s ({index['photos_per_s']} photos/s; first pass "
          f"{index['first_pass_seconds']} s, understanding {index['understanding_seconds']} s) while they searched")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chroma-url", help="an existing server (default: start one on 127.0.0.1)")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seed", type=int, default=40, help="photos indexed before the clients start")
    parser.add_argument("--add", type=int, default=160, help="photos the indexer adds under load")
    parser.add_argument("--flickr", type=Path, default=DEFAULT_FLICKR)
    parser.add_argument("--models-dir", type=Path, help="models folder (CLIP turns the visual signal on)")
    parser.add_argument("--quick", action="store_true", help="the indexer skips the understanding pass")
    parser.add_argument("--clip-model", help="CLIP folder name under the models folder")
    parser.add_argument("--threads", action="store_true", help="clients as threads of one process, not processes")
    parser.add_argument("--out", type=Path, default=REPORTS / "server_load.json")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="recall-server-load-") as work:
        work = Path(work)
        captions = build_library(work / "library", args.flickr, count=args.seed + args.add)
        paths = sorted(Path(p) for p in captions)
        queries = [rest[0] for rest in captions.values()]
        os.environ.setdefault("RECALL_DATA_DIR", str(work / "data"))
        with (contextlib.nullcontext(args.chroma_url) if args.chroma_url
              else local_chroma_server(work / "server")) as url:
            figures = run_load(url, work / "library", paths[:args.seed], queries, args.clients,
                               args.models_dir, args.quick, clip_model=args.clip_model, threads=args.threads)
    figures["machine"] = machine_facts()
    print_report(figures)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2))
    print(f"report: {args.out}")


if __name__ == "__main__":
    main()
