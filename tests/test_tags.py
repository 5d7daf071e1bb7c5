"""Tags from EXIF, time and sun, faces, keywords and CLIP zero-shot scoring (tools/understand/tags.py).

Real code paths only: hand-made PhotoRecords with known exposure values and places, the real
camera photos in ../shared/data/exif-photos (read in place), and a tiny CLIP trained here.
"""
from __future__ import annotations

import math
import random
import re
from datetime import datetime

import numpy as np
import pytest
from PIL import Image

from tests.conftest import EXIF_PHOTOS, TINY_CLIP_NAME
from tests.support.synthetic_clip import draw_shape
from tools.ingest.exif import read_camera_info
from tools.index.records import PhotoRecord
from tools.understand.tags import (
    DEFAULT_VOCABULARY,
    Tag,
    VocabularyError,
    ZeroShotTagger,
    estimate_utc_offset,
    exif_tags,
    exposure_value,
    face_tags,
    keyword_tags,
    load_vocabulary,
    merge_tags,
    metadata_tags,
    parse_vocabulary,
    solar_position,
    tags_from_json,
    tags_to_json,
    tags_to_text,
    time_tags,
)

AREZZO = (43.46, 11.88)
MADRID = (40.447, -3.7248)


def record(**fields) -> PhotoRecord:
    base = dict(id="x", path="/photos/IMG_0001.JPG", size=1, mtime_ns=1, date_source="exif")
    return PhotoRecord(**(base | fields))


def names(tags: list[Tag]) -> set[str]:
    return {t.name for t in tags}


def by_name(tags: list[Tag]) -> dict[str, Tag]:
    return {t.name: t for t in tags}


def real_record(file_name: str) -> PhotoRecord:
    """A PhotoRecord built from a real photo's EXIF, as the indexer builds it."""
    path = EXIF_PHOTOS / file_name
    with Image.open(path) as image:  # opened read-only, in place
        info = read_camera_info(image)
        width, height = image.size
    if info.orientation in (5, 6, 7, 8):
        width, height = height, width
    return record(path=str(path), width=width, height=height, taken_at=info.taken_at,
                  utc_offset_minutes=info.utc_offset_minutes, camera=info.camera, camera_make=info.make,
                  camera_model=info.model, lat=info.lat, lon=info.lon, exposure_time=info.exposure_time,
                  f_number=info.f_number, iso=info.iso, flash_fired=info.flash_fired)


# =========================================================================== EXIF


@pytest.mark.parametrize("f_number, exposure_time, iso, expected", [
    (1.0, 1.0, 100, 0.0),          # the definition: f/1, 1 s, ISO 100 is EV 0
    (2.0, 0.25, 100, 4.0),         # log2(4 / 0.25)
    (16.0, 1 / 125, 100, math.log2(256 * 125)),  # "sunny 16": about EV 15
    (2.8, 1 / 60, 1600, math.log2(2.8 ** 2 * 60) - 4),  # ISO 1600 is four stops more sensitive
])
def test_exposure_value(f_number, exposure_time, iso, expected):
    assert exposure_value(f_number, exposure_time, iso) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("missing", [dict(f_number=None), dict(exposure_time=0.0), dict(iso=-5)])
def test_exposure_value_needs_all_three_positive(missing):
    values = dict(f_number=2.8, exposure_time=0.01, iso=100) | missing
    assert exposure_value(**values) is None


def test_dim_light_and_night_from_exposure():
    # f/2.8, 1/60 s, ISO 1600: EV 4.9, a living room in the evening.
    living_room = exif_tags(record(f_number=2.8, exposure_time=1 / 60, iso=1600))
    assert "dim light" in names(living_room)
    assert "night" not in names(living_room) and "bright" not in names(living_room)
    # f/1.8, 1/15 s, ISO 3200: EV 0.6, a street at night.
    street = by_name(exif_tags(record(f_number=1.8, exposure_time=1 / 15, iso=3200)))
    assert {"dim light", "night"} <= set(street)
    assert street["dim light"].confidence > by_name(living_room)["dim light"].confidence  # darker, surer
    assert street["night"].confidence < 0.75  # a dark room looks the same to a light meter


