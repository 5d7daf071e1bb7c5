"""Tags: short words attached to a photo that feed search, explanations and questions.

A tag ("night", "concert", "two people") is matched like a caption word, named in explanations
("matched: night, concert") and, through the vocabulary's groups of mutually exclusive tags,
turned into clarifying questions ("was it indoors or outdoors?"). Each tag carries the source
that produced it and a confidence in 0..1, so callers can weigh or drop weak ones.

Sources, cheapest first:

* :func:`exif_tags` - from the camera's record alone: flash, exposure value (dim light, bright),
  orientation, panorama, screenshot or camera photo.
* :func:`time_tags` - time of day *at the photo's place*, from the wall-clock time and the sun's
  elevation there (NOAA's solar-position formulas, below), plus season and weekend.
* :func:`face_tags` - how many people, from a face count.
* :func:`keyword_tags` - the person's own keywords.
* :class:`ZeroShotTagger` - scene/lighting/activity tags from CLIP image embeddings, scored
  against the editable vocabulary in ``prompts/tags.txt``.

:func:`merge_tags` combines the lists, :func:`tags_to_text` makes the searchable text, and
:func:`tags_to_json` / :func:`tags_from_json` store tags in flat store metadata.

Wiring, for the indexer::

    tagger = ZeroShotTagger(clip)                       # once per run: embeds every prompt
    clip_tags = tagger.tags(image_embeddings)           # one list per photo
    tags = merge_tags(metadata_tags(record, face_count=n, keywords=kw), clip_tags[i])
    document_text += "\\n" + tags_to_text(tags, min_confidence=0.4)
"""
from __future__ import annotations

import json
import math
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Literal, Sequence

import numpy as np
from pydantic import BaseModel, Field, field_validator

from tools.index.records import PhotoRecord

if TYPE_CHECKING:  # only a type hint: tagging from metadata must not load the model stack
    from tools.models.clip import ClipModel

PROMPTS = Path(__file__).resolve().parents[2] / "prompts"
DEFAULT_VOCABULARY = PROMPTS / "tags.txt"

TagSource = Literal["exif", "time", "faces", "keywords", "clip", "objects", "caption", "colour", "scenes"]


class Tag(BaseModel):
    name: str
    source: TagSource
    confidence: float = Field(ge=0.0, le=1.0)

    @field_validator("name")
    @classmethod
    def _normalise(cls, value: str) -> str:
        # Tags are compared by name across sources, so "Night " and "night" must be one tag.
        return " ".join(value.lower().split())


def _tag(name: str, source: TagSource, confidence: float) -> Tag:
    return Tag(name=name, source=source, confidence=round(min(1.0, max(0.0, confidence)), 4))


# =========================================================================== combining


def merge_tags(*lists: Iterable[Tag]) -> list[Tag]:
    """One tag per name, keeping the highest confidence (and that tag's source), best first."""
    best: dict[str, Tag] = {}
    for tags in lists:
        for tag in tags:
            if tag.name and (tag.name not in best or tag.confidence > best[tag.name].confidence):
                best[tag.name] = tag
    return sorted(best.values(), key=lambda t: (-t.confidence, t.name))


def tags_to_text(tags: Iterable[Tag], min_confidence: float = 0.0) -> str:
    """The tags as searchable words ("night, concert, dim light"), most confident first.

    No "tags:" prefix: the text is matched word by word, and "tags" is not about the photo.
    """
    kept = [t for t in merge_tags(tags) if t.confidence >= min_confidence]
    return ", ".join(t.name for t in kept)


def tags_to_json(tags: Iterable[Tag]) -> str:
    """Compact JSON for a flat metadata field: the store cannot hold lists of objects."""
    return json.dumps([[t.name, t.source, t.confidence] for t in tags], separators=(",", ":"))


def tags_from_json(text: str | None) -> list[Tag]:
    """Inverse of :func:`tags_to_json`; unreadable entries are skipped, never raised."""
    try:
        rows = json.loads(text or "[]")
    except (TypeError, ValueError):
        return []
    out = []
    for row in rows if isinstance(rows, list) else []:
        try:
            out.append(Tag(name=row[0], source=row[1], confidence=row[2]))
        except Exception:  # noqa: BLE001 - a stale or hand-edited field must not break search
            continue
    return out


