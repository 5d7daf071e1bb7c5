"""What every date-phrase module shares: the DateRange result, the context ("now", hemisphere),
the vocabulary (months, weekdays, number words) and small calendar helpers.

Split out of date_phrases.py so the families of phrases (weeks and quarters, explicit ranges,
holidays) can live in modules of their own without importing each other in a circle.
"""
from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from pydantic import BaseModel

MAX_PHRASE_CHARS = 200
MIN_YEAR, MAX_YEAR = 1800, 2199  # photographs start in the 1820s; beyond 2199 is a typo


class DateRange(BaseModel):
    start: datetime
    end: datetime  # inclusive: the last microsecond of the last day
    label: str  # for people: "summer 2025 (1 Jun - 31 Aug 2025)"
    phrase: str  # the phrase it came from, as given


# --------------------------------------------------------------------------- vocabulary

MONTHS = {name: i for i, names in enumerate(
    [("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",),
     ("june", "jun"), ("july", "jul"), ("august", "aug"), ("september", "sept", "sep"),
     ("october", "oct"), ("november", "nov"), ("december", "dec")], start=1) for name in names}
WEEKDAYS = {name: i for i, names in enumerate(
    [("monday", "mon"), ("tuesday", "tue", "tues"), ("wednesday", "wed"), ("thursday", "thu", "thur", "thurs"),
     ("friday", "fri"), ("saturday", "sat"), ("sunday", "sun")]) for name in names}
NUMBER_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
                "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20,
                "thirty": 30, "forty": 40, "fifty": 50}
VAGUE_COUNTS = {"few": (2, 4), "couple": (1, 3), "several": (3, 6)}
DECADE_WORDS = {"twenties": 2, "thirties": 3, "forties": 4, "fifties": 5, "sixties": 6, "seventies": 7,
                "eighties": 8, "nineties": 9, "noughties": 0, "naughties": 0, "aughts": 0}

_alt = lambda words: "|".join(sorted((re.escape(w) for w in words), key=len, reverse=True))  # noqa: E731
MONTH = rf"(?:{_alt(MONTHS)})\.?"
WEEKDAY = rf"(?:{_alt(WEEKDAYS)})"
YEAR = r"(?:1[89]\d\d|2[01]\d\d)"
YEARX = rf"(?:{YEAR}|'\d\d)"  # '19
_ONE_COUNT = rf"(?:\d{{1,3}}|{_alt(NUMBER_WORDS)})"
# "two or three years back", "2-3 weeks ago", "a year or two ago" (the unit after the first number is
# rewritten away by the normaliser: "a year or two" -> "one or two years")
COUNT = rf"(?:{_ONE_COUNT}(?:\s*(?:or|to|-)\s*{_ONE_COUNT})?|(?:a\s+)?(?:few|couple(?:\s+of)?|several))"
SEASON = r"(?:summer|winter|spring|autumn|fall)"
PART = r"(?:early|mid|middle\s+of|late|beginning\s+of|start\s+of|end\s+of)"
HOLIDAY = (r"(?:christmas\s+eve|christmas\s+day|christmas|xmas|new\s+year'?s?\s+eve|nye|new\s+year'?s?\s+day"
           r"|new\s+year'?s?|easter\s+sunday|easter\s+monday|good\s+friday|easter|halloween"
           r"|thanks\s*giving(?:\s+day)?"
           r"|(?:st\.?\s+|saint\s+)?valentine'?s?(?:\s+day)?)")
BREAK = r"(?:holidays?|vacation|break|hols)"
DAYNUM = r"(?:[0-3]?\d)(?:st|nd|rd|th)?"
# One day, said any way: "the 18th", "12 January 2016", "Jan 12, 2016", "01/22/2016", "2016-01-22", "Tuesday"
ONE_DAY = (rf"(?:(?:the\s+)?{DAYNUM}\s+(?:of\s+)?{MONTH}(?:,?\s+{YEARX})?|{MONTH}\s+(?:the\s+)?{DAYNUM}(?:,?\s+{YEARX})?"
           rf"|the\s+[0-3]?\d(?:st|nd|rd|th)|\d{{1,2}}[/.-]\d{{1,2}}[/.-](?:\d{{4}}|\d\d)|\d{{4}}-\d{{1,2}}-\d{{1,2}}"
           rf"|(?:last\s+)?{WEEKDAY})")


# --------------------------------------------------------------------------- helpers


