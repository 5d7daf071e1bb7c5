"""Tests for tools.ingest.user_text: real files written to tmp_path, no mocks."""

from __future__ import annotations

import json
import struct
from datetime import datetime, timezone
from pathlib import Path

import pytest
from PIL import Image

from tools.ingest.user_text import UserText, is_junk_text, read_user_text

EXIF_PHOTOS = Path("/work/shared/data/exif-photos")

XMP_HEADER = (
    '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
    '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
    '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
)
XMP_FOOTER = '</rdf:RDF>\n</x:xmpmeta>\n<?xpacket end="w"?>'
XMP_NAMESPACES = (
    'xmlns:dc="http://purl.org/dc/elements/1.1/" '
    'xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" '
    'xmlns:lr="http://ns.adobe.com/lightroom/1.0/"'
)


# ---------------------------------------------------------------- helpers


def write_jpeg(path: Path, **save_args: object) -> Path:
    Image.new("RGB", (16, 16), "teal").save(path, "JPEG", **save_args)
    return path


def xmp_packet(body: str, attributes: str = "") -> str:
    return (
        f"{XMP_HEADER}<rdf:Description rdf:about=\"\" {XMP_NAMESPACES} {attributes}>\n"
        f"{body}\n</rdf:Description>\n{XMP_FOOTER}"
    )


def dc_alt(tag: str, *items: tuple[str, str]) -> str:
    lis = "".join(f'<rdf:li xml:lang="{lang}">{text}</rdf:li>' for lang, text in items)
    return f"<{tag}><rdf:Alt>{lis}</rdf:Alt></{tag}>"


def rdf_bag(tag: str, *items: str) -> str:
    lis = "".join(f"<rdf:li>{text}</rdf:li>" for text in items)
    return f"<{tag}><rdf:Bag>{lis}</rdf:Bag></{tag}>"


def iptc_app13(datasets: list[tuple[int, int, bytes]]) -> bytes:
    """A JPEG APP13 segment: Photoshop IRB holding an IPTC-NAA (0x0404) resource."""
    iptc = b"".join(
        b"\x1c" + bytes([record, number]) + struct.pack(">H", len(data)) + data
        for record, number, data in datasets
    )
    resource = b"8BIM" + struct.pack(">H", 0x0404) + b"\x00\x00" + struct.pack(">I", len(iptc)) + iptc
    if len(iptc) % 2:
        resource += b"\x00"
    payload = b"Photoshop 3.0\x00" + resource
    return b"\xff\xed" + struct.pack(">H", len(payload) + 2) + payload


def splice_after_soi(path: Path, segment: bytes) -> None:
    data = path.read_bytes()
    assert data[:2] == b"\xff\xd8"
    path.write_bytes(data[:2] + segment + data[2:])


def jpeg_with_exif(path: Path, tags: dict[int, object], exif_ifd: dict[int, object] | None = None) -> Path:
    exif = Image.Exif()
    for tag, value in tags.items():
        exif[tag] = value
    if exif_ifd:
        ifd = exif.get_ifd(0x8769)
        ifd.update(exif_ifd)
    return write_jpeg(path, exif=exif)


def utf16_xp(text: str) -> bytes:
    return text.encode("utf-16-le") + b"\x00\x00"


# ------------------------------------------------------------------- EXIF


def test_exif_image_description(tmp_path: Path) -> None:
    photo = jpeg_with_exif(tmp_path / "a.jpg", {0x010E: "Sunset over Lisbon"})
    result = read_user_text(photo)
    assert result.description == "Sunset over Lisbon"
    assert result.title is None
    assert result.sources == ["exif:ImageDescription"]
    assert result.text == "Sunset over Lisbon."
    assert not result.is_empty


def test_exif_image_description_utf8_is_not_mojibake(tmp_path: Path) -> None:
    # Pillow decodes EXIF ASCII as latin-1; UTF-8 bytes must come back intact.
    photo = jpeg_with_exif(tmp_path / "a.jpg", {0x010E: "Café à Paris".encode()})
    assert read_user_text(photo).description == "Café à Paris"


