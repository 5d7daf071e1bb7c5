"""CLIP's image tower on the default runtime gives torch fp32's embeddings and the same answers.

The tiny CLIP of the tests (trained on drawn shapes) is loaded through the product's path, once on
the default runtime (an ONNX export read by OpenVINO) and once on torch fp32; the figures behind
the choice are evals/clip_runtime.py's, on ViT-B/32's architecture.
"""
from __future__ import annotations

import random
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import FLICKR, ROOT, TINY_CLIP_NAME
from tests.support.synthetic_clip import COLOURS, SHAPES, ZERO_SHOT_TEMPLATE, draw_shape
from tools.models.clip import ClipModel
from tools.models.clip_runtime import DEFAULT_RUNTIME, export_file

PHOTOS = sorted((FLICKR / "images").glob("*.jpg"))[:200]


@pytest.fixture(scope="module")
def models_dir(tiny_clip_models_dir: Path, tmp_path_factory) -> Path:
    """A models folder of this module's own, so the exports it checks are its own."""
    target = tmp_path_factory.mktemp("runtime-models")
    shutil.copytree(tiny_clip_models_dir / "clip" / TINY_CLIP_NAME, target / "clip" / TINY_CLIP_NAME)
    return target


@pytest.fixture(scope="module")
def clips(models_dir: Path) -> tuple[ClipModel, ClipModel]:
    path = models_dir / "clip" / TINY_CLIP_NAME
    return (ClipModel(path, 2, runtime="auto", models_dir=models_dir),
            ClipModel(path, 2, runtime="torch", models_dir=models_dir))


def pixels_of(clip: ClipModel, photos: list[Path]) -> np.ndarray:
    def one(path: Path) -> np.ndarray:
        with Image.open(path) as image:
            return clip.preprocess(image)

    return np.stack([one(p) for p in photos])


def zero_shot_joint(clip: ClipModel, n: int = 200, seed: int = 2024) -> float:
    """tests/test_synthetic_clip.py's task, through the adapter's embed_pixels."""
    classes = [(c, s) for c in COLOURS for s in SHAPES]
    rng = random.Random(seed)
    truth = [classes[rng.randrange(len(classes))] for _ in range(n)]
    images = clip.embed_pixels(np.stack([clip.preprocess(draw_shape(s, c, rng=rng)) for c, s in truth]))
    prompts = clip.embed_texts([ZERO_SHOT_TEMPLATE.format(c=c, s=s) for c, s in classes])
    return sum(classes[int(k)] == t for k, t in zip((images @ prompts.T).argmax(axis=1), truth)) / n


def test_default_runtime_stays_within_cosine_0995_of_torch_on_real_photos(clips, models_dir):
    fast, exact = clips
    assert (fast.runtime, fast.notice) == (DEFAULT_RUNTIME, None)
    assert exact.runtime == "torch"
    pixels = pixels_of(exact, PHOTOS)
    assert len(pixels) == 200
    ours = np.concatenate([fast.embed_pixels(pixels[i:i + 16]) for i in range(0, len(pixels), 16)])
    theirs = np.concatenate([exact.embed_pixels(pixels[i:i + 16]) for i in range(0, len(pixels), 16)])
    cosine = (ours * theirs).sum(axis=1)
    assert cosine.min() >= 0.995, np.sort(cosine)[:5]
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    assert (fast.embed_pixels(pixels[:1]) * ours[:1]).sum() >= 0.9999  # a batch of one, as a backfill may be


def test_the_export_is_owner_only_and_reused(clips, models_dir):
    graph = export_file(models_dir, models_dir / "clip" / TINY_CLIP_NAME)
    assert graph.is_file()
    assert stat.S_IMODE(graph.stat().st_mode) == 0o600
    assert stat.S_IMODE(graph.parent.stat().st_mode) == 0o700
    mtime = graph.stat().st_mtime_ns
    again = ClipModel(models_dir / "clip" / TINY_CLIP_NAME, 2, runtime="auto", models_dir=models_dir)
    assert again.runtime == DEFAULT_RUNTIME and graph.stat().st_mtime_ns == mtime


def test_zero_shot_retrieval_does_not_drop_on_the_default_runtime(clips):
    fast, exact = clips
    theirs = zero_shot_joint(exact)
    ours = zero_shot_joint(fast)
    assert theirs >= 0.9, theirs  # test_synthetic_clip's bar
    assert ours >= theirs, (ours, theirs)


def test_fp32_setting_gives_torch_and_exports_nothing(make_settings, tiny_clip_models_dir, tmp_path):
    from tools.models.registry import Models

    models_dir = tmp_path / "models"
    shutil.copytree(tiny_clip_models_dir / "clip" / TINY_CLIP_NAME, models_dir / "clip" / TINY_CLIP_NAME)
    clip = Models(make_settings(models_dir, clip_runtime="torch")).clip()
    assert (clip.runtime, clip.notice) == ("torch", None)
    assert not (models_dir / "clip-onnx").exists()


