"""Home and work from where a real temporary library's photos cluster (EXIF GPS and dates written
into copies), the RECALL_HOME / RECALL_WORK settings, and "at home" in a plan and a search."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from agent.plan import rule_plan
from tools.places import geo, home

HOME = (43.4633, 11.8797)  # Arezzo
WORK = (43.3188, 11.3308)  # Siena, ~45 km away
NOW = datetime(2024, 9, 15, 12, 0)


def _library(library):
    from tests.photos import write_photo

    # 2024-03-04 is a Monday.  Weekday evenings at home, weekday noons at work, a Saturday away.
    shots = [
        ("home_1.jpg", "2024:03:04 21:10:00", HOME), ("home_2.jpg", "2024:03:05 20:30:00", (43.4640, 11.8790)),
        ("home_3.jpg", "2024:03:06 06:15:00", (43.4628, 11.8805)), ("home_4.jpg", "2024:03:07 22:00:00", HOME),
        ("work_1.jpg", "2024:03:04 11:00:00", WORK), ("work_2.jpg", "2024:03:05 14:30:00", (43.3190, 11.3300)),
        ("work_3.jpg", "2024:03:06 10:05:00", WORK),
        ("trip.jpg", "2024:03:09 21:00:00", (45.99, 9.25)),  # a Saturday night at Lake Como: not a weeknight
        ("away.jpg", "2024:03:08 21:00:00", (45.99, 9.25)),  # a Friday evening away: a weeknight, outvoted
    ]
    for seed, (name, taken, gps) in enumerate(shots):
        write_photo(library / name, "circle", "red", seed=seed, taken=taken, gps=gps)


def _index(settings, library):
    from tools.index.indexer import Indexer
    from tools.index.store import PhotoStore
    from tools.models.registry import Models
    from tools.query.search import Searcher

    store, models = PhotoStore(settings), Models(settings)
    Indexer(settings, store, models).run([library])
    return Searcher(store, models), store


def test_home_and_work_come_from_where_the_photos_cluster(make_settings, library):
    _library(library)
    searcher, store = _index(make_settings(), library)
    anchors = home.anchors_from_store(store, store.settings)
    assert geo.haversine_km(anchors["home"].lat, anchors["home"].lon, *HOME) < 0.5
    assert geo.haversine_km(anchors["work"].lat, anchors["work"].lon, *WORK) < 0.5
    said = anchors["home"].explain()
    assert "weekday-evening photos" in said and "(4 of 5)" in said and "Arezzo" in said and "RECALL_HOME" in said

    from tools.query.search import SearchQuery
    plan = rule_plan("the dog at home", NOW, [], anchors=anchors)
    assert plan.place is not None and plan.place.radius_km == home.AT_RADIUS_KM and plan.visual == "the dog"
    hits = sorted(Path(r.path).name for r in searcher.search(SearchQuery(place=plan.place)).results)
    assert hits == ["home_1.jpg", "home_2.jpg", "home_3.jpg", "home_4.jpg"]
    plan = rule_plan("me at work", NOW, [], anchors=anchors)
    hits = sorted(Path(r.path).name for r in searcher.search(SearchQuery(place=plan.place)).results)
    assert hits == ["work_1.jpg", "work_2.jpg", "work_3.jpg"]


def test_the_setting_corrects_the_guess(make_settings, library):
    _library(library)
    _, store = _index(make_settings(home="45.99,9.25"), library)
    anchors = home.anchors_from_store(store, store.settings)
    assert (anchors["home"].source, anchors["home"].lat, anchors["home"].lon) == ("setting", 45.99, 9.25)
    assert "from the RECALL_HOME setting" in anchors["home"].explain()
    assert anchors["work"].source == "photos"  # the other guess stands


def test_near_home_is_wider_and_keeps_the_date():
    anchors = home.with_settings({}, home="43.46,11.88")
    plan = rule_plan("near home last winter", NOW, [], anchors=anchors)
    assert plan.place.radius_km == home.NEAR_RADIUS_KM and plan.date_range is not None


def test_without_a_home_the_words_stay_and_say_why():
    plan = rule_plan("the dog at home", NOW, [], anchors={})
    assert plan.place is None and "home" in plan.visual and any("RECALL_HOME" in u for u in plan.unknown)


@pytest.mark.parametrize("text", ["at the place we met", "a house by the sea", "homework at the desk"])
def test_other_words_are_not_home(text):
    assert home.find(text) is None


def test_a_scattered_library_has_no_home():
    weekday_nights = [(datetime(2024, 3, 4 + i % 4, 21), 40.0 + i, 10.0 + i) for i in range(10)]
    assert home.estimate(weekday_nights) == {}


@pytest.mark.parametrize("value", ["", "45", "abc,def", "91,10", "0,0", None, "1,2,3"])
def test_bad_settings_are_ignored(value):
    assert home.parse_point(value) is None
