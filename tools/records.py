"""What the index knows about one photo, and how that maps to flat store metadata."""
from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Literal

from pydantic import BaseModel

DateSource = Literal["exif", "sidecar", "file"]

# Fields copied onto every vector record too, so a vector query filters inside the store.
FILTER_FIELDS = ("taken_ts", "lat", "lon", "camera", "country_code", "region", "city")


def wall_clock_ts(value: datetime) -> int:
    """Seconds since the epoch of the wall-clock time read as UTC ("floating" time).

    Filtering "22 October" must match a photo taken at 23:30 in Rome, whatever the offset, so
    dates are compared as the camera's clock showed them.
    """
    return int(value.replace(tzinfo=timezone.utc).timestamp())


class PhotoRecord(BaseModel):
    id: str  # content hash: survives moves and renames
    path: str
    size: int
    mtime_ns: int
    width: int = 0
    height: int = 0
    taken_at: datetime | None = None  # naive wall-clock time
    utc_offset_minutes: int | None = None
    date_source: DateSource = "file"
    camera: str | None = None
    camera_make: str | None = None
    camera_model: str | None = None
    lat: float | None = None
    lon: float | None = None
    alt: float | None = None
    city: str | None = None
    region: str | None = None
    country: str | None = None
    country_code: str | None = None
    place: str | None = None  # human label, e.g. "Arezzo, Tuscany, Italy"
    exposure_time: float | None = None
    iso: int | None = None
    f_number: float | None = None
    flash_fired: bool | None = None
    user_text: str = ""  # captions and keywords the person wrote (XMP/IPTC/EXIF/sidecars)
    user_text_sources: str = ""
    notes: str = ""  # problems found while reading, e.g. an impossible EXIF date
    indexed_at: int = 0

    @property
    def taken_ts(self) -> int | None:
        return wall_clock_ts(self.taken_at) if self.taken_at else None

    @property
    def taken_at_iso(self) -> str | None:
        if not self.taken_at:
            return None
        if self.utc_offset_minutes is None:
            return self.taken_at.isoformat()
        sign = "+" if self.utc_offset_minutes >= 0 else "-"
        hours, minutes = divmod(abs(self.utc_offset_minutes), 60)
        return f"{self.taken_at.isoformat()}{sign}{hours:02d}:{minutes:02d}"

    def to_metadata(self) -> dict[str, str | int | float | bool]:
        """Flat metadata for the store; None is not storable, so absent fields are left out."""
        data = self.model_dump(exclude={"id", "taken_at", "user_text"})
        data["taken_ts"] = self.taken_ts
        data["indexed_at"] = self.indexed_at or int(time.time())
        return {k: v for k, v in data.items() if v is not None}

    def filter_metadata(self) -> dict[str, str | int | float | bool]:
        full = self.to_metadata()
        return {k: full[k] for k in FILTER_FIELDS if k in full} or {"taken_ts": -(2**62)}

    @classmethod
    def from_metadata(cls, id_: str, meta: dict, document: str | None) -> "PhotoRecord":
        data = dict(meta)
        ts = data.pop("taken_ts", None)
        if ts is not None:
            data["taken_at"] = datetime.fromtimestamp(ts, tz=timezone.utc).replace(tzinfo=None)
        return cls(id=id_, user_text=document or "", **data)


class SkippedFile(BaseModel):
    path: str
    reason: str
    size: int = 0
    mtime_ns: int = 0
