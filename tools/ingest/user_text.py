"""Read the captions, titles and keywords people already wrote for a photo.

Text a person typed about a photo ("Grandma's 80th, Lisbon") is a stronger
search signal than anything a model guesses, and it costs nothing to read.
This module gathers it, without any model, from:

1. XMP sidecars (``photo.jpg.xmp`` and ``photo.xmp``), as written by
   Lightroom, darktable, digiKam and friends;
2. Google Takeout JSON sidecars (including Takeout's truncated file names),
   which also carry the capture time and GPS position Google kept;
3. the XMP packet embedded in the image;
4. IPTC (JPEG APP13 / TIFF), the old newsroom caption standard;
5. EXIF: ImageDescription, UserComment and the Windows ``XP*`` tags.

Earlier sources win for title and description, because a sidecar is where a
photo manager writes the user's latest edit while the embedded copy may be
stale. Keywords from all sources are unioned.

Camera firmware fills several of these fields with boilerplate
("OLYMPUS DIGITAL CAMERA", "DSC_1234"); that is filtered out so it does not
pollute search. Only the standard library and Pillow are used.

``read_user_text`` never raises: metadata in the wild is corrupt, truncated and
mis-encoded often enough that one bad file must not stop an indexing run.
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
import stat
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

__all__ = ["UserText", "read_user_text", "JUNK_TEXTS", "JUNK_PATTERN", "is_junk_text"]

MAX_FIELD_CHARS = 2_000
MAX_KEYWORDS = 100
MAX_KEYWORD_CHARS = 100
# Sidecars are a few KB; a cap keeps a stray huge file from being slurped.
MAX_SIDECAR_BYTES = 8 * 1024 * 1024
# Fuzzy Takeout matching lists the folder once; beyond this it is not "cheap".
MAX_FOLDER_ENTRIES = 50_000
# Takeout cuts json names at ~46-47 characters (bytes for non-ASCII names), so
# only a stem at least this long can be a truncated form of a longer name.
# Shorter prefixes would match unrelated photos ("IMG_1.json" vs "IMG_12.jpg").
TAKEOUT_MIN_TRUNCATED_BYTES = 40

# Camera boilerplate is short; longer text is always treated as real.
MAX_JUNK_CHARS = 80

# Exact (case-insensitive, whitespace-collapsed) values that cameras, phones
# and software write into caption fields without any human involvement.
JUNK_TEXTS: frozenset[str] = frozenset(
    s.casefold()
    for s in (
        "OLYMPUS DIGITAL CAMERA",
        "KONICA MINOLTA DIGITAL CAMERA",
        "SONY DSC",
        "DCIM",
        "default",
        "Photo",
        "Photos",
        "image",
        "images",
        "picture",
        "camera",
        "untitled",
        "no title",
        "no description",
        "title",
        "description",
        "image description",
        "none",
        "null",
        "n/a",
        "unknown",
        "jpeg",
        "jpg",
        "img",
        "Exif_JPEG_PICTURE",
        "Exif_JPEG_422",
        "SAMSUNG CAMERA PICTURES",
        "LEAD Technologies Inc. V1.01",
        "Created with GIMP",
    )
)

_CAMERA_BRANDS = (
    r"olympus|konica minolta|minolta|samsung|kodak|sanyo|casio|pentax|nikon|"
    r"fujifilm|fuji|ricoh|kenox|vivitar|polaroid|hp|toshiba|canon|sony|"
    r"panasonic|agfa|benq|jenoptik|medion|premier|aiptek|concord|digimax|"
    r"easypix|genius|mustek|praktica|rollei|traveler|kyocera|jvc|epson|leica|"
    r"sigma|ge|general imaging|hewlett[- ]packard"
)

_CAMERA_FILE_PREFIXES = (
    r"dsc[nfi]?|img[p]?|imag|image|pict?|photo|pxl|mvi|mvc|vid|sam|cimg|hpim|"
    r"kimg|dji|gopr|gp|sdc|dcp|pano|wp"
)

# Whole-string patterns for boilerplate that varies by model or number.
JUNK_PATTERN: re.Pattern[str] = re.compile(
    rf"""
      [\s?.\-_*#~]*                                   # only filler characters
    | <[^<>]*>                                        # "<KENOX S630 / Samsung S630>"
    | (?:(?:{_CAMERA_BRANDS})\s)?digital\s(?:still\s)?camera
    | (?:(?:{_CAMERA_BRANDS})\s)?dsc
    | creator:\s*gd-jpeg.*                            # libgd's JPEG comment
    # camera/phone file names: DSC_1234, IMG_1234, DSCN0010, PXL_20210101_123456789,
    # IMG-20200101-WA0001, _DSC1234.JPG, IMG_1234 (2). Prefixes are listed so
    # that real tags such as "Paris2019" survive.
    | _?(?:{_CAMERA_FILE_PREFIXES})[_-]?\d{{4,}}(?:[_-][a-z]*\d[a-z0-9]*)*
      (?:\s?\(\d+\)|-edited)?(?:\.[a-z0-9]{{2,5}})?
    | p[0-9a-c]\d{{6}}(?:\.[a-z0-9]{{2,5}})?          # Olympus/Panasonic "P1010001"
    | \d{{3}}[_-]\d{{4}}(?:\.[a-z0-9]{{2,5}})?         # Kodak "100_1234"
    | \d{{8}}[_-]\d{{6}}\w*(?:\.[a-z0-9]{{2,5}})?     # phone "20200101_123456"
    """,
    re.IGNORECASE | re.VERBOSE,
)

# Takeout's "title" is the uploaded file's name unless the user retitled it.
_MEDIA_FILE_NAME = re.compile(
    r".*\.(?:jpe?g|png|gif|webp|heic|heif|avif|tiff?|bmp|dng|cr2|cr3|nef|arw|"
    r"orf|rw2|raf|raw|mp4|mov|m4v|avi|3gp|mkv)",
    re.IGNORECASE,
)

_NS_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_NS_DC = "http://purl.org/dc/elements/1.1/"
_NS_PHOTOSHOP = "http://ns.adobe.com/photoshop/1.0/"
_NS_LIGHTROOM = "http://ns.adobe.com/lightroom/1.0/"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_RDF_DESCRIPTION = f"{{{_NS_RDF}}}Description"
_RDF_LI = f"{{{_NS_RDF}}}li"

_EXIF_IFD = 0x8769
_TAG_IMAGE_DESCRIPTION = 0x010E
_TAG_USER_COMMENT = 0x9286
_TAG_XP_TITLE = 0x9C9B
_TAG_XP_COMMENT = 0x9C9C
_TAG_XP_KEYWORDS = 0x9C9E
_TAG_XP_SUBJECT = 0x9C9F

_IPTC_OBJECT_NAME = (2, 5)
_IPTC_KEYWORDS = (2, 25)
_IPTC_HEADLINE = (2, 105)
_IPTC_CAPTION = (2, 120)
_IPTC_CHARSET = (1, 90)
_IPTC_UTF8_MARK = b"\x1b%G"

# C0/C1 control characters other than NUL, which is dropped outright.
_CONTROL_CHARS = re.compile(r"[\x01-\x1f\x7f-\x9f]")
_TAKEOUT_DUPLICATE = re.compile(r"^(?P<base>.*)\((?P<n>\d+)\)(?P<ext>\.[^.]*)$")
_SUPPLEMENTAL = "supplemental-metadata"


class UserText(BaseModel):
    """Human-written text (and Takeout's date/position) found for one photo."""

    title: str | None = None
    description: str | None = None
    keywords: list[str] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list)
    taken_at: datetime | None = None
    lat: float | None = None
    lon: float | None = None

    @property
    def text(self) -> str:
        """Title, description and keywords as one searchable string."""
        seen: set[str] = set()
        sentences: list[str] = []
        for value in (self.title, self.description):
            if value and value.casefold() not in seen:
                seen.add(value.casefold())
                sentences.append(_end_sentence(value))
        keywords: list[str] = []
        for keyword in self.keywords:
            if keyword.casefold() not in seen:
                seen.add(keyword.casefold())
                keywords.append(keyword)
        if keywords:
            sentences.append(", ".join(keywords))
        return " ".join(sentences)

    @property
    def is_empty(self) -> bool:
        """True when nothing at all was found (no text, date or position)."""
        return not (
            self.title
            or self.description
            or self.keywords
            or self.taken_at is not None
            or self.lat is not None
        )


@dataclass
class _Found:
    """Raw, uncleaned values from one source; candidates are in preference order."""

    source: str
    titles: list[str] = field(default_factory=list)
    descriptions: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    taken_at: datetime | None = None
    lat: float | None = None
    lon: float | None = None


def read_user_text(path: Path, image: PILImage | None = None) -> UserText:
    """Collect user-written text for ``path`` from sidecars and embedded metadata.

    ``image`` is an already-opened PIL image of ``path``, passed to avoid a
    second open; when None the file is opened lazily (headers only). Never
    raises: whatever could be read is returned, possibly an empty UserText.
    """
    try:
        photo = Path(path)
        found = [*_safe(_read_xmp_sidecars, photo), *_safe(_read_takeout, photo)]
        found.extend(_read_image_metadata(photo, image))
        return _merge(found, photo)
    except Exception:  # noqa: BLE001 - the contract is "never raise"
        return UserText()


def is_junk_text(value: str, file_name: str = "") -> bool:
    """True for camera boilerplate, placeholder text, or the photo's own file name."""
    folded = " ".join(value.replace("\x00", " ").split()).casefold()
    if len(folded) > MAX_JUNK_CHARS:
        return False  # boilerplate is short; also bounds the regex's work
    if folded in JUNK_TEXTS or JUNK_PATTERN.fullmatch(folded):
        return True
    if file_name:
        name = file_name.casefold()
        return folded in (name, os.path.splitext(name)[0])
    return False


# --------------------------------------------------------------------------- merge


def _safe(reader: Callable[[Any], Iterable[_Found]], arg: Any) -> list[_Found]:
    """Run one reader, keeping whatever it produced before any failure."""
    out: list[_Found] = []
    try:
        for found in reader(arg):
            out.append(found)
    except Exception:  # noqa: BLE001 - one broken source must not hide the others
        pass
    return out


def _merge(found: list[_Found], photo: Path) -> UserText:
    title: str | None = None
    description: str | None = None
    keywords: list[str] = []
    seen_keywords: set[str] = set()
    sources: list[str] = []
    result = UserText()
    for item in found:
        used = False
        if title is None and (title := _first_clean(item.titles, photo.name)):
            used = True
        if description is None and (description := _first_clean(item.descriptions, photo.name)):
            used = True
        for raw in item.keywords:
            keyword = _clean(raw, MAX_KEYWORD_CHARS)
            if len(keywords) >= MAX_KEYWORDS or not keyword:
                continue
            if is_junk_text(keyword, photo.name) or keyword.casefold() in seen_keywords:
                continue
            seen_keywords.add(keyword.casefold())
            keywords.append(keyword)
            used = True
        if item.taken_at is not None and result.taken_at is None:
            result.taken_at, used = item.taken_at, True
        if item.lat is not None and item.lon is not None and result.lat is None:
            result.lat, result.lon, used = item.lat, item.lon, True
        if used and item.source not in sources:
            sources.append(item.source)
    result.title, result.description = title, description
    result.keywords, result.sources = keywords, sources
    return result


def _first_clean(candidates: list[str], file_name: str) -> str | None:
    for raw in candidates:
        value = _clean(raw, MAX_FIELD_CHARS)
        if value and not is_junk_text(value, file_name):
            return value
    return None


def _clean(value: object, limit: int) -> str:
    if not isinstance(value, str):
        return ""
    value = _CONTROL_CHARS.sub(" ", value.replace("\x00", ""))
    return " ".join(value.split())[:limit].rstrip()


def _end_sentence(value: str) -> str:
    # Keeps "Title. Description. kw1, kw2" readable for text encoders.
    return value + "." if value[-1].isalnum() else value


# ------------------------------------------------------------------------- files


def _read_small_file(path: Path) -> bytes | None:
    """Bytes of a regular file up to MAX_SIDECAR_BYTES, else None (FIFOs would block)."""
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_SIDECAR_BYTES:
            return None
        with open(path, "rb") as handle:
            return handle.read(MAX_SIDECAR_BYTES + 1)[:MAX_SIDECAR_BYTES]
    except (OSError, ValueError):
        return None


def _is_regular_file(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


# -------------------------------------------------------------------------- XMP


def _read_xmp_sidecars(photo: Path) -> Iterator[_Found]:
    # darktable/digiKam write photo.jpg.xmp; Adobe writes photo.xmp.
    names = [photo.name + ".xmp", photo.name + ".XMP", photo.stem + ".xmp", photo.stem + ".XMP"]
    for name in dict.fromkeys(names):
        data = _read_small_file(photo.with_name(name))
        if data:
            found = _xmp_found(data, "xmp-sidecar")
            if found is not None:
                yield found


def _xmp_found(data: bytes | str, source: str) -> _Found | None:
    root = _parse_xmp(data)
    if root is None:
        return None
    found = _Found(source)
    headlines: list[str] = []
    for description in _top_descriptions(root):
        found.titles += _property_values(description, f"{{{_NS_DC}}}title")
        headlines += _property_values(description, f"{{{_NS_PHOTOSHOP}}}Headline")
        found.descriptions += _property_values(description, f"{{{_NS_DC}}}description")
        found.keywords += _property_values(description, f"{{{_NS_DC}}}subject")
        found.keywords += [
            value.rsplit("|", 1)[-1]
            for value in _property_values(description, f"{{{_NS_LIGHTROOM}}}hierarchicalSubject")
        ]
    found.titles += headlines  # Headline only when no usable dc:title
    return found


def _parse_xmp(data: bytes | str) -> ET.Element | None:
    text = data if isinstance(data, str) else _decode_xml_bytes(data)
    # XMP never uses DTDs; refusing them sidesteps entity-expansion attacks
    # without needing defusedxml.
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        return None
    for candidate in (_xmp_packet_body(text), text):
        if not candidate:
            continue
        try:
            return ET.fromstring(candidate.encode("utf-8"))
        except (ET.ParseError, ValueError, LookupError):
            continue
    return None


def _decode_xml_bytes(data: bytes) -> str:
    data = data.rstrip(b"\x00 \r\n\t")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", "replace")
    if data[:2] == b"<\x00":
        return data.decode("utf-16-le", "replace")
    if data[:2] == b"\x00<":
        return data.decode("utf-16-be", "replace")
    return data.decode("utf-8", "replace").lstrip("\ufeff")


def _xmp_packet_body(text: str) -> str | None:
    """The <x:xmpmeta>/<rdf:RDF> element alone, without xpacket wrapper or padding.

    Slicing drops the XML declaration (its encoding= would contradict our
    re-encoding) and any trailing junk after the packet.
    """
    for tag in ("x:xmpmeta", "x:xapmeta", "rdf:RDF"):
        start = text.find("<" + tag)
        end = text.rfind("</" + tag + ">")
        if start != -1 and end > start:
            return text[start : end + len(tag) + 3]
    return None


def _top_descriptions(root: ET.Element) -> Iterator[ET.Element]:
    # Only rdf:Description directly under rdf:RDF describes the photo; nested
    # ones (edit history, ingredients) describe other things.
    for rdf in root.iter(f"{{{_NS_RDF}}}RDF"):
        for child in rdf:
            if child.tag == _RDF_DESCRIPTION:
                yield child


def _property_values(description: ET.Element, tag: str) -> list[str]:
    """Values of one XMP property, in attribute, simple, Alt, Bag or Seq form."""
    values: list[str] = []
    attribute = description.get(tag)
    if attribute:
        values.append(attribute)
    for element in description.findall(tag):
        items = list(element.iter(_RDF_LI))
        if not items:
            values.append("".join(element.itertext()))
            continue
        # Stable sort: x-default first, other languages kept as fallbacks.
        items.sort(key=lambda li: li.get(_XML_LANG, "").lower() != "x-default")
        values += ["".join(li.itertext()) for li in items]
    return values


# ---------------------------------------------------------------------- Takeout


def _read_takeout(photo: Path) -> Iterator[_Found]:
    for candidate in _takeout_candidates(photo):
        data = _read_small_file(candidate)
        record = _load_json_object(data) if data else None
        if record is not None:
            yield _takeout_found(record)
            return


def _takeout_candidates(photo: Path) -> Iterator[Path]:
    name = photo.name
    exact = [f"{name}.json", f"{name}.{_SUPPLEMENTAL}.json", f"{photo.stem}.json"]
    # Takeout names duplicates "IMG(1).jpg" but their json "IMG.jpg(1).json".
    if match := _TAKEOUT_DUPLICATE.match(name):
        base, n, ext = match["base"], match["n"], match["ext"]
        exact += [f"{base}{ext}({n}).json", f"{base}{ext}.{_SUPPLEMENTAL}({n}).json"]
    # Edited copies have no json of their own; the original's describes them.
    if photo.stem.endswith("-edited"):
        original = photo.stem[: -len("-edited")] + photo.suffix
        exact += [f"{original}.json", f"{original}.{_SUPPLEMENTAL}.json"]
    for json_name in dict.fromkeys(exact):
        yield photo.with_name(json_name)
    truncated = _find_truncated_takeout(photo)
    if truncated is not None:
        yield truncated


def _find_truncated_takeout(photo: Path) -> Path | None:
    index = _takeout_index(str(photo.parent))
    name = photo.name
    if name in index:
        return photo.with_name(index[name])
    # Longest prefix first: the closest truncation is the right one.
    for end in range(len(name) - 1, 0, -1):
        prefix = name[:end]
        if len(prefix.encode("utf-8", "surrogatepass")) < TAKEOUT_MIN_TRUNCATED_BYTES:
            break
        if prefix in index:
            return photo.with_name(index[prefix])
    return None


@functools.lru_cache(maxsize=128)
def _takeout_index(folder: str) -> dict[str, str]:
    """Map each photo name (or truncated prefix) a folder's json files stand for.

    Cached per folder because every photo in a Takeout folder asks the same
    question; callers must not mutate the returned dict. Empty when the folder
    is too large to list cheaply.
    """
    json_names: list[str] = []
    with os.scandir(folder) as entries:
        for count, entry in enumerate(entries):
            if count >= MAX_FOLDER_ENTRIES:
                return {}
            if entry.name.lower().endswith(".json"):
                json_names.append(entry.name)
    index: dict[str, str] = {}
    for json_name in sorted(json_names):  # sorted: deterministic winner
        for key in _takeout_keys(json_name[:-5]):
            index.setdefault(key, json_name)
    return index


def _takeout_keys(stem: str) -> Iterator[str]:
    yield stem
    # "photo.jpg.supplemental-metad" (truncated suffix) stands for "photo.jpg".
    if "." in stem:
        head, tail = stem.rsplit(".", 1)
        if head and _SUPPLEMENTAL.startswith(tail.lower()):
            yield head


def _load_json_object(data: bytes) -> dict[str, Any] | None:
    try:
        record = json.loads(data)
    except (ValueError, RecursionError):
        return None
    return record if isinstance(record, dict) else None


def _takeout_found(record: dict[str, Any]) -> _Found:
    found = _Found("takeout-json")
    title = record.get("title")
    # Takeout's title is the upload's file name unless the user retitled it.
    if isinstance(title, str) and not _MEDIA_FILE_NAME.fullmatch(title.strip()):
        found.titles.append(title)
    if isinstance(record.get("description"), str):
        found.descriptions.append(record["description"])
    found.taken_at = _takeout_time(record.get("photoTakenTime"))
    for key in ("geoData", "geoDataExif"):
        position = _takeout_position(record.get(key))
        if position is not None:
            found.lat, found.lon = position
            break
    return found


def _takeout_time(value: object) -> datetime | None:
    if not isinstance(value, dict):
        return None
    try:
        seconds = int(str(value.get("timestamp", "")).strip())
        # Takeout writes "0" when it has no date; the epoch is never a real one.
        return datetime.fromtimestamp(seconds, tz=timezone.utc) if seconds else None
    except (ValueError, OverflowError, OSError):
        return None


def _takeout_position(value: object) -> tuple[float, float] | None:
    if not isinstance(value, dict):
        return None
    lat, lon = _as_float(value.get("latitude")), _as_float(value.get("longitude"))
    if lat is None or lon is None or (lat == 0.0 and lon == 0.0):
        return None  # Takeout writes 0,0 for "no position"
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        return None
    return lat, lon


def _as_float(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = float(value)
    except (ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


# ------------------------------------------------------------ embedded metadata


def _read_image_metadata(photo: Path, image: PILImage | None) -> list[_Found]:
    if image is not None:
        return _image_found(image)
    if not _is_regular_file(photo):
        return []
    try:
        from PIL import Image

        # Image.open reads headers only; pixels are never decoded here.
        with Image.open(photo) as opened:
            return _image_found(opened)
    except Exception:  # noqa: BLE001 - not an image, or one Pillow cannot open
        return []


def _image_found(image: PILImage) -> list[_Found]:
    return [
        *_safe(_read_embedded_xmp, image),
        *_safe(_read_iptc, image),
        *_safe(_read_exif, image),
    ]


def _read_embedded_xmp(image: PILImage) -> Iterator[_Found]:
    # Image.getxmp() would need defusedxml, so parse the raw packet ourselves.
    # PNG keeps it under its iTXt keyword; other formats under "xmp".
    for key in ("xmp", "XML:com.adobe.xmp"):
        packet = image.info.get(key)
        if isinstance(packet, (bytes, str)) and packet:
            found = _xmp_found(packet, "xmp-embedded")
            if found is not None:
                yield found
                return


def _read_iptc(image: PILImage) -> Iterator[_Found]:
    from PIL import IptcImagePlugin

    info = IptcImagePlugin.getiptcinfo(image)  # type: ignore[arg-type]
    if not info:
        return
    utf8 = _IPTC_UTF8_MARK in b"".join(_iptc_values(info, _IPTC_CHARSET))

    def texts(key: tuple[int, int]) -> list[str]:
        return [_decode_iptc(raw, utf8) for raw in _iptc_values(info, key)]

    yield _Found(
        "iptc",
        titles=texts(_IPTC_OBJECT_NAME) + texts(_IPTC_HEADLINE),
        descriptions=texts(_IPTC_CAPTION),
        keywords=texts(_IPTC_KEYWORDS),
    )


def _iptc_values(info: dict[Any, Any], key: tuple[int, int]) -> list[bytes]:
    value = info.get(key)
    values = value if isinstance(value, list) else [value]
    return [v for v in values if isinstance(v, bytes)]


def _decode_iptc(raw: bytes, declared_utf8: bool) -> str:
    if declared_utf8:
        return raw.decode("utf-8", "replace")
    return _bytes_to_text(raw)


def _read_exif(image: PILImage) -> Iterator[_Found]:
    exif = image.getexif()
    yield _Found("exif:ImageDescription", descriptions=[_exif_ascii(exif.get(_TAG_IMAGE_DESCRIPTION))])
    try:
        user_comment = exif.get_ifd(_EXIF_IFD).get(_TAG_USER_COMMENT)
    except Exception:  # noqa: BLE001 - a broken Exif IFD must not hide the XP tags
        user_comment = None
    yield _Found("exif:UserComment", descriptions=[_decode_user_comment(user_comment, exif.endian)])
    yield _Found("exif:XPTitle", titles=[_decode_xp(exif.get(_TAG_XP_TITLE))])
    yield _Found("exif:XPComment", descriptions=[_decode_xp(exif.get(_TAG_XP_COMMENT))])
    yield _Found("exif:XPSubject", descriptions=[_decode_xp(exif.get(_TAG_XP_SUBJECT))])
    yield _Found("exif:XPKeywords", keywords=_decode_xp(exif.get(_TAG_XP_KEYWORDS)).split(";"))


def _exif_ascii(value: object) -> str:
    if isinstance(value, bytes):
        return _bytes_to_text(value)
    if isinstance(value, str):
        # Pillow decodes EXIF ASCII as latin-1, but phones and editors write UTF-8.
        return _undo_latin1_mojibake(value)
    return ""


def _decode_user_comment(value: object, endian: str | None) -> str:
    if isinstance(value, str):
        return value
    if not isinstance(value, bytes):
        return ""
    header, body = value[:8].rstrip(b"\x00 ").upper(), value[8:]
    if header == b"ASCII" or (header == b"" and len(value) >= 8):
        return _bytes_to_text(body)  # "ASCII" is often UTF-8 in practice
    if header == b"UNICODE":
        return _decode_utf16_guess(body, endian)
    if header == b"JIS":
        return _decode_jis(body)
    return _bytes_to_text(value)  # writers that skip the 8-byte header


def _decode_xp(value: object) -> str:
    """Windows XP* tags: UTF-16LE, NUL-terminated, stored as BYTE arrays."""
    if isinstance(value, (tuple, list)):
        value = bytes(v for v in value if isinstance(v, int) and 0 <= v < 256)
    if isinstance(value, str):
        value = value.encode("latin-1", "replace")
    if not isinstance(value, bytes):
        return ""
    text = value[: len(value) - len(value) % 2].decode("utf-16-le", "replace")
    return text.split("\x00", 1)[0]


def _bytes_to_text(raw: bytes) -> str:
    """Decode bytes of unknown encoding: UTF-16 if it clearly is, else UTF-8, else latin-1."""
    raw = raw.rstrip(b"\x00")
    utf16 = _looks_utf16(raw)
    if utf16:
        return raw.decode(utf16, "replace")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _looks_utf16(raw: bytes) -> str | None:
    # Latin text in UTF-16 has a zero in every other byte; 8-bit text never does.
    if len(raw) < 4:
        return None
    even, odd = raw[0::2], raw[1::2]
    if odd.count(0) >= len(odd) * 0.6 and even.count(0) == 0:
        return "utf-16-le"
    if even.count(0) >= len(even) * 0.6 and odd.count(0) == 0:
        return "utf-16-be"
    return None


def _decode_utf16_guess(body: bytes, endian: str | None) -> str:
    if body.startswith((b"\xff\xfe", b"\xfe\xff")):
        return body.decode("utf-16", "replace")
    body = body[: len(body) - len(body) % 2]
    # The standard says "file byte order", but writers disagree; score both
    # and let the file's order break ties.
    order = ["utf-16-be", "utf-16-le"] if endian == ">" else ["utf-16-le", "utf-16-be"]
    decoded = [body.decode(codec, "replace").rstrip("\x00") for codec in order]
    return max(decoded, key=_plausibility)  # max() keeps the first on ties


def _plausibility(text: str) -> int:
    score = 0
    for char in text:
        category = unicodedata.category(char)
        if char == "\ufffd" or category in ("Co", "Cn", "Cs", "Cc"):
            score -= 5  # private-use, unassigned, control: a byte-swap symptom
        elif char < "\x80":
            score += 3
        elif category[0] in "LNPZ":
            score += 1
    return score


def _decode_jis(body: bytes) -> str:
    body = body.rstrip(b"\x00")
    codecs = ["iso2022_jp"] if b"\x1b" in body else []
    for codec in [*codecs, "utf-8", "shift_jis", "euc_jp"]:
        try:
            return body.decode(codec)
        except UnicodeDecodeError:
            continue
    return body.decode("latin-1")


def _undo_latin1_mojibake(value: str) -> str:
    if value.isascii() or any(ord(char) > 0xFF for char in value):
        return value
    try:
        return value.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return value  # genuinely latin-1 text
