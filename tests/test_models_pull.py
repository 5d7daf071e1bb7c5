"""`recall models pull` end to end, without the internet: a hub on 127.0.0.1 (tests/support/fake_hub.py)
serves the tests' tiny CLIP and a tiny Florence-2 in the Hugging Face layout, and real `recall`
processes, with every non-loopback socket refused, pull from it through HF_ENDPOINT.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import EXIF_PHOTOS, ROOT, TINY_CLIP_NAME
from tests.photos import write_photo
from tests.support.fake_hub import FakeHub

CLIP_REPO = "tests/tiny-shapes-clip"
FLORENCE_REPO = "tests/tiny-florence"
FLORENCE_NAME = "tiny-florence"


@pytest.fixture(scope="module")
def tiny_florence_dir(tmp_path_factory) -> Path:
    from tests.support.tiny_florence import build_tiny_florence

    # Untrained: the pull only needs a folder that is a real Florence-2 checkpoint.
    return build_tiny_florence(tmp_path_factory.mktemp("florence") / FLORENCE_NAME, trained=False)


@pytest.fixture(scope="module")
def clip_source(tiny_clip_models_dir) -> Path:
    return tiny_clip_models_dir / "clip" / TINY_CLIP_NAME


@pytest.fixture
def hub(clip_source):
    with FakeHub() as served:
        served.add_folder(CLIP_REPO, clip_source)
        yield served


class Place:
    """One user's folders (models, cache, data) and the environment `recall` runs with there."""

    def __init__(self, root: Path, hub: FakeHub):
        self.root, self.hub = root, hub
        self.models, self.cache, self.log = root / "models", root / "cache", root / "network.log"
        self.env = {key: value for key, value in os.environ.items()
                    if key not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}  # the product keeps offline itself
        self.env.update(HF_ENDPOINT=hub.url, RECALL_MODELS=str(self.models), RECALL_CACHE_DIR=str(self.cache),
                        RECALL_DATA_DIR=str(root / "data"), RECALL_DB=str(root / "db"),
                        RECALL_CLIP_HUB_REPO=CLIP_REPO, RECALL_CLIP_MODEL=TINY_CLIP_NAME,
                        RECALL_CAPTIONER_HUB_REPO=FLORENCE_REPO, RECALL_CAPTIONER_MODEL=FLORENCE_NAME,
                        NO_NETWORK_LOG=str(self.log))

    @property
    def clip(self) -> Path:
        return self.models / "clip" / TINY_CLIP_NAME

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "tests.support.no_network", *args]

    def recall(self, *args: str, **env: str) -> subprocess.CompletedProcess:
        return subprocess.run(self.command(*args), cwd=ROOT, env={**self.env, **env}, capture_output=True,
                              text=True, timeout=300)

    def pull(self, *args: str, **env: str) -> subprocess.CompletedProcess:
        return self.recall("models", "pull", "--only", "clip", *args, **env)

    def no_network_attempted(self) -> None:
        assert not self.log.exists() or self.log.read_text() == "", self.log.read_text()

    def leftovers(self) -> list[str]:
        """Everything in the models folder that is not a finished model (temporary folders, parts)."""
        if not self.models.exists():
            return []
        return sorted(str(p.relative_to(self.models)) for p in self.models.rglob("*")
                      if p.name.startswith(".") or p.name.endswith((".part", ".incomplete")))


@pytest.fixture
def place(tmp_path, hub) -> Place:
    return Place(tmp_path, hub)


