"""Cold `recall` commands: wall time of fresh processes, this code next to an older commit's.

Each timed run is a new Python process running ``recall <command>`` the way a person's shell
does (``recall search "..." --json``, ``recall status --json``, ``recall people``), on a caption
library of Flickr8k-test photos (one human caption each, CLIP off, MiniLM on) indexed once by
this code. ``--against REF`` extracts that commit (``git archive``, nothing in the repository
changes) and times it in the same run, interleaved command by command and round by round, so
both see the same machine load; each variant searches its own copy of the index (an older
version wrote to the index it searched). One untimed run per variant and command goes first
(page cache; the index run, by this code, exported MiniLM to ONNX already). Medians and the
ratio new/old are reported, with the load average, since the machine is shared.

Cold runs have the resident service off (RECALL_SERVICE=off). Beside them, for this code only:
``search (warm)``, the same fresh `recall search` process answered by a running `recall serve`
(started once, untimed; its count of commands served is checked; ``status``/``people (warm)``
likewise: a running service answers them, they never start one), and ``search (first, auto)``,
the default setting's first call with no service running: answered in-process while it starts a
service in the background (each round stops the service first, then waits for the new one).

It also checks that searching leaves this code's index unchanged: every file's SHA-256, size
and mtime before and after all the timed runs (the service's searches included).

    .venv/bin/python -m evals.cli_speed --against a851db3          # 1,000 photos, 7 rounds
    .venv/bin/python -m evals.cli_speed --count 200 --rounds 3     # a quick look
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # `python evals/cli_speed.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evals.common import (ROOT, busy_machine_warning, default_report, finish_report, load_average, log,
                          machine_facts, median, rounded, table, temp_dir)
from evals.library import DEFAULT_FLICKR, build_library

QUERY = "a dog runs through the water on a beach"
COMMANDS = {"search": ["search", QUERY, "--json"], "status": ["status", "--json"], "people": ["people"]}
TARGETS = {"search": 0.8, "status": 0.4, "people": 0.4, "search (warm)": 0.1, "search (first, auto)": 0.8,
           "status (warm)": 0.4, "people (warm)": 0.4}
# The entry point of either code: the thin client where there is one (recall/service/client.py).
RUNNER = ("import sys\ntry:\n    from recall.service.client import main\nexcept ImportError:\n"
          "    from recall.cli import main\nsys.argv = ['recall', *sys.argv[1:]]; main()")
SERVED = ("search (warm)", "search (first, auto)", "status (warm)", "people (warm)")


def snapshot(folder: Path) -> dict[str, tuple[str, int, int]]:
    """relative path -> (sha256, size, mtime_ns) of every file under ``folder``."""
    out = {}
    for path in sorted(Path(folder).rglob("*")):
        if path.is_file():
            st = path.stat()
            out[str(path.relative_to(folder))] = (hashlib.sha256(path.read_bytes()).hexdigest(), st.st_size,
                                                  st.st_mtime_ns)
    return out


def extract(ref: str, target: Path) -> Path:
    """The tree of commit ``ref`` in ``target`` (git archive: the repository is not touched)."""
    target.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def run_once(code: Path, args: list[str], env: dict) -> tuple[float, int, str]:
    """One fresh process of ``recall ARGS`` importing the code in ``code``: (seconds, rc, stderr tail)."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", RUNNER, *args], cwd=code, env=env, capture_output=True, text=True)
    return time.perf_counter() - started, done.returncode, done.stderr.strip()[-300:]


def service_status(code: Path, db: Path, env: dict) -> dict:
    done = subprocess.run([sys.executable, "-c", RUNNER, "serve", "--status", "--json", "--db", str(db)], cwd=code,
                          env=env, capture_output=True, text=True)
    return json.loads(done.stdout) if done.stdout.strip() else {"running": False}


def wait_for_service(code: Path, db: Path, env: dict, not_pid: int | None = None, limit_s: float = 120) -> dict:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        found = service_status(code, db, env)
        if found.get("running") and found.get("pid") != not_pid:
            return found
        time.sleep(0.2)
    raise SystemExit("the service did not come up")


