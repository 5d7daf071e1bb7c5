"""Coordinates: which (lat, lon) are real positions, great-circle distances, and unit vectors
for nearest-neighbour trees on the globe."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

EARTH_RADIUS_KM = 6371.0088


def _as_float(value: Any) -> float | None:
    """A finite float, or None.  Strings and booleans are not coordinates."""
    if value is None or isinstance(value, (bool, np.bool_, str, bytes)):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def valid_coordinates(lat: Any, lon: Any) -> bool:
    """True for a real position on Earth.

    (0, 0) is rejected: cameras and phones write it when they had no GPS fix
    ("null island"), and nobody photographs that spot in the Gulf of Guinea.
    """
    la, lo = _as_float(lat), _as_float(lon)
    if la is None or lo is None:
        return False
    if abs(la) > 90.0 or abs(lo) > 180.0:
        return False
    return not (la == 0.0 and lo == 0.0)


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km; NaN when an argument is not a number."""
    values = [_as_float(v) for v in (lat1, lon1, lat2, lon2)]
    if any(v is None for v in values):
        return math.nan
    p1, l1, p2, l2 = (math.radians(v) for v in values)  # type: ignore[arg-type]
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin((l2 - l1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, max(0.0, a))))


def _unit_vectors(lat_deg: np.ndarray, lon_deg: np.ndarray) -> np.ndarray:
    lat, lon = np.radians(lat_deg), np.radians(lon_deg)
    return np.column_stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])


def _chord(km: float) -> float:
    """Straight-line distance between unit-sphere points ``km`` apart on the surface."""
    return 2.0 * math.sin(km / (2.0 * EARTH_RADIUS_KM))
