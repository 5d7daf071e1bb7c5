"""Explicit ranges: "from June to August 2019", "between Christmas and New Year", "January 12 - 22,
2016", "January 12, 2016 - 01/22/2016", "March to May".

Each end is resolved as a phrase of its own, from the start of the first to the end of the second
(inclusive).  What one end leaves out comes from the other: a year said only at the end applies to
both ("from June to August 2019"), a bare day after a month takes that month ("January 12 - 22").
When neither end has a year and the second would fall before the first ("from June to August" in
July), the first is taken as the latest one before the second, so the range is the most recent
one that has begun, as for single phrases.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

from tools.dates.date_core import (HOLIDAY, MONTH, ONE_DAY, SEASON, YEAR, YEARX, DateRange, _Ctx, _rng)

_YEAR_AT_END = re.compile(rf",?\s+(?P<year>{YEAR})$")


def end_pattern(extra_holidays: str) -> str:
    """What one end of a range may be: a day, a month, a season or a holiday, with a year or not."""
    return (rf"(?:{ONE_DAY}|(?:the\s+)?(?:{MONTH}|{SEASON}|{HOLIDAY}|{extra_holidays})(?:,?\s+(?:of\s+)?{YEARX})?"
            rf"|[0-3]?\d(?:st|nd|rd|th)?(?:,?\s+{YEAR})?)")


def rule(extra_holidays: str) -> str:
    end = end_pattern(extra_holidays)
    return (rf"(?:from\s+(?P<a1>{end})\s*(?:-|to|until|till|through|thru)\s*(?P<b1>{end})"
            rf"|between\s+(?P<a2>{end})\s*(?:and|-|to)\s*(?P<b2>{end})"
            rf"|(?P<a3>{end})\s*(?:-|to|until|till|through|thru)\s*(?P<b3>{end}))")


def h_range(m: re.Match, ctx: _Ctx, phrase: str, resolve: Callable[[str, datetime], DateRange | None]
            ) -> DateRange | None:
    a = (m["a1"] or m["a2"] or m["a3"]).strip(" ,")
    b = (m["b1"] or m["b2"] or m["b3"]).strip(" ,")
    year_b = _YEAR_AT_END.search(b)
    year_a = _YEAR_AT_END.search(a) or re.search(r"\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}$|^\d{4}-", a)
    bare_day = re.fullmatch(r"(?:the\s+)?(?P<d>[0-3]?\d)(?:st|nd|rd|th)?(?:,?\s+(?P<year>" + YEAR + r"))?", b)
    if bare_day:  # "January 12 - 22, 2016": the second end is a day of the first's month
        month = re.search(MONTH, a)
        if not month or re.fullmatch(r"[0-3]?\d(?:st|nd|rd|th)?", a):
            return None
        b = f"{month[0]} {bare_day['d']}" + (f" {bare_day['year']}" if bare_day["year"] else "")
    if year_b and not year_a:
        a = f"{a} {year_b['year']}"
    first = resolve(a, ctx.now)
    last = resolve(b, ctx.now)
    if first is None or last is None:
        return None
    if last.end < first.start:
        if year_a or year_b:
            return None
        first = resolve(a, last.end)  # the latest such start before that end
        if first is None or last.end < first.start:
            return None
    if (last.end - first.start).days > 200 * 366:
        return None
    name = f"{first.label.split(' (')[0]} - {last.label.split(' (')[0]}"
    return _rng(first.start.date(), last.end.date(), name, phrase)