def stop_service(code: Path, db: Path, env: dict) -> None:
    found = service_status(code, db, env)
    if found.get("running"):
        os.kill(found["pid"], signal.SIGTERM)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and os.path.exists(f"/proc/{found['pid']}"):
            time.sleep(0.05)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", default=None, help="a commit to time next to this code (e.g. a851db3)")
    parser.add_argument("--code", default=None,
                        help="time this commit as the new code instead of the working tree (others' edits in progress stay out)")
    parser.add_argument("--count", type=int, default=1000, help="photos in the caption library")
    parser.add_argument("--rounds", type=int, default=7, help="timed runs per command and variant")
    parser.add_argument("--images", type=Path, default=DEFAULT_FLICKR)
    parser.add_argument("--report", type=Path, default=default_report("cli_speed"))
    parser.add_argument("--tmp", type=Path, default=None)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    warning = busy_machine_warning()
    if warning:
        log(warning)
    started = time.perf_counter()
    out: dict = {"benchmark": "cli_speed", "machine": machine_facts(), "photos": args.count, "query": QUERY,
                 "rounds": args.rounds, "against": args.against, "targets_seconds": TARGETS}
    with temp_dir("recall-cli-", keep=args.keep, parent=args.tmp) as tmp:
        new_code = extract(args.code, tmp / "new-code") if args.code else ROOT
        out["code"] = args.code or "working tree"
        library = tmp / "library"
        build_library(library, args.images, count=args.count, sidecar_caption=0)
        runtime = Path(tempfile.mkdtemp(prefix="rcs-"))  # the service's socket folder (short path)
        base_env = {**os.environ, "RECALL_MODELS_DIR": str(tmp / "models"), "RECALL_DATA_DIR": str(tmp / "data"),
                    "RECALL_CACHE_DIR": str(tmp / "cache"), "HF_HUB_OFFLINE": "1", "RECALL_SERVICE": "off",
                    "XDG_RUNTIME_DIR": str(runtime)}
        # PYTHONDONTWRITEBYTECODE (set in some sandboxes, never by a person's shell) would make every
        # run compile the modules changed since the last .pyc anew: the untimed first run writes them.
        for name in ("RECALL_MODELS", "RECALL_DB", "RECALL_SERVICE_IDLE_S", "PYTHONDONTWRITEBYTECODE"):
            base_env.pop(name, None)
        log(f"[cli] indexing {args.count} captioned photos (CLIP off)")
        seconds, rc, tail = run_once(new_code, ["index", str(library), "--quick", "--db", str(tmp / "db-new")], base_env)
        if rc:
            raise SystemExit(f"indexing failed: {tail}")
        out["index_seconds"] = round(seconds, 1)
        variants = {"new": new_code}
        if args.against:
            variants = {"old": extract(args.against, tmp / "old-code"), "new": new_code}
            shutil.copytree(tmp / "db-new", tmp / "db-old")
        envs = {name: {**base_env, "RECALL_CACHE_DIR": str(tmp / f"cache-{name}")} for name in variants}
        served_env = {**envs["new"], "RECALL_SERVICE": "auto"}
        new_db = tmp / "db-new"
        first: dict[str, dict[str, float]] = {}
        for name, code in variants.items():  # untimed: page cache; the new code's ONNX export
            for command, cli_args in COMMANDS.items():
                seconds, rc, tail = run_once(code, [*cli_args, "--db", str(tmp / f"db-{name}")], envs[name])
                if rc:
                    raise SystemExit(f"{name} {command} failed: {tail}")
                first.setdefault(name, {})[command] = round(seconds, 3)
        out["first_runs_seconds"] = first
        before = snapshot(new_db)
        times: dict[str, dict[str, list[float]]] = {name: {c: [] for c in COMMANDS} for name in variants}
        times["new"].update({c: [] for c in SERVED})
        served_counts = []
        loads = []
        search_args = [*COMMANDS["search"], "--db", str(new_db)]
        try:
            for round_ in range(args.rounds):
                loads.append(load_average()[0] if load_average() else None)
                order = list(variants) if round_ % 2 == 0 else list(reversed(variants))
                for command, cli_args in COMMANDS.items():
                    for name in order:
                        seconds, rc, tail = run_once(variants[name], [*cli_args, "--db", str(tmp / f"db-{name}")],
                                                     envs[name])
                        if rc:
                            raise SystemExit(f"{name} {command} failed: {tail}")
                        times[name][command].append(seconds)
                # The default's first call: no service yet; it answers and starts one.
                stop_service(new_code, new_db, served_env)
                seconds, rc, tail = run_once(new_code, search_args, served_env)
                if rc:
                    raise SystemExit(f"search (first, auto) failed: {tail}")
                times["new"]["search (first, auto)"].append(seconds)
                service = wait_for_service(new_code, new_db, served_env)
                warm = [("search (warm)", search_args), ("search (warm)", search_args),
                        ("status (warm)", [*COMMANDS["status"], "--db", str(new_db)]),
                        ("people (warm)", [*COMMANDS["people"], "--db", str(new_db)])]
                for label, cli_args in warm:  # a fresh client process each; the service answers
                    seconds, rc, tail = run_once(new_code, cli_args, served_env)
                    if rc:
                        raise SystemExit(f"{label} failed: {tail}")
                    times["new"][label].append(seconds)
                after_round = service_status(new_code, new_db, served_env)
                served_counts.append(after_round.get("served"))
                if after_round.get("pid") != service["pid"] or after_round.get("served") != len(warm):
                    raise SystemExit(f"the warm searches were not the service's: {after_round}")
                log(f"  round {round_ + 1}/{args.rounds}: " + ", ".join(
                    f"{c} " + " / ".join(f"{times[n][c][-1]:.2f}" for n in variants if times[n].get(c))
                    for c in [*COMMANDS, *SERVED]))
        finally:
            stop_service(new_code, new_db, served_env)
            shutil.rmtree(runtime, ignore_errors=True)
        after = snapshot(new_db)
        changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
        out["index_unchanged_by_new_code"] = {"files": len(before), "changed": changed, "unchanged": not changed}
        out["service_commands_served_per_round"] = served_counts
        out["load_average_per_round"] = loads
        out["seconds"] = {name: {c: {"median": rounded(median(v), 3), "min": rounded(min(v), 3), "runs": [round(x, 3) for x in v]}
                                 for c, v in per.items() if v} for name, per in times.items()}
        if args.against:
            out["ratio_new_over_old"] = {c: rounded(median(times["new"][c]) / median(times["old"][c]), 3) for c in COMMANDS}
    return finish_report(out, started, args.report, print_summary)


def print_summary(out: dict) -> None:
    print()
    names = list(out["seconds"])
    rows = []
    for command in [*COMMANDS, *SERVED]:
        row = [command if command in SERVED else f"{command} (cold)"]
        row += [out["seconds"][n][command]["median"] if command in out["seconds"][n] else "" for n in names]
        if "ratio_new_over_old" in out:
            row.append(out["ratio_new_over_old"].get(command, ""))
        row.append(TARGETS[command])
        rows.append(row)
    headers = ["command"] + [f"{n} median s" for n in names] + (["new/old"] if "ratio_new_over_old" in out else []) + ["target s"]
    print(table(headers, rows))
    check = out["index_unchanged_by_new_code"]
    print(f"index unchanged by {out['rounds']} rounds of the new code's commands: {check['unchanged']} "
          f"({check['files']} files hashed; changed: {check['changed'] or 'none'})")
    print(f"warm searches answered by the service, per round: {out['service_commands_served_per_round']}")
    print(f"first runs (untimed warm-up, cold page cache): {out['first_runs_seconds']}")
    print(f"load average per round: {out['load_average_per_round']}")


if __name__ == "__main__":
    main()
