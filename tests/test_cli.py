"""The command line as a user meets it: one-line errors, readable and --json output."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import EXIF_PHOTOS, ROOT


def recall(*args: str, env_extra: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "recall", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="module")
def indexed_db(tmp_path_factory):
    db = tmp_path_factory.mktemp("cli") / "db"
    result = recall("index", str(EXIF_PHOTOS), "--db", str(db))
    assert result.returncode == 0, result.stderr
    assert "Indexed 14 new photos" in result.stdout
    assert "Visual search is off" in result.stdout
    return db


def one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_search_json_lines_have_the_documented_fields(indexed_db):
    result = recall("search", "--near", "Arezzo", "--json", "-k", "3", "--db", str(indexed_db))
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 3
    for row in rows:
        assert {"path", "score", "taken_at", "place", "lat", "lon"} <= row.keys()
        assert row["place"] == "Arezzo, Tuscany, Italy" and row["taken_at"].startswith("2008-10-22")


def test_plain_output_is_a_table(indexed_db):
    result = recall("search", "--camera", "nokia", "--db", str(indexed_db))
    assert result.returncode == 0 and "HMD_Nokia_8.3_5G.jpg" in result.stdout and "Helsinki" in result.stdout


@pytest.mark.parametrize("args, message", [
    (["search", "--near", "Xqzwvtown"], "unknown place"),
    (["search", "--near", "Arezo"], "did you mean"),
    (["search", "--from", "2021-13-45"], "not a real date"),
    (["search", "--from", "the day the music died"], "cannot read the date"),
    (["search", "--lat", "999", "--lon", "0"], "not a place on Earth"),
    (["search", "--lat", "43"], "--lat and --lon go together"),
    (["search", ""], "nothing to search for"),
    (["search", "x", "--camera", "Hasselblad"], "no photo was taken with a camera"),
])
def test_bad_requests_get_one_line_errors(indexed_db, args, message):
    assert message in one_line_error(recall(*args, "--db", str(indexed_db)))


def test_missing_or_empty_index_says_what_to_do(tmp_path):
    db = tmp_path / "db"
    assert "there is no index at" in one_line_error(recall("search", "dog", "--db", str(db)))
    assert not db.exists()  # a read command never creates an index
    (tmp_path / "empty").mkdir()
    assert recall("index", str(tmp_path / "empty"), "--db", str(db)).returncode == 0
    assert "is empty: run `recall index" in one_line_error(recall("search", "dog", "--db", str(db)))


def test_status_lists_models_photos_and_skipped_files(tmp_path):
    library = tmp_path / "lib"
    library.mkdir()
    (library / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    (library / "ok.heic").symlink_to(EXIF_PHOTOS / "IMG_5195.HEIC")
    db = str(tmp_path / "db")
    assert recall("index", str(library), "--db", db).returncode == 0
    status = recall("status", "--db", db)
    assert status.returncode == 0
    assert "Photos: 1" in status.stdout and "broken.jpg" in status.stdout
    assert "Model clip" in status.stdout and "recall models pull" in status.stdout
    facts = json.loads(recall("status", "--json", "--db", db).stdout)
    assert facts["photos"] == 1 and facts["skipped"][0]["reason"] == "truncated image"


def test_models_lists_each_model_and_pull_fails_cleanly_offline(tmp_path):
    listed = json.loads(recall("models", "--json", "--models-dir", str(tmp_path)).stdout)
    by_key = {m["key"]: m for m in listed}
    assert by_key["clip"]["found"] is False and "recall models pull" in by_key["clip"]["how_to_enable"]
    assert by_key["text"]["found"] is True
    pulled = recall("models", "pull", "--models-dir", str(tmp_path), timeout=120,
                    env_extra={"HF_ENDPOINT": "http://127.0.0.1:9"})  # nothing listens there
    assert "could not download" in one_line_error(pulled)
    assert not (tmp_path / "clip").exists() or not any((tmp_path / "clip").iterdir())


def test_a_reader_that_stops_early_gets_no_error(indexed_db):
    # `recall search ... | head -1`: the reader closes the pipe after the first line.
    with subprocess.Popen([sys.executable, "-m", "recall", "search", "--from", "1990", "--to", "2030", "--json",
                           "-k", "14", "--db", str(indexed_db)], cwd=ROOT, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) as proc:
        first = proc.stdout.readline()
        proc.stdout.close()
        stderr = proc.stderr.read()
        proc.wait(timeout=120)
    assert json.loads(first)["path"]
    assert stderr.strip() == "" or "Broken pipe" not in stderr, stderr
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr
