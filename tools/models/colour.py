"""Colour and light from the pixels themselves: no model, a few milliseconds a photo.

"The one with the red umbrella", "that dim bar", "the black and white one", "purple stage
lights" are common memories, and none needs a neural network: the photo is shrunk to
``SAMPLE_SIDE`` pixels a side, each pixel gets one of eleven colour words from its hue,
saturation and brightness (HSV), and the words that cover enough of the frame are tags.

* Colours: a vivid colour (red, orange, yellow, green, blue, purple, pink) counts from
  ``VIVID_SHARE`` of the frame, since a red umbrella is small but is what people remember;
  brown needs ``MUTED_SHARE``; black, white and grey, which every photo has in its shadows and
  sky, need ``NEUTRAL_SHARE``. At most ``MAX_COLOURS`` vivid and ``MAX_OTHER_COLOURS`` others,
  largest share first.
* Light: dark (with "dim light", the word the EXIF and CLIP tags use) and bright from the mean
  luma; neon-lit when a dark frame holds saturated, bright light.
* Black and white: (almost) no pixel has any chroma.

The thresholds are the usual HSV conventions, checked by eye on Flickr8k photos and on
black-and-white conversions of them (tests/test_pixel_signals.py).
"""
from __future__ import annotations

import numpy as np
from PIL import Image
from pydantic import BaseModel

SAMPLE_SIDE = 96
VIVID_SHARE = 0.06
MUTED_SHARE = 0.15
NEUTRAL_SHARE = 0.30
MAX_COLOURS = 3  # vivid ones
MAX_OTHER_COLOURS = 2  # brown, black, white, grey

# Hue bands in degrees (red wraps around 0); brown is a dark orange/yellow, pink a light or
# magenta red.
HUE_BANDS = (("red", 0, 15), ("orange", 15, 40), ("yellow", 40, 70), ("green", 70, 165),
             ("blue", 165, 255), ("purple", 255, 290), ("pink", 290, 340), ("red", 340, 361))
VIVID = ("red", "orange", "yellow", "green", "blue", "purple", "pink")
MUTED = ("brown",)
NEUTRAL = ("black", "white", "grey")
BLACK_BELOW = 0.18  # HSV value below which a pixel is black whatever its hue
GREY_SATURATION = 0.22  # below this saturation a pixel has no colour worth naming
WHITE_ABOVE = 0.80  # luma of a white pixel

DARK_BELOW = 0.22  # mean luma; a room at night or a concert; a normal exposure sits near 0.45
BRIGHT_ABOVE = 0.65  # snow, beach, overexposed sky
NEON_SHARE = 0.02  # part of a dark frame that is saturated and bright light
MONO_CHROMA = 0.04  # mean chroma of a black-and-white photo (JPEG noise leaves a little)
MONO_PIXELS = 0.02  # ...and at most this share of pixels with visible chroma


class PixelLabel(BaseModel):
    name: str
    confidence: float


def _ramp(start: float, per_unit: float, distance: float, cap: float = 0.95) -> float:
    return round(min(cap, start + per_unit * max(0.0, distance)), 4)


def _sample(image: Image.Image) -> np.ndarray:
    small = image.convert("RGB")
    small.thumbnail((SAMPLE_SIDE, SAMPLE_SIDE), Image.BILINEAR)  # in place, keeps the aspect
    return np.asarray(small, dtype=np.float32).reshape(-1, 3) / 255.0


def pixel_names(rgb: np.ndarray) -> np.ndarray:
    """One colour word per pixel (an array of str) for RGB rows in 0..1."""
    high, low = rgb.max(axis=1), rgb.min(axis=1)
    chroma = high - low
    saturation = np.where(high > 0, chroma / np.maximum(high, 1e-6), 0.0)
    luma = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    hue = _hue_degrees(rgb, high, chroma)
    names = np.empty(len(rgb), dtype=object)
    for name, start, end in HUE_BANDS:
        names[(hue >= start) & (hue < end)] = name
    # Brown is orange or yellow without the light; pink is red with a lot of it and little colour.
    warm = (hue >= 10) & (hue < 55)
    names[warm & (high < 0.62)] = "brown"
    reddish = (hue < 15) | (hue >= 340)
    names[reddish & (saturation < 0.55) & (high > 0.75)] = "pink"
    grey = saturation < GREY_SATURATION
    names[grey] = "grey"
    names[grey & (luma >= WHITE_ABOVE)] = "white"
    names[high < BLACK_BELOW] = "black"
    names[grey & (luma < 0.25)] = "black"
    return names


def _hue_degrees(rgb: np.ndarray, high: np.ndarray, chroma: np.ndarray) -> np.ndarray:
    r, g, b = rgb[:, 0], rgb[:, 1], rgb[:, 2]
    safe = np.maximum(chroma, 1e-6)
    hue = np.where(high == r, ((g - b) / safe) % 6, np.where(high == g, (b - r) / safe + 2, (r - g) / safe + 4))
    return np.where(chroma > 0, hue * 60.0, 0.0)


def colour_labels(image: Image.Image) -> list[PixelLabel]:
    """Colour and light words for a photo, each with a confidence in 0..1."""
    rgb = _sample(image)
    if not len(rgb):
        return []
    names = pixel_names(rgb)
    chroma = rgb.max(axis=1) - rgb.min(axis=1)
    luma = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    labels: list[PixelLabel] = []

    mono = float(chroma.mean()) < MONO_CHROMA and float((chroma > 0.12).mean()) < MONO_PIXELS
    if mono:
        labels.append(PixelLabel(name="black and white", confidence=0.95))
    shares = {name: float((names == name).mean()) for name in (*VIVID, *MUTED, *NEUTRAL)}
    colours = []
    for name, share in shares.items():
        floor = VIVID_SHARE if name in VIVID else MUTED_SHARE if name in MUTED else NEUTRAL_SHARE
        if mono and name not in NEUTRAL:
            continue  # JPEG noise in a grey photo is not a colour
        if share >= floor:
            colours.append(PixelLabel(name=name, confidence=_ramp(0.5, 0.45 / (1 - floor), share - floor)))
    colours.sort(key=lambda label: -shares[label.name])
    # Vivid colours are what people remember, so shadows and sky never crowd them out.
    labels += [c for c in colours if c.name in VIVID][:MAX_COLOURS]
    labels += [c for c in colours if c.name not in VIVID][:MAX_OTHER_COLOURS]

    mean_luma = float(luma.mean())
    if mean_luma < DARK_BELOW:
        dark = _ramp(0.6, 3.0, DARK_BELOW - mean_luma)
        labels += [PixelLabel(name="dark", confidence=dark), PixelLabel(name="dim light", confidence=dark)]
        high = rgb.max(axis=1)
        lit = (high > 0.6) & (chroma / np.maximum(high, 1e-6) > 0.6)
        neon = float(lit.mean())
        if neon >= NEON_SHARE and not mono:
            labels.append(PixelLabel(name="neon-lit", confidence=_ramp(0.5, 5.0, neon - NEON_SHARE, 0.9)))
    elif mean_luma > BRIGHT_ABOVE:
        labels.append(PixelLabel(name="bright", confidence=_ramp(0.6, 3.0, mean_luma - BRIGHT_ABOVE)))
    return labels
