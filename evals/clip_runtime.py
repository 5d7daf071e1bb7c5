"""Which runtime CLIP's image tower (and MiniLM) should run on: side by side, interleaved, medians.

    python -m evals.clip_runtime [--photos 256] [--rounds 7] [--index-photos 320]

For each runtime of tools/models/clip_runtime.py (torch fp32, torch bf16 autocast, ONNX Runtime
fp32 and int8, OpenVINO at its default precision; ``--runtimes ... openvino-fp32`` adds its fp32):
  - images/s of the image tower alone, batches of 16 and 32, the torch thread count of the product
    (2), rounds interleaved in a rotating order so a load spike hits every runtime alike;
  - cosine to torch fp32 (min, 1st percentile, median) over real Flickr8k photos, on ViT-B/32's
    architecture with random weights (no pretrained CLIP on this machine) and on the tests'
    trained tiny CLIP, plus the tiny CLIP's zero-shot accuracy on fresh drawings (its test task);
  - end-to-end ``Indexer.run`` photos/s over 224 px photos (real store, zero-shot tags on), and
    the encoder's busy share (its forward-pass seconds / the run's wall time);
  - MiniLM (the caption embedder): torch fp32 / bf16, ONNX Runtime fp32 (the current default) /
    int8, OpenVINO: cosine to torch fp32, caption-to-caption Recall@1/5, texts/s.
The rule (issue 11): a reduced-precision runtime may be the default only if its embeddings stay
within cosine 0.995 of fp32 on ViT-B/32 and the tiny CLIP's accuracy does not drop.
"""
from __future__ import annotations

import argparse
import gc
import hashlib
import os
import random
import shutil
import sys
import time
from pathlib import Path

from evals.common import (busy_machine_warning, default_report, finish_report, log, machine_facts, median,
                          percentile, rounded, table, temp_dir)

import numpy as np

FLICKR = Path(__file__).resolve().parents[2] / "shared" / "data" / "flickr8k-test"
RANDOM_CLIP = "vit-b32-random"
TINY_CLIP = "tiny-shapes-clip"
RULE_COSINE = 0.995
CLIP_RUNTIMES = ("torch", "torch-bf16", "onnx", "onnx-int8", "openvino")  # and openvino-fp32 on request
TEXT_RUNTIMES = ("torch", "torch-bf16", "onnx", "onnx-int8", "openvino")


# ---- inputs -------------------------------------------------------------------------------------
def copy_photos(flickr: Path, out: Path, count: int) -> list[Path]:
    """Real 224 px photos (Flickr8k-test is 224x224 already), copied: the shared data stays untouched."""
    out.mkdir(parents=True, exist_ok=True)
    names = sorted(p.name for p in (flickr / "images").glob("*.jpg"))[:count]
    return [Path(shutil.copy2(flickr / "images" / name, out / name)) for name in names]


def tiny_clip_folder(models_dir: Path) -> Path:
    """The tests' tiny CLIP: their cached copy (tests/conftest.py's key) or trained here (~1 min)."""
    from tests.support import synthetic_clip

    key = hashlib.sha256(Path(synthetic_clip.__file__).read_bytes()).hexdigest()[:16]
    cache = Path(os.environ.get("RECALL_TEST_CACHE", Path.home() / ".cache" / "photo-recall" / "test-models"))
    cached = cache / f"tiny-clip-{key}"
    target = models_dir / "clip" / TINY_CLIP
    if (cached / "model.safetensors").is_file():
        shutil.copytree(cached, target)
    else:
        log("[tiny CLIP] not cached: training it (~1 min)")
        synthetic_clip.build_tiny_clip(target, seed=0)
    return target


def preprocessed(clip, photos: list[Path]) -> np.ndarray:
    from PIL import Image

    def one(path: Path) -> np.ndarray:
        with Image.open(path) as image:
            return clip.preprocess(image)

    return np.stack([one(p) for p in photos]).astype(np.float32)


