"""The two place values: where a photo was taken (:class:`Place`) and what a place phrase in a
query means (:class:`PlaceFilter`)."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from tools.places.name_keys import normalize


class Place(BaseModel):
    """Where a photo was taken. Empty strings mean "not known"."""

    model_config = ConfigDict(frozen=True)  # hashable: callers count and dedupe places

    city: str = ""
    region: str = ""  # GeoNames admin1: state, province, "Tuscany"
    subregion: str = ""  # GeoNames admin2: county, "Province of Arezzo"
    country_code: str = ""  # ISO 3166-1 alpha-2
    country: str = ""

    @property
    def label(self) -> str:
        """ "Arezzo, Tuscany, Italy"; repeated parts ("Berlin, Berlin") appear once."""
        parts: list[str] = []
        seen: set[str] = set()
        for part in (self.city, self.region, self.country):
            key = normalize(part)
            if key and key not in seen:
                seen.add(key)
                parts.append(part.strip())
        return ", ".join(parts)


class PlaceFilter(BaseModel):
    """What a place phrase in a query resolves to.

    "city" and "area" are both circles; an area is a curated place (a lake, a range, a
    landmark) whose radius is its own size rather than the caller's "near" distance.
    """

    kind: Literal["country", "region", "city", "area"]
    label: str  # "Italy" / "Tuscany, Italy" / "Arezzo, Italy" / "Lake Como, Italy"
    country_code: str  # "" for an area spanning countries ("the Alps")
    region: str | None = None  # admin1 name exactly as Place.region has it, for kind=region
    lat: float | None = None  # centre, for kind=city and kind=area
    lon: float | None = None
    radius_km: float | None = None  # for kind=city and kind=area
    # The place name inside a site name ("Chartres" in "Chartres Cathedral"): the planner keeps
    # the rest ("Cathedral") as words to look for in the photos.
    within: str | None = None
    # Several circles (lat, lon, radius_km), any of which a photo may be in: the places of the
    # library's events of one activity (tools/places/library_places.py), kind "area", no centre.
    circles: list[tuple[float, float, float]] = []