def test_bright_sun_and_ordinary_light():
    sunny = names(exif_tags(record(f_number=16, exposure_time=1 / 125, iso=100)))  # EV 15
    assert {"bright", "outdoor"} <= sunny and "dim light" not in sunny
    overcast = names(exif_tags(record(f_number=8, exposure_time=1 / 125, iso=100)))  # EV 13.0
    assert not overcast & {"bright", "dim light", "night"}


def test_flash_and_camera_photo():
    tags = names(exif_tags(record(flash_fired=True, camera_make="Canon", camera_model="EOS 5D")))
    assert {"flash", "camera photo"} <= tags
    assert "flash" not in names(exif_tags(record(flash_fired=False)))


@pytest.mark.parametrize("width, height, expected, absent", [
    (4000, 3000, {"landscape"}, {"portrait", "square", "panorama"}),
    (3000, 4000, {"portrait"}, {"landscape", "square"}),
    (1000, 1040, {"square"}, {"portrait", "landscape"}),   # within 5%
    (1000, 1100, {"portrait"}, {"square"}),                # 10% off is not square
    (9000, 3000, {"landscape", "panorama"}, set()),
    (0, 0, set(), {"landscape", "portrait", "square"}),    # size unknown
])
def test_orientation(width, height, expected, absent):
    tags = names(exif_tags(record(width=width, height=height, camera_make="NIKON")))
    assert expected <= tags and not tags & absent


def test_screenshot_by_screen_size_png():
    shot = by_name(exif_tags(record(path="/phone/IMG_4411.PNG", width=1170, height=2532)))
    assert shot["screenshot"].confidence >= 0.8
    assert "camera photo" not in shot and "panorama" not in shot


def test_screenshot_by_name_in_several_languages():
    for name in ("Screenshot 2024-03-01 at 10.00.00.png", "Bildschirmfoto 2023-01-02.png",
                 "Capture d’écran 2022-05-06.png", "Screen Shot 2019-01-01.jpg"):
        assert "screenshot" in names(exif_tags(record(width=777, height=555), path=f"/x/{name}")), name


def test_camera_make_rules_out_screenshot():
    # Same pixel size as a phone screen, but the camera recorded itself: a photo.
    tags = names(exif_tags(record(path="/x/Screenshot.png", width=1170, height=2532, camera_make="Apple",
                                  camera_model="iPhone 12")))
    assert "screenshot" not in tags and "camera photo" in tags


def test_jpeg_at_screen_size_is_a_weak_screenshot():
    weak = by_name(exif_tags(record(path="/x/export.jpg", width=1920, height=1080)))
    assert 0 < weak["screenshot"].confidence <= 0.6
    assert "screenshot" not in names(exif_tags(record(path="/x/export.jpg", width=1921, height=1080)))


# =========================================================================== sun


def test_solar_position_matches_known_sunset_and_noon():
    # Arezzo, 22 Oct 2008: sunset about 18:17 CEST = 16:17 UTC (NOAA / timeanddate).
    before, _ = solar_position(datetime(2008, 10, 22, 16, 5), *AREZZO)
    after, hour_angle = solar_position(datetime(2008, 10, 22, 16, 30), *AREZZO)
    assert before > 0 > after and hour_angle > 0  # afternoon: sun west of the meridian
    # Equator at the March equinox, local solar noon (lon 0, 12:07 UTC with the equation of time):
    # the sun is nearly overhead.
    noon, _ = solar_position(datetime(2024, 3, 20, 12, 7), 0.0, 0.0)
    assert noon > 88
    # Madrid, 10 April 2015: sunset about 20:47 CEST = 18:47 UTC.
    assert solar_position(datetime(2015, 4, 10, 18, 40), *MADRID)[0] > 0
    assert solar_position(datetime(2015, 4, 10, 18, 55), *MADRID)[0] < 0