def metadata_tags(record: PhotoRecord, *, path: str | Path | None = None, face_count: int | None = None,
                  keywords: Sequence[str] = ()) -> list[Tag]:
    """Every tag that needs no vision model, merged: EXIF, time, faces (when counted), keywords."""
    faces = face_tags(face_count) if face_count is not None else []
    return merge_tags(exif_tags(record, path), time_tags(record), faces, keyword_tags(list(keywords)))


# =========================================================================== EXIF

# EV100 thresholds. Typical scenes: full sun 15, overcast 12-13, bright interior 8-9, home
# interior 5-7, floodlit street 2-4, candle light or moonlit landscape below 2.
DIM_LIGHT_EV = 5.0
NIGHT_EV = 2.0
BRIGHT_EV = 13.0

SQUARE_TOLERANCE = 0.05
PANORAMA_ASPECT = 2.2

# Screen sizes in pixels (landscape; portrait is checked too): desktops, laptops (Retina sizes
# included), tablets and phones. A camera almost never writes these exact sizes, but resized or
# exported photos can, which is why a size alone gives only a moderate confidence.
SCREEN_SIZES: frozenset[tuple[int, int]] = frozenset({
    (800, 600), (1024, 768), (1280, 720), (1280, 800), (1280, 1024), (1366, 768), (1440, 900),
    (1536, 864), (1600, 900), (1680, 1050), (1920, 1080), (1920, 1200), (2048, 1152), (2256, 1504),
    (2560, 1080), (2560, 1440), (2560, 1600), (2736, 1824), (2880, 1800), (2940, 1912), (3024, 1964),
    (3072, 1920), (3440, 1440), (3456, 2234), (3840, 2160), (4480, 2520), (5120, 2880),
    (2048, 1536), (2160, 1620), (2266, 1488), (2360, 1640), (2388, 1668), (2732, 2048),
    (1136, 640), (1334, 750), (1792, 828), (2208, 1242), (2436, 1125), (2532, 1170), (2556, 1179),
    (2622, 1206), (2688, 1242), (2778, 1284), (2796, 1290), (2868, 1320),
    (1280, 720), (1600, 720), (2220, 1080), (2280, 1080), (2340, 1080), (2400, 1080), (2560, 1440),
    (2960, 1440), (2992, 1344), (3088, 1440), (3120, 1440), (3200, 1440),
})
# File-name words that operating systems put in screenshot names, folded to ascii letters/digits.
SCREENSHOT_NAME_WORDS = ("screenshot", "bildschirmfoto", "capturedecran", "capturadepantalla", "schermata",
                         "schermafbeelding", "skarmavbild", "skarmbild", "snimekobrazovky", "zrzutekranu")


def exposure_value(f_number: float | None, exposure_time: float | None, iso: float | None) -> float | None:
    """EV at ISO 100: log2(N^2 / t) - log2(ISO / 100).

    Auto-exposure adjusts N, t and ISO to the light, so EV100 measures scene brightness
    whatever the camera; None when a value is missing or impossible.
    """
    values = (f_number, exposure_time, iso)
    if any(v is None or not math.isfinite(v) or v <= 0 for v in values):  # type: ignore[arg-type]
        return None
    return math.log2(f_number ** 2 / exposure_time) - math.log2(iso / 100)  # type: ignore[operator]


def _ramp(start: float, per_unit: float, distance: float, cap: float) -> float:
    """Confidence that grows the further a measure lies past its threshold."""
    return min(cap, start + per_unit * max(0.0, distance))


def _light_tags(record: PhotoRecord) -> list[Tag]:
    ev = exposure_value(record.f_number, record.exposure_time, record.iso)
    if ev is None:
        return []
    tags = []
    if ev < DIM_LIGHT_EV:
        tags.append(_tag("dim light", "exif", _ramp(0.6, 0.1, DIM_LIGHT_EV - ev, 0.95)))
    if ev < NIGHT_EV:
        # Only a candidate: a dark room at noon is as dim as a lit street at night.
        tags.append(_tag("night", "exif", _ramp(0.4, 0.1, NIGHT_EV - ev, 0.7)))
    if ev > BRIGHT_EV:
        tags.append(_tag("bright", "exif", _ramp(0.6, 0.1, ev - BRIGHT_EV, 0.9)))
        # Indoor light, even a bright studio, stays far below direct daylight.
        tags.append(_tag("outdoor", "exif", 0.6))
    return tags


