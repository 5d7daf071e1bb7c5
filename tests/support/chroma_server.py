"""A real Chroma server for tests: `chroma run` on 127.0.0.1 (a free port) over a temporary folder."""
from __future__ import annotations

import pytest

from evals.server_load import free_port, local_chroma_server

__all__ = ["chroma_server", "free_port"]


@pytest.fixture
def chroma_server(tmp_path):
    """The URL of a Chroma server that lives as long as the test."""
    with local_chroma_server(tmp_path / "server") as url:
        yield url
