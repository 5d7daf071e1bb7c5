"""The chat app (`recall chat`) measured through Textual's headless pilot, keys as a person presses them.

Not functions timed alone: a real ``RecallApp`` runs in ``app.run_test()`` on a real index, the
query is typed into the prompt key by key and Enter is pressed; the clock stops when the screen
holds the new state. On the caption backbone (evals/library.py: 1,000 Flickr8k-test photos, ONE
human caption each in an XMP sidecar), indexed once into a temporary folder by the Indexer and the
understanding pass with faces and objects OFF (for speed; no CLIP weights exist offline either), in
a child process, so that this process's first app pays every import as a fresh ``recall chat`` does.

Measured, each in this one process:

1. start: ``run_test()`` entered -> the prompt is focused and a typed character is in its value
   ("input usable"), and -> ``app.search_ready`` (index, MiniLM loaded and warmed). ``--starts``
   fresh app instances one after another (rules only); the first pays the imports (torch, Chroma,
   sentence-transformers in the start worker; Textual and the app's modules before it, timed apart).
2. Enter -> first results on screen: ``--queries`` held-out captions (captions 1-4 of a seeded
   sample of photos, never the sidecar one), each in a new chat (Ctrl+N; every query is turn 0).
   "On screen" = the grid's card list is the one this turn's ``_show_results`` made, every card is
   mounted and the first has a laid-out region (a compositor refresh happened). The app without
   an LLM ("none"), and each LLM app, in a child process of its own (so its memory and first uses
   are its own), with rules and LLM turns interleaved query by query (ABBA order; a rules turn
   there is the same app with ``engine.planner`` set to the rules planner for that turn, so both
   share the machine's state). With the LLM the first results are the rules' quick ones
   (``_show_quick``), the final ones follow.
3. Enter -> final (LLM-refined) results on screen; the LLM's calls in the turn (prompt tokens
   evaluated, generation time) are recorded from the LocalLLM objects. The first LLM turn of the
   app (no saved prompt state in the fresh cache folder) is a warm-up, reported apart.
4. memory: VmRSS, VmHWM (the peak) and getrusage's maxrss of the LLM app's process after its
   queries (and its RSS when search was ready, before the LLM loaded).
5. Enter -> every visible card has its thumbnail: a cold cache (thumbnail folder and the app's
   decoded pixels cleared; the JPEGs themselves are in the OS page cache), a warm disk cache (the
   app's pixels cleared, as a new app would start), and warm memory (the same app again).

Where time goes: every turn records Enter -> the worker starting, the worker's reply ready, the
app thread showing it (``_show_results`` called), the wait for the screen's next refresh and that
refresh itself. ``--profile N`` runs N rules turns in a fresh child process under cProfile (the
turn worker, each turn apart, and the app's own thread) and keeps the top functions.

The pilot's ``press`` waits for the process to go idle (up to 1 s per wait) before returning, so
the Enter and the start keystroke are pressed in a task of their own and the screen is polled
every few ms meanwhile; otherwise the LLM's work (or a thumbnail decode) would inflate the figures.
Typing a query before Enter is not timed. A benchmark, not a test: it prints a table and writes
evals/reports/chat.json.

    .venv/bin/python -m evals.chat                       # 1,000 photos, 30 queries, 1.5B then 0.5B
    .venv/bin/python -m evals.chat --llm none --queries 50
    .venv/bin/python -m evals.chat --quick               # 200 photos, 6 queries, 0.5B: a quick look
"""
from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import random
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # `python evals/chat.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evals.common import (ROOT, _proc_status, busy_machine_warning, code_version, default_report, finish_report, log,
                          machine_facts, maxrss_mb, median, percentile, reset_peak_rss, rounded, table, temp_dir)
from evals.library import DEFAULT_FLICKR

CACHE_MODELS = Path("~/.cache/photo-recall/models").expanduser()  # where llm_setup assembles the GGUFs
SIZE = (120, 40)  # the terminal: wide enough for the grid beside the chat (10 cards, 2 rows visible)
SHOWN = 10
TARGETS = {"input_usable_s": 1.5, "first_results_median_ms": 300.0, "llm_final_median_s": 5.0}
POLL = 0.003  # seconds between looks at the screen
SLOW_REFRESH_MS = 200.0  # a screen refresh slower than this is looked into (what the GC took in it)
THUMB_TIMEOUT = 30.0  # seconds after Enter: visible cards still without a thumbnail are reported
NOTE = ("caption backbone, index built with faces and objects off and no CLIP (no weights offline): the "
        "search is words (BM25) + meaning (MiniLM) over one human caption per photo; each query is turn 0 of a new chat")


# ---- the index, in a child process ------------------------------------------------------------
def index_settings(work: Path):
    from tools.settings import load_settings

    return load_settings(db=work / "db", sessions_dir=work / "index" / "sessions", cache_dir=work / "index" / "cache",
                         data_dir=work / "index" / "data", models_dir=work / "no-models",
                         analyze_faces=False, analyze_objects=False)


def build_index(work: Path, images: Path, count: int | None) -> None:
    """Child process: link the library, index it, write what the parent needs to work/index.json."""
    from evals.common import TextProgress
    from evals.library import build_library
    from tools.understand.analysis import Analyzer
    from tools.index.indexer import Indexer
    from tools.models.registry import Models
    from tools.index.store import PhotoStore

    queries = build_library(work / "lib", images, count=count, sidecar_caption=0)
    settings = index_settings(work)
    store, models = PhotoStore(settings), Models(settings)
    started = time.perf_counter()
    report = Indexer(settings, store, models, TextProgress("index", 15.0)).run([work / "lib"])
    analysis = Analyzer(settings, store, models, TextProgress("understanding", 15.0)).run()
    facts = {"photos": report.new, "index_seconds": round(report.seconds, 1),
             "with_understanding_seconds": round(time.perf_counter() - started, 1), "clip": report.clip,
             "analysis": str(analysis)[:300], "queries": queries}
    (work / "index.json").write_text(json.dumps(facts, default=str), encoding="utf-8")


