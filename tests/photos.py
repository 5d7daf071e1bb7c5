"""Write small real image files with chosen EXIF, for tests."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from PIL import Image, TiffImagePlugin

from tests.support.synthetic_clip import draw_shape


def _rational(value: float) -> TiffImagePlugin.IFDRational:
    if value != value:  # NaN: a zero denominator is what broken GPS units write
        return TiffImagePlugin.IFDRational(0, 0)
    fraction = Fraction(value).limit_denominator(10_000)
    return TiffImagePlugin.IFDRational(fraction.numerator, fraction.denominator)


def write_photo(path: Path, shape: str = "circle", colour: str = "red", *, taken: str | None = None,
                gps: tuple[float, float] | None = None, make: str | None = None, model: str | None = None,
                seed: int = 0, size: int = 96) -> Path:
    import random

    image = draw_shape(shape, colour, size=size, rng=random.Random(seed))
    exif = Image.Exif()
    if make:
        exif[0x010F] = make
    if model:
        exif[0x0110] = model
    if taken:
        exif.get_ifd(0x8769)[0x9003] = taken
    if gps:
        lat, lon = gps
        exif.get_ifd(0x8825).update({
            1: "N" if not lat < 0 else "S", 2: (_rational(abs(lat)), _rational(0), _rational(0)),
            3: "E" if not lon < 0 else "W", 4: (_rational(abs(lon)), _rational(0), _rational(0)),
        })
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, exif=exif, quality=92)
    return path
