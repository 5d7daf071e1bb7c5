"""Feedback in plain words about the last list shown ("#3 is close", "not 1 or 2", "later").

Numbers are 1-based positions in the last shown list. Parsing is by rules; what cannot be
parsed is simply not feedback (the turn is then read as a new description).

Photos are also pointed at in words, which only the dialogue can resolve (``DialogueState``
knows what was discussed): "that one" / "this one" is the photo last discussed, "the other one"
the other of the last two ("not that one, the other one"); "same place" / "same day" ask for the
place or the day of the photo referred to in the turn, else of the one last liked ("#3, same
place but at night"); a date shift ("that one but earlier") is then relative to that photo
rather than to the whole list. "that one with the dog" describes a photo: it is no reference.
"""
from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from typing import Literal, Sequence

import numpy as np
from pydantic import BaseModel

from tools.places import geo
from tools.dates.date_phrases import DateRange

EARLIEST = datetime(1800, 1, 1)
LATEST = datetime(2199, 12, 31, 23, 59, 59, 999999)
_NUM = r"#?\s*(\d{1,3})\b"
_NUM_LIST = rf"(?:{_NUM})(?:\s*(?:,|or|and|nor|&)?\s*(?:{_NUM}))*"
_REJECT_ALL = re.compile(r"\b(?:none of (?:these|them|those)|none|neither|nothing like|all wrong|not these)\b",
                         re.IGNORECASE)


_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
             "eighth": 8, "ninth": 9, "tenth": 10, "1st": 1, "2nd": 2, "3rd": 3, "4th": 4, "5th": 5}
_ORDINAL_REF = re.compile(rf"\b(?:the\s+)?({'|'.join(_ORDINALS)}|last)\s+(?:one|photo|picture|pic|image|shot)\b",
                          re.IGNORECASE)


def ordinals_to_numbers(text: str, shown_count: int | None = None) -> str:
    """"the third one" -> "#3" ("the last one" -> the last shown), so positions read one way."""
    def number(match: re.Match) -> str:
        word = match.group(1).lower()
        n = shown_count if word == "last" else _ORDINALS[word]
        return f"#{n}" if n else match.group(0)

    return _ORDINAL_REF.sub(number, text or "")


Reference = Literal["that", "other"]  # "that one", "the other one": resolved by the dialogue
# "that one with the dog" describes a photo: followed by these, "that one" is no reference.
_TAIL = r"(?!\s+(?:with|where|when|from|of|in|at|on|that|which|who|we|i|you|by|near)\b)"
_PHOTO = r"(?:one|photo|picture|pic|image|shot)"
_REFERENCES = re.compile(
    rf"\b(?P<neg>(?:not|no|nope|never)\s+(?:to\s+)?)?(?:(?P<other>(?:the\s+)?other\s+{_PHOTO})"
    rf"|(?P<that>th(?:at|is)\s+{_PHOTO}|that'?s\s+(?:it|the\s+one)))\b{_TAIL}", re.IGNORECASE)
_SAME = re.compile(r"\b(?:the\s+)?same\s+(?:(?P<place>place|spot|location|area|town|city)|(?P<day>day|date))\b"
                   r"(?:\s+as\b)?", re.IGNORECASE)
_SHIFT_WORDS = re.compile(r"\b(?:(?:a\s+(?:bit|little)\s+)?(?:earlier|older|later|newer|more\s+recent)"
                          r"(?:\s+than\s+that)?|before\s+that|after\s+that)\b", re.IGNORECASE)


class Feedback(BaseModel):
    liked: list[int] = []  # 1-based positions in the last shown list
    rejected: list[int] = []
    reject_all: bool = False
    extra_visual: str = ""  # "more like 4 but at night" -> "at night"
    date_shift: Literal["earlier", "later"] | None = None
    missing: list[int] = []  # "#N" numbers that were not on screen ("#99 is close" with 3 shown)
    liked_refs: list[Reference] = []  # "that one is close", "the other one"
    rejected_refs: list[Reference] = []  # "not that one"
    same: list[Literal["place", "day"]] = []  # "same place", "same day" (as the photo referred to)

    @property
    def empty(self) -> bool:
        return not (self.liked or self.rejected or self.reject_all or self.extra_visual or self.date_shift
                    or self.missing or self.liked_refs or self.rejected_refs or self.same)


def _numbers(span: str) -> list[int]:
    return [int(n) for n in re.findall(r"\d{1,3}", span) if int(n) > 0]


