"""Helpers shared by the benchmarks in this folder (retrieval.py, speed.py).

Machine facts for the JSON report, medians and percentiles, a temporary folder that cleans
up after itself, per-phase peak memory, a plain-text progress line and a small table printer.
Benchmark support only: nothing in the product imports this.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPORTS = ROOT / "evals" / "reports"

if str(ROOT) not in sys.path:  # `python evals/speed.py` as well as `python -m evals.speed`
    sys.path.insert(0, str(ROOT))

# A benchmark must never reach a model hub; the product sets the same defaults on import.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


# ---- figures ----------------------------------------------------------------------------------
def median(values: Sequence[float]) -> float | None:
    return float(statistics.median(values)) if values else None


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100): the value below which p% of the samples fall."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return float(ordered[rank - 1])


def rounded(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(float(value), digits)


# ---- machine ----------------------------------------------------------------------------------
def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def code_version() -> dict:
    """The commit measured, and whether the product's code differed from it (a dirty tree)."""
    import subprocess

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    changed = git("status", "--porcelain", "--", "tools", "recall", "prompts")
    return {"commit": git("rev-parse", "--short", "HEAD"),
            "product_files_changed": changed.splitlines() if changed else []}


def machine_facts() -> dict:
    """What the figures were measured on; load average matters on a shared 2-core machine."""
    try:
        import torch

        torch_threads, interop = torch.get_num_threads(), torch.get_num_interop_threads()
    except ImportError:  # pragma: no cover - a declared dependency
        torch_threads = interop = None
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        affinity = None
    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": affinity,
        "torch_threads": torch_threads,
        "torch_interop_threads": interop,
        "load_average_1_5_15": load_average(),
        "python": platform.python_version(),
        "code": code_version(),
        "versions": {name: _version(name) for name in
                     ("torch", "transformers", "chromadb", "numpy", "pillow", "tokenizers")},
        "env": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "RECALL_MODELS",
                                           "RECALL_MODELS_DIR") if k in os.environ},
    }


def busy_machine_warning() -> str | None:
    """A line to print when other work is competing for the CPU (timings are then inflated)."""
    load = load_average()
    cores = os.cpu_count() or 1
    if load and load[0] > 0.5:
        return (f"note: 1-min load average is {load[0]} on {cores} cores before this benchmark starts: "
                f"other processes compete for the CPU and the timings below will be slower than on an idle machine")
    return None


# ---- memory -----------------------------------------------------------------------------------
def maxrss_mb() -> float:
    """Process-wide peak resident memory so far (getrusage; Linux reports KiB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024, 1)


def _proc_status(field: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return round(int(line.split()[1]) / 1024, 1)
    except (OSError, ValueError):
        pass
    return None


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (Linux >= 4.0) so the next phase's peak is its own."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


class Phase:
    """Times a phase and records its memory: rss before/after, its own peak, process maxrss.

    ``phase_peak_rss_mb`` comes from /proc/self/status VmHWM after resetting it at the start of
    the phase; getrusage's ``maxrss_mb`` is the process high-water mark so far (never resets).
    """

    def __init__(self, name: str, sink: dict):
        self.name, self.sink = name, sink
        self.seconds = 0.0

    def __enter__(self) -> "Phase":
        self._own_peak = reset_peak_rss()
        self.rss_before = _proc_status("VmRSS")
        self.cpu_started = time.process_time()
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.started
        self.sink[self.name] = {
            "seconds": round(self.seconds, 3),
            # CPU time of this process (all threads): on a busy machine wall time grows, this less so
            "cpu_seconds": round(time.process_time() - self.cpu_started, 3),
            "rss_before_mb": self.rss_before,
            "rss_after_mb": _proc_status("VmRSS"),
            "phase_peak_rss_mb": _proc_status("VmHWM") if self._own_peak else None,
            "maxrss_mb": maxrss_mb(),
        }


# ---- files ------------------------------------------------------------------------------------
@contextlib.contextmanager
def temp_dir(prefix: str, keep: bool = False, parent: Path | None = None) -> Iterator[Path]:
    """A fresh folder for libraries, indexes and models; removed afterwards unless ``keep``."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    try:
        yield path
    finally:
        if keep:
            print(f"kept {path}", file=sys.stderr)
        else:
            shutil.rmtree(path, ignore_errors=True)


def default_report(name: str) -> Path:
    return REPORTS / f"{name}.json"


def write_report(path: Path, data: dict) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def finish_report(out: dict, started: float, path: Path, print_summary) -> dict:
    """The end of every benchmark: total time and load, the printed table, the JSON report."""
    out["total_seconds"] = round(time.perf_counter() - started, 1)
    out["machine"]["load_average_at_end"] = machine_facts()["load_average_1_5_15"]
    print_summary(out)
    print(f"\nreport: {write_report(path, out)}")
    return out


# ---- output -----------------------------------------------------------------------------------
def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class TextProgress:
    """Speaks the indexer's Progress protocol (start/advance) and serves plain loops too.

    Prints one line to stderr at most every ``every`` seconds, plus one when a phase ends.
    """

    def __init__(self, label: str = "", every: float = 10.0):
        self.label, self.every = label, every
        self.phase, self.total, self.done = "", 0, 0

    def start(self, phase: str, total: int) -> None:
        self.phase, self.total, self.done = phase, total, 0
        self.started = self.last = time.perf_counter()

    def advance(self, count: int = 1) -> None:
        self.done += count
        now = time.perf_counter()
        if now - self.last >= self.every or self.done >= self.total:
            self.last = now
            elapsed = now - self.started
            rate = self.done / elapsed if elapsed > 0 else 0.0
            left = (self.total - self.done) / rate if rate > 0 else 0.0
            prefix = f"[{self.label}] " if self.label else ""
            log(f"  {prefix}{self.phase}: {self.done}/{self.total} ({rate:.1f}/s, "
                f"{elapsed:.0f}s elapsed, ~{left:.0f}s left)")


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain fixed-width table (left-aligned first column, right-aligned numbers)."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in cells)) if cells else len(str(h))
              for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(values, widths)))

    return "\n".join([line([str(h) for h in headers]), line(["-" * w for w in widths]), *map(line, cells)])


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value == 0:
            return "0"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 1:
            return f"{value:.2f}"
        return f"{value:.3g}"
    return str(value)
