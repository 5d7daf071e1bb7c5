"""Curated places the city gazetteer lacks: islands, informal regions, counties, natural
features and landmarks ("Lake Como", "the Dolomites", "Cornwall", "the Eiffel Tower").

GeoNames' cities1000 (tools.places.geo) knows towns and admin regions only, so "Lake Como"
there is a small US town and "the Alps" is nothing.  ``places.csv`` beside this file lists about
1,200 places people photograph, each as a centre and a radius (sources in its header);
``world_heritage.csv`` adds UNESCO's whole World Heritage List (scripts/world_heritage.py),
tried after the hand-written rows so that their meaning of a name stands.  An official name
puts the site's own name before a colon or comma ("Gulf of Porto: Calanche of Piana, ...",
"Vézelay, Church and Hill"): that head is what people say, kept apart (:func:`lookup_heads`)
for the resolver to try only after towns and regions, so "Paris, Banks of the Seine" leaves
"Paris" the city.

Loaded lazily on the first phrase that needs it, so reverse geocoding at index time and a
search without a place phrase never read it.  Bad rows are skipped, never raised.
"""
from __future__ import annotations

import csv
import math
import os
import re
import threading
from collections import defaultdict
from dataclasses import dataclass
from typing import Callable, Iterable

PLACES_CSV = os.path.join(os.path.dirname(__file__), "places.csv")
WORLD_HERITAGE_CSV = os.path.join(os.path.dirname(__file__), "world_heritage.csv")
DATA_FILES = (PLACES_CSV, WORLD_HERITAGE_CSV)


@dataclass(frozen=True)
class Landmark:
    name: str
    lat: float
    lon: float
    radius_km: float
    kind: str  # island, region, county, range, lake, park, coast, landmark, ...
    country: str  # ISO 3166-1 alpha-2; "" when the place spans several countries


_LOCK = threading.Lock()
_TABLES: tuple[dict[str, list[Landmark]], dict[str, Landmark]] | None = None  # (names, heads)
_HEAD_END = re.compile(r"[:,]")


def _rows(path: str) -> Iterable[dict]:
    with open(path, encoding="utf-8", newline="") as handle:
        yield from csv.DictReader(line for line in handle if not line.startswith("#"))


def _parse(row: dict) -> Landmark | None:
    try:
        lat, lon, radius = float(row["lat"]), float(row["lon"]), float(row["radius_km"])
    except (KeyError, TypeError, ValueError):
        return None
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180 and radius > 0):
        return None
    return Landmark(name=(row.get("name") or "").strip(), lat=lat, lon=lon, radius_km=radius,
                    kind=(row.get("kind") or "").strip(), country=(row.get("country") or "").strip().upper())


def _bare(key: str) -> str:
    # "The Alps" and "Alps" are one key: phrases reach us with and without the article.
    return key[4:] if key.startswith("the ") else key


def _build(normalize: Callable[[str], str],
           paths: Iterable[str]) -> tuple[dict[str, list[Landmark]], dict[str, Landmark]]:
    index: dict[str, list[Landmark]] = {}
    keys_of: defaultdict[Landmark, list[str]] = defaultdict(list)
    heads: defaultdict[str, set[Landmark]] = defaultdict(set)
    for row in (row for path in paths for row in _readable_rows(path)):
        place = _parse(row)
        if place is None or not place.name:
            continue
        for raw in [place.name, *(row.get("alt_names") or "").split("|")]:
            key = _bare(normalize(raw))
            if key and place not in index.setdefault(key, []):
                index[key].append(place)
                keys_of[place].append(key)
            head = _bare(normalize(_HEAD_END.split(raw, 1)[0]))
            if head and head != key and len(head) >= 3:
                heads[head].add(place)
    return index, _unique_heads(heads, index, keys_of)


def _unique_heads(heads: dict[str, set[Landmark]], index: dict[str, list[Landmark]],
                  keys_of: dict[Landmark, list[str]]) -> dict[str, Landmark]:
    """Heads that name one site: not one two sites share ("Rock-Hewn Churches"), nor one other
    sites' names contain too ("Citadel, Ancient City and Old Houses of ...": "Citadel of Erbil"
    has it), which is a common noun of heritage names, not a name; a full name stays the full
    name's."""
    with_word: defaultdict[str, set[Landmark]] = defaultdict(set)
    for place, keys in keys_of.items():
        for word in {w for key in keys for w in key.split()}:
            with_word[word].add(place)
    unique = {}
    for head, places in heads.items():
        if len(places) != 1 or head in index:
            continue
        place = next(iter(places))
        shared = any(f" {head} " in f" {key} " for other in with_word.get(head.split()[0], ()) if other != place
                     for key in keys_of[other])
        if not shared:
            unique[head] = place
    return unique


def _readable_rows(path: str) -> Iterable[dict]:
    try:
        yield from _rows(path)
    except (OSError, UnicodeDecodeError, csv.Error):  # a missing or broken file means fewer places, not a broken search
        return


def _tables(normalize: Callable[[str], str]) -> tuple[dict[str, list[Landmark]], dict[str, Landmark]]:
    global _TABLES
    with _LOCK:
        if _TABLES is None:
            _TABLES = _build(normalize, DATA_FILES)
        return _TABLES


def index(normalize: Callable[[str], str]) -> dict[str, list[Landmark]]:
    """normalised name -> places (first is the curated meaning), built once per process."""
    return _tables(normalize)[0]


def lookup(keys: Iterable[str], normalize: Callable[[str], str]) -> list[Landmark]:
    """Curated places named by any of ``keys`` (already normalised), best first."""
    table = index(normalize)
    found: list[Landmark] = []
    for key in keys:
        for place in table.get(_bare(key), ()):
            if place not in found:
                found.append(place)
    return found


def lookup_heads(keys: Iterable[str], normalize: Callable[[str], str]) -> list[Landmark]:
    """Places whose official name starts with one of ``keys`` before a colon or comma."""
    heads = _tables(normalize)[1]
    found = [heads.get(_bare(key)) for key in keys]
    return list(dict.fromkeys(place for place in found if place is not None))
