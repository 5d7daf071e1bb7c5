"""What the index knows about one photo, and how that maps to flat store metadata."""
from __future__ import annotations

import os
import time
from datetime import datetime, timezone
from typing import Literal

from pydantic import BaseModel

DateSource = Literal["exif", "sidecar", "file"]

# Fields copied onto every vector record too, so a vector query filters inside the store.
# event_id is one so that `recall search --event ID` filters vector queries inside the store.
FILTER_FIELDS = ("taken_ts", "lat", "lon", "camera", "country_code", "region", "city", "faces", "people", "event_id")
LIST_FIELDS = ("tags", "people", "analyzed", "keywords")


def readable_path(path: str) -> str:
    """A file path as valid text: bytes that are not UTF-8 (names from old Windows or Samba
    shares, e.g. ``2\xe9t\xe9.jpg``) are shown as ``\\xNN``. Python holds such names as lone
    surrogates, which neither the store nor a terminal nor JSON can take."""
    try:
        path.encode("utf-8")
        return path
    except UnicodeEncodeError:
        return os.fsencode(path).decode("utf-8", "backslashreplace")


def path_metadata(path: str) -> dict[str, str | None]:
    """How a path is stored: its readable form, plus its exact bytes (hex) when they differ
    (None otherwise: the store merges metadata, and None is what removes a stale value)."""
    shown = readable_path(path)
    return {"path": shown, "path_raw": None if shown is path else os.fsencode(path).hex()}


def path_from_metadata(meta: dict) -> str:
    raw = meta.get("path_raw")
    if raw:
        try:
            return os.fsdecode(bytes.fromhex(raw))
        except ValueError:
            pass
    return meta["path"]


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
    keywords: list[str] = []  # the person's own keywords (also inside user_text)
    caption: str = ""  # model-made, kept apart from what the person wrote
    text_in_photo: str = ""  # OCR
    tags: list[str] = []  # names, for filters and word search
    tags_detail: str = ""  # JSON list of {name, source, confidence}, for explanations
    faces: int = 0
    people: list[str] = []  # person (cluster) ids of the faces
    analyzed: list[str] = []  # analysis passes done, e.g. "faces-1", "caption-failed-1"
    # Moments (tools/understand/moments.py): the event the photo belongs to (none without a real
    # date) with its short label, kept here so that results and explanations need no lookup; the
    # burst of near-identical frames it is in, whether it is that burst's cover (the sharpest) and
    # the burst's size; the dHash and focus measure a burst is judged by, kept so they are computed once.
    event_id: str | None = None
    event_label: str | None = None  # e.g. "Berlin, Sat 14 Jul 2025"
    burst_id: str | None = None
    burst_cover: bool = False
    burst_size: int = 0
    dhash: str | None = None  # 16 hex digits
    sharpness: float | None = None  # variance of the Laplacian of a 512-px grey copy
    notes: str = ""  # problems found while reading, e.g. an impossible EXIF date
    indexed_at: int = 0

    def meaning_text(self) -> str:
        """What the sentence embedder sees: sentences, not tag lists (words read in the photo are a line)."""
        read = f"text in the photo: {self.text_in_photo}" if self.text_in_photo else ""
        return "\n".join(p for p in (self.user_text, self.caption, read) if p)

    def search_text(self) -> str:
        """Everything a word query may match: the person's words first, then the models'."""
        parts = [self.user_text, self.caption, self.text_in_photo, " ".join(self.tags)]
        return "\n".join(p for p in parts if p)

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
        data = self.model_dump(exclude={"id", "taken_at"})
        data["taken_ts"] = self.taken_ts
        data["indexed_at"] = self.indexed_at or int(time.time())
        data.update(path_metadata(self.path))
        # The store keeps neither empty lists nor (usefully) empty strings, and its upsert merges
        # metadata: None is how a field that became empty is removed.
        return {k: (None if v is None or v == [] or v == "" else v) for k, v in data.items()}

    def filter_metadata(self) -> dict[str, str | int | float | bool]:
        full = self.to_metadata()
        out = {k: full.get(k) for k in FILTER_FIELDS}
        out["faces"] = out["faces"] or 0  # never an empty record, and "--faces 0" can filter
        return out

    @classmethod
    def from_metadata(cls, id_: str, meta: dict) -> "PhotoRecord":
        data = {k: v for k, v in meta.items() if v is not None}
        data["path"] = path_from_metadata(meta)
        data.pop("path_raw", None)
        ts = data.pop("taken_ts", None)
        if ts is not None:
            data["taken_at"] = datetime.fromtimestamp(ts, tz=timezone.utc).replace(tzinfo=None)
        return cls(id=id_, **data)


class SkippedFile(BaseModel):
    path: str
    reason: str
    size: int = 0
    mtime_ns: int = 0

    def to_metadata(self) -> dict:
        return {**self.model_dump(), **path_metadata(self.path)}

    @classmethod
    def from_metadata(cls, meta: dict) -> "SkippedFile":
        data = {k: v for k, v in meta.items() if k != "path_raw"}
        return cls(**{**data, "path": path_from_metadata(meta)})
