"""Holiday phrases: "Christmas 2019", "last Easter", "the 2018 Christmas holidays", "Father's Day two
or three years back", "MLK day of last year".

Split out of date_phrases.py (its docstring states the conventions). The handful of holidays with
several readings (Christmas, New Year, Easter, with or without the holidays around them) are here;
the days of all the others come from holiday_dates.py.
"""
from __future__ import annotations

import re
from datetime import date, timedelta

from tools.dates.date_core import DateRange, _count, _Ctx, _rng, _year
from tools.dates.easter import easter_sunday, thanksgiving
from tools.dates.holiday_dates import holiday_days


def _holiday_kind(text: str) -> str:
    t = re.sub(r"[\s'.]+", " ", text).strip()
    if t in ("christmas eve",):
        return "christmas eve"
    if t == "christmas day":
        return "christmas day"
    if t in ("christmas", "xmas"):
        return "christmas"
    if t == "nye" or (t.startswith("new year") and t.endswith("eve")):
        return "new year's eve"
    if t.startswith("new year") and t.endswith("day"):
        return "new year's day"
    if t.startswith("new year"):
        return "new year"
    if t in ("easter sunday", "easter monday", "good friday", "easter", "halloween", "thanksgiving"):
        return t
    return "valentine's day"


def _holiday(kind: str, year: int, with_break: bool) -> tuple[date, date, str]:
    if kind.startswith("christmas") and with_break:
        return date(year, 12, 20), date(year + 1, 1, 6), f"Christmas holidays {year}/{str(year + 1)[2:]}"
    if kind == "christmas":
        return date(year, 12, 24), date(year, 12, 26), f"Christmas {year}"
    if kind == "christmas eve":
        return date(year, 12, 24), date(year, 12, 24), f"Christmas Eve {year}"
    if kind == "christmas day":
        return date(year, 12, 25), date(year, 12, 25), f"Christmas Day {year}"
    if kind == "new year's eve":
        return date(year, 12, 31), date(year + 1, 1, 1), f"New Year's Eve {year}"
    if kind == "new year's day":
        return date(year, 1, 1), date(year, 1, 1), f"New Year's Day {year}"
    if kind == "new year":
        return date(year - 1, 12, 31), date(year, 1, 1), f"New Year {year}"
    if kind.startswith("easter") or kind == "good friday":
        sunday = easter_sunday(year)
        if kind == "easter sunday":
            return sunday, sunday, f"Easter Sunday {year}"
        if kind == "easter monday":
            return sunday + timedelta(days=1), sunday + timedelta(days=1), f"Easter Monday {year}"
        if kind == "good friday":
            return sunday - timedelta(days=2), sunday - timedelta(days=2), f"Good Friday {year}"
        if with_break:
            return sunday - timedelta(days=9), sunday + timedelta(days=8), f"Easter holidays {year}"
        return sunday - timedelta(days=2), sunday + timedelta(days=1), f"Easter {year}"
    if kind == "halloween":
        return date(year, 10, 31), date(year, 10, 31), f"Halloween {year}"
    if kind == "thanksgiving":
        thursday = thanksgiving(year)
        return thursday, thursday + timedelta(days=3), f"Thanksgiving {year}"
    return date(year, 2, 14), date(year, 2, 14), f"Valentine's Day {year}"


def _h_holiday(m: re.Match, ctx: _Ctx, phrase: str) -> DateRange | None:
    kind = _holiday_kind(m["h"])
    with_break = bool(m["brk"])
    year_text = m["year"] or m["year0"]
    if year_text:
        year = _year(year_text, ctx)
        if year is None:
            return None
    elif m["rel"] or m["ago"]:  # "Christmas of last year", "thanksgiving 1 year ago"
        span = _count(m["ago"]) if m["ago"] else (1 if m["rel"] == "last" else 0,) * 2
        if span is None or span[0] > 200:
            return None
        year = ctx.today.year - span[0]
    elif m["q"] == "this":
        year = ctx.today.year
    else:
        year = ctx.today.year + 1
        while _holiday(kind, year, with_break)[0] > ctx.today:  # the most recent one that has started
            year -= 1
        if m["q"] in ("last", "past", "previous") and _holiday(kind, year, with_break)[1] >= ctx.today:
            year -= 1
    first, last, name = _holiday(kind, year, with_break)
    return _rng(first, last, name, phrase)


def _h_more_holiday(m: re.Match, ctx: _Ctx, phrase: str) -> DateRange | None:
    """Holidays of tools.dates.holiday_dates: "father's day 2019", "last Diwali", "MLK day of last
    year", "thanksgiving 2 years ago"; without a year the most recent that has started."""
    name, qual = m["h"], m["q"]
    year_text = m["year"] or m["year0"]
    if year_text:
        year = _year(year_text, ctx)
        found = holiday_days(name, year) if year else None
    elif m["ago"]:
        # "Father's Day two or three years back": from the earlier one to the later one (one range
        # holds both; wide, but a filter that is too wide only ranks the photo among more)
        span = _count(m["ago"])
        if span is None or span[1] > 200:
            return None
        early, late = holiday_days(name, ctx.today.year - span[1]), holiday_days(name, ctx.today.year - span[0])
        if not early or not late:
            return None
        label = late[2] if span[0] == span[1] else f"{early[2]} or {late[2][-4:]}"
        found = (early[0], late[1], label)
    elif m["rel"]:
        found = holiday_days(name, ctx.today.year - (1 if m["rel"] == "last" else 0))
    else:
        found = None
        for year in range(ctx.today.year + 1, ctx.today.year - 3, -1):  # the most recent that has started
            found = holiday_days(name, year)
            if found and found[0] <= ctx.today and not (qual in ("last", "past", "previous") and found[1] >= ctx.today):
                break
            found = None
    return _rng(found[0], found[1], found[2], phrase) if found else None