def _shape_tags(width: int, height: int, screenshot: bool) -> list[Tag]:
    if width <= 0 or height <= 0:
        return []
    ratio = width / height
    if abs(ratio - 1.0) <= SQUARE_TOLERANCE:
        tags = [_tag("square", "exif", 1.0)]
    else:
        tags = [_tag("landscape" if ratio > 1 else "portrait", "exif", 1.0)]
    # Tall phone screenshots (19.5:9 = 2.17) sit just under the threshold, but never count.
    if max(ratio, 1 / ratio) > PANORAMA_ASPECT and not screenshot:
        tags.append(_tag("panorama", "exif", 0.9))
    return tags


def _folded_name(path: str | Path) -> str:
    """"Capture d’écran 2024.png" -> "capturedecran2024png": one form for every spelling."""
    text = unicodedata.normalize("NFKD", Path(path).name.lower())
    return "".join(c for c in text if c.isascii() and c.isalnum())


def _screenshot_confidence(record: PhotoRecord, path: str | Path | None) -> float:
    """0 when the photo does not look like a screenshot."""
    if record.camera_make or record.camera_model:
        return 0.0  # screenshots carry no camera; anything that has one came through a lens
    name = _folded_name(path) if path else ""
    if any(word in name for word in SCREENSHOT_NAME_WORDS):
        return 0.95
    if (record.width, record.height) in SCREEN_SIZES or (record.height, record.width) in SCREEN_SIZES:
        # Screens are captured losslessly: PNG makes an exact screen size far more telling.
        return 0.85 if str(path or "").lower().endswith(".png") else 0.5
    return 0.0


def exif_tags(record: PhotoRecord, path: str | Path | None = None) -> list[Tag]:
    """Tags from camera metadata alone; ``path`` defaults to the record's own path."""
    path = path if path is not None else record.path
    tags: list[Tag] = []
    if record.flash_fired:
        tags.append(_tag("flash", "exif", 0.95))
    tags += _light_tags(record)
    screenshot = _screenshot_confidence(record, path)
    if screenshot:
        tags.append(_tag("screenshot", "exif", screenshot))
    elif record.camera_make or record.camera_model:
        tags.append(_tag("camera photo", "exif", 0.9))
    tags += _shape_tags(record.width, record.height, screenshot > 0)
    return merge_tags(tags)


# =========================================================================== sun and time

# Sun elevation bands (degrees, apparent: refraction included, so 0 is the visible horizon).
NIGHT_BELOW = -6.0  # end of civil twilight: too dark to read outdoors
GOLDEN_HOUR_BELOW = 6.0
# Camera clocks drift by minutes and offsets are sometimes estimated; the sun moves about a degree
# in five minutes near the horizon. Within this margin of a band edge, both bands are tagged.
BAND_MARGIN = 1.5

DATE_CONFIDENCE = {"exif": 1.0, "sidecar": 0.9, "file": 0.3}
# How much the UTC offset can be trusted: recorded by the camera, read from the nearest time
# zone's rules, or guessed from the longitude alone.
OFFSET_CONFIDENCE = {"recorded": 1.0, "zone": 0.9, "longitude": 0.7}
# A photo further than this from every time zone's main city is at sea or in a wilderness;
# nautical time (longitude / 15) is then the better guess.
ZONE_MAX_KM = 1500.0
TROPIC_LAT = 23.44


def _julian_day(utc: datetime) -> float:
    return utc.replace(tzinfo=timezone.utc).timestamp() / 86400.0 + 2440587.5


