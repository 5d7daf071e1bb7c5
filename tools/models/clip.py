"""CLIP image and text embeddings behind a small adapter.

A model is a folder in Hugging Face ``CLIPModel`` format: ``config.json`` (the architecture),
``model.safetensors`` (the weights), tokenizer files and ``preprocessor_config.json``. That is
what ``recall models pull`` writes, what OpenAI's and LAION's CLIP releases ship, and what the
tests' self-trained tiny CLIP is saved as, so all of them load through this one path.

transformers' CLIP is used rather than open_clip because open_clip imports torchvision, whose
only wheels here are CUDA builds that fail to import on this CPU torch (see MODELS.md).
"""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from tools.lazy import lazy_module

# numpy/PIL on first use (tools/lazy.py): `recall status` and `recall people` need neither
np = lazy_module("numpy")
Image = lazy_module("PIL.Image")

REQUIRED_FILES = ("config.json", "preprocessor_config.json")
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


class ModelMissing(RuntimeError):
    """The weights are not where the settings say; the message says how to get them."""


def clip_folder_problem(path: Path) -> str | None:
    """Why ``path`` is not a usable CLIP folder, or None when it is."""
    if not path.is_dir():
        return f"no folder {path}"
    missing = [name for name in REQUIRED_FILES if not (path / name).is_file()]
    if not any((path / name).is_file() for name in WEIGHT_FILES):
        missing.append("model.safetensors")
    return f"{path} lacks {', '.join(missing)}" if missing else None


class Preprocessor:
    """CLIP's resize/crop/normalise, in numpy so it runs in decoder threads without torch."""

    def __init__(self, size: int, mean: list[float], std: list[float]):
        self.size = size
        self.mean = np.asarray(mean, dtype=np.float32).reshape(3, 1, 1)
        self.std = np.asarray(std, dtype=np.float32).reshape(3, 1, 1)

    @classmethod
    def from_folder(cls, path: Path) -> "Preprocessor":
        config = json.loads((path / "preprocessor_config.json").read_text())
        crop = config.get("crop_size", 224)
        size = crop["height"] if isinstance(crop, dict) else int(crop)
        return cls(size, config.get("image_mean", [0.481, 0.458, 0.408]),
                   config.get("image_std", [0.269, 0.261, 0.276]))

    def __call__(self, image: Image.Image) -> np.ndarray:
        """RGB image (already orientation-corrected) -> CHW float32."""
        image = image.convert("RGB")
        w, h = image.size
        scale = self.size / min(w, h)
        new_w, new_h = max(self.size, round(w * scale)), max(self.size, round(h * scale))
        image = image.resize((new_w, new_h), Image.Resampling.BICUBIC)
        left, top = (new_w - self.size) // 2, (new_h - self.size) // 2
        image = image.crop((left, top, left + self.size, top + self.size))
        pixels = np.asarray(image, dtype=np.float32).transpose(2, 0, 1) / 255.0
        return (pixels - self.mean) / self.std


def _as_tensor(output):
    """transformers 5 may wrap feature tensors in a model output."""
    import torch

    if isinstance(output, torch.Tensor):
        return output
    return output.pooler_output


class ClipModel:
    """One loaded CLIP; embeddings come back L2-normalised as float32 numpy arrays.

    ``runtime`` picks where the image tower runs (tools/models/clip_runtime.py): ``torch`` is
    fp32 torch; ``auto`` the measured default, falling back to torch with a notice (``notice``).
    """

    def __init__(self, path: Path, threads: int = 2, runtime: str = "torch", models_dir: Path | None = None):
        problem = clip_folder_problem(path)
        if problem:
            raise ModelMissing(problem)
        import torch
        from transformers import AutoTokenizer, CLIPModel

        torch.set_num_threads(max(1, threads))
        self.path = path
        self.name = path.name
        self.model = CLIPModel.from_pretrained(str(path), dtype=torch.float32).eval()
        self.tokenizer = AutoTokenizer.from_pretrained(str(path))
        self.preprocess = Preprocessor.from_folder(path)
        self.max_tokens = int(self.model.config.text_config.max_position_embeddings)
        self.dim = int(self.model.config.projection_dim)
        self._lock = threading.Lock()  # torch modules are not re-entrant across threads
        self.images_embedded = 0
        self.texts_embedded = 0
        self.busy_seconds = 0.0  # time spent in forward passes, for the speed benchmark
        from tools.models.clip_runtime import load_encoder

        self.runtime, self._encode, self.notice = load_encoder(runtime, self.model, path, models_dir,
                                                               self.preprocess.size, threads)

    def embed_pixels(self, pixels: np.ndarray) -> np.ndarray:
        """A batch of preprocessed images (N, 3, S, S) -> (N, dim)."""
        pixels = np.ascontiguousarray(pixels, dtype=np.float32)
        start = time.perf_counter()
        with self._lock:
            try:
                features = self._encode(pixels)
            except Exception as error:  # noqa: BLE001 - a runtime failing mid-run: torch carries on
                if self.runtime == "torch":
                    raise
                from tools.models.clip_runtime import fallback_notice, log, torch_encoder

                self.notice = fallback_notice(self.runtime, error)
                log.warning("%s", self.notice)
                self.runtime, self._encode = "torch", torch_encoder(self.model)
                features = self._encode(pixels)
        features = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
        self.images_embedded += len(pixels)
        self.busy_seconds += time.perf_counter() - start
        return features.astype(np.float32)

    def embed_images(self, images: list[Image.Image]) -> np.ndarray:
        return self.embed_pixels(np.stack([self.preprocess(image) for image in images]))

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        import torch

        tokens = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_tokens,
                                return_tensors="pt")
        with self._lock, torch.inference_mode():
            features = _as_tensor(self.model.get_text_features(
                input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"]))
            features = torch.nn.functional.normalize(features, dim=-1)
        self.texts_embedded += len(texts)
        return features.numpy().astype(np.float32)