def test_user_comment_ascii_header(tmp_path: Path) -> None:
    photo = jpeg_with_exif(tmp_path / "a.jpg", {}, {0x9286: b"ASCII\x00\x00\x00Kids at the beach\x00  "})
    result = read_user_text(photo)
    assert result.description == "Kids at the beach"
    assert result.sources == ["exif:UserComment"]


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_user_comment_unicode_header_either_endian(tmp_path: Path, codec: str) -> None:
    text = "Grüße aus Köln"
    photo = jpeg_with_exif(tmp_path / "a.jpg", {}, {0x9286: b"UNICODE\x00" + text.encode(codec)})
    assert read_user_text(photo).description == text


def test_user_comment_unicode_header_cjk(tmp_path: Path) -> None:
    text = "東京タワーの夜景"
    photo = jpeg_with_exif(tmp_path / "a.jpg", {}, {0x9286: b"UNICODE\x00" + text.encode("utf-16-le")})
    assert read_user_text(photo).description == text


def test_user_comment_jis_header(tmp_path: Path) -> None:
    text = "富士山"
    photo = jpeg_with_exif(tmp_path / "a.jpg", {}, {0x9286: b"JIS\x00\x00\x00\x00\x00" + text.encode("shift_jis")})
    assert read_user_text(photo).description == text


def test_xp_title_comment_and_keywords(tmp_path: Path) -> None:
    photo = jpeg_with_exif(
        tmp_path / "a.jpg",
        {
            0x9C9B: utf16_xp("Family trip"),
            0x9C9C: utf16_xp("Day two, rain"),
            0x9C9E: utf16_xp("beach;sunset;Beach; ;Grandma"),
        },
    )
    result = read_user_text(photo)
    assert result.title == "Family trip"
    assert result.description == "Day two, rain"
    assert result.keywords == ["beach", "sunset", "Grandma"]
    assert result.sources == ["exif:XPTitle", "exif:XPComment", "exif:XPKeywords"]
    assert result.text == "Family trip. Day two, rain. beach, sunset, Grandma"


def test_image_description_wins_over_later_exif_fields(tmp_path: Path) -> None:
    photo = jpeg_with_exif(
        tmp_path / "a.jpg",
        {0x010E: "First", 0x9C9C: utf16_xp("Second")},
        {0x9286: b"ASCII\x00\x00\x00Third"},
    )
    result = read_user_text(photo)
    assert result.description == "First"
    assert result.sources == ["exif:ImageDescription"]


# -------------------------------------------------------------------- XMP


def test_embedded_xmp_packet(tmp_path: Path) -> None:
    body = (
        dc_alt("dc:title", ("de-DE", "Hafen"), ("x-default", "Harbour"))
        + dc_alt("dc:description", ("x-default", "Fishing boats at dawn"))
        + rdf_bag("dc:subject", "boats", "Portugal")
        + rdf_bag("lr:hierarchicalSubject", "Places|Portugal|Lisbon", "Things|boats")
    )
    photo = write_jpeg(tmp_path / "a.jpg", xmp=xmp_packet(body).encode())
    result = read_user_text(photo)
    assert result.title == "Harbour"  # x-default preferred over the first entry
    assert result.description == "Fishing boats at dawn"
    assert result.keywords == ["boats", "Portugal", "Lisbon"]
    assert result.sources == ["xmp-embedded"]


def test_embedded_xmp_headline_attribute_is_title_fallback(tmp_path: Path) -> None:
    packet = xmp_packet("", attributes='photoshop:Headline="Wedding &amp; party"')
    photo = write_jpeg(tmp_path / "a.jpg", xmp=packet.encode())
    assert read_user_text(photo).title == "Wedding & party"


def test_embedded_xmp_with_trailing_nuls_and_padding(tmp_path: Path) -> None:
    # HEIC packets from iPhones end with padding and a NUL.
    packet = xmp_packet(dc_alt("dc:description", ("x-default", "Padded"))) + " " * 500
    photo = write_jpeg(tmp_path / "a.jpg", xmp=packet.encode() + b"\x00")
    assert read_user_text(photo).description == "Padded"