def solar_position(utc: datetime, lat: float, lon: float) -> tuple[float, float]:
    """(apparent elevation, hour angle) of the sun in degrees, by NOAA's solar calculator.

    The formulas are those of NOAA's Solar Calculation spreadsheet (after Meeus, "Astronomical
    Algorithms"), good to about a minute of time for dates 1800-2100. ``utc`` is a naive UTC
    time. The hour angle is negative before local solar noon, positive after.
    """
    rad, deg = math.radians, math.degrees
    t = (_julian_day(utc) - 2451545.0) / 36525.0  # Julian centuries since J2000
    mean_long = (280.46646 + t * (36000.76983 + t * 0.0003032)) % 360
    mean_anom = 357.52911 + t * (35999.05029 - 0.0001537 * t)
    ecc = 0.016708634 - t * (0.000042037 + 0.0000001267 * t)
    centre = (math.sin(rad(mean_anom)) * (1.914602 - t * (0.004817 + 0.000014 * t))
              + math.sin(rad(2 * mean_anom)) * (0.019993 - 0.000101 * t)
              + math.sin(rad(3 * mean_anom)) * 0.000289)
    omega = 125.04 - 1934.136 * t
    app_long = mean_long + centre - 0.00569 - 0.00478 * math.sin(rad(omega))
    obliq0 = 23 + (26 + (21.448 - t * (46.815 + t * (0.00059 - t * 0.001813))) / 60) / 60
    obliq = obliq0 + 0.00256 * math.cos(rad(omega))
    decl = deg(math.asin(math.sin(rad(obliq)) * math.sin(rad(app_long))))
    y = math.tan(rad(obliq / 2)) ** 2
    eq_time = 4 * deg(y * math.sin(2 * rad(mean_long)) - 2 * ecc * math.sin(rad(mean_anom))
                      + 4 * ecc * y * math.sin(rad(mean_anom)) * math.cos(2 * rad(mean_long))
                      - 0.5 * y * y * math.sin(4 * rad(mean_long)) - 1.25 * ecc * ecc * math.sin(2 * rad(mean_anom)))
    minutes = utc.hour * 60 + utc.minute + utc.second / 60
    true_solar = (minutes + eq_time + 4 * lon) % 1440
    hour_angle = true_solar / 4 - 180
    cos_zenith = (math.sin(rad(lat)) * math.sin(rad(decl))
                  + math.cos(rad(lat)) * math.cos(rad(decl)) * math.cos(rad(hour_angle)))
    elevation = 90 - deg(math.acos(max(-1.0, min(1.0, cos_zenith))))
    return elevation + _refraction(elevation), hour_angle


def _refraction(elevation: float) -> float:
    """NOAA's atmospheric refraction correction, degrees: the air lifts the low sun's image."""
    if elevation > 85:
        return 0.0
    tan_e = math.tan(math.radians(elevation))
    if elevation > 5:
        arcsec = 58.1 / tan_e - 0.07 / tan_e ** 3 + 0.000086 / tan_e ** 5
    elif elevation > -0.575:
        e = elevation
        arcsec = 1735 + e * (-518.2 + e * (103.4 + e * (-12.79 + e * 0.711)))
    else:
        arcsec = -20.772 / tan_e
    return arcsec / 3600


@lru_cache(maxsize=1)
def _zone_table() -> tuple[tuple[str, float, float, str], ...]:
    """(country code, lat, lon, zone) of each time zone's main city, from the tz database's
    ``zone.tab`` (in the tzdata package or the system's zoneinfo); empty when neither exists."""
    for text in _zone_tab_texts():
        rows = tuple(row for row in map(_zone_row, text.splitlines()) if row)
        if rows:
            return rows
    return ()


def _zone_tab_texts() -> Iterable[str]:
    try:
        from importlib.resources import files

        yield (files("tzdata") / "zoneinfo" / "zone.tab").read_text(encoding="utf-8")
    except Exception:  # noqa: BLE001 - the package is optional; the system copy may do
        pass
    import zoneinfo

    for folder in zoneinfo.TZPATH:
        try:
            yield (Path(folder) / "zone.tab").read_text(encoding="utf-8")
        except OSError:
            continue


_ISO6709 = re.compile(r"^([+-])(\d{2})(\d{2})(\d{2})?([+-])(\d{3})(\d{2})(\d{2})?$")


def _zone_row(line: str) -> tuple[str, float, float, str] | None:
    parts = line.split("\t")
    if line.startswith("#") or len(parts) < 3:
        return None
    match = _ISO6709.match(parts[1])
    if not match:
        return None
    s1, d1, m1, x1, s2, d2, m2, x2 = match.groups()
    lat = (int(d1) + int(m1) / 60 + int(x1 or 0) / 3600) * (-1 if s1 == "-" else 1)
    lon = (int(d2) + int(m2) / 60 + int(x2 or 0) / 3600) * (-1 if s2 == "-" else 1)
    return parts[0].upper(), lat, lon, parts[2].strip()


def _distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(min(1.0, math.sqrt(a)))


def nearest_zone(lat: float, lon: float, country_code: str | None = None) -> str | None:
    """The IANA zone whose main city is nearest, within the country when it is known.

    An approximation (zones follow borders, not distances), but unlike longitude / 15 it knows
    that Spain keeps Central European time and that clocks move for summer.
    """
    rows = _zone_table()
    in_country = tuple(r for r in rows if country_code and r[0] == country_code.upper())
    if not rows:
        return None
    km, zone = min((_distance_km(lat, lon, r[1], r[2]), r[3]) for r in in_country or rows)
    # A known country is trusted at any distance (Siberia is far from Moscow yet Russian).
    return zone if in_country or km <= ZONE_MAX_KM else None


