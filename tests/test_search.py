"""Search: filters on real camera photos, captions people wrote, and a CLIP that learned shapes."""
from __future__ import annotations

from pathlib import Path

import pytest

from evals.library import build_library
from tests.conftest import ARREZZO_WALK, EXIF_PHOTOS, FLICKR
from tests.photos import write_photo
from tools.places import geo
from tools.dates.dates import parse_date_bound
from tools.index.indexer import Indexer
from tools.models.registry import Models
from tools.query.search import SearchError, SearchQuery, Searcher
from tools.index.store import PhotoStore


def index(settings, paths):
    store, models = PhotoStore(settings), Models(settings)
    Indexer(settings, store, models).run(paths)
    return Searcher(store, models), store


def names(response) -> list[str]:
    return [Path(r.path).name for r in response.results]


@pytest.fixture
def camera_photos(make_settings):
    return index(make_settings(), [EXIF_PHOTOS])


def place(phrase: str, store: PhotoStore, km: float = 25.0):
    return geo.resolve_place(phrase, [geo.Place(**p) for p in store.get_meta("places", [])], radius_km=km)


def test_place_filters_find_the_arezzo_walk(camera_photos):
    searcher, store = camera_photos
    assert sorted(names(searcher.search(SearchQuery(place=place("near Arezzo", store))))) == ARREZZO_WALK
    italy = names(searcher.search(SearchQuery(place=place("Italy", store))))
    assert sorted(italy) == sorted(ARREZZO_WALK + ["87_OSError.jpg"])  # + a photo taken in Florence
    assert sorted(names(searcher.search(SearchQuery(place=place("Tuscany", store))))) == sorted(italy)
    florence = geo.PlaceFilter(kind="city", label="Florence", country_code="", lat=43.7696, lon=11.2558,
                               radius_km=5)
    assert names(searcher.search(SearchQuery(place=florence))) == ["87_OSError.jpg"]
    assert names(searcher.search(SearchQuery(place=place("Finland", store)))) == ["HMD_Nokia_8.3_5G.jpg"]


def test_date_and_camera_filters(camera_photos):
    searcher, _ = camera_photos
    day = SearchQuery(date_from=parse_date_bound("2008-10-22"), date_to=parse_date_bound("2008-10-22", end=True))
    assert sorted(names(searcher.search(day))) == ARREZZO_WALK
    year = SearchQuery(date_from=parse_date_bound("2005"), date_to=parse_date_bound("2005", end=True))
    assert sorted(names(searcher.search(year))) == ["87_OSError.jpg", "Kodak_CX7530.jpg"]
    assert sorted(names(searcher.search(SearchQuery(camera="coolpix")))) == ARREZZO_WALK
    assert names(searcher.search(SearchQuery(camera="iphone 6"))) == ["iphone_hdr_NO.jpg"]
    future = SearchQuery(date_from=parse_date_bound("2099"))
    assert searcher.search(future).results == []
    with pytest.raises(SearchError, match="camera"):
        searcher.search(SearchQuery(camera="Hasselblad"))
    with pytest.raises(SearchError, match="after"):
        searcher.search(SearchQuery(date_from=parse_date_bound("2010"), date_to=parse_date_bound("2009")))


def test_empty_and_huge_queries(camera_photos):
    searcher, _ = camera_photos
    with pytest.raises(SearchError, match="nothing to search for"):
        searcher.search(SearchQuery(text="   "))
    response = searcher.search(SearchQuery(text="street " * 1500))  # ~10,000 characters
    assert response.results == [] and any("visual search is off" in n for n in response.notices)


def test_own_caption_is_found_by_another_caption(make_settings, tmp_path):
    """One caption per photo in an XMP sidecar; the other four are the queries."""
    queries = build_library(tmp_path / "flickr", FLICKR, count=50)
    searcher, store = index(make_settings(), [tmp_path / "flickr"])
    assert store.count() == 50
    first_path, first_queries = next(iter(queries.items()))
    top5 = [r.path for r in searcher.search(SearchQuery(text=first_queries[0], k=5)).results]
    assert first_path in top5
    hits = total = 0
    for path, captions in queries.items():
        for caption in captions:
            total += 1
            hits += path in [r.path for r in searcher.search(SearchQuery(text=caption, k=5)).results]
    assert hits / total >= 0.6, f"caption recall@5 {hits / total:.2f}"
    result = searcher.search(SearchQuery(text=first_queries[0], k=1)).results[0]
    assert set(result.why) <= {"words", "meaning"} and result.why


def test_tiny_clip_ranks_red_circles_above_blue_squares(make_settings, tiny_clip_models_dir, library):
    for i in range(6):
        write_photo(library / f"red_circle_{i}.jpg", "circle", "red", seed=i, size=160)
        write_photo(library / f"blue_square_{i}.jpg", "square", "blue", seed=100 + i, size=160)
        write_photo(library / f"green_triangle_{i}.jpg", "triangle", "green", seed=200 + i, size=160)
    searcher, _ = index(make_settings(tiny_clip_models_dir), [library])
    red = searcher.search(SearchQuery(text="a red circle", k=6))
    assert all(n.startswith("red_circle") for n in names(red)), names(red)
    assert set(red.results[0].why) == {"visual"} and red.results[0].why["visual"].score > 0
    blue = searcher.search(SearchQuery(text="a blue square", k=6))
    assert all(n.startswith("blue_square") for n in names(blue)), names(blue)


def test_visual_search_respects_filters(make_settings, tiny_clip_models_dir, library):
    write_photo(library / "old_red.jpg", "circle", "red", seed=1, taken="2010:06:01 12:00:00", gps=(43.4633, 11.8797))
    write_photo(library / "new_red.jpg", "circle", "red", seed=2, taken="2020:06:01 12:00:00", gps=(52.52, 13.405))
    write_photo(library / "new_blue.jpg", "square", "blue", seed=3, taken="2020:07:01 12:00:00", gps=(52.52, 13.405))
    searcher, store = index(make_settings(tiny_clip_models_dir), [library])
    recent = SearchQuery(text="a red circle", k=5, date_from=parse_date_bound("2015"))
    assert names(searcher.search(recent)) == ["new_red.jpg", "new_blue.jpg"]
    in_italy = SearchQuery(text="a red circle", k=5, place=place("Italy", store))
    assert names(searcher.search(in_italy)) == ["old_red.jpg"]
