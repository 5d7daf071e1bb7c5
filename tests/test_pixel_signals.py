"""Colour and light, ImageNet scene labels and PP-OCR text: the adapters and the understanding pass.

Real models from the packages, real Flickr8k-test photos read in place; photos that are changed
(black-and-white, text drawn on) are copies in a temporary folder. Photos were picked by their
captions and checked by eye: 1174525839 is a girl jumping on the shore (seashore 0.96),
1131800850 a border collie in snow, 1329832826 a Rite Aid on Broadway with its sign lit.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont, ImageOps

from agent.explain import explain
from agent.plan import Plan
from tests.conftest import FLICKR
from tools.index.indexer import Indexer
from tools.models.colour import colour_labels
from tools.models.ocr import TextReader, text_reader_status
from tools.models.registry import Models
from tools.models.scenes import (SceneClassifier, class_names, labels_from_probabilities, model_files,
                                 parse_words, scene_classifier_status)
from tools.query.search import SearchQuery, Searcher
from tools.index.store import PhotoStore
from tools.understand import analysis as analysis_module
from tools.understand.analysis import Analyzer
from tools.understand.tags import tags_from_json

BEACH = "1174525839_7c1e6cfa86.jpg"
COLLIE = "1131800850_89c7ffd477.jpg"
PHARMACY = "1329832826_432538d331.jpg"
PLAIN = "2518508760_68d8df7365.jpg"  # a racing dog: PP-OCR finds no text in it
GRASS_DOG = "1523984678_edd68464da.jpg"  # a dog on a green lawn

scenes_usable, scenes_where = scene_classifier_status()
ocr_usable, ocr_where = text_reader_status()
needs_scenes = pytest.mark.skipif(not scenes_usable, reason=scenes_where)
needs_ocr = pytest.mark.skipif(not ocr_usable, reason=ocr_where)


def photo(name: str) -> Image.Image:
    with Image.open(FLICKR / "images" / name) as image:
        return image.convert("RGB")


def with_text(name: str, text: str, dest: Path) -> Path:
    """A copy of a real photo with a shop sign drawn on it (no Flickr8k photo says OPEN)."""
    image = photo(name).resize((448, 448))
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=64)
    draw.rectangle((90, 150, 360, 250), fill="white")
    draw.text((110, 160), text, fill="black", font=font)
    dest.parent.mkdir(parents=True, exist_ok=True)
    image.save(dest, quality=92)
    return dest


def label_names(labels) -> dict[str, float]:
    return {label.name: label.confidence for label in labels}


# ---------------------------------------------------------------------------- colour and light
def test_colour_names_the_main_colours_of_a_real_photo():
    assert "green" in label_names(colour_labels(photo(GRASS_DOG)))  # the lawn


def test_a_black_and_white_conversion_is_black_and_white_and_has_no_colour():
    grey = ImageOps.grayscale(photo(BEACH)).convert("RGB")
    names = label_names(colour_labels(grey))
    assert names.get("black and white", 0) >= 0.9
    assert not set(names) & {"red", "orange", "yellow", "green", "blue", "purple", "pink", "brown"}
    assert "black and white" not in label_names(colour_labels(photo(BEACH)))


def test_a_darkened_photo_is_dark_and_a_lit_sign_in_the_dark_is_neon():
    dark = photo(BEACH).point(lambda v: int(v * 0.25))
    names = label_names(colour_labels(dark))
    assert {"dark", "dim light"} <= set(names) and "bright" not in names
    night = Image.new("RGB", (200, 200), (8, 8, 20))
    ImageDraw.Draw(night).rectangle((40, 80, 160, 100), fill=(255, 40, 200))  # a magenta neon tube
    assert "neon-lit" in label_names(colour_labels(night))
    assert "neon-lit" not in label_names(colour_labels(photo(BEACH)))


def test_a_small_vivid_red_thing_counts_but_grey_shadows_do_not():
    scene = photo(BEACH)
    ImageDraw.Draw(scene).ellipse((20, 20, 90, 90), fill=(210, 20, 25))  # a red umbrella, ~8% of the frame
    assert "red" in label_names(colour_labels(scene))


# ---------------------------------------------------------------------------- scene labels
def test_every_rule_in_the_words_file_parses_against_the_model_labels():
    if model_files() is None:
        pytest.skip(scenes_where)
    from tools.models.scenes import WORDS_FILE

    words = parse_words(WORDS_FILE.read_text(), class_names(model_files()[1]))
    names = class_names(model_files()[1])
    assert words[names.index("seashore")][:1] == ("beach",) and "mountain" in words[names.index("alp")]
    assert words[names.index("golden retriever")][:1] == ("dog",) and words[names.index("nipple")] == ()
    with pytest.raises(ValueError, match="class 978 is 'seashore'"):
        parse_words("978 lakeside: lake", names)


def test_words_shared_by_classes_add_up_and_weak_ones_are_dropped():
    import numpy as np

    probabilities = np.zeros(1000, dtype=np.float32)
    probabilities[[207, 208, 230]] = 0.2  # three breeds, none sure
    probabilities[978] = 0.1
    words = tuple(("dog", f"breed{i}") if 151 <= i <= 268 else ("beach",) if i == 978 else () for i in range(1000))
    found = label_names(labels_from_probabilities(probabilities, words, min_confidence=0.3))
    assert found == {"dog": pytest.approx(0.6, abs=1e-4)}


@needs_scenes
def test_the_classifier_says_beach_for_a_beach_and_dog_for_a_collie():
    classifier = SceneClassifier(threads=1)
    assert label_names(classifier.classify(photo(BEACH))).get("beach", 0) >= 0.5
    collie = label_names(classifier.classify(photo(COLLIE)))
    assert collie.get("dog", 0) >= 0.5 and "collie" in collie


# ---------------------------------------------------------------------------- text in the photo
@needs_ocr
def test_ocr_reads_a_real_sign_and_drawn_text_and_finds_nothing_in_a_plain_photo(tmp_path):
    reader = TextReader(threads=1)
    pharmacy = reader.read(photo(PHARMACY)).text
    assert "PHARMACY" in pharmacy and "RITEAID" in pharmacy
    assert "OPEN" in reader.read(Image.open(with_text(BEACH, "OPEN", tmp_path / "open.jpg"))).text.split()
    plain = reader.read(photo(PLAIN))
    assert plain.lines == [] and plain.text == ""


# ---------------------------------------------------------------------------- the pass
@pytest.fixture
def pixel_library(tmp_path) -> Path:
    folder = tmp_path / "library"
    folder.mkdir()
    for name in (BEACH, COLLIE, PLAIN):
        shutil.copy2(FLICKR / "images" / name, folder / name)
    with_text(GRASS_DOG, "OPEN", folder / "open_sign.jpg")
    ImageOps.grayscale(photo(BEACH)).save(folder / "beach_bw.jpg")
    return folder


def run_pass(settings, paths, only=None):
    store, models = PhotoStore(settings), Models(settings)
    Indexer(settings, store, models).run(paths)
    return Analyzer(settings, store, models).run(only=only), store, models


def found(store, models, text: str) -> list[str]:
    response = Searcher(store, models).search(SearchQuery(text=text, k=3))
    return [Path(r.path).name for r in response.results]


@needs_ocr
@needs_scenes
def test_the_pass_tags_colour_scenes_and_text_and_search_finds_them(make_settings, pixel_library):
    settings = make_settings(analyze_faces=False, analyze_objects=False, analyze_captions=False)
    analysis, store, models = run_pass(settings, [pixel_library])
    assert not analysis.failed and {"colour", "scenes", "ocr"} <= set(analysis.seconds_per_signal)
    by_name = {Path(r.path).name: r for r in store.iter_photos()}
    sign = by_name["open_sign.jpg"]
    assert "OPEN" in sign.text_in_photo.split() and "text in the photo: OPEN" in sign.meaning_text()
    sources = {(t.name, t.source) for t in tags_from_json(by_name[BEACH].tags_detail)}
    assert ("beach", "scenes") in sources
    assert ("black and white", "colour") in {(t.name, t.source) for t in tags_from_json(by_name["beach_bw.jpg"].tags_detail)}
    assert found(store, models, "the sign that said OPEN")[0] == "open_sign.jpg"
    response = Searcher(store, models).search(SearchQuery(text="the sign that said OPEN", k=1))
    said = explain(response.results[0], sign, Plan(visual="the sign that said OPEN"))
    assert "text in the photo: OPEN" in said
    assert found(store, models, "black and white")[0] == "beach_bw.jpg"
    assert found(store, models, "beach")[0] in {BEACH, "beach_bw.jpg"}  # both are the seashore
    # `recall search --json` carries the text read in the photo; photos without text have no field.
    import json
    import subprocess
    import sys

    from tests.conftest import ROOT

    done = subprocess.run([sys.executable, "-m", "recall", "search", "the sign that said OPEN", "--json", "-k", "5",
                           "--db", str(settings.db), "--models-dir", str(settings.models_dir)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert Path(rows[0]["path"]).name == "open_sign.jpg" and "OPEN" in rows[0]["text_in_photo"].split()
    assert all("text_in_photo" not in row for row in rows[1:] if Path(row["path"]).name != "open_sign.jpg")

    again = Analyzer(settings, store, models).run()
    assert again.photos == 0  # everything done: a second run does no model work


@needs_ocr
def test_a_changed_signal_reruns_alone_and_replaces_its_old_tags(make_settings, pixel_library, monkeypatch):
    settings = make_settings(analyze_faces=False, analyze_objects=False, analyze_captions=False)
    first, store, models = run_pass(settings, [pixel_library])
    before = {r.id: r for r in store.iter_photos()}
    monkeypatch.setitem(analysis_module.VERSIONS, "colour", 999)  # as a threshold change would
    second = Analyzer(settings, store, models).run()
    assert second.photos == len(before) and set(second.seconds_per_signal) == {"colour"}
    for record in store.iter_photos():
        assert "colour-999" in record.analyzed and record.text_in_photo == before[record.id].text_in_photo
        tags = tags_from_json(record.tags_detail)
        assert len({t.name for t in tags}) == len(tags)  # replaced, not piled up
        old = {t.name for t in tags_from_json(before[record.id].tags_detail) if t.source == "scenes"}
        assert old <= {t.name for t in tags}  # the other signals' tags stay


def test_a_missing_model_turns_its_signal_off_with_the_reason_and_loses_nothing(make_settings, pixel_library, tmp_path):
    empty = tmp_path / "no-such-models"
    empty.mkdir()
    settings = make_settings(analyze_faces=False, analyze_objects=False, analyze_captions=False,
                             scene_model_dir=empty, ocr_model_dir=empty)
    analysis, store, _ = run_pass(settings, [pixel_library])
    assert str(empty) in analysis.off["scenes"] and str(empty) in analysis.off["ocr"]
    assert "colour" not in analysis.off and analysis.photos == store.count()
    for record in store.iter_photos():
        assert not any(mark.startswith(("scenes", "ocr")) for mark in record.analyzed)  # redone once they exist
        assert any(mark.startswith("colour-") for mark in record.analyzed)