def test_xmp_with_doctype_is_refused(tmp_path: Path) -> None:
    # Entity expansion ("billion laughs") must not be attempted.
    evil = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
        + xmp_packet(dc_alt("dc:description", ("x-default", "&lol2;")))
    )
    photo = write_jpeg(tmp_path / "a.jpg")
    (tmp_path / "a.jpg.xmp").write_text(evil)
    assert read_user_text(photo).is_empty


def test_jpg_xmp_sidecar(tmp_path: Path) -> None:
    photo = write_jpeg(tmp_path / "b.jpg")
    body = (
        dc_alt("dc:description", ("x-default", "Birthday cake"))
        + rdf_bag("dc:subject", "cake", "party")
        + rdf_bag("lr:hierarchicalSubject", "People|Family|Ana", "Events|party")
    )
    (tmp_path / "b.jpg.xmp").write_text(xmp_packet(body), encoding="utf-8")
    result = read_user_text(photo)
    assert result.description == "Birthday cake"
    assert result.keywords == ["cake", "party", "Ana"]
    assert result.sources == ["xmp-sidecar"]


def test_plain_xmp_sidecar_uppercase_extension(tmp_path: Path) -> None:
    photo = write_jpeg(tmp_path / "c.jpg")
    (tmp_path / "c.XMP").write_text(xmp_packet(dc_alt("dc:title", ("x-default", "Mountain hut"))))
    result = read_user_text(photo)
    assert result.title == "Mountain hut"
    assert result.sources == ["xmp-sidecar"]


def test_both_sidecars_are_merged(tmp_path: Path) -> None:
    photo = write_jpeg(tmp_path / "d.jpg")
    (tmp_path / "d.jpg.xmp").write_text(
        xmp_packet(dc_alt("dc:description", ("x-default", "From darktable")) + rdf_bag("dc:subject", "alps"))
    )
    (tmp_path / "d.xmp").write_text(
        xmp_packet(
            dc_alt("dc:title", ("x-default", "From Lightroom"))
            + dc_alt("dc:description", ("x-default", "Loses to d.jpg.xmp"))
            + rdf_bag("dc:subject", "ALPS", "snow")
        )
    )
    result = read_user_text(photo)
    assert result.title == "From Lightroom"
    assert result.description == "From darktable"
    assert result.keywords == ["alps", "snow"]
    assert result.sources == ["xmp-sidecar"]


# ------------------------------------------------------------------- IPTC


def test_iptc_app13_utf8(tmp_path: Path) -> None:
    photo = write_jpeg(tmp_path / "e.jpg")
    splice_after_soi(
        photo,
        iptc_app13(
            [
                (1, 90, b"\x1b%G"),
                (2, 5, "Hafen".encode()),
                (2, 120, "Boote im Morgengrauen, Möwen".encode()),
                (2, 25, b"boats"),
                (2, 25, "Möwe".encode()),
            ]
        ),
    )
    result = read_user_text(photo)
    assert result.title == "Hafen"
    assert result.description == "Boote im Morgengrauen, Möwen"
    assert result.keywords == ["boats", "Möwe"]
    assert result.sources == ["iptc"]


def test_iptc_latin1_without_charset(tmp_path: Path) -> None:
    photo = write_jpeg(tmp_path / "e.jpg")
    splice_after_soi(photo, iptc_app13([(2, 120, "Crème brûlée".encode("latin-1"))]))
    assert read_user_text(photo).description == "Crème brûlée"


# ---------------------------------------------------------------- Takeout


def takeout_record(**fields: object) -> str:
    record = {
        "title": "x.jpg",
        "description": "",
        "photoTakenTime": {"timestamp": "1600000000", "formatted": "13 Sep 2020, 12:26:40 UTC"},
        "geoData": {"latitude": 0.0, "longitude": 0.0, "altitude": 0.0},
    }
    record.update(fields)
    return json.dumps(record)


