"""Copies of real photos with a chosen date and place written into the copy's EXIF.

Tests and evals need libraries shaped like a phone's (events minutes apart, days between them,
bursts seconds apart) made of real photos, and ../shared/data must never be written: each photo
is copied first and the copy gets DateTimeOriginal and GPS (piexif inserts the EXIF block
without re-encoding the pixels). Burst frames are made from one photo by a small crop and an
exposure change, and may be blurred (a shaken frame), then saved as new JPEGs.
"""
from __future__ import annotations

import shutil
from datetime import datetime
from fractions import Fraction
from pathlib import Path

import piexif
from PIL import Image, ImageEnhance, ImageFilter


def _dms(value: float) -> tuple:
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = Fraction((value - degrees - minutes / 60) * 3600).limit_denominator(1000)
    return (degrees, 1), (minutes, 1), (seconds.numerator, seconds.denominator)


def write_exif(path: Path, taken: datetime, gps: tuple[float, float] | None = None) -> None:
    """Replace the EXIF of a JPEG (a copy!) with a camera date and, if given, a GPS position."""
    exif: dict = {"0th": {piexif.ImageIFD.Make: b"Testcam", piexif.ImageIFD.Model: b"Phone 1"},
                  "Exif": {piexif.ExifIFD.DateTimeOriginal: taken.strftime("%Y:%m:%d %H:%M:%S").encode()},
                  "GPS": {}, "1st": {}, "thumbnail": None}
    if gps is not None:
        lat, lon = gps
        exif["GPS"] = {piexif.GPSIFD.GPSLatitudeRef: b"N" if lat >= 0 else b"S", piexif.GPSIFD.GPSLatitude: _dms(lat),
                       piexif.GPSIFD.GPSLongitudeRef: b"E" if lon >= 0 else b"W", piexif.GPSIFD.GPSLongitude: _dms(lon)}
    piexif.insert(piexif.dump(exif), str(path))


def dated_copy(source: Path, target: Path, taken: datetime, gps: tuple[float, float] | None = None) -> Path:
    """``source`` copied to ``target`` (a JPEG) with this date and place in its EXIF."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if Path(target).resolve() == Path(source).resolve():
        raise ValueError(f"refusing to write EXIF into the source photo itself: {source}")
    shutil.copyfile(source, target)
    target.chmod(0o644)  # the shared data is read-only, and so would be a copy made with its mode
    write_exif(target, taken, gps)
    return target


def burst_frame(source: Path, target: Path, taken: datetime, gps: tuple[float, float] | None = None, *,
                crop: float = 0.02, shift: tuple[float, float] = (0.5, 0.5), exposure: float = 1.0,
                blur: float = 0.0) -> Path:
    """One frame of a burst made from ``source``: ``crop`` of each side taken off (placed by ``shift``),
    back at the full size, brightness times ``exposure``, a Gaussian blur of ``blur`` pixels."""
    with Image.open(source) as image:
        frame = image.convert("RGB")
    width, height = frame.size
    dx, dy = int(width * crop * 2 * shift[0]), int(height * crop * 2 * shift[1])
    box = (dx, dy, dx + int(width * (1 - 2 * crop)), dy + int(height * (1 - 2 * crop)))
    frame = frame.crop(box).resize((width, height), Image.Resampling.LANCZOS)
    frame = ImageEnhance.Brightness(frame).enhance(exposure)
    if blur:
        frame = frame.filter(ImageFilter.GaussianBlur(blur))
    target.parent.mkdir(parents=True, exist_ok=True)
    frame.save(target, quality=92)
    write_exif(target, taken, gps)
    return target