def parse_feedback(text: str, shown_count: int | None = None) -> Feedback:
    """``shown_count`` drops positions that were not shown (a typo, or a year like 2019)."""
    text = ordinals_to_numbers(" ".join((text or "").split())[:500], shown_count)
    fb = Feedback()
    # Photos pointed at in words, and "same place/day": taken out first, so "that one" leaves no
    # "one" to read and "same place but at night" leaves "at night" as the extra description.
    for match in _REFERENCES.finditer(text):
        ref = "other" if match["other"] else "that"
        (fb.rejected_refs if match["neg"] else fb.liked_refs).append(ref)
    for match in _SAME.finditer(text):
        fb.same.append("place" if match["place"] else "day")
    fb.same = list(dict.fromkeys(fb.same))
    text = _SAME.sub(" ", _REFERENCES.sub(" ", text))
    rest = text
    # Rejections first: "not 1 or 2", "not #1, #2", "no to 3".
    for match in re.finditer(rf"\b(?:not|no|nope|never|reject)\s+(?:to\s+|number\s+)?({_NUM_LIST})", text,
                             re.IGNORECASE):
        fb.rejected += _numbers(match.group(1))
        rest = rest.replace(match.group(0), " ")
    if _REJECT_ALL.search(text):
        fb.reject_all = True
    # Everything but-clause after: extra description ("... but at night").
    but = re.search(r"\b(?:but|only|except)\s+(.+)$", rest, re.IGNORECASE)
    if but:
        # "that one but earlier": the shift is read below, it is no description.
        fb.extra_visual = " ".join(_SHIFT_WORDS.sub(" ", but.group(1)).split()).strip(" .,!")
        rest = rest[:but.start()]
    # Any other position number is liked: "#3 is close", "like 3", "more like 4", "3 looks right".
    negative = re.search(r"\b(?:wrong|bad|not (?:it|right|them)|nope)\b", rest, re.IGNORECASE)
    for match in re.finditer(_NUM, rest):
        (fb.rejected if negative else fb.liked).append(int(match.group(1)))
    if re.search(r"\b(?:earlier|before that|older)\b", text, re.IGNORECASE):
        fb.date_shift = "earlier"
    elif re.search(r"\b(?:later|after that|more recent|newer)\b", text, re.IGNORECASE):
        fb.date_shift = "later"
    if shown_count is not None:
        # Only "#N" is surely a photo number; a bare number may be anything ("3 kids").
        fb.missing = sorted({int(n) for n in re.findall(r"#\s*(\d{1,4})\b", text)
                             if not 1 <= int(n) <= shown_count})
        fb.liked = [n for n in fb.liked if 1 <= n <= shown_count]
        fb.rejected = [n for n in fb.rejected if 1 <= n <= shown_count]
    fb.liked = [n for n in dict.fromkeys(fb.liked) if n not in fb.rejected and n > 0]
    fb.rejected = list(dict.fromkeys(fb.rejected))
    return fb


def positions_to_ids(positions: list[int], shown: Sequence[str]) -> list[str]:
    return [shown[n - 1] for n in positions if 1 <= n <= len(shown)]


def shifted_range(shift: str, shown_dates: Sequence[datetime | None], current: DateRange | None) -> DateRange | None:
    """"Earlier than that": before the earliest shown photo; "later": after the latest one.
    The other end of the current range, if any, is kept. The dialogue passes the dates of the
    photos the turn referred to ("that one but earlier") when there are any, else of the list."""
    dates = [d for d in shown_dates if d is not None]
    if not dates:
        return current
    start = current.start if current else EARLIEST
    end = current.end if current else LATEST
    if shift == "earlier":
        end = min(dates) - timedelta(microseconds=1)
        label = f"before {min(dates):%Y-%m-%d}"
    else:
        start = max(dates) + timedelta(microseconds=1)
        label = f"after {max(dates):%Y-%m-%d}"
    if start > end:
        return current
    return DateRange(start=start, end=end, label=label, phrase=shift)


SAME_PLACE_KM = 5.0  # "same place": the same spot or town; GPS of one spot wanders by far less


def same_place(record, number: int | None) -> geo.PlaceFilter | None:
    """A place filter around where ``record`` (a PhotoRecord) was taken; None without GPS."""
    if record is None or not geo.valid_coordinates(record.lat, record.lon):
        return None
    where = (", ".join(p for p in (record.city, record.country) if p) or record.place
             or f"{record.lat:.3f}, {record.lon:.3f}")
    label = f"the place of #{number} ({where})" if number else f"the same place ({where})"
    return geo.PlaceFilter(kind="city", label=label, country_code=record.country_code or "", lat=record.lat,
                           lon=record.lon, radius_km=SAME_PLACE_KM)


def same_day(record, number: int | None) -> DateRange | None:
    """The whole day ``record`` was taken on; None without a date."""
    taken = getattr(record, "taken_at", None)
    if taken is None:
        return None
    day = taken.date()
    start = datetime.combine(day, time.min)
    label = f"{day:%d %b %Y}" + (f" (the day of #{number})" if number else "")
    return DateRange(start=start, end=datetime.combine(day, time.max), label=label, phrase="same day")


def _unit(v: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(v))
    return v / norm if norm > 0 else v


def rocchio(query_vec: np.ndarray, liked_vecs: Sequence[np.ndarray], rejected_vecs: Sequence[np.ndarray],
            alpha: float = 1.0, beta: float = 0.75, gamma: float = 0.25) -> np.ndarray:
    """Rocchio relevance feedback: ``q' = alpha*q + beta*mean(liked) - gamma*mean(rejected)``, then
    L2-normalised (CLIP compares directions). All inputs are normalised first so that no one
    vector's length counts. The classic weights (Manning et al., IR book 9.1.1): a liked photo
    says more than a rejected one, since a rejection may be for any of several reasons."""
    q = alpha * _unit(np.asarray(query_vec, dtype=np.float32))
    if len(liked_vecs):
        q = q + beta * np.mean([_unit(np.asarray(v, dtype=np.float32)) for v in liked_vecs], axis=0)
    if len(rejected_vecs):
        q = q - gamma * np.mean([_unit(np.asarray(v, dtype=np.float32)) for v in rejected_vecs], axis=0)
    return _unit(q)