def test_takeout_json(tmp_path: Path) -> None:
    photo = write_jpeg(tmp_path / "IMG_0001.jpg")
    (tmp_path / "IMG_0001.jpg.json").write_text(
        takeout_record(
            title="IMG_0001.jpg",
            description="Ana's first steps",
            geoData={"latitude": 38.7223, "longitude": -9.1393, "altitude": 12.0},
        )
    )
    result = read_user_text(photo)
    assert result.title is None  # the title was only the file name
    assert result.description == "Ana's first steps"
    assert result.taken_at == datetime(2020, 9, 13, 12, 26, 40, tzinfo=timezone.utc)
    assert result.taken_at.tzinfo is not None
    assert (result.lat, result.lon) == (38.7223, -9.1393)
    assert result.sources == ["takeout-json"]


def test_takeout_supplemental_metadata_uses_geo_data_exif(tmp_path: Path) -> None:
    photo = write_jpeg(tmp_path / "PXL_20230102_030405.jpg")
    (tmp_path / "PXL_20230102_030405.jpg.supplemental-metadata.json").write_text(
        takeout_record(
            title="Snow day",
            photoTakenTime={"timestamp": "1672628645"},
            geoDataExif={"latitude": 46.5, "longitude": 7.9},
        )
    )
    result = read_user_text(photo)
    assert result.title == "Snow day"
    assert result.taken_at == datetime(2023, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert (result.lat, result.lon) == (46.5, 7.9)


def test_takeout_zero_geo_means_no_position(tmp_path: Path) -> None:
    photo = write_jpeg(tmp_path / "z.jpg")
    (tmp_path / "z.jpg.json").write_text(takeout_record(description="No GPS"))
    result = read_user_text(photo)
    assert result.description == "No GPS"
    assert result.lat is None and result.lon is None


def test_takeout_truncated_json_name(tmp_path: Path) -> None:
    name = "Screenshot_20200101-120000_Some_Long_App_Name.jpg"
    assert len(name) == 49  # Takeout cuts the json base name to 46 chars
    photo = write_jpeg(tmp_path / name)
    (tmp_path / (name[:46] + ".json")).write_text(takeout_record(description="Truncated but found"))
    result = read_user_text(photo)
    assert result.description == "Truncated but found"
    assert result.taken_at == datetime.fromtimestamp(1600000000, tz=timezone.utc)


def test_takeout_truncated_supplemental_name(tmp_path: Path) -> None:
    name = "IMG_20200101_123456789.jpg"
    photo = write_jpeg(tmp_path / name)
    (tmp_path / f"{name}.supplemental-metad.json").write_text(takeout_record(description="Cut suffix"))
    assert read_user_text(photo).description == "Cut suffix"


def test_takeout_duplicate_numbering(tmp_path: Path) -> None:
    photo = write_jpeg(tmp_path / "IMG_1234(1).jpg")
    (tmp_path / "IMG_1234.jpg(1).json").write_text(takeout_record(description="The copy"))
    (tmp_path / "IMG_1234.jpg.json").write_text(takeout_record(description="The original"))
    assert read_user_text(photo).description == "The copy"


def test_takeout_short_prefix_is_not_a_match(tmp_path: Path) -> None:
    # "IMG_1.json" is a prefix of "IMG_12.jpg" but belongs to another photo.
    photo = write_jpeg(tmp_path / "IMG_12.jpg")
    (tmp_path / "IMG_1.json").write_text(takeout_record(description="Someone else"))
    result = read_user_text(photo)
    assert result.description is None
    assert result.taken_at is None


# ------------------------------------------------------------- precedence


def test_sidecar_wins_over_embedded_and_keywords_union(tmp_path: Path) -> None:
    embedded = xmp_packet(
        dc_alt("dc:description", ("x-default", "Embedded, stale")) + rdf_bag("dc:subject", "old", "shared")
    )
    exif = Image.Exif()
    exif[0x010E] = "From EXIF"
    photo = write_jpeg(tmp_path / "p.jpg", xmp=embedded.encode(), exif=exif)
    (tmp_path / "p.jpg.xmp").write_text(
        xmp_packet(dc_alt("dc:description", ("x-default", "Sidecar, fresh")) + rdf_bag("dc:subject", "Shared", "new"))
    )
    result = read_user_text(photo)
    assert result.description == "Sidecar, fresh"
    assert result.keywords == ["Shared", "new", "old"]
    assert result.sources == ["xmp-sidecar", "xmp-embedded"]


def test_takeout_wins_over_embedded(tmp_path: Path) -> None:
    photo = write_jpeg(tmp_path / "t.jpg", xmp=xmp_packet(dc_alt("dc:description", ("x-default", "Embedded"))).encode())
    (tmp_path / "t.jpg.json").write_text(takeout_record(description="Typed in Google Photos"))
    assert read_user_text(photo).description == "Typed in Google Photos"


# ------------------------------------------------------------ junk filter


def test_camera_boilerplate_is_ignored(tmp_path: Path) -> None:
    photo = jpeg_with_exif(
        tmp_path / "P1010001.jpg",
        {0x010E: "OLYMPUS DIGITAL CAMERA         ", 0x9C9B: utf16_xp("P1010001")},
        {0x9286: b"ASCII\x00\x00\x00Real caption"},
    )
    result = read_user_text(photo)
    assert result.description == "Real caption"
    assert result.title is None
    assert result.sources == ["exif:UserComment"]


def test_only_boilerplate_is_empty(tmp_path: Path) -> None:
    photo = jpeg_with_exif(
        tmp_path / "holiday.jpg",
        {0x010E: "SONY DSC", 0x9C9B: utf16_xp("holiday"), 0x9C9C: utf16_xp("???")},
        {0x9286: b"\x00" * 8 + b"\x00" * 32},
    )
    result = read_user_text(photo)
    assert result.is_empty
    assert result.text == ""
    assert result.sources == []


@pytest.mark.parametrize(
    "value",
    ["OLYMPUS DIGITAL CAMERA", "sony dsc", "DCIM", "Default", "photo", "IMAGE",
     "KONICA MINOLTA DIGITAL CAMERA", "<KENOX S630  / Samsung S630>", " \x00 ?? ",
     "DSC_1234", "IMG_1234", "P1010001", "DSCN0010", "_DSC0042.JPG", "IMG-20200101-WA0001"],
)
def test_junk_values(value: str) -> None:
    assert is_junk_text(value)


@pytest.mark.parametrize("value", ["Paris2019", "Beach day", "Lisbon", "A380 landing"])
def test_real_text_is_not_junk(value: str) -> None:
    assert not is_junk_text(value)


# ------------------------------------------------------- cleaning and caps


def test_whitespace_nuls_and_caps(tmp_path: Path) -> None:
    photo = write_jpeg(tmp_path / "q.jpg")
    keywords = [f"kw{i}" for i in range(150)] + ["x" * 300]
    body = (
        dc_alt("dc:title", ("x-default", "  Two\n\tlines   here "))
        + dc_alt("dc:description", ("x-default", "abcd" * 1000))
        + rdf_bag("dc:subject", "y" * 300, *keywords)
    )
    (tmp_path / "q.jpg.xmp").write_text(xmp_packet(body))
    result = read_user_text(photo)
    assert result.title == "Two lines here"
    assert result.description == "abcd" * 500
    assert len(result.keywords) == 100
    assert result.keywords[0] == "y" * 100
    assert result.keywords[1] == "kw0"


def test_nuls_and_control_characters_are_stripped(tmp_path: Path) -> None:
    photo = jpeg_with_exif(tmp_path / "n.jpg", {0x010E: b"Rock\x00pool\x01 at\r\nlow tide\x00\x00\x00"})
    assert read_user_text(photo).description == "Rockpool at low tide"


def test_text_deduplicates_case_insensitively() -> None:
    user_text = UserText(title="Beach", description="beach", keywords=["BEACH", "sand", "Sand"])
    assert user_text.text == "Beach. sand"
    assert UserText().text == ""
    assert UserText().is_empty
    assert not UserText(lat=1.0, lon=2.0).is_empty


def test_image_argument_is_used_without_reopening(tmp_path: Path) -> None:
    photo = jpeg_with_exif(tmp_path / "r.jpg", {0x010E: "Given image"})
    with Image.open(photo) as image:
        # The path does not exist: everything must come from the open image.
        result = read_user_text(tmp_path / "missing.jpg", image=image)
    assert result.description == "Given image"


# ------------------------------------------------------------ never raise


def test_zero_byte_file(tmp_path: Path) -> None:
    photo = tmp_path / "empty.jpg"
    photo.write_bytes(b"")
    assert read_user_text(photo) == UserText()


def test_text_file_named_jpg(tmp_path: Path) -> None:
    photo = tmp_path / "notes.jpg"
    photo.write_text("this is not a jpeg\n" * 10)
    assert read_user_text(photo) == UserText()


def test_truncated_jpeg_still_yields_header_text(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x010E] = "Header survives"
    photo = tmp_path / "cut.jpg"
    Image.effect_noise((256, 256), 64).convert("RGB").save(photo, exif=exif)
    data = photo.read_bytes()
    assert len(data) > 10_000  # the cut lands in the pixel data, past the headers
    photo.write_bytes(data[: len(data) // 2])
    assert read_user_text(photo).description == "Header survives"


def test_jpeg_cut_inside_exif(tmp_path: Path) -> None:
    photo = jpeg_with_exif(tmp_path / "cut.jpg", {0x010E: "x" * 400})
    photo.write_bytes(photo.read_bytes()[:60])
    assert isinstance(read_user_text(photo), UserText)


def test_garbage_xml_sidecar_does_not_hide_exif(tmp_path: Path) -> None:
    photo = jpeg_with_exif(tmp_path / "g.jpg", {0x010E: "EXIF still read"})
    (tmp_path / "g.jpg.xmp").write_bytes(b"<x:xmpmeta><rdf:RDF><unclosed \xff\xfe garbage")
    (tmp_path / "g.xmp").write_bytes(bytes(range(256)) * 4)
    result = read_user_text(photo)
    assert result.description == "EXIF still read"
    assert result.sources == ["exif:ImageDescription"]


@pytest.mark.parametrize(
    "payload",
    [b"{not json", b"\xff\xfe\x00garbage", b"[1, 2, 3]", b'{"description": 42, "photoTakenTime": "x"}',
     b'{"photoTakenTime": {"timestamp": "99999999999999999999"}, "geoData": {"latitude": "nan"}}',
     b"[" * 100_000],
)
def test_garbage_json(tmp_path: Path, payload: bytes) -> None:
    photo = write_jpeg(tmp_path / "h.jpg")
    (tmp_path / "h.jpg.json").write_bytes(payload)
    assert read_user_text(photo) == UserText()


def test_missing_file_and_odd_paths(tmp_path: Path) -> None:
    assert read_user_text(tmp_path / "nope" / "missing.jpg") == UserText()
    assert read_user_text(tmp_path) == UserText()  # a directory
    assert read_user_text(None) == UserText()  # type: ignore[arg-type]
    assert read_user_text(str(tmp_path / "missing.jpg")) == UserText()  # type: ignore[arg-type]


# -------------------------------------------------------- real camera files


def real_photos() -> list[Path]:
    return sorted(EXIF_PHOTOS.iterdir()) if EXIF_PHOTOS.is_dir() else []


@pytest.mark.skipif(not real_photos(), reason="shared camera photos not available")
def test_real_camera_photos_never_raise() -> None:
    import pillow_heif

    pillow_heif.register_heif_opener()
    names = {path.name for path in real_photos()}
    assert {"87_OSError.jpg", "IMG_5195.HEIC"} <= names
    for path in real_photos():
        result = read_user_text(path)
        assert isinstance(result, UserText), path
        # None of these carry human captions; their space-filled
        # ImageDescription/UserComment must not leak through as text.
        assert result.text == "", (path, result)
        with Image.open(path) as image:
            assert read_user_text(path, image=image) == result, path


def test_junk_filter_has_no_catastrophic_backtracking() -> None:
    import time

    started = time.perf_counter()
    assert not is_junk_text("IMG_1234" + "_1" * 36 + "!")
    assert not is_junk_text("IMG_1234" + "_1" * 30 + "!")
    assert time.perf_counter() - started < 1.0
