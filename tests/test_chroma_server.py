"""`--chroma-url`: the same index and search against a Chroma server (on loopback)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from evals.library import build_library
from evals.server_load import print_report, run_load
from tests.conftest import ARREZZO_WALK, EXIF_PHOTOS, FLICKR, ROOT, TINY_CLIP_NAME
from tests.support.chroma_server import chroma_server, free_port  # noqa: F401 - chroma_server is a fixture


def test_index_and_search_through_a_chroma_server(chroma_server, tmp_path):
    env = dict(os.environ, RECALL_DB=str(tmp_path / "unused-local-db"), RECALL_ANALYZE_FACES="false",
               RECALL_ANALYZE_OBJECTS="false")

    def recall(*args):
        return subprocess.run([sys.executable, "-m", "recall", *args, "--chroma-url", chroma_server], cwd=ROOT,
                              env=env, capture_output=True, text=True, timeout=600)

    indexed = recall("index", str(EXIF_PHOTOS))
    assert indexed.returncode == 0, indexed.stderr
    found = recall("search", "--near", "Arezzo", "--json")
    assert found.returncode == 0, found.stderr
    assert sorted(Path(json.loads(line)["path"]).name for line in found.stdout.splitlines()) == ARREZZO_WALK
    again = recall("index", str(EXIF_PHOTOS))
    assert "0 new photos" in again.stdout and "14 unchanged" in again.stdout
    assert not (tmp_path / "unused-local-db").exists()  # everything went to the server


def test_unreachable_server_is_a_one_line_error(tmp_path):
    result = subprocess.run([sys.executable, "-m", "recall", "search", "x", "--chroma-url",
                             f"http://127.0.0.1:{free_port()}"], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2 and "cannot reach the Chroma server" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_four_clients_search_while_one_indexes(chroma_server, tmp_path, tiny_clip_models_dir):
    """Load: 4 clients search (visual, meaning and words) while `recall index` adds
    photos through the same server, understanding pass included: no search fails."""
    captions = build_library(tmp_path / "library", FLICKR, count=18)
    paths = sorted(Path(p) for p in captions)
    env = dict(os.environ, RECALL_DB=str(tmp_path / "unused-local-db"), RECALL_ANALYZE_OCR="false",
               RECALL_ANALYZE_SCENES="false")
    # Threads, each with its own connection: processes would each spend ~10 s loading torch here.
    figures = run_load(chroma_server, tmp_path / "library", paths[:6], [rest[0] for rest in captions.values()],
                       clients=4, models_dir=tiny_clip_models_dir, quick=False, env=env, clip_model=TINY_CLIP_NAME,
                       threads=True)
    print_report(figures)
    assert figures["index"]["new"] == 12 and figures["index"]["understood"] == 18  # the seed was --quick
    for client in figures["per_client"]:
        assert client["errors"] == 0, client["error_samples"]
        assert client["searches"] >= 3 and client["empty_results"] == 0  # CLIP always finds something
        assert client["p95_ms"] is not None