def test_utc_offset_recorded_then_time_zone_then_longitude():
    assert estimate_utc_offset(record(taken_at=datetime(2008, 10, 22, 12), utc_offset_minutes=60)) == (60, "recorded")
    # Italy keeps summer time until the last Sunday of October (26 Oct in 2008).
    assert estimate_utc_offset(record(taken_at=datetime(2008, 10, 22, 12), lat=AREZZO[0], lon=AREZZO[1])) == (120, "zone")
    assert estimate_utc_offset(record(taken_at=datetime(2008, 12, 22, 12), lat=AREZZO[0], lon=AREZZO[1])) == (60, "zone")
    # Spain's clocks run on Central European time although Madrid lies west of Greenwich.
    madrid = estimate_utc_offset(record(taken_at=datetime(2015, 4, 10, 20, 12), lat=MADRID[0], lon=MADRID[1]))
    assert madrid == (120, "zone")
    # Mid-Pacific, thousands of kilometres from any zone's city: nautical time.
    assert estimate_utc_offset(record(taken_at=datetime(2020, 1, 1), lat=-40.0, lon=-130.0)) == (-540, "longitude")


# =========================================================================== time of day


def arezzo(hour: int, minute: int = 0, **fields) -> PhotoRecord:
    return record(taken_at=datetime(2008, 10, 22, hour, minute), lat=AREZZO[0], lon=AREZZO[1], **fields)


def test_late_evening_in_arezzo_is_night():
    tags = names(time_tags(arezzo(22, 30)))
    assert "night" in tags and not tags & {"daytime", "golden hour", "twilight"}


def test_noon_in_arezzo_is_daytime():
    tags = names(time_tags(arezzo(12, 0)))
    assert "daytime" in tags and not tags & {"night", "twilight", "golden hour"}


def test_half_past_six_in_late_october_arezzo_is_dusk():
    # Sunset 18:17 CEST; at 18:30 the sun is about 3 degrees down: civil twilight, evening side.
    tags = by_name(time_tags(arezzo(18, 30)))
    assert {"twilight", "dusk", "evening"} <= set(tags)
    assert not set(tags) & {"night", "dawn", "daytime"}


def test_early_morning_twilight_is_dawn():
    # Sunrise in Arezzo on 22 Oct 2008 was about 07:25 CEST.
    tags = names(time_tags(arezzo(7, 5)))
    assert {"twilight", "dawn", "morning"} <= tags and "dusk" not in tags


def test_recorded_offset_beats_the_estimate():
    # 18:30 on a clock that says UTC+0 is 18:30 UTC: two hours after sunset, night.
    assert "night" in names(time_tags(arezzo(18, 30, utc_offset_minutes=0)))


def test_southern_hemisphere_july_is_winter():
    sydney = names(time_tags(record(taken_at=datetime(2019, 7, 14, 12), lat=-33.87, lon=151.21)))
    assert "winter" in sydney and "summer" not in sydney
    assert "summer" in names(time_tags(record(taken_at=datetime(2019, 7, 14, 12), lat=AREZZO[0], lon=AREZZO[1])))


def test_season_without_gps_assumes_north_with_less_confidence():
    tags = by_name(time_tags(record(taken_at=datetime(2019, 1, 10, 12))))
    assert tags["winter"].confidence < 1.0


def test_weekend():
    assert "weekend" in names(time_tags(record(taken_at=datetime(2024, 6, 8, 10))))  # a Saturday
    assert "weekend" not in names(time_tags(record(taken_at=datetime(2024, 6, 10, 10))))  # a Monday


@pytest.mark.parametrize("hour, expected", [(23, "night"), (3, "night"), (5, "morning"), (11, "morning"),
                                            (12, "afternoon"), (17, "afternoon"), (18, "evening"),
                                            (21, "evening")])
