"""`--chroma-url`: the same index and search against a Chroma server (on loopback)."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ARREZZO_WALK, EXIF_PHOTOS, ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def chroma_server(tmp_path):
    port = free_port()
    chroma = Path(sys.executable).with_name("chroma")
    server = subprocess.Popen([str(chroma), "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1",
                               "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.2)
    else:
        server.kill()
        raise AssertionError("the Chroma server did not start")
    yield f"http://127.0.0.1:{port}"
    server.terminate()
    server.wait(timeout=30)


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