@dataclass
class _Ctx:
    now: datetime
    south: bool

    @property
    def today(self) -> date:
        return self.now.date()


def _rng(first: date, last: date, name: str, phrase: str) -> DateRange | None:
    if last < first:
        return None
    start = datetime.combine(first, time.min)
    end = datetime.combine(last, time.max)
    span = _span_text(first, last)
    label = span if name == span or not name else f"{name} ({span})"
    return DateRange(start=start, end=end, label=label, phrase=phrase)


# A weekend holds both readings: Saturday-Sunday (the calendar's) and Friday evening to Sunday
# night (a weekend away starts after work on Friday).  Friday from 18:00 adds six hours, not a day.
WEEKEND_STARTS = time(18)


def _weekend(saturday: date, name: str, phrase: str) -> DateRange:
    """The weekend of that Saturday: Friday 18:00 to the end of Sunday."""
    friday, sunday = saturday - timedelta(days=1), saturday + timedelta(days=1)
    label = f"{name} (Fri {friday.day} {calendar.month_abbr[friday.month]} evening - {_span_text(sunday, sunday)})"
    return DateRange(start=datetime.combine(friday, WEEKEND_STARTS), end=datetime.combine(sunday, time.max),
                     label=label, phrase=phrase)


def _latest_weekend(ctx: "_Ctx", ended: bool) -> date:
    """The Saturday of the latest weekend that has begun (``ended``: that is over); photos are
    never from the future, so on a Wednesday "this weekend" is the one just gone."""
    t = ctx.today
    saturday = t - timedelta(days=(t.weekday() - 5) % 7)  # the latest Saturday, today included
    if t.weekday() == 4 and ctx.now.time() >= WEEKEND_STARTS:
        saturday = t + timedelta(days=1)  # Friday evening: this weekend has begun
    if ended and saturday + timedelta(days=1) >= t:
        saturday -= timedelta(weeks=1)
    return saturday


def _span_text(first: date, last: date) -> str:
    def day(d: date) -> str:
        return f"{d.day} {calendar.month_abbr[d.month]} {d.year}"

    if first == last:
        return day(first)
    whole_months = first.day == 1 and last == _month_last(last.year, last.month)
    if whole_months and first.month == 1 and last.month == 12:
        return str(first.year) if first.year == last.year else f"{first.year}-{last.year}"
    if whole_months:
        if (first.year, first.month) == (last.year, last.month):
            return f"{calendar.month_name[first.month]} {first.year}"
        left = calendar.month_abbr[first.month] + ("" if first.year == last.year else f" {first.year}")
        return f"{left} - {calendar.month_abbr[last.month]} {last.year}"
    if first.year == last.year and first.month == last.month:
        return f"{first.day} - {day(last)}"
    left = f"{first.day} {calendar.month_abbr[first.month]}" + ("" if first.year == last.year else f" {first.year}")
    return f"{left} - {day(last)}"


def _month_last(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def _add_months(year: int, month: int, delta: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + delta
    return index // 12, index % 12 + 1


def _year(text: str, ctx: _Ctx) -> int | None:
    text = text.strip()
    if text.startswith("'"):
        two = int(text[1:])
        century = ctx.now.year // 100 * 100
        year = century + two if century + two <= ctx.now.year else century - 100 + two
    else:
        year = int(text)
    return year if MIN_YEAR <= year <= MAX_YEAR else None


def _count(text: str) -> tuple[int, int] | None:
    text = re.sub(r"\s+", " ", text.strip())
    for word, span in VAGUE_COUNTS.items():
        if word in text:
            return span
    pair = re.fullmatch(r"(\S+)\s*(?:or|to|-)\s*(\S+)", text)
    if pair:  # a spoken hedge: the range between the two
        low, high = _count(pair[1]), _count(pair[2])
        return (min(low[0], high[0]), max(low[1], high[1])) if low and high else None
    n = int(text) if text.isdigit() else NUMBER_WORDS.get(text)
    return (n, n) if n is not None else None


def _monday(d: date) -> date:
    return d - timedelta(days=d.weekday())


def _part(text: str | None) -> str | None:
    """"early" / "mid" / "late" for the ways people say them ("the beginning of", "middle of")."""
    if not text:
        return None
    text = re.sub(r"\s+", " ", text.strip())
    return {"beginning of": "early", "start of": "early", "middle of": "mid", "end of": "late"}.get(text, text)
