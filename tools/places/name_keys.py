"""Place names as keys to compare and look up: "Zürich" -> "zurich", "St. Moritz" -> "st moritz",
with a looser fold ("koln" meets "koeln") for a second try."""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache


# Letters NFKD does not take apart; without these "Ørsta" or "Łódź" would lose letters.
_TRANSLITERATE = str.maketrans({
    "ß": "ss", "ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE",
    "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "þ": "th", "Þ": "Th", "ı": "i",
})
# GeoNames' ASCII names write German umlauts both ways ("Koeln" but "Dusseldorf").
_GERMAN_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue"})
_DROPPED = re.compile(r"[.'’`´]")  # "St. Louis", "D.C.", "Val-d'Isere": no word break
_SEPARATORS = re.compile(r"[\W_]+")


def normalize(text: str) -> str:
    """Lower-case, accent-free, punctuation-free form used to compare names.

    "Zürich" -> "zurich", "Washington, D.C." -> "washington dc",
    "Saint-Tropez" -> "saint tropez".  Not a string -> "".
    """
    return _normalize(text) if isinstance(text, str) else ""


@lru_cache(maxsize=65536)
def _normalize(text: str) -> str:
    if text.isascii():  # most names: nothing to decompose (the populations table has ~500k)
        stripped = text.lower()
    else:
        decomposed = unicodedata.normalize("NFKD", text.translate(_TRANSLITERATE))
        stripped = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return " ".join(_SEPARATORS.sub(" ", _DROPPED.sub("", stripped)).split())


_SAINTS = re.compile(r"\b(?:st|sankt|san|saint)\b")


def _fold(key: str) -> str:
    """Looser key for a second try: "koln" meets "koeln", "goteborg" meets
    "goeteborg", "st moritz" and "sankt moritz" meet "saint moritz"."""
    return _SAINTS.sub("saint", key).replace("ae", "a").replace("oe", "o").replace("ue", "u")


# Abbreviations GeoNames writes out: "Ft. Lauderdale", "Mt Vernon".
_ABBREVIATED = re.compile(r"^(ft|mt)\s")
_WRITTEN_OUT = {"ft": "fort ", "mt": "mount "}


def _key_variants(raw: str) -> list[str]:
    """Normalised keys to look a typed name up under, best first."""
    keys = [normalize(raw), normalize(raw.translate(_GERMAN_UMLAUTS))]
    keys += [_ABBREVIATED.sub(lambda m: _WRITTEN_OUT[m.group(1)], key) for key in keys]
    return [k for i, k in enumerate(keys) if k and k not in keys[:i]]
