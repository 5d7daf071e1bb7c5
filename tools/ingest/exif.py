"""Camera metadata from EXIF: when, with what, where.

Everything here tolerates garbage: a field that cannot be read is simply absent. Dates are kept
as the wall-clock time at which the photo was taken ("floating" local time), because a person
remembers "the evening of 22 October", not a UTC instant; the UTC offset is kept when the camera
recorded one.
"""
from __future__ import annotations

import math
import re
from datetime import datetime, timedelta, timezone

from PIL import Image
from pydantic import BaseModel

EXIF_IFD = 0x8769
GPS_IFD = 0x8825

TAG_MAKE, TAG_MODEL, TAG_ORIENTATION, TAG_DATETIME = 0x010F, 0x0110, 0x0112, 0x0132
TAG_DATETIME_ORIGINAL, TAG_DATETIME_DIGITIZED = 0x9003, 0x9004
TAG_OFFSET_ORIGINAL, TAG_OFFSET = 0x9011, 0x9010
TAG_EXPOSURE_TIME, TAG_FNUMBER, TAG_ISO, TAG_FLASH = 0x829A, 0x829D, 0x8827, 0x9209

# Photography began in 1826; a clock that says later than tomorrow is wrong.
EARLIEST_YEAR = 1826

_DATE_RE = re.compile(r"(\d{4})[:\-/.](\d{1,2})[:\-/.](\d{1,2})(?:[ T](\d{1,2}):(\d{1,2})(?::(\d{1,2}))?)?")
_OFFSET_RE = re.compile(r"^([+-])(\d{2}):?(\d{2})$")


class CameraInfo(BaseModel):
    taken_at: datetime | None = None  # naive wall-clock time
    utc_offset_minutes: int | None = None
    date_problem: str | None = None  # why an EXIF date present was not used
    make: str | None = None
    model: str | None = None
    orientation: int | None = None
    lat: float | None = None
    lon: float | None = None
    alt: float | None = None
    gps_problem: str | None = None
    exposure_time: float | None = None
    f_number: float | None = None
    iso: int | None = None
    flash_fired: bool | None = None

    @property
    def camera(self) -> str | None:
        """"Canon EOS 5D" rather than "Canon Canon EOS 5D"."""
        make, model = self.make or "", self.model or ""
        if model.lower().startswith(make.split(" ")[0].lower()) and make:
            return model or None
        return " ".join(p for p in (make, model) if p) or None


def _clean_str(value: object) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    value = " ".join(value.replace("\x00", " ").split())
    return value or None


def _to_float(value: object) -> float | None:
    try:
        number = float(value)  # IFDRational, int, float
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return number if math.isfinite(number) else None


def parse_exif_datetime(text: object, now: datetime | None = None) -> tuple[datetime | None, str | None]:
    """Parse "2008:10:22 16:28:39" and friends; returns (value, problem)."""
    text = _clean_str(text)
    if not text:
        return None, None
    match = _DATE_RE.search(text)
    if not match:
        return None, f"unreadable date {text!r}"
    year, month, day = (int(match.group(i)) for i in (1, 2, 3))
    hour, minute, second = (int(match.group(i) or 0) for i in (4, 5, 6))
    try:
        value = datetime(year, month, day, min(hour, 23), min(minute, 59), min(second, 59))
    except ValueError:
        return None, f"impossible date {text!r}"
    latest = (now or datetime.now()) + timedelta(days=1)
    if year < EARLIEST_YEAR or value > latest:
        return None, f"date out of range {text!r}"
    return value, None


def parse_offset(text: object) -> int | None:
    match = _OFFSET_RE.match(_clean_str(text) or "")
    if not match:
        return None
    minutes = int(match.group(2)) * 60 + int(match.group(3))
    return -minutes if match.group(1) == "-" else minutes


def _gps_coordinate(values: object, ref: object) -> float | None:
    try:
        degrees, minutes, seconds = (_to_float(v) for v in values)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        return None
    if None in (degrees, minutes, seconds):
        return None
    coordinate = degrees + minutes / 60 + seconds / 3600  # type: ignore[operator]
    if (_clean_str(ref) or "").upper() in ("S", "W"):
        coordinate = -coordinate
    return coordinate


def _read_gps(gps: dict, info: CameraInfo) -> None:
    if not gps:
        return
    lat = _gps_coordinate(gps.get(2), gps.get(1))
    lon = _gps_coordinate(gps.get(4), gps.get(3))
    if lat is None or lon is None:
        info.gps_problem = "unreadable GPS"
        return
    if abs(lat) > 90 or abs(lon) > 180 or (lat == 0 and lon == 0):
        info.gps_problem = f"impossible GPS {lat:.4f},{lon:.4f}"
        return
    info.lat, info.lon = lat, lon
    alt = _to_float(gps.get(6))
    if alt is not None and abs(alt) < 100_000:
        info.alt = -alt if gps.get(5) in (1, b"\x01") else alt


def read_camera_info(image: Image.Image, now: datetime | None = None) -> CameraInfo:
    """Read what the camera recorded; never raises."""
    info = CameraInfo()
    try:
        exif = image.getexif()
    except Exception:  # noqa: BLE001 - malformed EXIF is common and never fatal
        return info
    try:
        sub = exif.get_ifd(EXIF_IFD)
    except Exception:  # noqa: BLE001
        sub = {}
    try:
        gps = exif.get_ifd(GPS_IFD)
    except Exception:  # noqa: BLE001
        gps = {}

    info.make = _clean_str(exif.get(TAG_MAKE))
    info.model = _clean_str(exif.get(TAG_MODEL))
    orientation = exif.get(TAG_ORIENTATION)
    info.orientation = orientation if isinstance(orientation, int) and 1 <= orientation <= 8 else None

    for raw, offset_tag in ((sub.get(TAG_DATETIME_ORIGINAL), TAG_OFFSET_ORIGINAL),
                            (sub.get(TAG_DATETIME_DIGITIZED), TAG_OFFSET),
                            (exif.get(TAG_DATETIME), TAG_OFFSET)):
        value, problem = parse_exif_datetime(raw, now)
        if value is not None:
            info.taken_at, info.date_problem = value, None
            info.utc_offset_minutes = parse_offset(sub.get(offset_tag))
            break
        info.date_problem = info.date_problem or problem

    try:
        _read_gps(gps, info)
    except Exception:  # noqa: BLE001
        info.gps_problem = "unreadable GPS"

    info.exposure_time = _to_float(sub.get(TAG_EXPOSURE_TIME))
    info.f_number = _to_float(sub.get(TAG_FNUMBER))
    iso = sub.get(TAG_ISO)
    if isinstance(iso, tuple) and iso:
        iso = iso[0]
    info.iso = iso if isinstance(iso, int) and 0 < iso < 10_000_000 else None
    flash = sub.get(TAG_FLASH)
    info.flash_fired = bool(flash & 1) if isinstance(flash, int) else None
    return info


def as_aware(taken_at: datetime, utc_offset_minutes: int | None) -> datetime:
    """The instant, when the offset is known; else the wall-clock time marked as UTC."""
    return taken_at.replace(tzinfo=timezone(timedelta(minutes=utc_offset_minutes or 0)))
