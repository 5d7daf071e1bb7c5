"""Thumbnails for the terminal: decoded once, cached on disk, drawn with Unicode half-blocks.

A cell shows two pixels, one above the other: "▀" in the upper pixel's colour on the lower
pixel's colour. That works in every terminal with true colour, over SSH and inside tmux, at any
size, and draws the same every time (the snapshot tests rely on it). The cache holds small PNGs
keyed by the photo's content hash and the cell size, so a photo is decoded from its file once
per size, not on every screen; a photo that changed has another hash.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps
from rich.console import Console, ConsoleOptions, RenderResult
from rich.segment import Segment
from rich.style import Style

from tools.private import private_dir

UPPER_HALF = "▀"


class ThumbnailError(Exception):
    """The photo cannot be drawn (gone, unreadable); the message says why in a few words."""


class HalfBlocks:
    """A Rich renderable: an RGB array of ``2 * rows`` by ``columns`` pixels as ``rows`` lines."""

    def __init__(self, pixels: np.ndarray):
        self.pixels = pixels

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        height, width = self.pixels.shape[:2]
        styles: dict[tuple, Style] = {}
        for row in range(0, height - 1, 2):
            top, bottom = self.pixels[row], self.pixels[row + 1]
            for x in range(width):
                key = (*top[x], *bottom[x])
                style = styles.get(key)
                if style is None:
                    style = styles[key] = Style.parse(f"rgb({top[x][0]},{top[x][1]},{top[x][2]}) on "
                                                      f"rgb({bottom[x][0]},{bottom[x][1]},{bottom[x][2]})")
                yield Segment(UPPER_HALF, style)
            yield Segment.line()


class ThumbnailCache:
    def __init__(self, cache_dir: Path):
        self.folder = Path(cache_dir) / "thumbnails"

    def pixels(self, photo_id: str, path: str, columns: int, rows: int, fill: bool = True) -> np.ndarray:
        """The photo as ``2 * rows`` x ``columns`` RGB pixels: cropped to fill (a card) or letterboxed
        (a preview). Raises ThumbnailError."""
        size = (max(1, columns), max(2, rows * 2))
        name = hashlib.blake2b(f"{photo_id}-{size}-{fill}".encode(), digest_size=12).hexdigest()
        cached = self.folder / f"{name}.png"
        try:
            with Image.open(cached) as image:
                return np.asarray(image.convert("RGB"))
        except (OSError, ValueError):
            pass  # not cached yet, or a broken cache file: make it again
        picture = _fit(_decode(path, size), size, fill)
        try:
            private_dir(self.folder)
            tmp = cached.with_suffix(".tmp")
            picture.save(tmp, format="PNG")
            tmp.replace(cached)
        except OSError:
            pass  # a read-only or full cache only costs a decode next time
        return np.asarray(picture)


def _decode(path: str, size: tuple[int, int]) -> Image.Image:
    try:
        with Image.open(path) as image:
            image.draft("RGB", (size[0] * 4, size[1] * 4))  # JPEG decodes at a fraction of its size
            return ImageOps.exif_transpose(image).convert("RGB")
    except FileNotFoundError:
        raise ThumbnailError("photo not found (moved or deleted since indexing)") from None
    except Exception as error:  # noqa: BLE001 - whatever the decoder says, the card says "no preview"
        raise ThumbnailError(f"no preview ({type(error).__name__})") from None


def _fit(image: Image.Image, size: tuple[int, int], fill: bool) -> Image.Image:
    # Terminal cells are about twice as tall as wide, and a cell holds two pixels one above the
    # other, so one pixel per column and two per row keep the photo's proportions.
    if fill:
        return ImageOps.fit(image, size, Image.Resampling.LANCZOS)
    contained = ImageOps.contain(image, size, Image.Resampling.LANCZOS)
    canvas = Image.new("RGB", size, (0, 0, 0))
    canvas.paste(contained, ((size[0] - contained.width) // 2, (size[1] - contained.height) // 2))
    return canvas