def test_a_missing_runtime_falls_back_to_torch_with_a_notice(models_dir, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "openvino", None)  # as if the package were not installed
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    for runtime in ("auto", "openvino", "onnx-int8"):
        clip = ClipModel(models_dir / "clip" / TINY_CLIP_NAME, 2, runtime=runtime, models_dir=models_dir)
        assert clip.runtime == "torch"
        assert "torch fp32" in clip.notice and "not installed" in clip.notice, clip.notice
    assert "not installed" in caplog.text


def test_a_damaged_export_is_made_again(clips, models_dir):
    path = models_dir / "clip" / TINY_CLIP_NAME
    graph = export_file(models_dir, path)
    graph.write_bytes(b"not an onnx graph")
    clip = ClipModel(path, 2, runtime="auto", models_dir=models_dir)
    assert (clip.runtime, clip.notice) == (DEFAULT_RUNTIME, None)
    assert graph.stat().st_size > 1000


def test_a_runtime_failing_mid_run_hands_the_batch_to_torch(clips):
    fast, exact = clips
    path = fast.path
    clip = ClipModel(path, 2, runtime="auto", models_dir=path.parent.parent)
    pixels = pixels_of(exact, PHOTOS[:4])

    def broken(_pixels):
        raise RuntimeError("inference request failed")

    clip._encode = broken  # what a runtime error on a batch looks like from here
    vectors = clip.embed_pixels(pixels)
    assert clip.runtime == "torch" and "inference request failed" in clip.notice
    assert np.allclose(vectors, exact.embed_pixels(pixels), atol=1e-6)


def test_recall_index_says_why_it_runs_on_torch_and_shows_no_traceback(tiny_clip_models_dir, tmp_path):
    models_dir = tmp_path / "models"
    shutil.copytree(tiny_clip_models_dir / "clip" / TINY_CLIP_NAME, models_dir / "clip" / TINY_CLIP_NAME)
    library = tmp_path / "library"
    library.mkdir()
    for photo in PHOTOS[:3]:
        shutil.copy2(photo, library / photo.name)
    # The real CLI in a fresh process, where the openvino package cannot be imported.
    script = ("import sys; sys.modules['openvino'] = None; from recall.cli import main; "
              "sys.argv = ['recall', 'index', sys.argv[1]]; main()")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "RECALL_DB": str(tmp_path / "db"), "RECALL_MODELS_DIR": str(models_dir),
           "RECALL_CLIP_MODEL": TINY_CLIP_NAME, "RECALL_DATA_DIR": str(tmp_path / "data"),
           "RECALL_ANALYZE_FACES": "false", "RECALL_ANALYZE_OBJECTS": "false", "RECALL_ANALYZE_CAPTIONS": "false",
           "RECALL_ANALYZE_SCENES": "false", "RECALL_ANALYZE_OCR": "false"}
    done = subprocess.run([sys.executable, "-c", script, str(library)], capture_output=True, text=True,
                          env=env, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr + done.stdout
    assert "CLIP runs on torch fp32" in done.stderr and "openvino" in done.stderr, done.stderr[-2000:]
    assert "3 new" in done.stdout or "3 photos" in done.stdout, done.stdout[-2000:]


def test_the_default_runtime_reaches_no_network(models_dir, tmp_path):
    # openvino's import reports usage to Google Analytics unless its telemetry package is kept out.
    script = r"""
import sys
def hook(event, args):  # the telemetry sends from a forked child: record in a file, not a list
    if event in ("socket.getaddrinfo", "socket.connect"):
        with open(sys.argv[3], "a") as log:
            log.write(f"{event} {args[0]!r}\n")
        raise OSError("refused by the test")
sys.addaudithook(hook)
from pathlib import Path
import numpy as np
from tools.models.clip import ClipModel
models = Path(sys.argv[1])
clip = ClipModel(models / "clip" / sys.argv[2], 2, runtime="auto", models_dir=models)
clip.embed_pixels(np.zeros((2, 3, clip.preprocess.size, clip.preprocess.size), np.float32))
import time; time.sleep(1)  # the telemetry sender runs in a thread of its own
print(clip.runtime)
"""
    log = tmp_path / "network.log"
    done = subprocess.run([sys.executable, "-c", script, str(models_dir), TINY_CLIP_NAME, str(log)], capture_output=True,
                          text=True, timeout=240, cwd=ROOT, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
                                                                 "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == [DEFAULT_RUNTIME], done.stdout
    assert not log.exists(), log.read_text()
