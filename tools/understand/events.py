"""Where one event ends and the next begins, from the times and places of a run of photos.

People shoot in bursts of activity separated by pauses, and how long a pause must be to mean
"something else now" depends on how densely they shoot: ten minutes is an eternity at a concert
shot every few seconds and nothing on a walk shot every twenty minutes. So a gap is judged
against the gaps around it, as in Platt et al.'s PhotoTOC (and Cooper et al.'s temporal event
clustering): gap i is a boundary when

    log(g_i) >= K + mean(log(g_j) for j in i-d .. i+d)

with K = log 17 and d = 10 in PhotoTOC. Two absolute limits keep it sane at the extremes: a gap
under a floor never splits (a pause inside a dense event looks huge next to one-second gaps) and
a gap over a ceiling always does (a sparse shooter's photos a week apart have no "local average"
worth the name). A jump between consecutive located photos farther than a threshold splits too:
the same afternoon in two towns is two events.

Pure functions of (time, place) points, so the incremental update in tools/understand/moments.py
can run them on any window of the library.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

EARTH_KM = 6371.0088


@dataclass(frozen=True)
class Point:
    id: str
    ts: int  # wall-clock seconds (tools.index.records.wall_clock_ts)
    lat: float | None = None
    lon: float | None = None


@dataclass(frozen=True)
class GapRule:
    k: float = math.log(17)
    window: int = 10
    min_gap_s: float = 30 * 60
    max_gap_s: float = 8 * 3600
    place_km: float = 25.0

    @classmethod
    def from_settings(cls, settings) -> "GapRule":
        return cls(k=settings.event_gap_k, window=settings.event_gap_window,
                   min_gap_s=settings.event_min_gap_minutes * 60, max_gap_s=settings.event_max_gap_hours * 3600,
                   place_km=settings.event_place_km)


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * EARTH_KM * math.asin(min(1.0, math.sqrt(a)))


def boundaries(points: list[Point], rule: GapRule) -> list[bool]:
    """For points sorted by time: True at i when an event ends between points i and i+1."""
    gaps = [b.ts - a.ts for a, b in zip(points, points[1:])]
    # One second is the floor of a log-gap: frames of a burst share a second and log(0) is -inf.
    logs = [math.log(max(gap, 1)) for gap in gaps]
    out = []
    last_located: Point | None = None
    for i, gap in enumerate(gaps):
        if points[i].lat is not None and points[i].lon is not None:
            last_located = points[i]
        nxt = points[i + 1]
        moved = (last_located is not None and nxt.lat is not None and nxt.lon is not None
                 and distance_km(last_located.lat, last_located.lon, nxt.lat, nxt.lon) > rule.place_km)
        around = logs[max(0, i - rule.window): i + rule.window + 1]
        adaptive = gap >= rule.min_gap_s and logs[i] >= rule.k + sum(around) / len(around)
        out.append(gap > rule.max_gap_s or adaptive or moved)
    return out


def segment(points: list[Point], rule: GapRule, forced: set[int] = frozenset()) -> list[list[Point]]:
    """Points (any order) cut into events, each sorted by time; ``forced`` holds indices (into the
    time-sorted points) after which an event must end whatever the gaps say."""
    ordered = sorted(points, key=lambda p: (p.ts, p.id))
    if not ordered:
        return []
    cuts = boundaries(ordered, rule)
    groups = [[ordered[0]]]
    for i, point in enumerate(ordered[1:]):
        if cuts[i] or i in forced:
            groups.append([])
        groups[-1].append(point)
    return groups