def one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def tree_digest(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def newer_revision(source: Path, into: Path) -> Path:
    """The same model with one config value changed: a new commit on the hub."""
    shutil.copytree(source, into)
    config = json.loads((into / "config.json").read_text())
    config["recall_test_revision"] = 2
    (into / "config.json").write_text(json.dumps(config, indent=2))
    return into


def test_pull_installs_checked_models_that_indexing_then_uses(place, hub, clip_source, tiny_florence_dir):
    hub.add_folder(FLORENCE_REPO, tiny_florence_dir)
    pulled = place.recall("models", "pull")  # the default: CLIP and Florence-2
    assert pulled.returncode == 0, pulled.stderr
    assert "clip ready at" in pulled.stdout and "caption ready at" in pulled.stdout, pulled.stdout

    for repo, source, installed in ((CLIP_REPO, clip_source, place.clip),
                                    (FLORENCE_REPO, tiny_florence_dir, place.models / "captioner" / FLORENCE_NAME)):
        manifest = json.loads((installed / "MANIFEST.json").read_text())
        assert manifest["repo"] == repo and manifest["revision"] == hub.repos[repo].sha
        assert manifest["sha256"] == tree_digest(source)  # every file, byte for byte
        assert {k: v for k, v in tree_digest(installed).items() if k != "MANIFEST.json"} == tree_digest(source)
    assert place.leftovers() == []
    assert not (place.cache / "downloads" / "clip" / TINY_CLIP_NAME).exists()  # the staging folder is gone

    listed = {m["key"]: m for m in json.loads(place.recall("models", "--json").stdout)}
    assert listed["clip"]["found"] and listed["clip"]["revision"] == hub.repos[CLIP_REPO].sha
    assert listed["caption"]["found"] and listed["caption"]["revision"] == hub.repos[FLORENCE_REPO].sha
    assert f"{CLIP_REPO} at revision {hub.repos[CLIP_REPO].sha[:12]}" in place.recall("models").stdout

    gets_before = len([r for r in hub.requests if r[0] == "GET" and "/resolve/" in r[1]])
    again = place.pull()
    assert again.returncode == 0 and "up to date" in again.stdout, again.stdout + again.stderr
    assert len([r for r in hub.requests if r[0] == "GET" and "/resolve/" in r[1]]) == gets_before

    library = place.root / "library"
    write_photo(library / "red.jpg", "circle", "red", seed=1)
    write_photo(library / "blue.jpg", "square", "blue", seed=2)
    for name in ("DSCN0010.jpg", "DSCN0012.jpg"):
        shutil.copy2(EXIF_PHOTOS / name, library / name)
    # Only CLIP matters here: the other analyzers (and CLIP's tag vocabulary) have their own tests.
    only_clip = {f"RECALL_ANALYZE_{name}": "false" for name in ("FACES", "OBJECTS", "CAPTIONS", "SCENES", "OCR")}
    only_clip["RECALL_ZERO_SHOT_TAGS"] = "false"
    indexed = place.recall("index", str(library), **only_clip)
    assert indexed.returncode == 0, indexed.stderr
    assert "CLIP embedded 4 photos" in indexed.stdout and "Visual search is off" not in indexed.stdout, indexed.stdout
    found = place.recall("search", "a red circle", "--json", "-k", "1", **only_clip)
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout.splitlines()[0])["path"].endswith("red.jpg"), found.stdout
    place.no_network_attempted()


def test_a_corrupted_download_is_rejected_and_nothing_is_installed(place, hub, clip_source):
    hub.corrupt.add("model.safetensors")
    rejected = place.pull()
    assert "failed its checksum" in one_line_error(rejected)
    assert not place.models.exists() or list(place.models.rglob("*")) == []
    assert not (place.cache / "downloads" / "clip" / TINY_CLIP_NAME).exists()

    hub.corrupt.clear()
    assert place.pull().returncode == 0
    installed = tree_digest(place.clip)
    hub.add_folder(CLIP_REPO, newer_revision(clip_source, place.root / "v2"))  # a new commit, served corrupt
    hub.corrupt.add("model.safetensors")
    rejected = place.pull()
    assert "failed its checksum" in one_line_error(rejected)
    assert tree_digest(place.clip) == installed  # the model that was there is untouched
    assert place.leftovers() == [] and sorted(p.name for p in (place.models / "clip").iterdir()) == [TINY_CLIP_NAME]
    place.no_network_attempted()


def test_a_broken_connection_is_resumed_in_the_same_run(place, hub, clip_source):
    hub.cut_once("model.safetensors", after=200_000)
    pulled = place.pull()
    assert pulled.returncode == 0, pulled.stderr
    assert hub.gets("model.safetensors") == [None, "bytes=200000-"]  # continued, not started again
    assert tree_digest(place.clip).items() >= tree_digest(clip_source).items()
    place.no_network_attempted()


