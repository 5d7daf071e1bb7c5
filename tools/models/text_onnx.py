"""The sentence embedder run by ONNX Runtime + tokenizers instead of torch + transformers.

Why: importing torch and transformers and loading MiniLM through them took ~2-3 s of every cold
``recall search``; ONNX Runtime and the tokenizers library load the same weights in a few
hundred ms. The graph is exported once from the torch model (``torch.onnx``, which needs the
``onnx`` package) into ``models_dir/text/onnx/``, owner-only, named by a fingerprint of the
source weights so a changed model is exported again. The embeddings are the torch adapter's
(mean pooling over the attention mask, L2 norm, the same tokenisation: truncation at 256 tokens,
padding to the longest); tests/test_text_onnx.py checks cosine >= 0.999 against torch's.
"""
from __future__ import annotations

import contextlib
import hashlib
import threading
import warnings
from pathlib import Path

import numpy as np

from tools.private import write_private_with

MAX_TOKENS = 256  # as TextEmbedder (the torch adapter) truncates
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def onnx_file(models_dir: Path, model_path: Path) -> Path:
    """Where the export of the model at ``model_path`` lives (a new name when the weights change)."""
    digest = hashlib.blake2b(digest_size=8)
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        file = Path(model_path) / name
        with contextlib.suppress(OSError):
            st = file.stat()
            digest.update(f"{name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    digest.update(str(Path(model_path).resolve()).encode("utf-8", "surrogateescape"))
    name = Path(model_path).name if Path(model_path).name != "model" else "all-MiniLM-L6-v2"
    return Path(models_dir) / "text" / "onnx" / f"{name}-{digest.hexdigest()}.onnx"


def runtime_available() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("onnxruntime", "tokenizers"))


def export_available() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("torch", "transformers", "onnx"))


def export(model_path: Path, target: Path) -> Path:
    """Export the transformer (last hidden state) to ``target`` with torch.onnx; atomic, 0600."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(str(model_path)).eval()
    tokens = AutoTokenizer.from_pretrained(str(model_path))(["a photo", "two dogs on a beach"], padding=True,
                                                            return_tensors="pt")

    class LastHidden(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    def export(staging: Path) -> None:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the exporter's notes on opsets are not the user's business
            torch.onnx.export(LastHidden(model), tuple(tokens[k] for k in INPUTS), str(staging),
                              input_names=list(INPUTS), output_names=["last_hidden_state"],
                              dynamic_axes={k: {0: "batch", 1: "tokens"} for k in (*INPUTS, "last_hidden_state")},
                              opset_version=17, dynamo=False)

    return write_private_with(target, export)


class OnnxTextEmbedder:
    """The interface of tools.models.text_embedder.TextEmbedder: name, dim, path, embed()."""

    def __init__(self, path: Path, graph: Path, threads: int = 2, prepack: bool = True):
        import onnxruntime
        from tokenizers import Tokenizer

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # warnings about the graph are not the user's business
        if not prepack:
            # Repacking the weights for fast batches took a third of the session's load (0.33 ->
            # 0.23 s); a process that embeds one query does not get it back (+5 ms a query).
            options.add_session_config_entry("session.disable_prepacking", "1")
        self.session = onnxruntime.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
        self.tokenizer = Tokenizer.from_file(str(Path(path) / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        pad = self.tokenizer.token_to_id("[PAD]")
        self.tokenizer.enable_padding(pad_id=0 if pad is None else pad, pad_token="[PAD]")
        self.path = Path(path)
        self.graph = Path(graph)
        self.name = self.path.name if self.path.name != "model" else "all-MiniLM-L6-v2"
        self.dim = int(self.session.get_outputs()[0].shape[-1])
        self.runtime = "onnx"
        self._lock = threading.Lock()
        self.texts_embedded = 0

    def embed(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        out = []
        for start in range(0, len(texts), batch_size):
            encoded = self.tokenizer.encode_batch(texts[start:start + batch_size])
            ids = np.asarray([e.ids for e in encoded], dtype=np.int64)
            mask = np.asarray([e.attention_mask for e in encoded], dtype=np.int64)
            types = np.asarray([e.type_ids for e in encoded], dtype=np.int64)
            with self._lock:
                hidden = self.session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(1) / np.maximum(weights.sum(1), 1e-9)
            out.append(pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12))
        self.texts_embedded += len(texts)
        return np.concatenate(out).astype(np.float32) if out else np.zeros((0, self.dim), np.float32)


def load_text_embedder(path: Path, models_dir: Path, runtime: str = "auto", threads: int = 2,
                       prepack: bool = True):
    """ONNX Runtime where it can run (exporting the graph on first use), else torch.

    ``runtime``: ``auto`` (ONNX, falling back to torch when it cannot be had), ``onnx`` (fail
    instead) or ``torch``. ``prepack=False`` loads faster for a process that embeds a query or two.
    """
    import logging

    from tools.models.text_embedder import TextEmbedder

    if runtime != "torch":
        problem = None
        if runtime_available():
            graph = onnx_file(models_dir, path)
            try:
                if not graph.is_file():
                    if not export_available():
                        raise RuntimeError("exporting MiniLM to ONNX needs the onnx package (pip install onnx)")
                    _quiet_transformers()
                    export(path, graph)
                return OnnxTextEmbedder(path, graph, threads, prepack=prepack)
            except Exception as error:  # noqa: BLE001 - torch still works
                problem = error
        else:
            problem = RuntimeError("onnxruntime or tokenizers is not installed")
        if runtime == "onnx":
            raise problem
        logging.getLogger(__name__).info("text embedder on torch: %s", problem)
    _quiet_transformers()
    return TextEmbedder(path, threads)


def _quiet_transformers() -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
