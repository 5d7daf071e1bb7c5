"""The understanding pass end to end: faces into people, object tags, captions, EXIF tags."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from evals.library import load_captions
from tests.conftest import EXIF_PHOTOS, FACES, FLICKR, ROOT
from tools.understand.analysis import Analyzer
from tools.index.indexer import Indexer
from tools.models.registry import Models
from tools.understand.people import PeopleBook, PeopleError
from tools.query.search import SearchQuery, Searcher
from tools.index.store import PhotoStore

PEOPLE = ("person01", "person03", "person05")


def understand(settings, paths, only=None):
    store, models = PhotoStore(settings), Models(settings)
    report = Indexer(settings, store, models).run(paths)
    analysis = Analyzer(settings, store, models).run(only=only)
    return report, analysis, store, models


def link(files: list[Path], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for file in files:
        (folder / file.name).symlink_to(file)


@pytest.fixture(scope="module")
def identities() -> dict[str, list[str]]:
    return json.loads((FACES / "identities.json").read_text())["identities"]


@pytest.fixture
def face_library(tmp_path, identities) -> Path:
    folder = tmp_path / "faces"
    link([FACES / "images" / name for person in PEOPLE for name in identities[person]]
         + [FACES / "images" / "couple.jpg"], folder)
    return folder


def names(response) -> set[str]:
    return {Path(r.path).name for r in response.results}


def test_faces_become_people_that_can_be_named_and_searched(make_settings, face_library, identities):
    settings = make_settings(analyze_objects=False, analyze_captions=False)
    _, analysis, store, models = understand(settings, [face_library])
    assert analysis.photos == store.count() and analysis.faces >= store.count()
    book = PeopleBook(store)
    clusters = book.list()
    assert 3 <= len(clusters) <= 6  # three people, plus the couple's two faces

    first_photo = str(face_library / identities["person01"][0])
    cluster = next(p for p in clusters if first_photo in p.photos)
    book.name(cluster.id, "Alice")
    searcher = Searcher(store, models)
    found = names(searcher.search(SearchQuery(people=book.resolve(["alice"]), k=100)))
    expected = set(identities["person01"])
    assert len(found & expected) / len(found) >= 0.98 and len(found & expected) / len(expected) >= 0.85

    couple = searcher.search(SearchQuery(faces=(2, False), k=100))
    assert names(couple) == {"couple.jpg"}
    assert names(searcher.search(SearchQuery(faces=(1, True), k=100))) == {p.name for p in face_library.iterdir()}

    record = next(store.iter_photos({"path": first_photo}))
    assert record.faces == 1 and record.people == [cluster.id] and "one person" in record.tags

    with pytest.raises(PeopleError, match="did you mean Alice"):
        book.resolve(["Alcie"])
    with pytest.raises(PeopleError, match="same person"):
        book.merge("Alice", cluster.id)

    again = Analyzer(settings, store, models).run()
    assert again.photos == 0  # nothing left to understand: no face work on a re-run


def test_merge_split_and_unassign(make_settings, face_library, identities):
    settings = make_settings(analyze_objects=False, analyze_captions=False)
    _, _, store, _ = understand(settings, [face_library])
    book = PeopleBook(store)
    one = str(face_library / identities["person01"][0])
    other = str(face_library / identities["person03"][0])
    a = next(p for p in book.list() if one in p.photos)
    b = next(p for p in book.list() if other in p.photos)
    merged = book.merge(a.id, b.id)
    assert merged.count == a.count + b.count
    assert other in next(p for p in book.list() if p.id == a.id).photos
    parts = book.split(a.id)  # two different people: the split separates them
    assert len(parts) >= 2
    holder = {path: p.id for p in book.list() for path in p.photos}
    assert holder[one] != holder[other]  # the biggest part keeps the id; the two are apart again
    book.unassign(holder[one], one)
    assert all(one not in p.photos for p in book.list() if p.id == holder[one])  # (an emptied person goes)
    assert holder[one] not in next(store.iter_photos({"path": one})).people
    with pytest.raises(PeopleError, match="unknown person"):
        book.name("p999", "Bob")
    with pytest.raises(PeopleError):
        book.name(a.id, "   ")


def test_people_cli(make_settings, face_library, identities):
    db = make_settings().db
    env = dict(os.environ, RECALL_DB=str(db), RECALL_ANALYZE_OBJECTS="false", RECALL_ANALYZE_CAPTIONS="false")

    def recall(*args):
        return subprocess.run([sys.executable, "-m", "recall", *args], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=600)

    assert recall("index", str(face_library)).returncode == 0
    listed = [json.loads(line) for line in recall("people", "--json").stdout.splitlines()]
    assert listed and {"id", "name", "count", "photos"} <= listed[0].keys()
    target = next(p for p in listed if str(face_library / identities["person05"][0]) in p["photos"])
    named = recall("people", "name", target["id"], "Carol")
    assert named.returncode == 0 and "Carol" in named.stdout
    shown = recall("people", "show", "carol")
    assert identities["person05"][0] in shown.stdout
    found = recall("search", "--person", "Carol", "--json", "-k", "50")
    assert found.returncode == 0 and identities["person05"][0] in found.stdout
    unknown = recall("search", "--person", "Karol")
    assert unknown.returncode == 2 and "did you mean Carol" in unknown.stderr and "Traceback" not in unknown.stderr
    same = recall("people", "merge", "Carol", target["id"])
    assert same.returncode == 2 and "same person" in same.stderr


def test_object_tags_make_photos_findable_by_words(make_settings, tmp_path):
    captions = load_captions(FLICKR)
    dogs = [n for n, c in captions.items() if all("dog" in x.lower() for x in c)][:6]
    others = [n for n, c in captions.items() if not any("dog" in x.lower() for x in c)][:6]
    link([FLICKR / "images" / n for n in dogs + others], tmp_path / "lib")
    settings = make_settings(analyze_faces=False, analyze_captions=False)
    _, analysis, store, models = understand(settings, [tmp_path / "lib"])
    assert analysis.objects > 0 and "objects" not in analysis.off
    found = names(Searcher(store, models).search(SearchQuery(text="dog", k=12)))
    assert len(found & set(dogs)) >= 4 and len(found - set(dogs)) <= 1
    record = next(r for r in store.iter_photos() if Path(r.path).name in found)
    assert any(t["source"] == "objects" for t in map(dict, _detail(record.tags_detail)) if t["name"] == "dog")


def _detail(tags_detail: str) -> list[dict]:
    from tools.understand.tags import tags_from_json

    return [t.model_dump() for t in tags_from_json(tags_detail)]


@pytest.fixture(scope="module")
def tiny_captioners(tmp_path_factory) -> Path:
    from tests.support.tiny_florence import build_tiny_florence

    models_dir = tmp_path_factory.mktemp("captioners")
    build_tiny_florence(models_dir / "captioner" / "tiny-florence", trained=True)
    build_tiny_florence(models_dir / "captioner" / "random-florence", trained=False)
    return models_dir


def test_captions_pass_is_separate_and_searchable(make_settings, tiny_captioners, tmp_path, tiny_clip_models_dir):
    link([FLICKR / "images" / n for n in list(load_captions(FLICKR))[:3]], tmp_path / "lib")
    for model in (tiny_captioners / "captioner").iterdir():
        (tiny_clip_models_dir / "captioner").mkdir(exist_ok=True)
        target = tiny_clip_models_dir / "captioner" / model.name
        if not target.exists():
            target.symlink_to(model)
    common = dict(analyze_faces=False, analyze_objects=False, captioner_model="tiny-florence")
    settings = make_settings(tiny_clip_models_dir, analyze_captions=False, **common)
    first, analysis, store, models = understand(settings, [tmp_path / "lib"])
    assert first.clip_embedded == 3 and analysis.captions == 0

    # Captions arrive later, with no re-embedding: the `recall index --captions-only` path.
    settings = make_settings(tiny_clip_models_dir, analyze_captions=True, **common)
    store, models = PhotoStore(settings), Models(settings)
    later = Analyzer(settings, store, models).run(only={"caption"})
    assert later.captions == 3 and models._clip is None
    record = next(store.iter_photos())
    assert record.caption == "A brown dog runs on the green grass." and "dog" in record.tags
    hits = Searcher(store, models).search(SearchQuery(text="brown dog on grass", k=3))
    assert len(hits.results) == 3 and "words" in hits.results[0].why


def test_a_failing_captioner_marks_photos_and_the_run_goes_on(make_settings, tiny_captioners, tmp_path):
    link([FLICKR / "images" / n for n in list(load_captions(FLICKR))[:3]], tmp_path / "lib")
    settings = make_settings(analyze_faces=False, analyze_objects=False, analyze_captions=True,
                             captioner_model="random-florence", models_dir=tiny_captioners)
    _, analysis, store, _ = understand(settings, [tmp_path / "lib"])
    assert analysis.photos == 3 and analysis.captions == 0 and len(analysis.failed) == 3
    assert all("caption" in f.reason for f in analysis.failed)
    assert all("caption-failed-1" in r.analyzed for r in store.iter_photos())
    again = Analyzer(settings, store, Models(settings)).run()
    assert again.photos == 0  # failures are remembered, not retried every run


def test_exif_and_time_tags_are_searchable(make_settings):
    _, _, store, models = understand(make_settings(analyze_faces=False, analyze_objects=False), [EXIF_PHOTOS])
    records = {Path(r.path).name: r for r in store.iter_photos()}
    assert {"daytime", "autumn", "landscape"} <= set(records["DSCN0010.jpg"].tags)
    assert "golden hour" in records["iphone_hdr_NO.jpg"].tags
    found = names(Searcher(store, models).search(SearchQuery(text="golden hour", k=3)))
    assert "iphone_hdr_NO.jpg" in found


def test_deleted_photos_take_their_faces_with_them(make_settings, face_library, identities):
    settings = make_settings(analyze_objects=False, analyze_captions=False)
    _, _, store, _ = understand(settings, [face_library])
    gone = face_library / identities["person03"][0]
    faces_before = PeopleBook(store).faces.count()
    gone.unlink()
    report, _, store, _ = understand(settings, [face_library])
    assert report.removed == 1
    book = PeopleBook(store)
    assert book.faces.count() == faces_before - 1
    assert all(str(gone) not in person.photos for person in book.list())
