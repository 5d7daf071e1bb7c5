"""Searching never writes to the index: not a byte, not a file time (real index, real commands).

And the index read without Chroma (tools/index/sqlite_read.py) answers as Chroma does.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import EXIF_PHOTOS, FLICKR, ROOT, TINY_CLIP_NAME


def snapshot(folder: Path) -> dict[str, tuple]:
    """Every file's SHA-256, size, mode and mtime, and every folder's mtime and listing."""
    out = {}
    for path in sorted(folder.rglob("*")):
        st = path.stat()
        rel = str(path.relative_to(folder))
        if path.is_file():
            out[rel] = (hashlib.sha256(path.read_bytes()).hexdigest(), st.st_size, st.st_mode, st.st_mtime_ns)
        else:
            out[rel] = ("dir", sorted(p.name for p in path.iterdir()), st.st_mtime_ns)
    st = folder.stat()
    out["."] = ("dir", sorted(p.name for p in folder.iterdir()), st.st_mtime_ns)
    return out


def recall(env: dict, *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "recall", *args], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, tiny_clip_models_dir):
    """The Arezzo walk (GPS, camera) and 12 captioned Flickr photos, CLIP and MiniLM on."""
    from evals.library import build_library

    base = tmp_path_factory.mktemp("no-write")
    library = base / "library"
    build_library(library / "flickr", FLICKR, count=12, sidecar_caption=0)
    (library / "walk").mkdir()
    for photo in sorted(EXIF_PHOTOS.glob("DSCN*.jpg"))[:6]:
        os.symlink(photo, library / "walk" / photo.name)
    env = dict(os.environ, RECALL_MODELS_DIR=str(tiny_clip_models_dir), RECALL_CLIP_MODEL=TINY_CLIP_NAME,
               RECALL_DATA_DIR=str(base / "data"), RECALL_CACHE_DIR=str(base / "cache"))
    env.pop("RECALL_MODELS", None)
    db = base / "db"
    recall(env, "index", str(library), "--quick", "--db", str(db))
    return db, env


def settings_for_a_copy(indexed, tmp_path: Path):
    """Settings for a copy of the shared index in ``tmp_path`` (with a cache of its own), for a test
    that writes to it."""
    import shutil

    from tools.settings import load_settings

    db, env = indexed
    shutil.copytree(db, tmp_path / "db")
    return load_settings(db=tmp_path / "db", models_dir=env["RECALL_MODELS_DIR"], clip_model=TINY_CLIP_NAME,
                         cache_dir=tmp_path / "cache")


def test_search_ask_status_people_leave_every_file_of_the_index_as_it_was(indexed):
    db, env = indexed
    before = snapshot(db)
    assert any(name.startswith("recall-vectors/") for name in before)  # the writer saved its matrices
    found = recall(env, "search", "a dog in the water", "--json", "--db", str(db))
    assert found.stdout.strip()
    recall(env, "search", "church", "--near", "Arezzo", "--from", "2008", "--json", "--db", str(db))
    recall(env, "search", "--camera", "coolpix", "--db", str(db))
    reply = recall(env, "ask", "uh, a dog running on the beach", "--no-llm", "--json", "--session", "s", "--db", str(db))
    assert json.loads(reply.stdout)["results"]
    recall(env, "ask", "#1 is close", "--no-llm", "--json", "--session", "s", "--db", str(db))  # feedback: vectors
    status = json.loads(recall(env, "status", "--json", "--db", str(db)).stdout)
    assert status["photos"] == 18 and sorted(status["vectors"].values()) == [12, 18], status["vectors"]
    recall(env, "people", "--db", str(db))
    assert snapshot(db) == before


def test_a_stale_vector_file_is_not_used_and_still_nothing_is_written(indexed, tmp_path):
    """A write that did not save matrices (an older version, a crash): searching builds its own
    in the cache folder, from a private copy, and finds what Chroma finds."""
    from tools.index.store import PhotoStore
    from tools.models.registry import Models
    from tools.query.search import SearchQuery, Searcher

    settings = settings_for_a_copy(indexed, tmp_path)
    writer = PhotoStore(settings, mode="write")
    gone = sorted(writer.all_ids())[0]
    writer.delete_photos([gone])  # through Chroma, outside writing(): no matrix is saved
    before = snapshot(settings.db)
    reader = PhotoStore(settings, mode="search")
    models = Models(settings)
    query = SearchQuery(text="a dog in the water", k=10)
    fast = Searcher(reader, models).search(query)
    assert gone not in {r.id for r in fast.results} and fast.results
    assert snapshot(settings.db) == before
    assert list((tmp_path / "cache" / "vectors").rglob("*.npy"))  # built in the cache, not the index
    slow = Searcher(writer, models).search(query)
    assert [r.id for r in fast.results] == [r.id for r in slow.results]
    assert [r.score for r in fast.results] == pytest.approx([r.score for r in slow.results], abs=1e-3)


def test_status_counts_from_sqlite_equal_what_chroma_reads(indexed, tmp_path):
    """`recall status` counts with sqlite aggregates on the read path (no NumPy, no records
    built); through Chroma it reads every record. Both say the same, marks and skipped files too."""
    from tools.index import summary
    from tools.index.records import SkippedFile
    from tools.index.store import PhotoStore
    from tools.understand.people import PeopleBook

    settings = settings_for_a_copy(indexed, tmp_path)
    writer = PhotoStore(settings, mode="write")
    some = sorted(writer.iter_photos(), key=lambda r: r.path)[:3]
    writer.upsert_photos([r.model_copy(update={"analyzed": ["faces-1", "caption-failed-1"][:i + 1]})
                          for i, r in enumerate(some)])
    writer.record_skipped([SkippedFile(path=str(tmp_path / "broken.jpg"), reason="not an image (truncated)")])
    reader = PhotoStore(settings, mode="search")
    counts = summary.photo_counts(reader)
    assert counts == summary.photo_counts(writer)
    assert counts["photos"] == 18 and counts["with_gps"] == 6 and counts["with_user_text"] == 12
    assert counts["understood"] == {"faces": 3, "caption-failed": 2}
    assert sum(counts["dates"].values()) == 18
    assert [s.path for s in summary.skipped_files(reader)] == [str(tmp_path / "broken.jpg")]
    assert summary.skipped_files(reader) == summary.skipped_files(writer)
    assert summary.record_count(PeopleBook(reader).people) == summary.record_count(PeopleBook(writer).people)
    assert reader.vector_collections() == writer.vector_collections()


def test_the_read_path_answers_as_chroma_does(indexed, tmp_path):
    from tools.index.store import PhotoStore

    settings = settings_for_a_copy(indexed, tmp_path)
    fast, chroma = PhotoStore(settings, mode="search"), PhotoStore(settings, mode="write")
    assert fast.count() == chroma.count() == 18
    assert fast.vector_collections() == chroma.vector_collections()
    assert fast.get_meta("cameras") == chroma.get_meta("cameras") and fast.get_meta("places")
    assert fast.file_table() == chroma.file_table()
    assert {r.id: r for r in fast.iter_photos()} == {r.id: r for r in chroma.iter_photos()}
    wheres = [None, {"taken_ts": {"$gte": 1_000_000_000}}, {"camera": {"$in": ["NIKON COOLPIX P6000"]}},
              {"$and": [{"faces": 0}, {"lat": {"$gte": 40.0}}]}, {"$or": [{"faces": {"$gte": 1}}, {"country_code": "IT"}]}]
    for where in wheres:
        assert sorted(r.id for r in fast.iter_photos(where)) == sorted(r.id for r in chroma.iter_photos(where)), where
    for term in ("dog", "water", "Arezzo"):
        a = fast.photos.get(where_document={"$contains": term}, include=["documents"])
        b = chroma.photos.get(where_document={"$contains": term}, include=["documents"])
        assert sorted(zip(a["ids"], a["documents"])) == sorted(zip(b["ids"], b["documents"]))
    rng = np.random.default_rng(0)
    for name, dim in fast.vector_collections().items():
        kind, _, rest = name.partition("-")
        model, _, size = rest.rpartition("-")
        ours, theirs = fast.vectors(kind, model, int(size)), chroma.vectors(kind, model, int(size))
        ids = sorted(fast.all_ids(ours))
        assert ids == sorted(chroma.all_ids(theirs))
        a, b = fast.get_vectors(ours, ids[:5]), chroma.get_vectors(theirs, ids[:5])
        assert all(np.allclose(a[i], b[i], atol=1e-6) for i in ids[:5])
        query = rng.standard_normal(len(next(iter(a.values())))).astype(np.float32)
        for where in (None, {"taken_ts": {"$gte": 1_000_000_000}}):
            mine, chromas = fast.query_vectors(ours, query, 10, where), chroma.query_vectors(theirs, query, 10, where)
            assert [i for i, _ in mine] == [i for i, _ in chromas]
            assert [s for _, s in mine] == pytest.approx([s for _, s in chromas], abs=1e-4)
    with pytest.raises(Exception, match="opened to search"):
        fast.set_meta("x", 1)


def test_while_an_index_run_writes_the_saved_vectors_serve_without_a_copy(indexed, tmp_path):
    from tools.index.store import PhotoStore
    from tools.models.registry import Models
    from tools.query.search import SearchQuery, Searcher

    settings = settings_for_a_copy(indexed, tmp_path)
    writer = PhotoStore(settings, mode="write")
    with writer.writing("test: an index run"):
        gone = sorted(writer.all_ids())[0]
        writer.delete_photos([gone])  # the saved matrices are stale from here until the run ends
        reader = PhotoStore(settings, mode="search")
        results = Searcher(reader, Models(settings)).search(SearchQuery(text="a dog in the water", k=30)).results
        assert results and gone not in {r.id for r in results}
        assert not (tmp_path / "cache" / "vectors").exists() and not (tmp_path / "cache" / "index-copies").exists()
    # the run's end saved fresh matrices: the next search uses them
    reader = PhotoStore(settings, mode="search")
    assert Searcher(reader, Models(settings)).search(SearchQuery(text="a dog in the water", k=30)).results
    assert not (tmp_path / "cache" / "vectors").exists()