# ---- the app -----------------------------------------------------------------------------------
def app_settings(work: Path, name: str, models_dir: Path, **overrides):
    from tools.settings import load_settings

    base = work / "apps" / name
    return load_settings(db=work / "db", sessions_dir=base / "sessions", cache_dir=base / "cache",
                         data_dir=base / "data", models_dir=models_dir, **overrides)


def make_app(work: Path, name: str, models_dir: Path, no_llm: bool, **overrides):
    from recall.chat.app import RecallApp
    from recall.chat.engine import ChatEngine

    settings = app_settings(work, name, models_dir, **overrides)
    return RecallApp(ChatEngine(settings, session="bench", no_llm=no_llm, new=True),
                     log_dir=settings.data_dir, shown=SHOWN)


async def until(condition, timeout: float, what: str) -> float:
    """Polls ``condition`` every few ms (asyncio.sleep: the app runs meanwhile); the time it held."""
    started = time.perf_counter()
    while True:
        if condition():
            return time.perf_counter()
        if time.perf_counter() - started > timeout:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(POLL)


def laid_out(cards) -> bool:
    return all(c.is_mounted for c in cards) and (not cards or cards[0].region.area > 0)


def missing_thumbnails(app) -> list:
    from recall.chat.widgets.results import ResultsGrid

    grid = app.query_one(ResultsGrid)
    return [c for c in grid.cards if not c.has_thumbnail and c.region.overlaps(grid.region)]


def memory() -> dict:
    return {"rss_mb": _proc_status("VmRSS"), "hwm_mb": _proc_status("VmHWM"), "maxrss_mb": maxrss_mb()}


class Probe:
    """Timestamps from inside the app, for where the time goes: the turn worker's start and its
    replies, and each ``_show_results`` on the app's thread (instance attributes over the methods)."""

    def __init__(self, app):
        self.app, self.marks, self.shows, self.llm_calls, self.refreshes = app, {}, [], [], []
        self.collections: list[tuple[float, float, int]] = []
        self.profile: cProfile.Profile | None = None  # set: the next turn's worker runs under it
        engine, show = app.engine, app._show_results
        turn = engine.turn

        def timed_turn(text, token, turn_id, shown=10, on_quick=None):
            self.marks.setdefault("worker_started", time.perf_counter())
            cpu = time.thread_time()  # this worker thread's own CPU time: less sensitive to a busy machine

            def quick(result):
                self.marks.setdefault("quick_ready", time.perf_counter())
                self.marks.setdefault("quick_cpu_s", time.thread_time() - cpu)
                on_quick(result)

            profile = self.profile
            if profile is not None:
                profile.enable()
            try:
                return turn(text, token, turn_id, shown=shown, on_quick=quick if on_quick else None)
            finally:
                if profile is not None:
                    profile.disable()
                self.marks.setdefault("final_ready", time.perf_counter())
                self.marks.setdefault("final_cpu_s", time.thread_time() - cpu)

        def timed_show(reply, refining):
            started = time.perf_counter()
            show(reply, refining)
            self.shows.append({"t": started, "done": time.perf_counter(), "refining": refining,
                               "paths": [p.path for p in reply.results]})

        engine.turn = timed_turn
        app._show_results = timed_show

    def watch_llm(self) -> None:
        """Records every call of the app's LocalLLM objects (the planner's and the question wording's)."""
        for who, fn in (("plan", self.app.engine.planner), ("question", self.app.engine.phraser)):
            for cell in getattr(fn, "__closure__", None) or ():
                llm = cell.cell_contents
                if type(llm).__name__ == "LocalLLM":
                    self._wrap(llm, who)

    def _wrap(self, llm, who: str) -> None:
        chat = llm._chat

        def timed_chat(*args, **kwargs):
            started = time.perf_counter()
            try:
                return chat(*args, **kwargs)
            finally:
                t = llm.last_timing
                self.llm_calls.append({"who": who, "start": started, "seconds": time.perf_counter() - started,
                                       "prompt_tokens": t.get("prompt_tokens"),
                                       "evaluated": t.get("prompt_tokens_evaluated"),
                                       "generated": t.get("generated_tokens"),
                                       "prompt_eval_s": t.get("prompt_eval_s"), "generation_s": t.get("generation_s"),
                                       "state_restored": t.get("state_restored_tokens")})

        llm._chat = timed_chat

    def watch_gc(self) -> None:
        """Times the garbage collector's passes (any thread): a full one scans every object the
        process holds (torch, Chroma, the place gazetteer...), and the app's thread stops meanwhile."""
        import gc

        started: dict = {}

        def callback(phase: str, info: dict) -> None:
            if phase == "start":
                started["t"] = time.perf_counter()
            elif "t" in started:
                self.collections.append((started.pop("t"), time.perf_counter(), info.get("generation")))

        gc.callbacks.append(callback)

    def gc_in(self, a: float, b: float) -> dict:
        inside = [(s, e, g) for s, e, g in self.collections if e >= a and s <= b]
        return {"ms": round(1000 * sum(min(e, b) - max(s, a) for s, e, g in inside), 1),
                "full_ms": round(1000 * sum(min(e, b) - max(s, a) for s, e, g in inside if g == 2), 1),
                "full": sum(g == 2 for s, e, g in inside)}

    def attach_screen(self) -> None:
        """Times the screen's layout-and-render passes (``Screen._refresh_layout``), once it exists."""
        screen = self.app.screen
        if getattr(screen, "_bench_timed", False):
            return
        refresh = screen._refresh_layout

        def timed_refresh(*args, **kwargs):
            started = time.perf_counter()
            try:
                return refresh(*args, **kwargs)
            finally:
                self.refreshes.append((started, time.perf_counter()))

        screen._refresh_layout = timed_refresh
        screen._bench_timed = True

    def ui_split(self, shown_at: float, on_screen: float) -> dict:
        """From the app thread's ``_show_results`` returning to the cards on screen: the wait for the
        screen's next refresh and that refresh (layout, compositor, render) itself."""
        passes = [(a, b) for a, b in self.refreshes if b >= shown_at and a <= on_screen]
        last = passes[-1] if passes else None
        return {"refreshes": len(passes),
                "refresh_ms": round(1000 * (last[1] - last[0]), 1) if last else None,
                "gc_in_refresh": self.gc_in(*last) if last else None,
                "wait_for_refresh_ms": round(1000 * (last[0] - shown_at), 1) if last else None,
                "refreshes_total_ms": round(1000 * sum(b - a for a, b in passes), 1)}

    def reset(self) -> None:
        self.marks, self.shows, self.llm_calls, self.refreshes, self.collections = {}, [], [], [], []


async def type_text(pilot, app, text: str) -> None:
    prompt = app.query_one("#prompt")
    prompt.focus()
    await pilot.pause()
    await pilot.press(*[{" ": "space"}.get(c, c) for c in text])
    if prompt.value != text:
        raise RuntimeError(f"typed {text!r} but the input holds {prompt.value!r}")


async def new_chat(pilot, app) -> None:
    from recall.chat.widgets.results import ResultsGrid

    await pilot.press("ctrl+n")
    await until(lambda: not app.busy and not app.query_one(ResultsGrid).cards, 30, "a new chat")
    await pilot.pause()


async def measure_turn(pilot, app, probe: Probe, text: str, target: str | None, planner: str,
                       main_profile: cProfile.Profile | None = None) -> dict:
    """One turn from Enter: first results on screen, final results on screen, thumbnails."""
    await new_chat(pilot, app)
    await type_text(pilot, app, text)
    probe.attach_screen()
    probe.reset()
    stuck: list[dict] = []
    if main_profile is not None:
        main_profile.enable()
    from recall.chat.widgets.results import ResultsGrid

    grid = app.query_one(ResultsGrid)

    def on_screen(show: dict) -> bool:  # the grid holds this show's photos (it may re-make its cards), laid out
        cards = grid.cards
        return [c.photo.path for c in cards] == show["paths"] and laid_out(cards)

    def final_shown() -> bool:  # busy goes False in the same app-thread call that shows the final reply
        finals = [s for s in probe.shows if not s["refining"]]
        return bool(probe.shows) and not app.busy and (not finals or on_screen(finals[-1]))

    t0 = time.perf_counter()
    press = asyncio.create_task(pilot.press("enter"))
    try:
        t_first = await until(lambda: any(on_screen(s) for s in probe.shows), 120, "the first results")
        if main_profile is not None:
            main_profile.disable()
            main_profile = None
        t_final = await until(final_shown, 300, "the final results")
        try:
            t_thumbs = await until(lambda: not missing_thumbnails(app), THUMB_TIMEOUT, "the thumbnails")
        except TimeoutError:  # kept as a finding, not a crash: which visible cards never got one
            t_thumbs = None
            stuck = [{"number": c.photo.number, "requested": c.requested} for c in missing_thumbnails(app)]
            log(f"  thumbnails still missing {THUMB_TIMEOUT:.0f} s after Enter for {text!r}: {stuck}")
    finally:
        if main_profile is not None:
            main_profile.disable()
        await press
    t_press = time.perf_counter()
    first = probe.shows[0]
    final = next((s for s in probe.shows if not s["refining"]), probe.shows[-1])
    ms = lambda t: None if t is None else round(1000 * (t - t0), 1)  # noqa: E731
    marks = probe.marks
    calls = [{k: (round(v, 3) if isinstance(v, float) else v) for k, v in c.items() if k != "start"}
             | {"start_ms": ms(c["start"])} for c in probe.llm_calls]
    return {
        "planner": planner, "query": text, "target": target,
        "first_on_screen_ms": ms(t_first), "final_on_screen_ms": ms(t_final), "thumbnails_ms": ms(t_thumbs),
        "worker_started_ms": ms(marks.get("worker_started")), "quick_ready_ms": ms(marks.get("quick_ready")),
        "final_ready_ms": ms(marks.get("final_ready")), "first_shown_call_ms": ms(first["t"]),
        "worker_cpu_first_ms": rounded(1000 * marks.get("quick_cpu_s", marks.get("final_cpu_s", 0.0)), 1),
        "first_shown_call_took_ms": round(1000 * (first["done"] - first["t"]), 1),
        "final_shown_call_ms": ms(final["t"]), "quick_shown": first["refining"],
        "first_ui": probe.ui_split(first["done"], t_first), "final_ui": probe.ui_split(final["done"], t_final),
        "gc_enter_to_first": probe.gc_in(t0, t_first), "gc_enter_to_final": probe.gc_in(t0, t_final),
        "press_returned_ms": ms(t_press), "cards": len(final["paths"]), "shows": len(probe.shows),
        "hit_first": target in first["paths"] if target else None,
        "hit_final": target in final["paths"] if target else None,
        "thumbnails_stuck": stuck, "llm_calls": calls, "errors": list(app.errors),
    }


