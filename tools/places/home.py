"""Home and work as places: "the dog at home", "near home last winter", "at work".

Nobody types their address into a photo search, but their photos say where they live: a phone's
pictures from weekday evenings and nights cluster at home, those from weekday working hours at
work.  ``estimate`` finds the densest ~1 km cell of each set; a setting (``RECALL_HOME`` /
``RECALL_WORK`` as "lat,lon", in ``tools.settings``) overrides a wrong guess, and every anchor
carries a sentence saying where it came from and how to correct it.

Pure functions over (time, lat, lon) triples, so the index is read by the caller
(``anchors_from_store``) and nothing here imports agent/ or recall/.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Literal

from tools.places import geo

# Weekday evenings and nights (Mon-Fri, 19:00-07:00) are when most people are home; weekday
# working hours (Mon-Fri, 09:00-17:00) when they are at work.  Weekends say neither.
EVENING_FROM_HOUR, MORNING_UNTIL_HOUR = 19, 7
WORK_FROM_HOUR, WORK_UNTIL_HOUR = 9, 17
# ~1 km cells (0.01 degree of latitude): a home is a building, but phones' GPS wanders ~100 m.
CELL_DEG = 0.01
MIN_PHOTOS = 3  # fewer photos in the densest cell is no pattern
MIN_SHARE = 0.2  # ... nor is a cell holding under a fifth of the candidate photos
AT_RADIUS_KM = 1.0  # "at home": the building and the street around it
NEAR_RADIUS_KM = 5.0  # "near home": the neighbourhood
SAME_PLACE_KM = 1.0  # work this close to home is home (people working from home)

Kind = Literal["home", "work"]


@dataclass(frozen=True)
class Anchor:
    kind: Kind
    lat: float
    lon: float
    source: Literal["photos", "setting"]
    photos: int = 0  # photos in the cluster
    candidates: int = 0  # photos of that time of week with GPS

    def explain(self) -> str:
        """ "home: where most of your weekday-evening photos were taken (12 of 30), near Arezzo, ..."."""
        near = _near_label(self.lat, self.lon)
        where = f"near {near}" if near else f"at {self.lat:.3f},{self.lon:.3f}"
        setting = f"RECALL_{self.kind.upper()}"
        if self.source == "setting":
            return f"{self.kind}: {where}, from the {setting} setting"
        when = "weekday-evening" if self.kind == "home" else "weekday working-hours"
        return (f"{self.kind}: where most of your {when} photos were taken ({self.photos} of {self.candidates}), "
                f"{where}; set {setting}=lat,lon to correct it")


def _near_label(lat: float, lon: float) -> str:
    place = geo.reverse_geocode([(lat, lon)])[0]
    return place.label if place is not None else ""


def parse_point(value: Any) -> tuple[float, float] | None:
    """ "45.46,9.19" (or "45.46 9.19") -> (45.46, 9.19); anything else, None."""
    if not isinstance(value, str):
        return None
    parts = [p for p in re.split(r"[,\s;]+", value.strip()) if p]
    if len(parts) != 2:
        return None
    try:
        lat, lon = float(parts[0]), float(parts[1])
    except ValueError:
        return None
    return (lat, lon) if geo.valid_coordinates(lat, lon) else None


def _is_evening(when: datetime) -> bool:
    # The small hours of Monday to Friday follow a weeknight; Saturday's follow a Friday out.
    if when.hour >= EVENING_FROM_HOUR:
        return when.weekday() < 5
    if when.hour < MORNING_UNTIL_HOUR:
        return when.weekday() < 5
    return False


def _is_working_hours(when: datetime) -> bool:
    return when.weekday() < 5 and WORK_FROM_HOUR <= when.hour < WORK_UNTIL_HOUR


def _cluster(points: list[tuple[float, float]]) -> tuple[float, float, int] | None:
    """Centre and size of the densest cell (its photos and its eight neighbours')."""
    if not points:
        return None
    cells = Counter((math.floor(lat / CELL_DEG), math.floor(lon / CELL_DEG)) for lat, lon in points)

    def around(cell):
        return sum(cells.get((cell[0] + dy, cell[1] + dx), 0) for dy in (-1, 0, 1) for dx in (-1, 0, 1))

    best = max(cells, key=lambda c: (around(c), cells[c]))
    members = [(lat, lon) for lat, lon in points
               if abs(math.floor(lat / CELL_DEG) - best[0]) <= 1 and abs(math.floor(lon / CELL_DEG) - best[1]) <= 1]
    if len(members) < MIN_PHOTOS or len(members) < MIN_SHARE * len(points):
        return None
    # The median resists a stray point at the edge of the cells.
    lats = sorted(p[0] for p in members)
    lons = sorted(p[1] for p in members)
    return lats[len(lats) // 2], lons[len(lons) // 2], len(members)


def estimate(photos: Iterable[tuple[datetime | None, float | None, float | None]]) -> dict[str, Anchor]:
    """Home and work from (taken_at, lat, lon) of the library's photos; either may be missing."""
    evening: list[tuple[float, float]] = []
    working: list[tuple[float, float]] = []
    for when, lat, lon in photos:
        if not isinstance(when, datetime) or not geo.valid_coordinates(lat, lon):
            continue
        if _is_evening(when):
            evening.append((float(lat), float(lon)))
        elif _is_working_hours(when):
            working.append((float(lat), float(lon)))
    found: dict[str, Anchor] = {}
    home = _cluster(evening)
    if home:
        found["home"] = Anchor("home", home[0], home[1], "photos", home[2], len(evening))
    work = _cluster(working)
    if work and not (home and geo.haversine_km(home[0], home[1], work[0], work[1]) <= SAME_PLACE_KM):
        found["work"] = Anchor("work", work[0], work[1], "photos", work[2], len(working))
    return found


def with_settings(found: dict[str, Anchor], home: Any = None, work: Any = None) -> dict[str, Anchor]:
    """The settings' points replace the photos' guesses."""
    out = dict(found)
    for kind, value in (("home", home), ("work", work)):
        point = parse_point(value)
        if point is not None:
            out[kind] = Anchor(kind, point[0], point[1], "setting")  # type: ignore[arg-type]
    return out


def anchors_from_store(store: Any, settings: Any = None) -> dict[str, Anchor]:
    """Home and work for a PhotoStore's library (one pass over its records), settings on top."""
    try:
        photos = [(r.taken_at, r.lat, r.lon) for r in store.iter_photos() if r.lat is not None]
    except Exception:  # an unreadable index means no anchors, not a failed search
        photos = []
    return with_settings(estimate(photos), getattr(settings, "home", None), getattr(settings, "work", None))


# "at home", "near home", "around the house", "at work", "near the office", "at my place"
_PHRASE = re.compile(r"\b(at|near|around|close\s+to|by)\s+(?:(?:my|our|the)\s+)?"
                     r"(home|house|place|work|office|workplace)\b", re.IGNORECASE)
_KINDS = {"home": "home", "house": "home", "place": "home", "work": "work", "office": "work", "workplace": "work"}


@dataclass(frozen=True)
class Found:
    start: int
    end: int
    kind: Kind
    near: bool


def find(text: str) -> Found | None:
    """Where the text says "at home" / "near work" and the like; None when it does not."""
    match = _PHRASE.search(text or "")
    if match is None:
        return None
    if match.group(2).lower() == "place" and not re.search(r"\b(?:my|our)\s+place\b", match.group(0), re.I):
        return None  # "at the place" is not home; "at my place" is
    if match.group(2).lower() == "house" and not re.search(r"\b(?:my|our|the)\s+house\b", match.group(0), re.I):
        return None
    near = match.group(1).lower() != "at"
    return Found(match.start(), match.end(), _KINDS[match.group(2).lower()], near)  # type: ignore[arg-type]


def place_filter(anchor: Anchor, near: bool) -> geo.PlaceFilter:
    radius = NEAR_RADIUS_KM if near else AT_RADIUS_KM
    return geo.PlaceFilter(kind="area", label=f"{'near ' if near else ''}{anchor.kind}",
                           country_code="", lat=anchor.lat, lon=anchor.lon, radius_km=radius)


def anchor_of(place: Any, anchors: dict[str, Anchor]) -> Anchor | None:
    """The anchor a plan's place filter was made from ("home", "near work"), if any."""
    label = getattr(place, "label", None)
    if getattr(place, "kind", None) != "area" or not isinstance(label, str):
        return None
    anchor = anchors.get(label.removeprefix("near "))
    return anchor if anchor is not None and (anchor.lat, anchor.lon) == (place.lat, place.lon) else None
