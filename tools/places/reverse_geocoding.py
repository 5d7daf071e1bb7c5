"""GPS coordinates -> :class:`Place` (city, region, country), when a photo is indexed."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from tools.places.coordinates import _unit_vectors, haversine_km, valid_coordinates
from tools.places.gazetteer import _gazetteer
from tools.places.place_models import Place


def _point(item: Any) -> tuple[float, float] | None:
    try:
        lat, lon = item
    except (TypeError, ValueError):
        return None
    if not valid_coordinates(lat, lon):
        return None
    return float(lat), float(lon)


def reverse_geocode(points: Sequence[tuple[float, float]]) -> list[Place | None]:
    """Places for a batch of (lat, lon); None where a point is invalid or far from any town.

    The answer has one entry per input point, in order.
    """
    try:
        items = list(points)
    except TypeError:
        return []
    results: list[Place | None] = [None] * len(items)
    valid = [(i, p) for i, p in enumerate(map(_point, items)) if p is not None]
    if not valid:
        return results
    gaz = _gazetteer()
    lats = np.array([p[0] for _, p in valid])
    lons = np.array([p[1] for _, p in valid])
    # Our own unit-sphere tree, not RGeocoder.query: that one measures distance in
    # raw degrees, which picks the wrong town at high latitudes and across the
    # 180th meridian.
    _, rows = gaz.tree.query(_unit_vectors(lats, lons), k=1)
    for (i, (lat, lon)), row in zip(valid, rows):
        row = int(row)
        results[i] = gaz.place(row, haversine_km(lat, lon, gaz.lat[row], gaz.lon[row]))
    return results
