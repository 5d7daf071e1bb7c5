"""Date phrases counted in weeks, weekdays, quarters, decades and days of the month.

Conventions (as date_phrases: weeks run Monday-Sunday, ends inclusive, the most recent instance
that has started when no year is said):

* "the week of the 18th" / "the week of October 7th": the Monday-Sunday week holding that day.
* "the week beginning / starting February 4": that day and the six after it.
* "the third week of July", "the first week of this month": people mean either days 15-21 or the
  third Monday's week, so the range is days 15-21 widened to whole Monday-Sunday weeks (both
  readings inside); "the last week of September": its last seven days, widened alike; "the 2nd
  last week of October": the seven before those.
* "earlier in the week" / "earlier this week": this week's Monday to yesterday (today, on a Monday).
* "the beginning / middle / end of last week": Monday-Wednesday, Tuesday-Thursday, Friday-Sunday.
* "Monday of this week", "last week's Sunday", "Sunday from last week": that day.
* "2 Thursdays ago": the second Thursday before today.
* "the first Monday of March 2014", "the last Sunday of this month": that day.
* "the 22nd", "on the 22nd": the most recent 22nd (this month's if it has come, else last month's);
  "the 20th of last month": that day.
* "the last day of October 2015": that day.
* Quarters: "this quarter", "last quarter", "Q4 2018", "the 4th quarter of 2018": calendar quarters.
* Decades: "this decade" the current 2020-2029 style decade, "last decade" the one before; "the
  past decade": a window of 10 years ending today (as "the past year"); "the past 2 decades":
  from the start of the whole decades before this one (or 20 years back, if earlier) to today,
  as "the last 3 years" (date_relative._h_rolling says why).
"""
from __future__ import annotations

import calendar
import re
from datetime import date, timedelta

from tools.dates.date_core import (COUNT, MONTH, MONTHS, ONE_DAY, WEEKDAY, WEEKDAYS, YEAR, DateRange, _add_months,
                                     _count, _Ctx, _monday, _month_last, _rng, _weekend, _year)

ORD = r"(?:(?P<n>[1-5])(?:st|nd|rd|th)|(?P<last>last))"
_ORD_GROUPS = ("n", "last")


def _nth(m: re.Match, key: str = "n") -> int:
    """1-5, or -1 for "last"."""
    return -1 if m.groupdict().get("last") else int(m[key])


def _month_ref(m: re.Match, ctx: _Ctx) -> tuple[int, int] | None:
    """(year, month) of "October 2014", "October" (the most recent that has begun), "this month",
    "last month", "the month" (this one)."""
    t = ctx.today
    rel = m.groupdict().get("rel")
    if rel:
        return _add_months(t.year, t.month, -1 if rel in ("last", "previous", "past") else 0)
    month = MONTHS[m["m"].rstrip(".")]
    if m.groupdict().get("year"):
        year = _year(m["year"], ctx)
        return (year, month) if year else None
    return (t.year if t.month >= month else t.year - 1), month


_MONTH_REF = (rf"(?:(?:the\s+)?(?:(?P<rel>this|last|previous|past|the)\s+month)"
              rf"|(?P<m>{MONTH})(?:,?\s+(?P<year>{YEAR}))?)")


def _widen_to_weeks(first: date, last: date) -> tuple[date, date]:
    return _monday(first), _monday(last) + timedelta(days=6)


def _h_week_of(m: re.Match, ctx: _Ctx, phrase: str, resolve) -> DateRange | None:
    inner = resolve(m["inner"])
    if inner is None or inner.start.date() != inner.end.date():
        return None
    day = inner.start.date()
    if m["begin"]:
        return _rng(day, day + timedelta(days=6), f"the week beginning {day:%-d %b %Y}", phrase)
    return _rng(_monday(day), _monday(day) + timedelta(days=6), f"the week of {day:%-d %b %Y}", phrase)


