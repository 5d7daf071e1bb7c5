"""Shared fixtures: real data from ../shared/data, a self-trained tiny CLIP, real Chroma stores."""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("RECALL_SHARED_DATA", ROOT.parent / "shared" / "data"))
EXIF_PHOTOS = SHARED / "exif-photos"
FLICKR = SHARED / "flickr8k-test"
FACES = SHARED / "faces"
ARREZZO_WALK = sorted(p.name for p in EXIF_PHOTOS.glob("DSCN*.jpg"))

os.environ["HF_HUB_OFFLINE"] = "1"
# Sessions, logs and the default index go to a folder of the test run's, never the user's own.
os.environ.setdefault("RECALL_DATA_DIR", tempfile.mkdtemp(prefix="recall-test-data-"))
os.environ["TRANSFORMERS_OFFLINE"] = "1"
# No resident service behind the suite's `recall search`/`ask` processes (each test's index would
# leave one loaded until its idle timeout); tests/test_serve.py turns it on for its own.
os.environ["RECALL_SERVICE"] = "off"
sys.path.insert(0, str(ROOT))

TINY_CLIP_NAME = "tiny-shapes-clip"


def pytest_sessionstart(session):
    # The evaluation data is part of the test environment; without it the suite must fail loudly.
    for folder in (EXIF_PHOTOS, FLICKR / "images"):
        if not folder.is_dir():
            raise pytest.UsageError(f"missing test data folder {folder} (see ../shared/data/README.md)")


@pytest.fixture(scope="session")
def tiny_clip_models_dir(tmp_path_factory) -> Path:
    """A models folder holding a tiny CLIP trained here on drawn shapes (about 30 s).

    Training is deterministic, so the result is cached between runs under a key made of the
    trainer's source; a fresh machine (CI) trains it once per session.
    """
    import hashlib

    from tests.support import synthetic_clip

    key = hashlib.sha256(Path(synthetic_clip.__file__).read_bytes()).hexdigest()[:16]
    cache = Path(os.environ.get("RECALL_TEST_CACHE", Path.home() / ".cache" / "photo-recall" / "test-models"))
    cached = cache / f"tiny-clip-{key}"
    if not (cached / "model.safetensors").is_file():
        building = tmp_path_factory.mktemp("tiny-clip-build") / "clip"
        synthetic_clip.build_tiny_clip(building, seed=0)
        cache.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copytree(building, cached)
        except FileExistsError:  # another session got there first
            pass
    models_dir = tmp_path_factory.mktemp("models")
    shutil.copytree(cached, models_dir / "clip" / TINY_CLIP_NAME)
    return models_dir


@pytest.fixture
def make_settings(tmp_path):
    """Settings for an isolated index in tmp_path; ``clip_models_dir`` turns CLIP on."""
    from tools.settings import load_settings

    def factory(clip_models_dir: Path | None = None, **overrides):
        models_dir = overrides.pop("models_dir", None) or clip_models_dir or (tmp_path / "no-models")
        return load_settings(db=tmp_path / "db", models_dir=models_dir,
                             clip_model=TINY_CLIP_NAME if clip_models_dir else "absent-clip", **overrides)

    return factory


@pytest.fixture
def library(tmp_path) -> Path:
    folder = tmp_path / "library"
    folder.mkdir()
    return folder


def copy_exif_photos(dest: Path, names: list[str] | None = None) -> list[Path]:
    """Copy camera photos into a temporary library (tests that modify a library never touch shared)."""
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for name in names or sorted(p.name for p in EXIF_PHOTOS.iterdir()):
        out.append(Path(shutil.copy2(EXIF_PHOTOS / name, dest / name)))
    return out