def test_clock_fallback_without_gps(hour, expected):
    tags = names(time_tags(record(taken_at=datetime(2024, 6, 10, hour, 30))))
    assert expected in tags
    assert not tags & {"daytime", "twilight", "golden hour"}  # those need the sun


def test_file_dates_are_weak():
    tags = time_tags(arezzo(22, 30, date_source="file"))
    assert tags and all(0 < t.confidence <= 0.3 for t in tags)
    assert max(t.confidence for t in time_tags(arezzo(22, 30))) > 0.8


def test_no_date_no_time_tags():
    assert time_tags(record(taken_at=None, lat=AREZZO[0], lon=AREZZO[1])) == []


# =========================================================================== real photos


def test_real_afternoon_walk_in_arezzo():
    photo = real_record("DSCN0010.jpg")  # 16:28 on 22 Oct 2008, 1/75 s f/5.9 ISO 64: EV 12
    assert photo.taken_at == datetime(2008, 10, 22, 16, 28, 39)
    tags = names(exif_tags(photo)) | names(time_tags(photo))
    assert {"daytime", "landscape", "camera photo", "afternoon", "autumn"} <= tags
    assert not tags & {"dim light", "night", "portrait", "screenshot"}


def test_real_evening_in_madrid_is_golden_hour():
    photo = real_record("iphone_hdr_NO.jpg")  # 20:12 on 10 April 2015, sunset 20:47 CEST
    tags = by_name(time_tags(photo))
    # The sun stood about 6 degrees up, at the edge of the golden hour: both bands are named.
    assert "golden hour" in tags and "night" not in tags and "twilight" not in tags
    assert {"evening", "spring"} <= set(tags)
    assert "dim light" not in names(exif_tags(photo))


def test_every_real_photo_gets_tags_without_errors():
    for path in sorted(EXIF_PHOTOS.glob("*.jpg")):
        try:
            photo = real_record(path.name)
        except OSError:
            continue  # the deliberately broken file
        tags = metadata_tags(photo)
        assert all(0 <= t.confidence <= 1 for t in tags), path.name


# =========================================================================== faces, keywords, merging


@pytest.mark.parametrize("count, expected", [
    (0, set()), (-1, set()), (1, {"one person"}), (2, {"two people", "couple"}),
    (3, {"group"}), (5, {"group"}), (6, {"group", "crowd"}), (40, {"group", "crowd"}),
])
def test_face_tags(count, expected):
    tags = face_tags(count)
    assert names(tags) == expected
    assert all(t.source == "faces" for t in tags)


def test_keyword_tags_are_normalised():
    tags = keyword_tags(["  Rome ", "rome", "Family  Trip", "", "   "])
    assert [t.name for t in tags] == ["rome", "family trip"]
    assert all(t.confidence == 1.0 and t.source == "keywords" for t in tags)


def test_merge_keeps_highest_confidence_and_its_source():
    merged = merge_tags([Tag(name="night", source="exif", confidence=0.4)],
                        [Tag(name="Night", source="time", confidence=0.9),
                         Tag(name="concert", source="clip", confidence=0.8)],
                        [Tag(name="night", source="clip", confidence=0.7)])
    assert [(t.name, t.source, t.confidence) for t in merged] == [("night", "time", 0.9), ("concert", "clip", 0.8)]


def test_tags_to_text_and_json_round_trip():
    tags = [Tag(name="dim light", source="exif", confidence=0.7), Tag(name="night", source="time", confidence=0.9),
            Tag(name="weekend", source="time", confidence=0.3)]
    assert tags_to_text(tags) == "night, dim light, weekend"
    assert tags_to_text(tags, min_confidence=0.5) == "night, dim light"
    assert tags_from_json(tags_to_json(tags)) == tags
    assert tags_from_json("not json") == [] and tags_from_json(None) == []