# ---- phases ------------------------------------------------------------------------------------
async def measure_start(app, keep_open=None) -> tuple[dict, object]:
    """run_test entered -> input usable -> search ready (-> LLM ready when it loads one)."""
    from recall.chat.widgets.prompt import PromptInput

    out: dict = {}
    t0 = time.perf_counter()
    async with app.run_test(size=SIZE) as pilot:
        out["run_test_returned_s"] = time.perf_counter() - t0
        prompt = app.query_one(PromptInput)
        out["focused_s"] = await until(lambda: app.focused is prompt, 30, "the prompt's focus") - t0
        press = asyncio.create_task(pilot.press("x"))
        out["input_usable_s"] = await until(lambda: prompt.value == "x", 30, "the keystroke") - t0
        out["search_ready_s"] = await until(lambda: app.search_ready, 300, "search ready") - t0
        out["rss_at_search_ready_mb"] = _proc_status("VmRSS")
        await press
        out["llm_ready_s"] = await until(lambda: app.engine.llm_ready.is_set(), 600, "the LLM") - t0
        out["has_llm"] = app.engine.has_llm
        await pilot.press("backspace")
        await pilot.pause(0.05)
        out = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in out.items()}
        if keep_open is not None:
            return out, await keep_open(pilot)
    return out, None


def pick_queries(queries: dict[str, list[str]], n: int, seed: int) -> list[tuple[str, str]]:
    """(target path, a held-out caption): a seeded sample of photos, caption 1..4 in turn."""
    rng = random.Random(seed)
    paths = rng.sample(sorted(queries), min(n, len(queries)))
    return [(p, queries[p][i % len(queries[p])]) for i, p in enumerate(paths)]


def summary(turns: list[dict], key: str) -> dict:
    values = [t[key] for t in turns if t.get(key) is not None]
    return {"n": len(values), "median": rounded(median(values), 1), "p95": rounded(percentile(values, 95), 1),
            "max": rounded(max(values), 1) if values else None}


