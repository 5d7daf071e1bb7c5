"""How far a static int8 image tower would take CLIP indexing on this CPU: the ceiling behind
issue 11's "100 photos/s" target, measured, not shipped.

    pip install --target /tmp/nncf --no-deps nncf natsort networkx jstyleson tabulate pydot ninja psutil
    PYTHONPATH=/tmp/nncf .venv/bin/python -m evals.clip_int8 [--calibration 300] [--rounds 3]

ViT-B/32's architecture with random weights (no pretrained CLIP on this machine), exported to
ONNX as the product exports it (tools/models/clip_runtime.py); NNCF's post-training quantisation
(transformer preset, SmoothQuant, calibrated on real Flickr8k-test photos); then, interleaved
round by round with the same 2 threads: OpenVINO at its default precision (bf16 here: the
product's runtime) and the int8 graph, images/s in batches of 16, and each one's cosine to
OpenVINO fp32 over photos the calibration did not see. NNCF is not a dependency (it pulls
pandas, scikit-learn and more, and quantising takes a minute at first use), and random weights
flatter int8 (a trained CLIP's outlier activations are what int8 loses), so this bounds what a
shipped int8 path could give; it does not qualify one.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from evals.clip_runtime import FLICKR, RANDOM_CLIP, normalised, preprocessed
from evals.common import default_report, finish_report, log, machine_facts, median, rounded, table, temp_dir


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flickr", type=Path, default=FLICKR)
    parser.add_argument("--calibration", type=int, default=300)
    parser.add_argument("--test-photos", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--report", type=Path, default=default_report("clip_int8"))
    args = parser.parse_args(argv)
    sys.modules.setdefault("openvino_telemetry", None)  # as tools/models/clip_runtime.import_openvino
    try:
        import nncf
    except ImportError:
        raise SystemExit("NNCF is not installed: see this module's docstring for the one-line install") from None
    from tests.support.synthetic_clip import build_random_clip
    from tools.models.clip import ClipModel
    from tools.models.clip_runtime import export_file, export_image_tower, import_openvino

    out = {"benchmark": "clip_int8", "machine": machine_facts()}
    started = time.perf_counter()
    with temp_dir("clip-int8-") as tmp:
        folder = tmp / "models" / "clip" / RANDOM_CLIP
        build_random_clip(folder)
        clip = ClipModel(folder, args.threads, runtime="torch")
        graph = export_image_tower(clip.model, clip.preprocess.size, export_file(tmp / "models", folder))
        photos = sorted((args.flickr / "images").glob("*.jpg"))
        calibration = preprocessed(clip, photos[:args.calibration])
        test = preprocessed(clip, photos[args.calibration:args.calibration + args.test_photos])
        core = import_openvino().Core()
        model = core.read_model(str(graph))
        log(f"[int8] quantising with NNCF on {len(calibration)} photos")
        quantise_started = time.perf_counter()
        quantised = nncf.quantize(model, nncf.Dataset([calibration[i:i + 1] for i in range(len(calibration))]),
                                  model_type=nncf.ModelType.TRANSFORMER, subset_size=len(calibration))
        out["quantise_seconds"] = round(time.perf_counter() - quantise_started, 1)
        config = {"INFERENCE_NUM_THREADS": args.threads, "NUM_STREAMS": 1, "PERFORMANCE_HINT": "LATENCY"}
        requests = {"openvino fp32": core.compile_model(model, "CPU", {**config, "INFERENCE_PRECISION_HINT": "f32"}),
                    "openvino default (bf16)": core.compile_model(model, "CPU", config),
                    "openvino int8 (NNCF)": core.compile_model(quantised, "CPU", config)}
        requests = {name: compiled.create_infer_request() for name, compiled in requests.items()}

        def run(name: str, pixels: np.ndarray) -> np.ndarray:
            return np.concatenate([np.array(requests[name].infer({0: pixels[i:i + 16]})[0])
                                   for i in range(0, len(pixels), 16)])

        reference = normalised(run("openvino fp32", test))
        cosine = {}
        for name in list(requests)[1:]:
            cos = (normalised(run(name, test)) * reference).sum(axis=1)
            cosine[name] = {"min": rounded(cos.min(), 5), "median": rounded(np.median(cos), 6)}
        speeds = {name: [] for name in list(requests)[1:]}
        chunk = test[:128]
        for r in range(args.rounds):
            names = list(speeds)[r % 2:] + list(speeds)[:r % 2]
            for name in names:
                t = time.perf_counter()
                run(name, chunk)
                speeds[name].append(len(chunk) / (time.perf_counter() - t))
            log(f"  round {r + 1}/{args.rounds}: " + ", ".join(f"{n} {s[-1]:.1f}" for n, s in speeds.items()))
        base = median(speeds["openvino default (bf16)"])
        out["runtimes"] = {name: {"images_per_second_median": rounded(median(s), 1),
                                  "x_default": rounded(median(s) / base, 2), "cosine_to_fp32": cosine[name]}
                           for name, s in speeds.items()}
    return finish_report(out, started, args.report, print_summary)


def print_summary(out: dict) -> None:
    print(table(["image tower", "images/s", "x default", "cos min", "cos median"],
                [[n, v["images_per_second_median"], v["x_default"], f'{v["cosine_to_fp32"]["min"]:.5f}',
                  f'{v["cosine_to_fp32"]["median"]:.6f}'] for n, v in out["runtimes"].items()]))
    print(f"NNCF quantising took {out['quantise_seconds']} s")


if __name__ == "__main__":
    main()
