"""The extractor: the date phrase in a sentence ("... concert last summer, Berlin I think" -> "last
summer"), over the resolver's own patterns, refusing words that are dates only sometimes ("may I
see", "the march downtown", "a second photo", "my Sunday best").  Split out of date_phrases.py,
which re-exports :func:`find_date_phrase` and :func:`find_date_span`.

date_phrases imports this module, so this one reads the resolver's rules and function when first
used, not at import (a module-level import of date_phrases here would be circular).
"""
from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache

from tools.dates.date_core import MONTH, MONTHS, PART, SEASON, WEEKDAYS
from tools.dates.spoken_numbers import digits, words_to_digits


@lru_cache(maxsize=1)
def _find_patterns() -> list[re.Pattern]:
    from tools.dates.date_phrases import RULES

    return [re.compile(rf"(?<![\w'])(?:the\s+)?(?:{pattern})(?![\w'])", re.IGNORECASE) for pattern, _ in RULES + [
        # "late last summer", "early last March": the normaliser puts the qualifier first for the rules
        (rf"{PART}\s+(?:last|this|past|previous)\s+(?:the\s+)?(?:{SEASON}|{MONTH})", None)]]


# Words that are dates only sometimes ("I may", "a march", "Jan" the person, "a spring", "summer dress"):
# alone, they count only after a word like "in" or "during".
_ABBREVIATIONS = {w for w in list(MONTHS) + list(WEEKDAYS) if len(w) <= 4 and w not in ("may", "june", "july")}
_CONTEXT_BEFORE = re.compile(
    r"\b(?:in|during|on|since|from|of|until|till|before|after|around|over|that)\s+(?:the\s+)?$", re.IGNORECASE)


def find_date_phrase(text: str, now: datetime | None = None) -> str | None:
    """The date phrase in a sentence ("... concert last summer, Berlin I think" -> "last summer").

    Rule-based, over the same patterns as :func:`resolve_date_phrase`; the longest
    match that resolves wins (the earliest among equals).  ``None`` when there is none.
    """
    span = find_date_span(text, now)
    return text[span[0]:span[1]] if span else None


def find_date_span(text: str, now: datetime | None = None) -> tuple[int, int] | None:
    """Where :func:`find_date_phrase`'s phrase is in ``text`` (start, end), since the same words
    may also be there as no date ("may we see the photos from May")."""
    from tools.dates.date_phrases import resolve_date_phrase

    try:
        if not isinstance(text, str) or not text.strip():
            return None
        text = text[:2000].replace("\u2019", "'").replace("\u2018", "'")  # same length: offsets hold
        now = now or datetime.now()
        # The rules are written for digits: look in a copy with number words as digits ("June of
        # nineteen ninety nine" -> "June of 1999") and cut the phrase from the original.
        converted, spans = digits(text)
        candidates: set[tuple[int, int]] = set()
        for pattern in _find_patterns():
            for match in pattern.finditer(converted):
                if match.end() > match.start():
                    candidates.add((spans[match.start()][0], spans[match.end() - 1][1]))
        for start, end in sorted(candidates, key=lambda c: (-(c[1] - c[0]), c[0])):
            found = text[start:end].strip()
            if not _plausible(found, text[:start], text[end:]):
                continue
            if resolve_date_phrase(found, now) is not None:
                start += len(text[start:end]) - len(text[start:end].lstrip())
                return start, start + len(found)
        return None
    except Exception:
        return None


# After a day of the month or a weekday said alone, these show it is one ("on the 22nd, at the
# beach"); a noun shows it is not ("the second photo", "my Sunday best").
_DATE_AFTER = re.compile(r"^\s*(?:$|[,.;:!?)\-]|(?:and|or|of|at|in|on|with|when|where|while|we|i|my|our|last"
                         r"|this|that|morning|afternoon|evening|night|ago|before|after|around)\b)", re.IGNORECASE)


# A decade said alone before one of these names a style, not when the photo was taken: "the
# eighties party" (a theme), "the nineties band", "80s music".  A holiday before a thing stays a
# date ("an Easter egg hunt", "the Christmas tree" are photos of those days); "the 1980s", "in the
# nineties" say when.
_DECADE_THINGS = (r"bands?|party|parties|style|fashion|look|cars?|hair|themed?|disco|kids?|music|songs?|"
                  r"movies?|films?|outfits?|clothes|costumes?|dress|jumpers?|sweaters?|hats?|vibe")
_DECADE = re.compile(r"'?\d0'?s|(?:twenties|thirties|forties|fifties|sixties|seventies|eighties|nineties|"
                     r"noughties|two\s+thousands)")


def _names_a_thing(core: str, after: str) -> bool:
    return bool(_DECADE.fullmatch(core)) and bool(re.match(rf"\s+(?:{_DECADE_THINGS})\b", after, re.IGNORECASE))


def _plausible(found: str, before: str, after: str = "") -> bool:
    low = found.lower()
    core = re.sub(r"^the\s+", "", low).rstrip(".")
    if _names_a_thing(core, after):
        return False
    has_the = core != low or bool(re.search(r"\bthe\s+$", before, re.IGNORECASE))
    context = bool(_CONTEXT_BEFORE.search(before))
    if core in _ABBREVIATIONS or re.fullmatch(r"'\d\d", core):
        return False
    if core in ("may", "march"):  # also verbs
        return found[len(found) - len(core) - (1 if low.endswith(".") else 0)].isupper() and context
    if core in ("spring", "fall"):  # "a spring", "the fall of the Wall", "fall colors"
        return bool(re.search(r"\b(?:in|during|that|since)\s+(?:the\s+)?$", before, re.IGNORECASE))
    if re.fullmatch(r"(?:this|last|past|previous|current)\s+seasons?", core):  # "the last season of Friends"
        return not re.match(r"\s+(?:of|in|finale|premiere|episode)\b", after, re.IGNORECASE)
    if core in MONTHS or core == "lent":  # "she lent me her camera": Lent only "in / during Lent"
        return context
    if core in ("summer", "winter", "autumn"):
        return context or has_the
    if re.fullmatch(r"'?\d0'?s", core):  # "in my 20s" is an age
        return has_the or core.startswith("'")
    if re.fullmatch(r"[0-3]?\d(?:st|nd|rd|th)", words_to_digits(core)):  # "the 22nd", not "the second photo"
        return has_the and (context or bool(re.search(r"\b(?:on|since|from|until|till|before|after)\s+$", before,
                                                      re.IGNORECASE))) and bool(_DATE_AFTER.match(after))
    if core in WEEKDAYS:  # "on Sunday", "Sunday at the beach", not "my Sunday best"
        return context or bool(_DATE_AFTER.match(after))
    return True