def estimate_utc_offset(record: PhotoRecord) -> tuple[int | None, str]:
    """(minutes east of UTC, how it was found) for the photo's wall-clock time.

    Order: the offset the camera recorded; else the rules (summer time included) of the nearest
    time zone, from the tz database; else round(lon / 15) hours, nautical time, which ignores
    politics and summer time and so is often an hour or two early (Spain, China, any summer).
    """
    if record.utc_offset_minutes is not None:
        return record.utc_offset_minutes, "recorded"
    if record.lat is None or record.lon is None or record.taken_at is None:
        return None, "unknown"
    zone = nearest_zone(record.lat, record.lon, record.country_code)
    if zone:
        try:
            from zoneinfo import ZoneInfo

            offset = record.taken_at.replace(tzinfo=ZoneInfo(zone)).utcoffset()
            if offset is not None:
                return int(offset.total_seconds() // 60), "zone"
        except Exception:  # noqa: BLE001 - a zone missing from this machine's tz data
            pass
    return round(record.lon / 15) * 60, "longitude"


def _sun_band(elevation: float, rising: bool) -> list[str]:
    if elevation < NIGHT_BELOW:
        return ["night"]
    if elevation < 0:
        return ["twilight", "dawn" if rising else "dusk"]
    if elevation < GOLDEN_HOUR_BELOW:
        return ["golden hour"]
    return ["daytime"]


def _sun_tags(elevation: float, rising: bool, confidence: float) -> list[Tag]:
    """The band's words, plus the neighbouring band's near an edge, confidence split by distance."""
    edge = min((NIGHT_BELOW, 0.0, GOLDEN_HOUR_BELOW), key=lambda e: abs(elevation - e))
    distance = abs(elevation - edge)
    if distance >= BAND_MARGIN:  # edges are 6 degrees apart, so at most one is this close
        return [_tag(name, "time", confidence) for name in _sun_band(elevation, rising)]
    share = 0.5 * distance / BAND_MARGIN  # 0 at the edge, 0.5 at the margin
    other_side = edge - 0.01 if elevation >= edge else edge + 0.01
    own = [_tag(name, "time", confidence * (0.5 + share)) for name in _sun_band(elevation, rising)]
    return merge_tags(own, [_tag(name, "time", confidence * (0.5 - share))
                            for name in _sun_band(other_side, rising)])


def _clock_part(hour: int) -> str:
    if hour >= 22 or hour < 5:
        return "night"
    if hour < 12:
        return "morning"
    if hour < 18:
        return "afternoon"
    return "evening"


SEASONS_NORTH = {12: "winter", 1: "winter", 2: "winter", 3: "spring", 4: "spring", 5: "spring",
                 6: "summer", 7: "summer", 8: "summer", 9: "autumn", 10: "autumn", 11: "autumn"}
OPPOSITE_SEASON = {"winter": "summer", "summer": "winter", "spring": "autumn", "autumn": "spring"}


def _season_tag(month: int, lat: float | None, confidence: float) -> Tag:
    """Meteorological seasons (whole months), flipped south of the equator."""
    season = SEASONS_NORTH[month]
    if lat is None:
        confidence *= 0.7  # assumed northern, where nine in ten people live
    elif lat < 0:
        season = OPPOSITE_SEASON[season]
    if lat is not None and abs(lat) < TROPIC_LAT:
        confidence *= 0.5  # the tropics have wet and dry seasons more than summer and winter
    return _tag(season, "time", confidence)


def time_tags(record: PhotoRecord) -> list[Tag]:
    """Time of day at the photo's place, season and weekend.

    With coordinates, the sun's elevation decides: night (< -6 deg), twilight + dawn/dusk
    (-6..0), golden hour (0..6), daytime (> 6), and the clock adds morning/afternoon/evening.
    Without, the clock alone: night 22-5, morning 5-12, afternoon 12-18, evening 18-22.
    Dates guessed from the file's time get at most 0.3: they are when it was copied, not taken.
    """
    taken = record.taken_at
    if taken is None:
        return []
    base = DATE_CONFIDENCE.get(record.date_source, 0.3)
    tags = [_season_tag(taken.month, record.lat, base)]
    if taken.weekday() >= 5:
        tags.append(_tag("weekend", "time", base))
    part = _clock_part(taken.hour)
    offset, how = estimate_utc_offset(record)
    if offset is None or record.lat is None or record.lon is None:
        # Clock night is a weaker claim: at 23:00 in a northern June it may still be light.
        tags.append(_tag(part, "time", base * (0.8 if part == "night" else 1.0)))
        return merge_tags(tags)
    utc = taken - timedelta(minutes=offset)
    elevation, hour_angle = solar_position(utc, record.lat, record.lon)
    tags += _sun_tags(elevation, hour_angle < 0, base * OFFSET_CONFIDENCE[how])
    if part != "night":  # the sun, not the clock, says whether it was night
        tags.append(_tag(part, "time", base))
    return merge_tags(tags)


# =========================================================================== people and keywords


def face_tags(face_count: int) -> list[Tag]:
    """Words for how many people face the camera."""
    if face_count <= 0:
        return []
    if face_count == 1:
        return [_tag("one person", "faces", 0.9)]
    if face_count == 2:
        # Two people are often, not always, a couple.
        return [_tag("two people", "faces", 0.9), _tag("couple", "faces", 0.6)]
    if face_count <= 5:
        return [_tag("group", "faces", 0.9)]
    return [_tag("group", "faces", 0.9), _tag("crowd", "faces", 0.8 if face_count < 10 else 0.9)]


def keyword_tags(keywords: list[str]) -> list[Tag]:
    """The person's own keywords: lowercased, whitespace collapsed, duplicates dropped."""
    tags, seen = [], set()
    for keyword in keywords:
        name = " ".join(unicodedata.normalize("NFC", str(keyword)).lower().split())
        if name and name not in seen:
            seen.add(name)
            tags.append(_tag(name, "keywords", 1.0))
    return tags


# =========================================================================== vocabulary


class VocabularyError(ValueError):
    """The vocabulary file is malformed; the message names the line."""


@dataclass(frozen=True)
class VocabularyTag:
    name: str
    phrases: tuple[str, ...]
    group: str | None  # None: judged on its own against the neutral prompt
    threshold: float
    implies: tuple[str, ...] = ()


@dataclass(frozen=True)
class TagGroup:
    name: str
    tags: tuple[str, ...]
    threshold: float
    question: str | None = None


@dataclass
class Vocabulary:
    tags: list[VocabularyTag]
    groups: dict[str, TagGroup]
    templates: tuple[str, ...]
    neutral: tuple[str, ...]
    logit_scale: float

    def prompts(self, tag: VocabularyTag) -> list[str]:
        """Every phrase in every template, duplicates dropped, order kept."""
        out = [template.format(phrase) for phrase in tag.phrases for template in self.templates]
        return list(dict.fromkeys(out))

    def group_of(self, name: str) -> TagGroup | None:
        tag = next((t for t in self.tags if t.name == name), None)
        return self.groups.get(tag.group) if tag and tag.group else None


_SETTINGS = {"threshold.group", "threshold.independent", "logit_scale", "neutral", "templates"}
_SECTION_SETTINGS = {"threshold", "question"}
_SETTING_RE = re.compile(r"^([a-z_.]+)\s*=\s*(.*)$")
_SECTION_RE = re.compile(r"^\[\s*(group|independent)\b\s*([^\]]*)\]$")
_TAG_RE = re.compile(r"^([^:|=]+):(.*)$")
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9 '&/-]*$")


@dataclass
class _Section:
    kind: str  # "group" or "independent"
    name: str
    threshold: float | None = None
    question: str | None = None
    tags: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = field(default_factory=list)


def _split(text: str, sep: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(sep) if part.strip())


def _number(value: str, where: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise VocabularyError(f"{where}: not a number: {value!r}") from None


def _tag_line(match: re.Match, where: str) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    name = " ".join(match.group(1).lower().split())
    body, _, implied = match.group(2).partition("=>")
    phrases, implies = _split(body, "|"), tuple(" ".join(n.lower().split()) for n in _split(implied, ","))
    for tag_name in (name, *implies):
        if not _NAME_RE.match(tag_name):
            raise VocabularyError(f"{where}: bad tag name {tag_name!r}")
    if not phrases:
        raise VocabularyError(f"{where}: tag {name!r} has no prompt")
    return name, phrases, implies


def parse_vocabulary(text: str, source: str = "vocabulary") -> Vocabulary:
    """Read the format documented at the top of ``prompts/tags.txt``."""
    settings: dict[str, str] = {}
    sections: list[_Section] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line, where = raw.split("#", 1)[0].strip(), f"{source}:{number}"
        if not line:
            continue
        if section_match := _SECTION_RE.match(line):
            name = " ".join(section_match.group(2).lower().split())
            if section_match.group(1) == "group" and not name:
                raise VocabularyError(f"{where}: a group needs a name")
            sections.append(_Section(section_match.group(1), name))
        elif (setting := _SETTING_RE.match(line)) and (setting.group(1) in _SETTINGS | _SECTION_SETTINGS):
            key, value = setting.groups()
            if key in _SECTION_SETTINGS:
                if not sections:
                    raise VocabularyError(f"{where}: {key!r} belongs inside a [group] or [independent] section")
                if key == "threshold":
                    sections[-1].threshold = _number(value, where)
                else:
                    sections[-1].question = value.strip()
            elif sections:
                raise VocabularyError(f"{where}: {key!r} must come before the first section")
            else:
                settings[key] = value
        elif tag_match := _TAG_RE.match(line):
            if not sections:
                raise VocabularyError(f"{where}: tag before any [group] or [independent] section")
            sections[-1].tags.append(_tag_line(tag_match, where))
        else:
            raise VocabularyError(f"{where}: cannot read {raw.strip()!r}")
    return _build_vocabulary(settings, sections, source)


def _build_vocabulary(settings: dict[str, str], sections: list[_Section], source: str) -> Vocabulary:
    group_threshold = _number(settings.get("threshold.group", "0.6"), source)
    single_threshold = _number(settings.get("threshold.independent", "0.7"), source)
    templates = _split(settings.get("templates", "{}"), "|")
    if any(t.count("{}") != 1 for t in templates):
        raise VocabularyError(f"{source}: every template needs exactly one {{}}")
    tags: list[VocabularyTag] = []
    groups: dict[str, TagGroup] = {}
    for section in sections:
        grouped = section.kind == "group"
        threshold = section.threshold if section.threshold is not None else (
            group_threshold if grouped else single_threshold)
        if not 0.0 < threshold < 1.0:
            raise VocabularyError(f"{source}: threshold {threshold} of {section.name or 'independent'} not in (0, 1)")
        if grouped:
            if section.name in groups:
                raise VocabularyError(f"{source}: group {section.name!r} defined twice")
            if len(section.tags) < 2:
                raise VocabularyError(f"{source}: group {section.name!r} needs at least two tags")
            groups[section.name] = TagGroup(section.name, tuple(t[0] for t in section.tags), threshold,
                                            section.question)
        tags += [VocabularyTag(name, phrases, section.name if grouped else None, threshold, implies)
                 for name, phrases, implies in section.tags]
    names = [t.name for t in tags]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise VocabularyError(f"{source}: tags defined twice: {', '.join(duplicates)}")
    if not tags:
        raise VocabularyError(f"{source}: no tags")
    return Vocabulary(tags, groups, templates, _split(settings.get("neutral", "a photo"), "|"),
                      _number(settings.get("logit_scale", "100"), source))


def load_vocabulary(path: Path = DEFAULT_VOCABULARY) -> Vocabulary:
    return parse_vocabulary(Path(path).read_text(encoding="utf-8"), str(path))


# =========================================================================== zero-shot tagging


def _normalise_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return matrix / np.maximum(norms, 1e-12)


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


class ZeroShotTagger:
    """CLIP zero-shot tags with calibrated confidences.

    Raw cosine similarity is poorly calibrated (0.25 may be a strong or a weak match depending
    on the prompt), so each score is a probability from a softmax at CLIP's logit scale (100):

    * a group of mutually exclusive tags ({indoor, outdoor}) is one softmax over its tags; the
      winner is kept when its probability reaches the group's threshold (0.6 by default);
    * an independent tag (concert, dog, ...) is a two-way softmax against a neutral prompt
      ("a photo"), i.e. sigmoid(100 * (cos(tag) - cos(neutral))); kept at 0.7 or more, which
      asks the tag's prompts to beat the neutral one by about 0.0085 in cosine.

    Each tag's text embedding is the renormalised mean over all its phrases in all templates
    (prompt ensembling), computed once here. Thresholds, prompts and the scale live in the
    vocabulary file. Tags a kept tag implies ("surfing => sport") get its confidence.
    """

    def __init__(self, clip: "ClipModel", vocabulary_path: Path = DEFAULT_VOCABULARY, *,
                 vocabulary: Vocabulary | None = None, batch_size: int = 256, cache_dir: Path | None = None):
        self.vocabulary = vocabulary or load_vocabulary(vocabulary_path)
        self.names = [t.name for t in self.vocabulary.tags]
        cached = self._cache_file(clip, cache_dir)
        if cached is not None and cached.is_file():
            with np.load(cached) as arrays:
                self.tag_embeddings, self.neutral_embedding = arrays["tags"], arrays["neutral"]
        else:
            self.tag_embeddings = np.stack([self._embed(clip, self.vocabulary.prompts(t), batch_size)
                                            for t in self.vocabulary.tags])
            self.neutral_embedding = self._embed(clip, list(self.vocabulary.neutral), batch_size)
            if cached is not None:
                self._save(cached)
        self._group_index = {name: np.array([self.names.index(n) for n in group.tags])
                             for name, group in self.vocabulary.groups.items()}
        self._independent = np.array([i for i, t in enumerate(self.vocabulary.tags) if t.group is None], dtype=int)

    def _cache_file(self, clip: "ClipModel", cache_dir: Path | None) -> Path | None:
        """Embedding ~1,000 prompts takes minutes on a CPU with ViT-B/32: do it once per model
        and vocabulary. The key covers the prompts and the weights file's identity."""
        if cache_dir is None:
            return None
        import hashlib

        digest = hashlib.sha256()
        for tag in self.vocabulary.tags:
            digest.update("\x1f".join([tag.name, *self.vocabulary.prompts(tag)]).encode())
        digest.update("\x1f".join(self.vocabulary.neutral).encode())
        for name in ("model.safetensors", "pytorch_model.bin", "config.json"):
            weights = Path(clip.path) / name
            if weights.is_file():
                stat = weights.stat()
                digest.update(f"{weights.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode())
        return Path(cache_dir) / f"tag-embeddings-{digest.hexdigest()[:20]}.npz"

    def _save(self, path: Path) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(".partial.npz")
            np.savez(partial, tags=self.tag_embeddings, neutral=self.neutral_embedding)
            partial.replace(path)
        except OSError:  # a read-only cache only costs time
            pass

    @staticmethod
    def _embed(clip: "ClipModel", prompts: list[str], batch_size: int) -> np.ndarray:
        parts = [clip.embed_texts(prompts[i:i + batch_size]) for i in range(0, len(prompts), batch_size)]
        mean = _normalise_rows(np.concatenate(parts).astype(np.float32)).mean(axis=0)
        return _normalise_rows(mean[None])[0]

    def probabilities(self, image_embeddings: np.ndarray) -> np.ndarray:
        """(N, T) calibrated probability of each vocabulary tag (column order: ``self.names``)."""
        images = _normalise_rows(np.atleast_2d(np.asarray(image_embeddings, dtype=np.float32)))
        scale = self.vocabulary.logit_scale
        cosines = images @ self.tag_embeddings.T
        probs = np.zeros_like(cosines)
        for index in self._group_index.values():
            probs[:, index] = _softmax(scale * cosines[:, index])
        if len(self._independent):
            margin = cosines[:, self._independent] - (images @ self.neutral_embedding)[:, None]
            # sigmoid(x) = softmax over (x, 0); written with tanh, which cannot overflow.
            probs[:, self._independent] = 0.5 * (1.0 + np.tanh(0.5 * scale * margin))
        return probs

    def tags(self, image_embeddings: np.ndarray) -> list[list[Tag]]:
        """Per photo, the confident tags, most confident first."""
        if np.asarray(image_embeddings).size == 0:
            return []
        return [self._photo_tags(row) for row in self.probabilities(image_embeddings)]

    def _photo_tags(self, probs: np.ndarray) -> list[Tag]:
        vocab = self.vocabulary.tags
        kept: list[int] = []
        for name, index in self._group_index.items():
            winner = int(index[np.argmax(probs[index])])
            if probs[winner] >= self.vocabulary.groups[name].threshold:
                kept.append(winner)
        kept += [int(i) for i in self._independent if probs[i] >= vocab[i].threshold]
        tags = [_tag(vocab[i].name, "clip", float(probs[i])) for i in kept]
        tags += [_tag(implied, "clip", float(probs[i])) for i in kept for implied in vocab[i].implies]
        return merge_tags(tags)