def test_confidence_outside_0_1_is_rejected():
    with pytest.raises(ValueError):
        Tag(name="x", source="exif", confidence=1.5)


# =========================================================================== vocabulary


def test_real_vocabulary_is_well_formed():
    vocab = load_vocabulary(DEFAULT_VOCABULARY)
    tag_names = [t.name for t in vocab.tags]
    assert 60 <= len(tag_names) <= 110
    assert len(tag_names) == len(set(tag_names))
    assert all(t.phrases and vocab.prompts(t) for t in vocab.tags)
    assert all("{}" not in p for t in vocab.tags for p in vocab.prompts(t))
    for group in vocab.groups.values():
        assert len(group.tags) >= 2 and set(group.tags) <= set(tag_names) and group.question
        assert all(vocab.group_of(n) == group for n in group.tags)
    assert {"indoor", "outdoor"} in [set(g.tags) for g in vocab.groups.values()]
    assert {"night", "daytime"} <= set(vocab.groups["time of day"].tags)
    for wanted in ("concert", "beach", "snow", "dog", "wedding", "fireworks", "graffiti", "surfing", "dim light"):
        assert wanted in tag_names
    assert 0 < vocab.groups["setting"].threshold < 1 and vocab.neutral and vocab.logit_scale == 100
    # Orientation words belong to the EXIF tags; a scene tag of the same name would be merged away.
    assert not {"portrait", "landscape"} & set(tag_names)


@pytest.mark.parametrize("text, problem", [
    ("[group g]\na: x\n", "at least two"),
    ("[independent]\na: x\na: y\n", "twice"),
    ("a: x\n", "before any"),
    ("[independent]\nBad*Name: x\n", "bad tag name"),
    ("[independent]\nempty:\n", "no prompt"),
    ("templates = a photo\n[independent]\na: x\n", "{}"),
    ("[independent]\nthreshold = 1.5\na: x\n", "not in (0, 1)"),
    ("[independent]\njust words\n", "cannot read"),
])
def test_vocabulary_errors_name_the_problem(text, problem):
    with pytest.raises(VocabularyError, match=re.escape(problem)):
        parse_vocabulary(text)


def test_vocabulary_sections_and_implications():
    vocab = parse_vocabulary(
        "threshold.independent = 0.8\ntemplates = a {} | {}\n"
        "[group colour]\nquestion = Which colour?\nthreshold = 0.55\nred: red | crimson\nblue: blue\n"
        "[independent]\nsurfing: surfing => sport, sea  # a comment\n")
    surfing = next(t for t in vocab.tags if t.name == "surfing")
    assert surfing.implies == ("sport", "sea") and surfing.threshold == 0.8 and surfing.group is None
    assert vocab.groups["colour"].threshold == 0.55 and vocab.groups["colour"].question == "Which colour?"
    assert vocab.prompts(vocab.tags[0]) == ["a red", "red", "a crimson", "crimson"]


# =========================================================================== zero-shot with a tiny CLIP

SHAPE_VOCABULARY = """
threshold.group = 0.6
threshold.independent = 0.7
logit_scale = 100
neutral = a photo
templates = a {} | a photo of a {}

[group colour]
red: red circle | red square | red triangle | red star
blue: blue circle | blue square | blue triangle | blue star
green: green circle | green square | green triangle | green star
yellow: yellow circle | yellow square | yellow triangle | yellow star => bright colour

[independent]
circle: red circle | blue circle | green circle | yellow circle
"""


@pytest.fixture(scope="module")
def clip(tiny_clip_models_dir):
    # The session fixture trains the tiny CLIP once (build_tiny_clip) for every module using it.
    from tools.models.clip import ClipModel

    return ClipModel(tiny_clip_models_dir / "clip" / TINY_CLIP_NAME)


@pytest.fixture(scope="module")
def shape_tagger(clip, tmp_path_factory) -> ZeroShotTagger:
    path = tmp_path_factory.mktemp("vocab") / "shapes.txt"
    path.write_text(SHAPE_VOCABULARY)
    return ZeroShotTagger(clip, path)


