"""`recall chat` starting on its own models next to one sharing a warm `recall serve`.

    python -m evals.chat_service [--count 200] [--rounds 3] [--llm 0.5b]

A caption library of Flickr8k-test photos (one human caption each, CLIP off, MiniLM on) is indexed
once; the models folder holds the local LLM (the tests' 0.5B GGUF by default). A service for that
index and models folder is started by a `recall ask` and has loaded the LLM (a second `recall
ask`) before timing starts. Then, in fresh processes, interleaved round by round (ABBA), the chat's
engine (recall/chat/engine.py, what the app's start worker runs: open, warm the embedder, the
gazetteer, the LLM) is timed to "ready" (a turn can use the LLM) and to its first turn's final
reply, once on its own models and once through the service (``service_args`` given, as `recall
chat` gives them). Medians are reported with the load average: the machine is shared.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from evals.common import (busy_machine_warning, default_report, finish_report, log, machine_facts, median, rounded,
                          table, temp_dir)
from evals.library import DEFAULT_FLICKR, build_library

QUERY = "a dog running through the water"
CHILD = r'''
import json, sys, time
started = time.perf_counter()
from pathlib import Path
from recall.chat.engine import CancelToken, ChatEngine
from tools.settings import load_settings
mode, db, models = sys.argv[1:4]
engine = ChatEngine(load_settings(db=Path(db), models_dir=Path(models)), session=f"start-{mode}", new=True,
                    service_args=["--db", db, "--models-dir", models] if mode == "service" else None)
engine.open(); engine.warm(); engine.warm_places(); engine.load_llm()
ready = time.perf_counter() - started
reply = engine.turn(sys.argv[4], CancelToken(), 1).reply
print(json.dumps({"ready_s": ready, "first_final_s": time.perf_counter() - started, "planner": reply.planner,
                  "via_service": engine.via_service, "results": len(reply.results)}))
'''


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200, help="photos in the caption library")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--llm", default="0.5b", help='"0.5b" or "1.5b": the GGUF assembled as the tests do')
    parser.add_argument("--images", type=Path, default=DEFAULT_FLICKR)
    parser.add_argument("--report", type=Path, default=default_report("chat_service"))
    args = parser.parse_args(argv)
    from tests.test_llm_planner import CACHE
    from tools.models.llm_setup import assemble_llm

    out: dict = {"benchmark": "chat_service", "machine": machine_facts(), "params": vars(args) | {"images": str(args.images)}}
    started = time.perf_counter()
    warning = busy_machine_warning()
    if warning:
        log(warning)
    with temp_dir("chat-service-") as tmp:
        runtime = tmp / "run"
        runtime.mkdir(mode=0o700)
        env = {**os.environ, "RECALL_DATA_DIR": str(tmp / "data"), "RECALL_CACHE_DIR": str(tmp / "cache"),
               "XDG_RUNTIME_DIR": str(runtime), "RECALL_SERVICE": "auto"}
        for name in ("RECALL_DB", "RECALL_MODELS", "RECALL_MODELS_DIR", "PYTHONDONTWRITEBYTECODE"):
            env.pop(name, None)
        models, db = tmp / "models", tmp / "db"
        (models / "llm").mkdir(parents=True)
        gguf = assemble_llm(CACHE, args.llm, log=log)
        (models / "llm" / gguf.name).symlink_to(gguf)
        library = tmp / "library"
        build_library(library, args.images, count=args.count, sidecar_caption=0)
        index_args = ["--db", str(db), "--models-dir", str(models)]

        def recall(*words: str) -> None:
            done = subprocess.run([sys.executable, "-m", "recall", *words, *index_args], env=env,
                                  capture_output=True, text=True)
            if done.returncode:
                raise SystemExit(f"recall {words[0]} failed: {done.stderr[-500:]}")

        log(f"[chat] indexing {args.count} captioned photos")
        recall("index", str(library), "--quick")
        recall("ask", "warm up", "--json", "--session", "warm")  # answered here; starts the service
        from recall.service.client import service_running

        deadline = time.monotonic() + 120
        while not service_running(index_args) and time.monotonic() < deadline:
            time.sleep(0.5)
        recall("ask", "warm up the LLM", "--json", "--session", "warm")  # the service loads the LLM
        runs: dict[str, list[dict]] = {"own models": [], "via recall serve": []}
        modes = {"own models": "local", "via recall serve": "service"}
        for r in range(args.rounds):
            for name in (list(runs) if r % 2 == 0 else list(reversed(runs))):
                done = subprocess.run([sys.executable, "-c", CHILD, modes[name], str(db), str(models), QUERY],
                                      env=env, capture_output=True, text=True)
                if done.returncode:
                    raise SystemExit(f"{name} failed: {done.stderr[-800:]}")
                runs[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
                log(f"  round {r + 1}: {name}: {runs[name][-1]}")
        subprocess.run([sys.executable, "-m", "recall", "serve", "--stop", *index_args], env=env, capture_output=True)
    out["modes"] = {name: {"ready_s_median": rounded(median([x["ready_s"] for x in v]), 2),
                           "first_final_reply_s_median": rounded(median([x["first_final_s"] for x in v]), 2),
                           "planners": sorted({x["planner"] for x in v}),
                           "via_service": sorted({x["via_service"] for x in v}), "runs": v}
                    for name, v in runs.items()}
    return finish_report(out, started, args.report, print_summary)


def print_summary(out: dict) -> None:
    print(table(["chat start", "ready s (median)", "first LLM reply s (median)", "planner", "via service"],
                [[name, m["ready_s_median"], m["first_final_reply_s_median"], ",".join(m["planners"]),
                  ",".join(map(str, m["via_service"]))] for name, m in out["modes"].items()]))


if __name__ == "__main__":
    main()
