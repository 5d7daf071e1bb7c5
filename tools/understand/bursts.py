"""Bursts: near-identical frames seconds apart, shown as one (the sharpest) with their count.

Two consecutive photos are frames of one burst when they were taken at most a few seconds apart
and look alike: their 64-bit difference hashes (dHash: is each pixel of a 9x8 grey thumbnail
brighter than its right neighbour) differ in few bits. dHash compares brightness gradients, so
it shrugs off the exposure changes and small reframings between frames while two different
scenes land far apart; it needs only PIL and NumPy. The cover is the sharpest frame by the
variance of the Laplacian of a grey copy at a fixed size (a blurred or shaken frame has weak
edges and a low variance), the cheap focus measure of Pech-Pacheco et al.
"""
from __future__ import annotations

from dataclasses import dataclass

from tools.lazy import lazy_module

np = lazy_module("numpy")

FOCUS_SIDE = 512  # frames of one burst are compared at the same size, whatever their pixels


@dataclass(frozen=True)
class Frame:
    id: str
    ts: int
    dhash: str | None  # 16 hex digits; None when the photo could not be read
    sharpness: float


def look(path: str) -> tuple[str, float]:
    """(dHash as 16 hex digits, focus measure) of a photo file."""
    from PIL import Image, ImageOps

    with Image.open(path) as image:
        image.draft("L", (FOCUS_SIDE * 2, FOCUS_SIDE * 2))  # JPEG decodes at a fraction of its size
        grey = ImageOps.exif_transpose(image).convert("L")
    small = np.asarray(grey.resize((9, 8), Image.Resampling.LANCZOS), dtype=np.int16)
    bits = (small[:, 1:] > small[:, :-1]).flatten()
    digest = int("".join("1" if b else "0" for b in bits), 2)
    focus = grey.copy()
    focus.thumbnail((FOCUS_SIDE, FOCUS_SIDE))
    pixels = np.asarray(focus, dtype=np.float32)
    if min(pixels.shape) < 3:
        return f"{digest:016x}", 0.0
    laplacian = (pixels[:-2, 1:-1] + pixels[2:, 1:-1] + pixels[1:-1, :-2] + pixels[1:-1, 2:]
                 - 4 * pixels[1:-1, 1:-1])
    return f"{digest:016x}", float(laplacian.var())


def hamming(a: str, b: str) -> int:
    return bin(int(a, 16) ^ int(b, 16)).count("1")


def group(frames: list[Frame], max_gap_s: float, max_bits: int) -> list[list[Frame]]:
    """Bursts (two frames or more), each in time order, from frames of any order. Each frame is
    compared with the one before it and with the burst's first, so a slow pan does not chain
    one scene into the next."""
    ordered = sorted(frames, key=lambda f: (f.ts, f.id))
    runs: list[list[Frame]] = []
    for frame in ordered:
        run = runs[-1] if runs else None
        if (run and frame.dhash and run[-1].dhash and frame.ts - run[-1].ts <= max_gap_s
                and hamming(frame.dhash, run[-1].dhash) <= max_bits
                and hamming(frame.dhash, run[0].dhash) <= max_bits * 3 // 2):
            run.append(frame)
        else:
            runs.append([frame])
    return [run for run in runs if len(run) > 1]


def cover(burst: list[Frame]) -> Frame:
    """The sharpest frame (the earliest among equals)."""
    return max(burst, key=lambda f: (f.sharpness, -f.ts))