def normalised(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def embed_all(encoder, pixels: np.ndarray, batch: int = 32) -> np.ndarray:
    return normalised(np.concatenate([encoder(pixels[i:i + batch]) for i in range(0, len(pixels), batch)]))


def cosine_figures(ours: np.ndarray, reference: np.ndarray) -> dict:
    cos = (ours * reference).sum(axis=1)
    return {"min": rounded(cos.min(), 5), "p1": rounded(percentile(cos.tolist(), 1), 5),
            "median": rounded(np.median(cos), 6), "n": int(len(cos))}


# ---- the image tower ----------------------------------------------------------------------------
def encoders_for(clip, path: Path, models_dir: Path, runtimes, threads: int) -> tuple[dict, dict]:
    from tools.models.clip_runtime import build_encoder

    encoders, loads = {}, {}
    for runtime in runtimes:
        started = time.perf_counter()
        try:
            encoder = build_encoder(runtime, clip.model, path, models_dir, clip.preprocess.size, threads)
            encoder(np.zeros((1, 3, clip.preprocess.size, clip.preprocess.size), np.float32))
            encoders[runtime] = encoder
            loads[runtime] = round(time.perf_counter() - started, 2)
        except Exception as error:  # noqa: BLE001 - a runtime that cannot run is a figure too
            loads[runtime] = f"failed: {type(error).__name__}: {str(error)[:200]}"
            log(f"  {runtime}: {loads[runtime]}")
    return encoders, loads


def throughput(encoders: dict, pixels: np.ndarray, rounds: int, batches=(16, 32)) -> dict:
    samples = {(name, b): [] for name in encoders for b in batches}
    names = list(encoders)
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            for b in batches:
                chunk = pixels[(r * b) % max(1, len(pixels) - b):][:b]
                started = time.perf_counter()
                encoders[name](chunk)
                samples[(name, b)].append(len(chunk) / (time.perf_counter() - started))
        log(f"  round {r + 1}/{rounds}: load {os.getloadavg()[0]:.1f}")
    out = {}
    for name in names:
        out[name] = {f"batch_{b}": {"median_images_per_second": rounded(median(samples[(name, b)]), 1),
                                    "samples": [round(s, 1) for s in samples[(name, b)]]} for b in batches}
    base = {b: out["torch"][f"batch_{b}"]["median_images_per_second"] for b in batches} if "torch" in out else {}
    for name in names:
        for b in batches:
            if base.get(b):
                out[name][f"batch_{b}"]["x_torch_fp32"] = rounded(
                    out[name][f"batch_{b}"]["median_images_per_second"] / base[b], 2)
    return out


def zero_shot(clip, embed_images, n: int = 400, seed: int = 2024) -> dict:
    """tests/test_synthetic_clip.py's task: name colour x shape of fresh drawings, through ``embed_images``."""
    from tests.support.synthetic_clip import COLOURS, SHAPES, ZERO_SHOT_TEMPLATE, draw_shape

    classes = [(c, s) for c in COLOURS for s in SHAPES]
    rng = random.Random(seed)
    truth = [classes[rng.randrange(len(classes))] for _ in range(n)]
    pixels = np.stack([clip.preprocess(draw_shape(s, c, rng=rng)) for c, s in truth]).astype(np.float32)
    prompts = clip.embed_texts([ZERO_SHOT_TEMPLATE.format(c=c, s=s) for c, s in classes])
    guesses = [classes[int(k)] for k in (embed_images(pixels) @ prompts.T).argmax(axis=1)]
    return {"joint": sum(g == t for g, t in zip(guesses, truth)) / n,
            "colour": sum(g[0] == t[0] for g, t in zip(guesses, truth)) / n,
            "shape": sum(g[1] == t[1] for g, t in zip(guesses, truth)) / n, "n": n, "seed": seed}


def image_tower(args, tmp: Path, photos: list[Path], out: dict) -> None:
    from tests.support.synthetic_clip import build_random_clip
    from tools.models.clip import ClipModel

    models_dir = tmp / "models"
    build_random_clip(models_dir / "clip" / RANDOM_CLIP)
    tiny = tiny_clip_folder(models_dir)
    for label, folder, rounds in (("vit_b32_random", models_dir / "clip" / RANDOM_CLIP, args.rounds),
                                  ("tiny_clip", tiny, 0)):
        log(f"[{label}] loading the runtimes (first use exports/quantises the graph)")
        clip = ClipModel(folder, args.threads)
        pixels = preprocessed(clip, photos)
        encoders, loads = encoders_for(clip, folder, models_dir, args.runtimes, args.threads)
        reference = embed_all(encoders["torch"], pixels)
        section = {"load_seconds_first_use": loads, "cosine_to_torch_fp32": {}}
        for name, encoder in encoders.items():
            section["cosine_to_torch_fp32"][name] = cosine_figures(embed_all(encoder, pixels), reference)
        if label == "tiny_clip":
            section["zero_shot"] = {name: zero_shot(clip, lambda p, e=encoder: embed_all(e, p))
                                    for name, encoder in encoders.items()}
        if rounds:
            log(f"[{label}] images/s, {rounds} interleaved rounds")
            section["images_per_second"] = throughput(encoders, pixels, rounds)
        out[label] = section
        del clip, encoders
        gc.collect()


# ---- end to end -------------------------------------------------------------------------------
def indexing(args, tmp: Path, out: dict) -> None:
    from evals.speed import index_once
    from tools.settings import load_settings

    library = tmp / "library-224"
    copy_photos(args.flickr, library, args.index_photos)
    runs: dict[str, list[dict]] = {name: [] for name in args.index_runtimes}
    names = list(args.index_runtimes)
    for r in range(args.index_rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            settings = load_settings(db=tmp / f"db-{name}-{r}", models_dir=tmp / "models", clip_model=RANDOM_CLIP,
                                     clip_runtime=name, cache_dir=tmp / "cache", analyze_faces=False)
            run = index_once(settings, library, f"index {name}", every=60, preload=("clip", "zero_shot"))
            run["load_average"] = round(os.getloadavg()[0], 2)
            runs[name].append(run)
            log(f"  {name}: {run['photos_per_second']} photos/s, encoder busy {run.get('model_busy_fraction')}")
    out["indexing"] = {"photos": args.index_photos, "photo_size": "224x224 JPEG (Flickr8k-test copies)",
                       "batch_size": load_settings().clip_batch_size, "decode_threads": load_settings().decode_threads}
    for name, done in runs.items():
        out["indexing"][name] = {
            "median_photos_per_second": rounded(median([d["photos_per_second"] for d in done]), 1),
            "median_encoder_busy_share": rounded(median([d.get("model_busy_fraction") or 0 for d in done]), 3),
            "runs": [{k: d.get(k) for k in ("photos_per_second", "model_busy_fraction", "wall_seconds",
                                            "clip_forward_seconds", "new", "load_average")} for d in done]}


# ---- MiniLM -----------------------------------------------------------------------------------
class _OpenVinoSession:
    """OnnxTextEmbedder's session.run, served by OpenVINO from the same ONNX file."""

    def __init__(self, graph: Path, threads: int):
        from tools.models.clip_runtime import import_openvino

        core = import_openvino().Core()
        model = core.compile_model(core.read_model(str(graph)), "CPU",
                                   {"INFERENCE_NUM_THREADS": threads, "NUM_STREAMS": 1, "PERFORMANCE_HINT": "LATENCY"})
        self.request, self.output = model.create_infer_request(), model.output(0)

    def run(self, _names, feeds: dict) -> list[np.ndarray]:
        return [np.array(self.request.infer(feeds)[self.output], dtype=np.float32)]


def text_embedders(tmp: Path, threads: int, runtimes) -> tuple[dict, dict]:
    import torch

    from tools.models.clip_runtime import quantized_file
    from tools.models.text_embedder import TextEmbedder, packaged_minilm
    from tools.models.text_onnx import OnnxTextEmbedder, export, onnx_file

    path = packaged_minilm()
    graph = onnx_file(tmp / "models", path)
    export(path, graph)
    torch_model = TextEmbedder(path, threads)

    def bf16(texts: list[str]) -> np.ndarray:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return torch_model.embed(texts)

    makers = {"torch": lambda: torch_model.embed, "torch-bf16": lambda: bf16,
              "onnx": lambda: OnnxTextEmbedder(path, graph, threads).embed,
              "onnx-int8": lambda: OnnxTextEmbedder(path, quantized_file(graph), threads).embed}

    def openvino_embedder():
        embedder = OnnxTextEmbedder(path, graph, threads)
        embedder.session = _OpenVinoSession(graph, threads)
        return embedder.embed

    makers["openvino"] = openvino_embedder
    embedders, loads = {}, {}
    for name in runtimes:
        started = time.perf_counter()
        try:
            embedders[name] = makers[name]()
            embedders[name](["warm up"])
            loads[name] = round(time.perf_counter() - started, 2)
        except Exception as error:  # noqa: BLE001
            loads[name] = f"failed: {type(error).__name__}: {str(error)[:200]}"
    return embedders, loads


def text_side(args, tmp: Path, out: dict) -> None:
    from evals.library import load_captions

    captions = list(load_captions(args.flickr).values())[:args.text_photos]
    docs = [c[0] for c in captions]
    queries = [(q, i) for i, c in enumerate(captions) for q in c[1:]]
    texts = docs + [q for q, _ in queries]
    embedders, loads = text_embedders(tmp, args.threads, args.text_runtimes)
    section = {"texts": len(texts), "load_seconds_first_use": loads, "cosine_to_torch_fp32": {}, "retrieval": {}}
    vectors = {name: embed(texts) for name, embed in embedders.items()}
    for name, v in vectors.items():
        section["cosine_to_torch_fp32"][name] = cosine_figures(v, vectors["torch"])
        d, q = v[:len(docs)], v[len(docs):]
        ranks = np.argsort(-(q @ d.T), axis=1)
        truth = np.array([i for _, i in queries])
        section["retrieval"][name] = {f"recall_at_{k}": rounded(float((ranks[:, :k] == truth[:, None]).any(1).mean()), 4)
                                      for k in (1, 5)}
    section["retrieval"]["task"] = f"caption 0 of {len(docs)} photos as documents, their other captions as queries"
    samples = {name: [] for name in embedders}
    chunk = texts[:256]
    names = list(embedders)
    for r in range(args.rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            started = time.perf_counter()
            embedders[name](chunk)
            samples[name].append(len(chunk) / (time.perf_counter() - started))
    base = median(samples["torch"])
    onnx_base = median(samples["onnx"]) if samples.get("onnx") else None
    section["texts_per_second"] = {name: {"median": rounded(median(s), 1), "x_torch_fp32": rounded(median(s) / base, 2),
                                          "x_onnx_fp32": rounded(median(s) / onnx_base, 2) if onnx_base else None}
                                   for name, s in samples.items()}
    out["minilm"] = section


# ---- the pick ---------------------------------------------------------------------------------
def pick(out: dict) -> dict:
    """The fastest runtime (batch 16) whose embeddings pass the rule on both models."""
    speeds = out["vit_b32_random"]["images_per_second"]
    tiny_torch = out["tiny_clip"]["zero_shot"]["torch"]["joint"]
    verdicts = {}
    for name, speed in speeds.items():
        cos_big = out["vit_b32_random"]["cosine_to_torch_fp32"][name]["min"]
        tiny = out["tiny_clip"]["cosine_to_torch_fp32"].get(name, {}).get("min")
        joint = out["tiny_clip"]["zero_shot"].get(name, {}).get("joint")
        ok = cos_big >= RULE_COSINE and tiny is not None and tiny >= RULE_COSINE and joint >= tiny_torch
        verdicts[name] = {"passes_rule": ok, "images_per_second_batch_16": speed["batch_16"]["median_images_per_second"],
                          "cosine_min_vit_b32": cos_big, "cosine_min_tiny": tiny, "tiny_zero_shot_joint": joint}
    passing = [n for n, v in verdicts.items() if v["passes_rule"]]
    best = max(passing, key=lambda n: verdicts[n]["images_per_second_batch_16"])
    return {"rule": f"cosine min >= {RULE_COSINE} to torch fp32 on ViT-B/32 and the tiny CLIP, "
                    f"tiny zero-shot joint accuracy >= torch fp32's ({tiny_torch})",
            "fastest_passing": best, "verdicts": verdicts}


def _cos(value) -> str:
    return "-" if value is None else f"{value:.5f}"


def print_summary(out: dict) -> None:
    if "vit_b32_random" in out:
        big, tiny = out["vit_b32_random"], out["tiny_clip"]
        rows = []
        for name in big["images_per_second"]:
            s = big["images_per_second"][name]
            rows.append([name, s["batch_16"]["median_images_per_second"], s["batch_16"].get("x_torch_fp32"),
                         s["batch_32"]["median_images_per_second"], _cos(big["cosine_to_torch_fp32"][name]["min"]),
                         _cos(big["cosine_to_torch_fp32"][name]["median"]),
                         _cos(tiny["cosine_to_torch_fp32"].get(name, {}).get("min")),
                         tiny["zero_shot"].get(name, {}).get("joint"),
                         out.get("indexing", {}).get(name, {}).get("median_photos_per_second"),
                         out.get("indexing", {}).get(name, {}).get("median_encoder_busy_share")])
        print(table(["runtime", "img/s b16", "x fp32", "img/s b32", "cos min B/32", "cos med B/32", "cos min tiny",
                     "tiny 0-shot", "index photos/s", "busy"], rows))
        print(f"\npick: {out['pick']['fastest_passing']} ({out['pick']['rule']})")
    if "minilm" in out:
        m = out["minilm"]
        print()
        print(table(["MiniLM", "texts/s", "x torch fp32", "x onnx fp32", "cos min", "cos median", "R@1", "R@5"],
                    [[n, v["median"], v["x_torch_fp32"], v["x_onnx_fp32"], _cos(m["cosine_to_torch_fp32"][n]["min"]),
                      _cos(m["cosine_to_torch_fp32"][n]["median"]), m["retrieval"][n]["recall_at_1"],
                      m["retrieval"][n]["recall_at_5"]] for n, v in m["texts_per_second"].items()]))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flickr", type=Path, default=FLICKR)
    parser.add_argument("--photos", type=int, default=256, help="real photos for the cosine figures (>= 200)")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runtimes", nargs="+", default=list(CLIP_RUNTIMES))
    parser.add_argument("--index-photos", type=int, default=320)
    parser.add_argument("--index-rounds", type=int, default=2)
    parser.add_argument("--index-runtimes", nargs="+", default=["torch", "torch-bf16", "onnx-int8", "openvino"])
    parser.add_argument("--text-photos", type=int, default=300)
    parser.add_argument("--text-runtimes", nargs="+", default=list(TEXT_RUNTIMES))
    parser.add_argument("--skip", nargs="*", default=[], choices=["tower", "indexing", "text"])
    parser.add_argument("--report", type=Path, default=default_report("clip_runtime"))
    args = parser.parse_args(argv)

    import logging

    logging.getLogger().setLevel(logging.ERROR)  # onnxruntime.quantization's advice to run pre-processing
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    import torch

    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    out: dict = {"machine": machine_facts(), "threads": args.threads}
    warning = busy_machine_warning()
    if warning:
        log(warning)
    with temp_dir("clip-runtime-") as tmp:
        photos = copy_photos(args.flickr, tmp / "photos", args.photos)
        out["photos"] = len(photos)
        if "tower" not in args.skip:
            image_tower(args, tmp, photos, out)
            out["pick"] = pick(out)
        if "indexing" not in args.skip:
            if "tower" in args.skip:
                from tests.support.synthetic_clip import build_random_clip

                build_random_clip(tmp / "models" / "clip" / RANDOM_CLIP)
            log(f"[index] {args.index_photos} photos of 224 px, {args.index_rounds} rounds")
            indexing(args, tmp, out)
        if "text" not in args.skip:
            log("[MiniLM] cosine, retrieval, texts/s")
            text_side(args, tmp, out)
    return finish_report(out, started, args.report, print_summary)


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