def _h_nth_week(m: re.Match, ctx: _Ctx, phrase: str) -> DateRange | None:
    ref = _month_ref(m, ctx)
    if ref is None:
        return None
    year, month = ref
    last_day = _month_last(year, month)
    if m["last"]:
        back = int(m["back"]) if m["back"] else 1
        last = last_day - timedelta(days=7 * (back - 1))
        first = last - timedelta(days=6)
    else:
        n = int(m["n"])
        first = date(year, month, 1) + timedelta(days=7 * (n - 1))
        last = first + timedelta(days=6)
        if first > last_day:
            return None
        last = min(last, last_day)
    first, last = _widen_to_weeks(first, last)
    return _rng(first, last, re.sub(r"\s+", " ", m[0]), phrase)


def _h_nth_last_week_of_year(m: re.Match, ctx: _Ctx, phrase: str) -> DateRange | None:
    year = _year(m["year"], ctx)
    if year is None:
        return None
    back = int(m["back"]) if m["back"] else 1
    last_monday = _monday(date(year, 12, 31))
    if last_monday + timedelta(days=6) > date(year, 12, 31):  # the last whole week of that year
        last_monday -= timedelta(weeks=1)
    first = last_monday - timedelta(weeks=back - 1)
    return _rng(first, first + timedelta(days=6), re.sub(r"\s+", " ", m[0]), phrase)


def _week_start(qual: str, ctx: _Ctx) -> date:
    return _monday(ctx.today) - timedelta(weeks=0 if qual in ("this", "the", "current") else 1)


def _h_week_part(m: re.Match, ctx: _Ctx, phrase: str) -> DateRange | None:
    monday = _week_start(m["q"], ctx)
    part = m["part"]
    offset = {"beginning": (0, 2), "start": (0, 2), "middle": (1, 3), "end": (4, 6)}[part]
    return _rng(monday + timedelta(days=offset[0]), monday + timedelta(days=offset[1]),
                f"the {part} of {m['q']} week", phrase)


def _h_unit_part(m: re.Match, ctx: _Ctx, phrase: str) -> DateRange | None:
    """"the beginning of the month", "the end of the year", "the middle of this month": the first,
    second or last third of the current (or, with "last", the previous) month or year, as "early /
    mid / late March" and "early / mid / late 2020" are."""
    t = ctx.today
    third = {"beginning": 0, "start": 0, "middle": 1, "end": 2}[m["part"]]
    back = 1 if m["q"] in ("last", "previous", "past") else 0
    if m["unit"] == "month":
        year, month = _add_months(t.year, t.month, -back)
        bounds = [(1, 10), (11, 20), (21, _month_last(year, month).day)][third]
        return _rng(date(year, month, bounds[0]), date(year, month, bounds[1]), re.sub(r"\s+", " ", m[0]), phrase)
    year = t.year - back
    months = [(1, 4), (5, 8), (9, 12)][third]
    return _rng(date(year, months[0], 1), _month_last(year, months[1]), re.sub(r"\s+", " ", m[0]), phrase)


def _h_earlier_week(m: re.Match, ctx: _Ctx, phrase: str) -> DateRange | None:
    t = ctx.today
    monday = _monday(t)
    return _rng(monday, max(monday, t - timedelta(days=1)), "earlier this week", phrase)


def _h_weekday_of_week(m: re.Match, ctx: _Ctx, phrase: str) -> DateRange | None:
    monday = _week_start(m["q"] or m["q2"], ctx)
    d = monday + timedelta(days=WEEKDAYS[m["wd"] or m["wd2"]])
    return _rng(d, d, f"{calendar.day_name[d.weekday()]}", phrase)


def _h_weekdays_ago(m: re.Match, ctx: _Ctx, phrase: str) -> DateRange | None:
    span = _count(m["n"])
    if span is None or span[1] > 520:
        return None
    weekday = WEEKDAYS[m["wd"]]
    latest = ctx.today - timedelta(days=(ctx.today.weekday() - weekday) % 7 or 7)
    return _rng(latest - timedelta(weeks=span[1] - 1), latest - timedelta(weeks=span[0] - 1),
                re.sub(r"\s+", " ", m[0]), phrase)


