"""Curated places the city gazetteer lacks: islands, informal regions, counties, natural
features and landmarks ("Lake Como", "the Dolomites", "Cornwall", "the Eiffel Tower").

GeoNames' cities1000 (tools.places.geo) knows towns and admin regions only, so "Lake Como"
there is a small US town and "the Alps" is nothing.  ``places.csv`` beside this file lists a few
hundred places people photograph, each as a centre and a radius (sources in its header).

Loaded lazily on the first phrase that needs it, so reverse geocoding at index time and a
search without a place phrase never read it.  Bad rows are skipped, never raised.
"""
from __future__ import annotations

import csv
import math
import os
import threading
from dataclasses import dataclass
from typing import Callable, Iterable

PLACES_CSV = os.path.join(os.path.dirname(__file__), "places.csv")


@dataclass(frozen=True)
class Landmark:
    name: str
    lat: float
    lon: float
    radius_km: float
    kind: str  # island, region, county, range, lake, park, coast, landmark, ...
    country: str  # ISO 3166-1 alpha-2; "" when the place spans several countries


_LOCK = threading.Lock()
_INDEX: dict[str, list[Landmark]] | None = None


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


def _build(normalize: Callable[[str], str], path: str) -> dict[str, list[Landmark]]:
    index: dict[str, list[Landmark]] = {}
    for row in _rows(path):
        place = _parse(row)
        if place is None or not place.name:
            continue
        for raw in [place.name, *(row.get("alt_names") or "").split("|")]:
            key = normalize(raw)
            # "The Alps" and "Alps" are one key: phrases reach us with and without the article.
            if key.startswith("the "):
                key = key[4:]
            if key and place not in index.setdefault(key, []):
                index[key].append(place)
    return index


def index(normalize: Callable[[str], str], path: str = PLACES_CSV) -> dict[str, list[Landmark]]:
    """normalised name -> places (first is the curated meaning), built once per process."""
    global _INDEX
    with _LOCK:
        if _INDEX is None:
            try:
                _INDEX = _build(normalize, path)
            except OSError:  # a missing data file means fewer places, not a broken search
                _INDEX = {}
        return _INDEX


def lookup(keys: Iterable[str], normalize: Callable[[str], str]) -> list[Landmark]:
    """Curated places named by any of ``keys`` (already normalised), best first."""
    table = index(normalize)
    found: list[Landmark] = []
    for key in keys:
        key = key[4:] if key.startswith("the ") else key
        for place in table.get(key, ()):
            if place not in found:
                found.append(place)
    return found
