"""MiniLM through ONNX Runtime gives torch's embeddings (real weights, a real export)."""
from __future__ import annotations

import stat

import numpy as np
import pytest

from tools.models.text_embedder import TextEmbedder, packaged_minilm
from tools.models.text_onnx import OnnxTextEmbedder, load_text_embedder, onnx_file

TEXTS = [
    "a dog runs through the water on a beach",
    "Two children are playing in a fountain .",
    "x",
    "",
    "Grandma's 80th birthday, café in Zürich — 🎂 with the whole family!",
    "a very long caption " + "with many words that go on and on " * 60,  # past the 256-token cut
]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    models_dir = tmp_path_factory.mktemp("models")
    path = packaged_minilm()
    embedder = load_text_embedder(path, models_dir, runtime="onnx", threads=2)
    return models_dir, path, embedder


def test_onnx_embeddings_match_torch(exported):
    _, path, onnx = exported
    assert isinstance(onnx, OnnxTextEmbedder)
    torch_model = TextEmbedder(path, threads=2)
    assert (onnx.name, onnx.dim) == (torch_model.name, torch_model.dim)
    ours = onnx.embed(TEXTS, batch_size=4)  # batches mixing lengths: padding must not matter
    theirs = torch_model.embed(TEXTS, batch_size=4)
    cosine = (ours * theirs).sum(axis=1)
    assert cosine.min() >= 0.999, cosine
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    alone = np.concatenate([onnx.embed([t]) for t in TEXTS])  # one at a time, as a search does
    assert (alone * ours).sum(axis=1).min() >= 0.9999
    quick = OnnxTextEmbedder(path, onnx.graph, threads=2, prepack=False)  # how a search loads it
    assert (quick.embed(TEXTS) * theirs).sum(axis=1).min() >= 0.999


def test_the_export_is_cached_owner_only_and_reused(exported):
    models_dir, path, onnx = exported
    graph = onnx_file(models_dir, path)
    assert onnx.graph == graph and graph.is_file()
    assert stat.S_IMODE(graph.stat().st_mode) == 0o600
    assert stat.S_IMODE(graph.parent.stat().st_mode) == 0o700
    mtime = graph.stat().st_mtime_ns
    again = load_text_embedder(path, models_dir, runtime="auto")
    assert isinstance(again, OnnxTextEmbedder) and graph.stat().st_mtime_ns == mtime


def test_torch_is_the_fallback_when_onnx_cannot_be_had(tmp_path, monkeypatch):
    import tools.models.text_onnx as text_onnx

    monkeypatch.setattr(text_onnx, "runtime_available", lambda: False)
    fallback = load_text_embedder(packaged_minilm(), tmp_path, runtime="auto")
    assert isinstance(fallback, TextEmbedder)
    with pytest.raises(RuntimeError, match="onnxruntime"):
        load_text_embedder(packaged_minilm(), tmp_path, runtime="onnx")
    assert isinstance(load_text_embedder(packaged_minilm(), tmp_path, runtime="torch"), TextEmbedder)