def test_an_interrupted_pull_leaves_nothing_installed_and_the_next_one_resumes(place, hub, clip_source):
    hub.stall_once("model.safetensors", after=300_000)
    # SIGINT at its default in the child: a suite run in the background ignores it, and the child
    # would inherit that and download on, untouched by the Ctrl-C
    with subprocess.Popen(place.command("models", "pull", "--only", "clip"), cwd=ROOT, env=place.env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)) as running:
        assert hub.stalled.wait(timeout=120), "the pull never reached the weights"
        part = place.cache / "downloads" / "clip" / TINY_CLIP_NAME / "model.safetensors.part"
        deadline = time.monotonic() + 60
        while not (part.is_file() and part.stat().st_size == 300_000) and time.monotonic() < deadline:
            time.sleep(0.05)  # the bytes sent are on disk
        running.send_signal(signal.SIGINT)  # Ctrl-C, mid-download
        out, err = running.communicate(timeout=60)
    hub.release()
    assert running.returncode == 130 and "Interrupted" in err and "Traceback" not in err, (out, err)
    assert not place.clip.exists() and place.leftovers() == []
    assert part.stat().st_size == 300_000  # kept, outside the models folder, for the next pull

    resumed = place.pull()
    assert resumed.returncode == 0, resumed.stderr
    assert hub.gets("model.safetensors")[-1] == "bytes=300000-"
    assert tree_digest(place.clip).items() >= tree_digest(clip_source).items()
    assert place.leftovers() == [] and not part.exists()
    place.no_network_attempted()


def test_each_failure_is_one_line_and_leaves_the_models_folder_empty(place, hub):
    cases = {
        "was not found on": {"RECALL_CLIP_HUB_REPO": "tests/no-such-model"},
        "cannot reach the model hub": {"HF_ENDPOINT": "http://127.0.0.1:9"},  # nothing listens there
        "not enough disk space": {"RECALL_MIN_FREE_MB": str(10**12)},  # more than any disk has free
    }
    for expected, env in cases.items():
        line = one_line_error(place.pull(**env))
        assert expected in line and line.startswith("error: could not download"), line
        assert not place.models.exists(), expected
    hub.down = True
    assert "answered HTTP 503" in one_line_error(place.pull())
    place.no_network_attempted()


def test_a_models_folder_that_cannot_be_written_is_said_before_any_download(place, hub):
    place.models.mkdir()
    place.models.chmod(0o555)
    try:
        # Root writes through any mode; without CAP_DAC_OVERRIDE it is held to them like anyone.
        as_user = ["setpriv", "--bounding-set=-dac_override", "--"] if os.geteuid() == 0 else []
        result = subprocess.run([*as_user, *place.command("models", "pull", "--only", "clip")], cwd=ROOT,
                                env=place.env, capture_output=True, text=True, timeout=300)
    finally:
        place.models.chmod(0o755)
    line = one_line_error(result)
    assert "cannot write to the models folder" in line and str(place.models / "clip") in line, line
    assert list(place.models.iterdir()) == []
    assert not [r for r in hub.requests if "/resolve/" in r[1]]  # nothing was downloaded
    place.no_network_attempted()


def test_a_pull_killed_between_its_renames_gets_the_model_back_on_the_next_pull(place, hub):
    assert place.pull().returncode == 0
    installed = tree_digest(place.clip)
    # What a kill leaves between "old model aside" and "new model in": both hidden, no model.
    hidden_old = place.models / "clip" / f".{TINY_CLIP_NAME}.old-x1"
    hidden_old.mkdir()
    place.clip.rename(hidden_old / "model")
    half_new = place.models / "clip" / f".{TINY_CLIP_NAME}.incoming-x2"
    half_new.mkdir()
    (half_new / "config.json").write_text("{}")
    gets = len(hub.gets("model.safetensors"))
    again = place.pull()
    assert again.returncode == 0 and "up to date" in again.stdout, again.stdout + again.stderr
    assert tree_digest(place.clip) == installed and len(hub.gets("model.safetensors")) == gets
    assert place.leftovers() == []
    place.no_network_attempted()