def _h_nth_weekday(m: re.Match, ctx: _Ctx, phrase: str) -> DateRange | None:
    from tools.dates.holiday_dates import nth_weekday

    ref = _month_ref(m, ctx)
    if ref is None:
        return None
    d = nth_weekday(ref[0], ref[1], WEEKDAYS[m["wd"]], _nth(m))
    if d is None:
        return None
    if not m.groupdict().get("year") and not m.groupdict().get("rel") and d > ctx.today:
        d = nth_weekday(ref[0] - 1, ref[1], WEEKDAYS[m["wd"]], _nth(m))  # that month's had not come yet
    return _rng(d, d, re.sub(r"\s+", " ", m[0]), phrase) if d else None


def _h_last_day_of(m: re.Match, ctx: _Ctx, phrase: str) -> DateRange | None:
    ref = _month_ref(m, ctx)
    if ref is None:
        return None
    d = _month_last(*ref) if m["which"] == "last" else date(ref[0], ref[1], 1)
    return _rng(d, d, re.sub(r"\s+", " ", m[0]), phrase)


def _h_weekend_of(m: re.Match, ctx: _Ctx, phrase: str) -> DateRange | None:
    """"the last weekend of October 2017": that month's last Saturday with the Sunday after it and
    the Friday evening before it (as every weekend: date_core's _weekend)."""
    from tools.dates.holiday_dates import nth_weekday

    ref = _month_ref(m, ctx)
    if ref is None:
        return None
    saturday = nth_weekday(ref[0], ref[1], 5, _nth(m))
    if saturday and not m.groupdict().get("year") and not m.groupdict().get("rel") and saturday > ctx.today:
        saturday = nth_weekday(ref[0] - 1, ref[1], 5, _nth(m))  # this year's has not come yet
    return _weekend(saturday, re.sub(r"\s+", " ", m[0]), phrase) if saturday else None


def _h_bare_day(m: re.Match, ctx: _Ctx, phrase: str) -> DateRange | None:
    day = int(m["d"])
    if not 1 <= day <= 31:
        return None
    t = ctx.today
    rel = m.groupdict().get("rel")
    if rel:
        year, month = _add_months(t.year, t.month, -1 if rel in ("last", "previous", "past") else 0)
    else:
        year, month = t.year, t.month
        if day > t.day:
            year, month = _add_months(year, month, -1)
        while day > calendar.monthrange(year, month)[1]:  # "the 31st" in April: March's
            year, month = _add_months(year, month, -1)
    try:
        d = date(year, month, day)
    except ValueError:
        return None
    return _rng(d, d, "", phrase)


def _h_quarter(m: re.Match, ctx: _Ctx, phrase: str) -> DateRange | None:
    t = ctx.today
    current = (t.month - 1) // 3 + 1
    if m["q"]:
        year, quarter = t.year, current
        if m["q"] != "this":
            year, quarter = (year, quarter - 1) if quarter > 1 else (year - 1, 4)
    else:
        quarter = int(m["n"] or m["n2"] or m["n3"])
        year_text = m["year"] or m["year2"] or m["year3"]
        if year_text:
            # "18q4": a two-digit year is the most recent such year, as "'18" is
            year = _year(year_text if len(year_text) == 4 else f"'{year_text}", ctx)
        else:
            year = t.year if quarter <= current else t.year - 1
        if not year or not 1 <= quarter <= 4:
            return None
    first = date(year, 3 * quarter - 2, 1)
    return _rng(first, _month_last(year, 3 * quarter), f"Q{quarter} {year}", phrase)