def profile_text(profiles: list[cProfile.Profile], top: int, sort: str = "cumulative") -> list[str]:
    stream = io.StringIO()
    stats = pstats.Stats(profiles[0], stream=stream)
    for more in profiles[1:]:
        stats.add(more)
    stats.strip_dirs().sort_stats(sort).print_stats(top)
    lines = [line.rstrip() for line in stream.getvalue().splitlines()]
    start = next((i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls")), 0)
    return [line for line in lines[start:] if line.strip()]


def profile_child(work: Path, args) -> None:
    """Child process: a fresh process's app (so lazy first uses are in it), ``--profile`` rules turns
    with cProfile on the turn worker (each turn apart) and on the app's thread (Enter -> first
    results on screen); writes work/profile.json. Under cProfile Python-heavy code runs slower."""
    facts = json.loads((work / "index.json").read_text(encoding="utf-8"))
    queries = pick_queries(facts["queries"], args.profile, args.seed)
    app = make_app(work, "profile", work / "no-models", no_llm=True)
    probe = Probe(app)
    probe.watch_gc()

    async def body(pilot):
        main, workers, turns = cProfile.Profile(), [], []
        for target, text in queries:
            probe.profile = cProfile.Profile()
            turns.append(await measure_turn(pilot, app, probe, text, target, "rules", main_profile=main))
            workers.append(probe.profile)
            probe.profile = None
        worker_ms = [t["final_ready_ms"] - t["worker_started_ms"] for t in turns]
        slowest = max(range(len(turns)), key=lambda i: worker_ms[i])
        return {"turns": len(turns), "note": "rules turns in a fresh process, under cProfile (slower than unprofiled)",
                "first_on_screen_ms": summary(turns, "first_on_screen_ms"),
                "worker_ms": [round(v, 1) for v in worker_ms],
                "ui_after_show": [t["first_ui"] for t in turns],
                "queries": [t["query"] for t in turns],
                "turn_worker_top": profile_text(workers, 30),
                "slowest_turn": {"query": turns[slowest]["query"], "worker_ms": round(worker_ms[slowest], 1),
                                 "top": profile_text([workers[slowest]], 25)},
                "app_thread_enter_to_first_results_top": profile_text([main], 30),
                "app_thread_by_own_time": profile_text([main], 20, "tottime"), "code": code_version()}

    async def run():
        return (await measure_start(app, body))[1]

    (work / "profile.json").write_text(json.dumps(asyncio.run(run()), default=str), encoding="utf-8")


async def rules_app_phase(work: Path, args, queries, thumb_queries, out: dict) -> None:
    """The app without an LLM: Enter -> results for every query, thumbnails cold / warm, a profile."""
    app = make_app(work, "rules", work / "no-models", no_llm=True)
    probe = Probe(app)
    probe.watch_gc()

    async def body(pilot):
        phase: dict = {"memory_at_search_ready": memory(), "tried": try_fixes(args), "turns": []}
        for i, (target, text) in enumerate(queries, start=1):
            phase["turns"].append(await measure_turn(pilot, app, probe, text, target, "rules"))
            if i % 10 == 0 or i == len(queries):
                log(f"  [none] {i}/{len(queries)} turns")
        thumbs = []
        for target, text in thumb_queries:
            row = {"query": text}
            shutil.rmtree(app.thumbnails.folder, ignore_errors=True)
            app.pixels.clear()
            row["cold"] = await measure_turn(pilot, app, probe, text, target, "rules")
            app.pixels.clear()
            row["warm_disk"] = await measure_turn(pilot, app, probe, text, target, "rules")
            row["warm_memory"] = await measure_turn(pilot, app, probe, text, target, "rules")
            thumbs.append(row)
        phase["thumbnails"] = thumbs
        phase["memory_after"] = memory()
        phase["errors"] = list(app.errors)
        return phase

    start, phase = await measure_start(app, body)
    phase["start"] = start
    out["apps"]["none"] = phase


def try_fixes(args) -> list[str]:
    """``--try``: what the app could do once it is up, done here from outside to measure it (the app's
    code is not changed): build the place gazetteer (else the first place-like phrase builds it in
    a turn), move everything alive into the GC's permanent generation (gc.freeze), so that full
    collections stop scanning torch's, Chroma's and the gazetteer's objects, and make full
    collections rarer (each one stops the app's thread for hundreds of ms)."""
    import gc

    done = []
    if "warm-places" in args.try_fixes:
        from tools.places.geo import _gazetteer

        _gazetteer()
        done.append("warm-places")
    if "gc-freeze" in args.try_fixes:
        gc.collect()
        gc.freeze()
        done.append(f"gc-freeze ({gc.get_freeze_count()} objects)")
    if "gc-rare" in args.try_fixes:  # full passes 100x rarer than by default (young ones unchanged)
        young, middle, _ = gc.get_threshold()
        gc.set_threshold(young, middle, 1000)
        done.append(f"gc-rare (thresholds {gc.get_threshold()})")
    return done


def llm_file(size: str, wait_s: float) -> Path | None:
    """The assembled GGUF of ``size`` in the cache, checked; waits while another process makes it."""
    from tools.models.llm_setup import LLMS, LLMSetupError, assemble_llm, verify_llm_file

    target = CACHE_MODELS / "llm" / LLMS[size].filename
    deadline = time.monotonic() + wait_s
    while not target.exists() and time.monotonic() < deadline:
        log(f"waiting for {target} (another process may be assembling it)")
        time.sleep(15)
    if not target.exists():
        try:
            return assemble_llm(CACHE_MODELS, size, log=log)
        except LLMSetupError as error:
            log(f"no {size} LLM: {error}")
            return None
    verify_llm_file(target, size)
    return target


async def llm_app_phase(work: Path, size: str, gguf: Path, args, queries, out: dict) -> None:
    """An app with the LLM loaded: rules and LLM turns interleaved on the same queries."""
    from agent.dialogue import rules_planner
    from tools.models.llm import idle_threads

    models = work / f"models-{size}"
    (models / "llm").mkdir(parents=True, exist_ok=True)
    link = models / "llm" / gguf.name
    if not link.exists():
        link.symlink_to(gguf)
    threads = None if args.llm_threads == "auto" else int(args.llm_threads)
    app = make_app(work, f"llm-{size}", models, no_llm=False, llm_threads=threads)
    probe = Probe(app)
    probe.watch_gc()
    reset_peak_rss()
    would_choose = idle_threads(None)

    async def body(pilot):
        engine = app.engine
        phase: dict = {"model": gguf.name, "threads": threads or would_choose,
                       "threads_the_app_would_choose_now": would_choose, "memory_at_llm_ready": memory(),
                       "llm_note": engine.llm_note, "turns": []}
        if not engine.has_llm:
            phase["skipped"] = f"the LLM did not load: {engine.llm_note}"
            return phase
        probe.watch_llm()
        phase["tried"] = try_fixes(args)
        llm_planner = engine.planner
        phase["warm_up"] = await measure_turn(pilot, app, probe, "uh, a dog on a beach I think", None, "llm")
        for i, (target, text) in enumerate(queries):
            for planner in (("rules", "llm") if i % 2 == 0 else ("llm", "rules")):
                engine.planner = rules_planner if planner == "rules" else llm_planner
                phase["turns"].append(await measure_turn(pilot, app, probe, text, target, planner))
            engine.planner = llm_planner
            if (i + 1) % 5 == 0 or i + 1 == len(queries):
                log(f"  [{size}] {i + 1}/{len(queries)} queries (x2 turns)")
        phase["memory_after_queries"] = memory()
        phase["errors"] = list(app.errors)
        return phase

    start, phase = await measure_start(app, body)
    phase["start"] = start
    out["apps"][size] = phase


async def run_all(work: Path, args, facts: dict, out: dict) -> None:
    queries = pick_queries(facts["queries"], args.queries, args.seed)
    thumb_queries = pick_queries(facts["queries"], args.thumb_queries, args.seed + 1)
    # 1. start, fresh instances; the first pays the imports (the app's modules are imported here).
    starts = []
    for i in range(args.starts):
        t0 = time.perf_counter()
        modules_before = len(sys.modules)
        app = make_app(work, f"start-{i}", work / "no-models", no_llm=True)
        made = time.perf_counter() - t0
        start, _ = await measure_start(app)
        start["import_and_construct_s"] = round(made, 3)
        start["modules_imported"] = len(sys.modules) - modules_before
        start["errors"] = list(app.errors)
        starts.append(start)
        log(f"  start {i + 1}: input usable {start['input_usable_s']:.3f} s, search ready "
            f"{start['search_ready_s']:.3f} s (import + construct {made:.3f} s)")
    out["starts"] = starts
    out["machine"] = machine_facts()  # imports torch: after the first start, which must pay for it
    # 2, 5. the app without an LLM (the LLM apps run in child processes of their own: see main)
    await rules_app_phase(work, args, queries, thumb_queries, out)


def llm_child(work: Path, size: str, args) -> None:
    """Child process: one app with the ``size`` LLM, so its memory and first uses are its own;
    writes work/llm-<size>.json."""
    facts = json.loads((work / "index.json").read_text(encoding="utf-8"))
    queries = pick_queries(facts["queries"], args.queries, args.seed)[:args.llm_queries or None]
    gguf = llm_file(size, args.wait_llm)
    out: dict = {"apps": {}}
    if gguf is None:
        out["apps"][size] = {"skipped": f"no {size} GGUF in {CACHE_MODELS / 'llm'}"}
    else:
        log(f"[{size}] {gguf}")
        asyncio.run(llm_app_phase(work, size, gguf, args, queries, out))
    out["apps"][size]["code"] = code_version()
    (work / f"llm-{size}.json").write_text(json.dumps(out["apps"][size], default=str), encoding="utf-8")


def breakdown(turns: list[dict]) -> dict:
    """Enter -> first results on screen in parts (medians, ms): to the turn worker starting, the
    worker's first reply, the app thread taking it (``_show_results`` called), and from there to
    the screen: waiting for the next refresh, and that refresh (layout + compositor + render)."""
    def med(values):
        values = [v for v in values if v is not None]
        return rounded(median(values), 1) if values else None

    ready = [t["quick_ready_ms"] if t["quick_shown"] else t["final_ready_ms"] for t in turns]
    return {"enter_to_worker": med([t["worker_started_ms"] for t in turns]),
            "worker_search": med([r - t["worker_started_ms"] for r, t in zip(ready, turns)]),
            "worker_search_cpu": med([t["worker_cpu_first_ms"] for t in turns]),
            "reply_to_app_thread": med([t["first_shown_call_ms"] - r for r, t in zip(ready, turns)]),
            "show_results_call": med([t["first_shown_call_took_ms"] for t in turns]),
            "wait_for_refresh": med([t["first_ui"]["wait_for_refresh_ms"] for t in turns]),
            "refresh": med([t["first_ui"]["refresh_ms"] for t in turns]),
            "gc_in_that_refresh": med([(t["first_ui"].get("gc_in_refresh") or {}).get("ms") for t in turns]),
            "gc_enter_to_first": med([t["gc_enter_to_first"]["ms"] for t in turns]),
            "total": med([t["first_on_screen_ms"] for t in turns])}


def figures(out: dict) -> dict:
    """The headline numbers, each beside its target."""
    starts = out["starts"]
    later = starts[1:] or starts
    fig: dict = {
        "start_first_input_usable_s": starts[0]["input_usable_s"],
        "start_first_import_and_construct_s": starts[0]["import_and_construct_s"],
        "start_first_search_ready_s": starts[0]["search_ready_s"],
        "start_later_input_usable_median_s": rounded(median([s["input_usable_s"] for s in later]), 3),
        "start_later_search_ready_median_s": rounded(median([s["search_ready_s"] for s in later]), 3),
        "apps": {},
    }
    for name, app in out["apps"].items():
        if app.get("skipped"):
            fig["apps"][name] = {"skipped": app["skipped"]}
            continue
        row: dict = {}
        for planner in ("rules", "llm"):
            turns = [t for t in app["turns"] if t["planner"] == planner]
            if not turns:
                continue
            row[planner] = {k: summary(turns, k) for k in ("first_on_screen_ms", "final_on_screen_ms",
                                                           "thumbnails_ms", "worker_started_ms",
                                                           "first_shown_call_ms", "final_ready_ms")}
            row[planner]["breakdown_first_ms"] = breakdown(turns)
            slow = [t["first_ui"] for t in turns if (t["first_ui"]["refresh_ms"] or 0) > SLOW_REFRESH_MS]
            row[planner]["slow_refreshes"] = {
                "over_ms": SLOW_REFRESH_MS, "turns": len(slow),
                "with_a_full_gc": sum(bool(u["gc_in_refresh"] and u["gc_in_refresh"]["full"]) for u in slow),
                "refresh_ms_median": rounded(median([u["refresh_ms"] for u in slow]), 1),
                "gc_ms_in_them_median": rounded(median([u["gc_in_refresh"]["ms"] for u in slow if u["gc_in_refresh"]]), 1)}
            row[planner]["hits_first"] = sum(bool(t["hit_first"]) for t in turns)
            row[planner]["hits_final"] = sum(bool(t["hit_final"]) for t in turns)
            row[planner]["turns"] = len(turns)
            if planner == "llm":
                calls = [c for t in turns for c in t["llm_calls"]]
                row[planner]["llm_calls_per_turn"] = round(len(calls) / len(turns), 2)
                row[planner]["plan_call_s"] = summary([c for c in calls if c["who"] == "plan"], "seconds")
                row[planner]["question_calls"] = sum(c["who"] == "question" for c in calls)
                row[planner]["plan_generated_tokens_median"] = median(
                    [c["generated"] for c in calls if c["who"] == "plan" and c["generated"] is not None])
                row[planner]["plan_evaluated_tokens_median"] = median(
                    [c["evaluated"] for c in calls if c["who"] == "plan" and c["evaluated"] is not None])
        if app.get("thumbnails"):
            row["thumbnails"] = {kind: summary([r[kind] for r in app["thumbnails"]], "thumbnails_ms")
                                 for kind in ("cold", "warm_disk", "warm_memory")}
            row["thumbnails_after_first_results"] = {
                kind: rounded(median([r[kind]["thumbnails_ms"] - r[kind]["first_on_screen_ms"]
                                      for r in app["thumbnails"] if r[kind]["thumbnails_ms"] is not None]), 1)
                for kind in ("cold", "warm_disk", "warm_memory")}
            row["thumbnails_stuck_turns"] = sum(bool(r[k]["thumbnails_stuck"]) for r in app["thumbnails"]
                                                for k in ("cold", "warm_disk", "warm_memory"))
        if app.get("warm_up"):
            row["warm_up_final_s"] = rounded(app["warm_up"]["final_on_screen_ms"] / 1000, 2)
        row["start"] = app["start"]
        if app.get("memory_after_queries"):
            row["memory_after_queries"] = app["memory_after_queries"]
            row["memory_at_llm_ready"] = app["memory_at_llm_ready"]
            row["threads"] = app["threads"]
        fig["apps"][name] = row
    checks = {"input_usable_s": max(s["input_usable_s"] for s in starts)}
    rules = [a["rules"]["first_on_screen_ms"]["median"] for a in fig["apps"].values() if "rules" in a]
    llm_first = [a["llm"]["first_on_screen_ms"]["median"] for a in fig["apps"].values() if "llm" in a]
    checks["first_results_median_ms"] = max(rules + llm_first) if rules + llm_first else None
    big = fig["apps"].get("1.5b", {}).get("llm")
    checks["llm_final_median_s"] = rounded(big["final_on_screen_ms"]["median"] / 1000, 2) if big else None
    fig["targets"] = {k: {"target": TARGETS[k], "measured": v, "met": None if v is None else v <= TARGETS[k]}
                      for k, v in checks.items()}
    return fig


def print_summary(out: dict) -> None:
    fig = out["figures"]
    print()
    print(f"library: {out['library']['photos']} photos ({NOTE})")
    if out.get("tried"):
        print(f"experiments (--try {out['tried']}), done from outside once each app was up: "
              + "; ".join(f"{name}: {', '.join(app.get('tried') or [])}" for name, app in out["apps"].items()))
    print(table(["start (fresh app)", "input usable s", "search ready s", "import + construct s"],
                [[f"#{i + 1}" + (" (pays imports)" if i == 0 else ""), s["input_usable_s"], s["search_ready_s"],
                  s["import_and_construct_s"]] for i, s in enumerate(out["starts"])]))
    rows = []
    for name, app in fig["apps"].items():
        if "skipped" in app:
            rows.append([name, "-", app["skipped"], None, None, None, None, None])
            continue
        for planner in ("rules", "llm"):
            if planner not in app:
                continue
            r = app[planner]
            rows.append([f"app LLM {name}" if name != "none" else "app without LLM", planner, r["turns"],
                         r["first_on_screen_ms"]["median"], r["first_on_screen_ms"]["p95"],
                         r["final_on_screen_ms"]["median"], r["final_on_screen_ms"]["p95"],
                         r["thumbnails_ms"]["median"], f"{r['hits_final']}/{r['turns']}"])
    print()
    print(table(["app", "turn", "turns", "first ms p50", "first p95", "final ms p50", "final p95",
                 "thumbs ms p50", "hit@10"], rows))
    parts = [[f"{name} {planner}", *app[planner]["breakdown_first_ms"].values()]
             for name, app in fig["apps"].items() for planner in ("rules", "llm") if planner in app]
    if parts:
        print("\nEnter -> first results on screen, in parts (medians, ms):")
        print(table(["app, turn", "to worker", "search", "its CPU", "to app thread", "show call", "wait refresh",
                     "refresh", "GC in it", "GC, all", "total"], parts))
        for name, app in fig["apps"].items():
            for planner in ("rules", "llm"):
                slow = app.get(planner, {}).get("slow_refreshes")
                if slow and slow["turns"]:
                    print(f"  {name} {planner}: {slow['turns']} first-results refreshes over {slow['over_ms']:.0f} ms "
                          f"(median {slow['refresh_ms_median']} ms), {slow['with_a_full_gc']} of them with a full GC "
                          f"pass in them (GC median {slow['gc_ms_in_them_median']} ms)")
    for name, app in fig["apps"].items():
        if "thumbnails" in app:
            t = app["thumbnails"]
            print(f"thumbnails ({name}): Enter -> all visible cards drawn, median cold {t['cold']['median']} ms, "
                  f"warm disk {t['warm_disk']['median']} ms, warm memory {t['warm_memory']['median']} ms "
                  f"(after the first results: {app['thumbnails_after_first_results']})")
        if "llm" in app:
            llm = app["llm"]
            print(f"LLM {name} ({app['threads']} threads): start -> LLM ready {app['start']['llm_ready_s']} s; "
                  f"first LLM turn (no saved prompt state) {app.get('warm_up_final_s')} s; plan call median "
                  f"{llm['plan_call_s']['median']} s ({llm['plan_evaluated_tokens_median']} tokens evaluated, "
                  f"{llm['plan_generated_tokens_median']} generated), {llm['llm_calls_per_turn']} calls per turn, "
                  f"{llm['question_calls']} question wordings")
            m = app["memory_after_queries"]
            print(f"memory ({name}): RSS {m['rss_mb']} MB after the queries, peak {m['hwm_mb']} MB in this app "
                  f"(RSS at search ready, before the LLM: {app['start'].get('rss_at_search_ready_mb')} MB; at LLM "
                  f"ready {app['memory_at_llm_ready']['rss_mb']} MB); process maxrss {m['maxrss_mb']} MB")
    prof = out.get("profile")
    if prof:
        print(f"\nprofile, {prof['turns']} rules turns in a fresh process (cProfile): Enter -> first results "
              f"median {prof['first_on_screen_ms']['median']} ms; turn worker ms {prof['worker_ms']}")
        print(f"slowest turn ({prof['slowest_turn']['worker_ms']} ms in the worker: "
              f"{prof['slowest_turn']['query']!r}), cumulative:")
        print("\n".join(prof["slowest_turn"]["top"][:14]))
        print("app thread, Enter -> first results on screen, by own time:")
        print("\n".join(prof["app_thread_by_own_time"][:10]))
    print()
    for k, v in fig["targets"].items():
        verdict = "-" if v["met"] is None else ("met" if v["met"] else f"MISSED by {v['measured'] - v['target']:.3g}")
        print(f"target {k} <= {v['target']}: measured {v['measured']} ({verdict})")
    codes = [out["machine"]["code"], *(a["code"] for a in out["apps"].values() if a.get("code")),
             *([out["profile"]["code"]] if out.get("profile") else []), out["code_at_end"]]
    same = all(c == codes[0] for c in codes)
    print(f"code: {codes[0]['commit']}" + (f" with product files changed {codes[0]['product_files_changed']}"
                                           if codes[0]["product_files_changed"] else "")
          + ("" if same else f"; WARNING: the product changed during the run: {codes}"))
    print(f"load average at start/end {out['machine']['load_average_1_5_15']} / "
          f"{out['machine'].get('load_average_at_end')}; total {out['total_seconds']} s")


def main(argv: list[str] | None = None) -> dict | None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=None, help="photos in the library (default 1,000)")
    parser.add_argument("--queries", type=int, default=None, help="held-out captions typed (default 30)")
    parser.add_argument("--llm", default=None, help="comma-separated: 1.5b, 0.5b, or none (default 1.5b,0.5b)")
    parser.add_argument("--llm-queries", type=int, default=None, help="queries for the LLM apps (default: all)")
    parser.add_argument("--llm-threads", default="2",
                        help="llama.cpp threads (default 2, this machine's cores; 'auto': the app's own choice, "
                             "the cores idle by the 1-min load average, which this benchmark itself raises)")
    parser.add_argument("--starts", type=int, default=None, help="fresh app instances for the start figures (default 5)")
    parser.add_argument("--thumb-queries", type=int, default=None,
                        help="queries for the thumbnail cold/warm figures (default 10)")
    parser.add_argument("--profile", type=int, default=None, help="rules turns run under cProfile (default 10; 0: none)")
    parser.add_argument("--try", dest="try_fixes", default="",
                        help="comma-separated experiments, done from outside once each app is up: warm-places "
                             "(build the place gazetteer), gc-freeze (gc.freeze() after start), gc-rare (full GC "
                             "passes 100x rarer: gc.set_threshold(700, 10, 1000))")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--wait-llm", type=float, default=900, help="seconds to wait for a GGUF being assembled")
    parser.add_argument("--images", type=Path, default=DEFAULT_FLICKR, help="the flickr8k-test folder")
    parser.add_argument("--quick", action="store_true",
                        help="defaults for a quick look: 200 photos, 6 queries, 2 starts, 2 thumbnail queries, 0.5B only")
    parser.add_argument("--report", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the temporary library and index")
    parser.add_argument("--build-index", type=Path, default=None, help=argparse.SUPPRESS)  # child processes
    parser.add_argument("--profile-child", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--llm-child", nargs=2, metavar=("WORK", "SIZE"), default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.llm_child is not None:
        llm_child(Path(args.llm_child[0]), args.llm_child[1], args)
        return None
    if args.build_index is not None:
        build_index(args.build_index, args.images, args.count)
        return None
    if args.profile_child is not None:
        profile_child(args.profile_child, args)
        return None
    defaults = (dict(count=200, queries=6, starts=2, thumb_queries=2, profile=3, llm="0.5b") if args.quick else
                dict(count=1000, queries=30, starts=5, thumb_queries=10, profile=10, llm="1.5b,0.5b"))
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    args.llm = [s.strip().lower() for s in args.llm.split(",") if s.strip() and s.strip().lower() != "none"]
    report = args.report or default_report("chat-quick" if args.quick else "chat")

    warning = busy_machine_warning()
    if warning:
        log(warning)
    command = " ".join([sys.executable, "-m", "evals.chat", *(sys.argv[1:] if argv is None else argv)])
    started = time.perf_counter()
    out: dict = {"benchmark": "chat", "command": command, "note": NOTE, "targets": TARGETS, "size": SIZE,
                 "tried": args.try_fixes,
                 "load_average_before": os.getloadavg(), "apps": {}}
    with temp_dir("recall-chat-", keep=args.keep) as work:
        log(f"indexing {args.count} photos in a child process (faces and objects off)")
        child = subprocess.run([sys.executable, "-m", "evals.chat", "--build-index", str(work),
                                "--count", str(args.count), "--images", str(args.images)], cwd=ROOT)
        if child.returncode:
            raise SystemExit(f"indexing failed (exit {child.returncode})")
        facts = json.loads((work / "index.json").read_text(encoding="utf-8"))
        out["library"] = {k: v for k, v in facts.items() if k != "queries"}
        log(f"indexed {facts['photos']} photos in {facts['index_seconds']} s")
        asyncio.run(run_all(work, args, facts, out))
        passed = ["--queries", str(args.queries), "--seed", str(args.seed), "--llm-threads", args.llm_threads,
                  "--try", args.try_fixes,
                  "--wait-llm", str(args.wait_llm)] + (["--llm-queries", str(args.llm_queries)] if args.llm_queries else [])
        for size in args.llm:
            log(f"[{size}] an app with the {size} LLM, in a child process of its own")
            child = subprocess.run([sys.executable, "-m", "evals.chat", "--llm-child", str(work), size, *passed],
                                   cwd=ROOT)
            result = work / f"llm-{size}.json"
            out["apps"][size] = (json.loads(result.read_text(encoding="utf-8")) if child.returncode == 0
                                 and result.exists() else {"skipped": f"the {size} child failed (exit {child.returncode})"})
        if args.profile:
            log(f"profiling {args.profile} rules turns in a fresh child process")
            child = subprocess.run([sys.executable, "-m", "evals.chat", "--profile-child", str(work),
                                    "--profile", str(args.profile), "--seed", str(args.seed)], cwd=ROOT)
            if child.returncode == 0:
                out["profile"] = json.loads((work / "profile.json").read_text(encoding="utf-8"))
    out["code_at_end"] = code_version()  # the product may change under a long run: compare with machine.code
    out["self_rusage_maxrss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    out["figures"] = figures(out)
    return finish_report(out, started, report, print_summary)


if __name__ == "__main__":
    main()