def drawings(clip, shape: str, colour: str, n: int = 6) -> np.ndarray:
    rng = random.Random(f"{shape}-{colour}")
    return clip.embed_images([draw_shape(shape, colour, rng=rng) for _ in range(n)])


def test_group_winner_is_the_drawn_colour(shape_tagger, clip):
    for photo_tags in shape_tagger.tags(drawings(clip, "circle", "red")):
        found = by_name(photo_tags)
        assert "red" in found and found["red"].confidence >= 0.6 and found["red"].source == "clip"
        assert not {"blue", "green", "yellow"} & set(found)


def test_group_probabilities_sum_to_one(shape_tagger, clip):
    probs = shape_tagger.probabilities(drawings(clip, "star", "blue", n=3))
    columns = [shape_tagger.names.index(n) for n in ("red", "blue", "green", "yellow")]
    assert np.allclose(probs[:, columns].sum(axis=1), 1.0, atol=1e-5)
    assert (probs[:, shape_tagger.names.index("blue")] > 0.6).all()


def test_independent_tag_against_neutral_prompt(shape_tagger, clip):
    circles = shape_tagger.tags(drawings(clip, "circle", "green"))
    assert all("circle" in names(t) and by_name(t)["circle"].confidence >= 0.7 for t in circles)
    squares = shape_tagger.tags(drawings(clip, "square", "green"))
    assert sum("circle" in names(t) for t in squares) <= 1  # a square is rarely mistaken for one


def test_implied_tags_follow_their_tag(shape_tagger, clip):
    for photo_tags in shape_tagger.tags(drawings(clip, "triangle", "yellow")):
        found = by_name(photo_tags)
        assert "yellow" in found and found["bright colour"].confidence == found["yellow"].confidence


def test_tagger_accepts_one_embedding_or_none(shape_tagger, clip):
    one = drawings(clip, "circle", "red", n=1)[0]
    assert len(shape_tagger.tags(one)) == 1
    assert shape_tagger.tags(np.zeros((0, one.shape[0]), dtype=np.float32)) == []


def test_real_vocabulary_embeds_with_any_clip(clip):
    # The tiny CLIP knows none of these words, so only the mechanics are checked: every tag gets a
    # unit-length text embedding and every photo a list of valid tags.
    tagger = ZeroShotTagger(clip)
    assert tagger.tag_embeddings.shape == (len(tagger.names), clip.dim)
    assert np.allclose(np.linalg.norm(tagger.tag_embeddings, axis=1), 1.0, atol=1e-5)
    results = tagger.tags(drawings(clip, "circle", "red", n=2))
    assert len(results) == 2 and all(0.6 <= t.confidence <= 1 for tags in results for t in tags)


def test_prompt_embeddings_are_cached_per_model_and_vocabulary(clip, tmp_path):
    vocabulary = tmp_path / "shapes.txt"
    vocabulary.write_text(SHAPE_VOCABULARY)
    first = ZeroShotTagger(clip, vocabulary, cache_dir=tmp_path / "cache")
    embedded = clip.texts_embedded
    again = ZeroShotTagger(clip, vocabulary, cache_dir=tmp_path / "cache")
    assert clip.texts_embedded == embedded  # loaded, not recomputed
    assert np.array_equal(first.tag_embeddings, again.tag_embeddings)
    images = drawings(clip, "circle", "red", n=2)
    assert np.allclose(first.probabilities(images), again.probabilities(images))
    vocabulary.write_text(SHAPE_VOCABULARY.replace("red: red circle", "red: crimson circle", 1))
    ZeroShotTagger(clip, vocabulary, cache_dir=tmp_path / "cache")  # other prompts: a new entry
    assert clip.texts_embedded > embedded and len(list((tmp_path / "cache").glob("*.npz"))) == 2