def _h_decade_rel(m: re.Match, ctx: _Ctx, phrase: str) -> DateRange | None:
    t = ctx.today
    if m["q"]:
        start = t.year // 10 * 10 - (10 if m["q"] in ("last", "previous") else 0)
        return _rng(date(start, 1, 1), date(start + 9, 12, 31), f"the {start}s", phrase)
    span = _count(m["n"]) if m["n"] else (1, 1)
    if span is None or span[1] > 20:
        return None
    years = 10 * span[1]
    first = t.replace(year=t.year - years) if (t.month, t.day) != (2, 29) else date(t.year - years, 2, 28)
    if m["n"]:  # "the past 2 decades": also the whole decades before this one, as "the last 3 years"
        first = min(first, date(t.year // 10 * 10 - years, 1, 1))
    return _rng(first, t, re.sub(r"\s+", " ", m[0]), phrase)


_WQ = r"(?P<q>this|last|previous|past|the)"
_WQ2 = r"(?P<q2>this|last|previous|past)"
_ORDINAL_DAY = r"(?P<d>[1-3]?\d)(?:st|nd|rd|th)"

# (pattern, handler, needs the resolver): date_phrases adds these to its rules, in this order.
RULES = [
    # the week of the 18th, the week of October 7th, the week beginning February 4
    (rf"(?:the\s+)?week\s+(?:(?P<begin>beginning|starting|commencing)(?:\s+on)?|of)\s+(?P<inner>{ONE_DAY})",
     _h_week_of, True),
    # the third week of July, the first week of this month, the 2nd last week of October 2018
    (rf"(?:the\s+)?(?:(?P<n>[1-5])(?:st|nd|rd|th)|(?:(?P<back>[2-5])(?:st|nd|rd|th)\s+)?(?P<last>last))\s+week\s+"
     rf"(?:of|in)\s+{_MONTH_REF}", _h_nth_week, False),
    # the third last week of 2018
    (rf"(?:the\s+)?(?:(?P<back>[2-5])(?:st|nd|rd|th)\s+)?last\s+week\s+(?:of|in)\s+(?P<year>{YEAR})",
     _h_nth_last_week_of_year, False),
    # the beginning of last week, end of this week
    (rf"(?:the\s+)?(?P<part>beginning|start|middle|end)\s+of\s+(?:the\s+)?{_WQ}\s+week", _h_week_part, False),
    (r"(?:earlier|early)\s+(?:in\s+the|this)\s+week", _h_earlier_week, False),
    # the beginning of the month, the end of last year
    (r"(?:the\s+)?(?P<part>beginning|start|middle|end)\s+of\s+(?:(?:the|this)\s+|(?P<q>last|previous|past)\s+)?"
     r"(?P<unit>month|year)", _h_unit_part, False),
    # monday of this week, last week's sunday, sunday from last week
    (rf"(?P<wd>{WEEKDAY})\s+(?:of|from|in)\s+{_WQ}\s+week|{_WQ2}\s+week'?s\s+(?P<wd2>{WEEKDAY})",
     _h_weekday_of_week, False),
    # 2 thursdays ago
    (rf"(?P<n>{COUNT})\s+(?P<wd>{WEEKDAY})s\s+(?:ago|back)", _h_weekdays_ago, False),
    # the first Monday of March 2014, the last Sunday of this month
    (rf"(?:the\s+)?{ORD}\s+(?P<wd>{WEEKDAY})\s+(?:of|in)\s+{_MONTH_REF}", _h_nth_weekday, False),
    # the last weekend of October 2017, the first weekend of this month
    (rf"(?:the\s+)?{ORD}\s+weekend\s+(?:of|in)\s+{_MONTH_REF}", _h_weekend_of, False),
    # the last day of October 2015
    (rf"(?:the\s+)?(?P<which>last|1st)\s+day\s+(?:of|in)\s+{_MONTH_REF}", _h_last_day_of, False),
    # the 20th of last month, 20 of this month
    (rf"(?:the\s+)?(?P<d>[1-3]?\d)(?:st|nd|rd|th)?\s+(?:day\s+)?of\s+(?:the\s+)?(?P<rel>this|last|previous|past)"
     rf"\s+month", _h_bare_day, False),
    # the 22nd
    (rf"(?:the\s+)?{_ORDINAL_DAY}", _h_bare_day, False),  # the normaliser may have taken "the" off
    # this quarter, Q4 2018, the 4th quarter of 2018, 2018Q4
    (rf"(?P<q>this|last|previous)\s+(?:quarter|qtr)|(?P<n>[1-4])(?:st|nd|rd|th)\s+(?:quarter|qtr)"
     rf"(?:\s+(?:of\s+)?(?P<year>{YEAR}))?|q(?P<n2>[1-4])\s*(?P<year2>{YEAR})?|(?P<year3>{YEAR}|\d\d)\s*q(?P<n3>[1-4])",
     _h_quarter, False),
    # this decade, the past 2 decades
    (rf"(?P<q>this|last|previous)\s+decade|(?:past|last)\s+(?:(?P<n>{COUNT})\s+)?decades?", _h_decade_rel, False),
]
