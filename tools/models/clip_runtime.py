"""Where CLIP's image tower runs: torch fp32, torch bf16, ONNX Runtime (fp32 / int8) or OpenVINO.

Why: indexing is CLIP's image tower and little else. On two cores OpenVINO (bf16 where the CPU
has it) ran ViT-B/32 3.5-4.2x faster than torch fp32, with embeddings within cosine 0.9997 of
fp32; ONNX Runtime int8 2.9-3.1x (``python -m evals.clip_runtime``, README "Measured").

The graph is exported once per model from the torch weights (``torch.onnx``) into
``models_dir/clip-onnx/`` (owner-only), named by a fingerprint of the weight files, so a changed
model is exported again; OpenVINO reads that ONNX file with its own reader. OpenVINO's usage
reporting (openvino-telemetry, on by default) is kept from loading: see ``import_openvino``.
The text tower stays on torch: it embeds a query, or the tag prompts once.

Any runtime other than torch that is missing or fails, at load or on a batch, falls back to
torch fp32 with a one-line notice; ``torch`` is always there and is exactly the old path.
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import logging
import sys
import warnings
from pathlib import Path
from typing import Callable

import numpy as np

from tools.private import write_private_with

log = logging.getLogger(__name__)

# "auto" means DEFAULT_RUNTIME; chosen from the side-by-side figures of evals/clip_runtime.py
# under the rule that a reduced-precision path stays within cosine 0.995 of torch fp32.
DEFAULT_RUNTIME = "openvino"
RUNTIMES = ("torch", "torch-bf16", "onnx", "onnx-int8", "openvino", "openvino-fp32")
WEIGHT_FILES = ("config.json", "model.safetensors", "pytorch_model.bin")

Encoder = Callable[[np.ndarray], np.ndarray]  # (N, 3, S, S) float32 -> (N, dim) unnormalised


def export_file(models_dir: Path, model_path: Path) -> Path:
    """The fp32 ONNX export of the image tower of the CLIP at ``model_path`` (new name on new weights)."""
    digest = hashlib.blake2b(digest_size=8)
    for name in WEIGHT_FILES:
        with contextlib.suppress(OSError):
            st = (Path(model_path) / name).stat()
            digest.update(f"{name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    digest.update(str(Path(model_path).resolve()).encode("utf-8", "surrogateescape"))
    return Path(models_dir) / "clip-onnx" / f"{Path(model_path).name}-{digest.hexdigest()}.onnx"


def export_image_tower(clip_model, size: int, target: Path) -> Path:
    """pixel_values (N, 3, size, size) -> image_embeds (N, dim), as get_image_features gives."""
    if importlib.util.find_spec("onnx") is None:
        raise RuntimeError("exporting CLIP to ONNX needs the onnx package (pip install onnx)")
    import torch

    class ImageTower(torch.nn.Module):
        def __init__(self, clip):
            super().__init__()
            self.vision, self.projection = clip.vision_model, clip.visual_projection

        def forward(self, pixel_values):
            return self.projection(self.vision(pixel_values=pixel_values).pooler_output)

    def write(staging: Path) -> None:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the exporter's notes on opsets are not the user's business
            torch.onnx.export(ImageTower(clip_model).eval(), (torch.zeros(2, 3, size, size),), str(staging),
                              input_names=["pixel_values"], output_names=["image_embeds"],
                              dynamic_axes={"pixel_values": {0: "batch"}, "image_embeds": {0: "batch"}},
                              opset_version=17, dynamo=False)

    return write_private_with(target, write)


def quantized_file(graph: Path) -> Path:
    """The int8 copy of an fp32 export: dynamic quantisation of the MatMul weights, per channel."""
    target = graph.with_name(graph.stem + ".int8.onnx")
    if not target.is_file():
        from onnxruntime.quantization import QuantType, quantize_dynamic

        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # its advice to run pre-processing first is not the user's business
        try:
            write_private_with(target, lambda staging: quantize_dynamic(str(graph), str(staging), weight_type=QuantType.QInt8,
                                                             per_channel=True))
        finally:
            root.setLevel(level)
    return target


def torch_encoder(clip_model, bf16: bool = False) -> Encoder:
    import torch

    def encode(pixels: np.ndarray) -> np.ndarray:
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            output = clip_model.get_image_features(pixel_values=torch.from_numpy(pixels))
            features = output if isinstance(output, torch.Tensor) else output.pooler_output
        return features.float().numpy()

    return encode


def onnx_encoder(graph: Path, threads: int) -> Encoder:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = max(1, threads)
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
    return lambda pixels: session.run(None, {"pixel_values": pixels})[0]


def import_openvino():
    """``openvino``, with its usage reporting off.

    ``import openvino`` imports its model converter, which sends an "import" event to Google
    Analytics through the openvino-telemetry package unless the user opted out (tests/test_privacy.py
    caught it). When that package cannot be imported, openvino uses its own no-op stub instead.
    """
    if "openvino" not in sys.modules:
        sys.modules.setdefault("openvino_telemetry", None)
    import openvino

    return openvino


def openvino_encoder(graph: Path, threads: int, fp32: bool = False) -> Encoder:
    """OpenVINO on the CPU; its default precision there is bf16 where the CPU has bf16 units."""
    core = import_openvino().Core()
    config = {"INFERENCE_NUM_THREADS": max(1, threads), "NUM_STREAMS": 1, "PERFORMANCE_HINT": "LATENCY"}
    if fp32:
        config["INFERENCE_PRECISION_HINT"] = "f32"
    compiled = core.compile_model(core.read_model(str(graph)), "CPU", config)
    request = compiled.create_infer_request()
    output = compiled.output(0)
    return lambda pixels: np.array(request.infer({0: pixels})[output], dtype=np.float32)


def runtime_problem(runtime: str) -> str | None:
    """Why ``runtime`` cannot run here (a package missing), or None."""
    needs = {"onnx": ("onnxruntime", "onnx"), "onnx-int8": ("onnxruntime", "onnx"),
             "openvino": ("openvino", "onnx"), "openvino-fp32": ("openvino", "onnx")}.get(runtime, ())
    missing = [name for name in needs if importlib.util.find_spec(name) is None]
    return f"{' and '.join(missing)} not installed" if missing else None


def build_encoder(runtime: str, clip_model, model_path: Path, models_dir: Path, size: int,
                  threads: int) -> Encoder:
    """The encoder for ``runtime`` (one of RUNTIMES), exporting the graph first if it is not there."""
    if runtime == "torch":
        return torch_encoder(clip_model)
    if runtime == "torch-bf16":
        return torch_encoder(clip_model, bf16=True)
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown CLIP runtime {runtime!r} (one of auto, {', '.join(RUNTIMES)})")
    problem = runtime_problem(runtime)
    if problem:
        raise RuntimeError(problem)
    graph = export_file(models_dir, model_path)
    fresh = not graph.is_file()
    if fresh:
        export_image_tower(clip_model, size, graph)
    try:
        return _open(runtime, graph, threads)
    except Exception:
        if fresh:
            raise
        # An export left damaged (a disk error, an edit by hand): made again once from the weights.
        for stale in (graph, graph.with_name(graph.stem + ".int8.onnx")):
            with contextlib.suppress(OSError):
                stale.unlink()
        export_image_tower(clip_model, size, graph)
        return _open(runtime, graph, threads)


def _open(runtime: str, graph: Path, threads: int) -> Encoder:
    if runtime == "onnx":
        return onnx_encoder(graph, threads)
    if runtime == "onnx-int8":
        return onnx_encoder(quantized_file(graph), threads)
    return openvino_encoder(graph, threads, fp32=runtime == "openvino-fp32")


def load_encoder(runtime: str, clip_model, model_path: Path, models_dir: Path | None, size: int,
                 threads: int) -> tuple[str, Encoder, str | None]:
    """(the runtime in use, its encoder, a notice when it is torch because ``runtime`` failed)."""
    wanted = DEFAULT_RUNTIME if runtime == "auto" else runtime
    if wanted != "torch":
        try:
            if models_dir is None:
                raise RuntimeError("no models folder to keep the exported graph in")
            encoder = build_encoder(wanted, clip_model, model_path, models_dir, size, threads)
            # One tiny batch now, so a runtime that cannot run this graph shows it here, not mid-run.
            encoder(np.zeros((1, 3, size, size), np.float32))
            return wanted, encoder, None
        except Exception as error:  # noqa: BLE001 - torch still works
            notice = fallback_notice(wanted, error)
            log.warning("%s", notice)
            return "torch", torch_encoder(clip_model), notice
    return "torch", torch_encoder(clip_model), None


def fallback_notice(runtime: str, error: BaseException) -> str:
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return f"CLIP runs on torch fp32 (slower): the {runtime} runtime failed: {reason[:200]}"
