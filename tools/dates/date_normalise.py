"""The normaliser: a phrase as people say or speech-to-text writes it -> the text the date rules read.

Lower case, number words as digits, spellings that mean the same ("x-mas", "thanks giving",
"yrs"), leading and trailing hedges ("around", "in", "or so", "-ish") taken off; and, for a phrase
no rule reads, the time of day and weekday around a date ("yesterday at 2pm", "Fri, Jul 18, 2014
19h00"), since the date filter works in days.  Split out of date_phrases.py.
"""
from __future__ import annotations

import re

from tools.dates.date_core import MONTH, SEASON, WEEKDAY
from tools.dates.spoken_numbers import words_to_digits

# "back in the day" is a phrase of its own, not "in the day".
_LEAD = re.compile(r"^(?!back\s+in\s+the\s+day\b)"
                   r"(?:(?:back\s+|sometime\s+|some\s+time\s+)?in|on|at|during|around|about|over|circa|ca\.?|c\.|"
                   r"approximately|roughly|probably|maybe|perhaps|like|sometime|the|was|it\s+was)\s+")
_TRAIL = re.compile(r"(?:\s*,?\s*(?:or\s+so|i\s+think|i\s+guess|maybe|probably|or\s+something|or\s+thereabouts)"
                    r"|\s*-?ish|\s+time)$")
_SINCE = re.compile(r"^since\s+(?P<rest>.+)$")


# Spellings that mean the same to the rules (speech-to-text splits and abbreviates words).
_SPELLINGS = [
    (r"\bx-mas\b", "xmas"), (r"\bthanks\s+giving\b", "thanksgiving"), (r"\bthanksgiving\s+day\b", "thanksgiving"),
    (r"\byrs?\b", "year"), (r"\bcurrent\b", "this"), (r"\bthis\s+past\b", "last"),
    (r"\bthe\s+previous\s+(week|month|year)\b", r"last \1"),
    # "late last summer" -> "last late summer": the rules take the qualifier first
    (rf"^(early|mid|late|(?:the\s+)?(?:beginning|start|middle|end)\s+of)\s+(last|this|past|previous)\s+"
     rf"(?=(?:the\s+)?(?:{SEASON}|{MONTH})$)", r"\2 \1 "),
    # "a year or two ago" -> "one or two years ago"
    (r"\ba\s+(year|month|week|day)\s+or\s+(two|three|so)\s+(ago|back)\b",
     lambda m: f"one or {'two' if m[2] == 'so' else m[2]} {m[1]}s {m[3]}"),
    (r"(\d)(?=(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b)", r"\1 "),  # "14april 2015"
    (r"\b((?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*)(?=\d)", r"\1 "),  # "feb13"
    # "the week", "all week": this week (said alone; "during the week" is weekdays, no date)
    (r"^(?:(?:at\s+)?the|all)\s+week$", "this week"),
    # "2015-03-28 17:00:00/2015-03-29 21:00:00": an ISO interval; the filter works in days
    (r"^(\d{4}-\d\d-\d\d)(?:[ t]\d\d:\d\d(?::\d\d)?)?\s*/\s*(\d{4}-\d\d-\d\d)(?:[ t]\d\d:\d\d(?::\d\d)?)?$",
     r"\1 to \2"),
    # "31-Oct-74", "31/Oct/1974": a day, a month name and a year
    (r"^(\d{1,2})[-/ ]([a-z]{3,9})\.?[-/ ](\d{4}|\d\d)$",
     lambda m: f"{m[1]} {m[2]} {m[3] if len(m[3]) == 4 else chr(39) + m[3]}"),
]


# Abbreviations that are only dates in capitals ("BOY" is the beginning of the year, "boy" a boy).
_CAPITALS = [(r"\bBOM\b", "beginning of the month"), (r"\bBOY\b", "beginning of the year"),
             (r"\bEOM\b", "end of the month"), (r"\bEOY\b", "end of the year")]


def _normalise(phrase: str) -> str:
    for pattern, replacement in _CAPITALS:
        phrase = re.sub(pattern, replacement, phrase)
    text = phrase.lower().replace("\u2019", "'").replace("\u2018", "'").replace("\u2013", "-").replace("\u2014", "-")
    text = re.sub(r"\s+", " ", text).strip(" \t\n.,;:!?\"()")
    text = words_to_digits(text)
    for pattern, replacement in _SPELLINGS:
        text = re.sub(pattern, replacement, text)
    text = re.sub(r"\s*-\s*", "-", text) if re.fullmatch(r"[\d\s\-]+", text) else text
    previous = None
    while previous != text:
        previous = text
        text = _LEAD.sub("", text)
        text = _TRAIL.sub("", text).strip()
    return text


_CLOCK = (r"(?:(?:at|@|around|about)\s+)?(?:\d{1,2}(?::\d\d){0,2}\s*(?:a\.?m\.?|p\.?m\.?)|\d{1,2}h(?:\d\d)?"
          r"|\d{1,2}:\d\d(?::\d\d)?|noon|midnight|(?:\d{1,2}|one|two|three|four|five|six|seven|eight|nine|ten"
          r"|eleven|twelve)\s+o'?clock)")
_DAYPART = r"(?:(?:in\s+the\s+|early\s+|late\s+)?(?:morning|afternoon|evening|night)|at\s+lunch|lunchtime)"
_TIME_AFTER = re.compile(rf"(?:,?\s+(?:{_CLOCK}|{_DAYPART}))+$")
_TIME_BEFORE = re.compile(rf"^(?:(?:the\s+)?(?:morning|afternoon|evening|night)\s+of\s+(?:the\s+)?|{_CLOCK}\s+(?:on\s+)?)")
_WEEKDAY_AROUND = re.compile(rf"^{WEEKDAY}\.?,?\s+(?=\S*\d|{MONTH}|the\b)|,\s*{WEEKDAY}\.?$")


def _strip_time_and_weekday(text: str) -> str:
    previous = None
    while previous != text:
        previous = text
        text = _TIME_BEFORE.sub("", _TIME_AFTER.sub("", text)).strip(" ,")
        text = _WEEKDAY_AROUND.sub("", text).strip(" ,")
    return text
