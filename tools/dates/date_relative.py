"""Phrases relative to today: "two years ago", "last weekend", "the past 3 months", "the weekend
before last", "yesterday", "last Tuesday", and the vague times ("recently", "the other day", "a
while back", "back in the day").

Split out of date_phrases.py, whose docstring states the conventions (whole calendar units for
"ago", rolling windows ending today for "the past year" and both readings for "the past 3 months",
Friday-evening-to-Sunday weekends, the vague times' widths).
"""
from __future__ import annotations

import calendar
import re
from datetime import date, datetime, time, timedelta

from tools.dates.date_core import (MIN_YEAR, WEEKDAYS, DateRange, _add_months, _count, _Ctx, _latest_weekend,
                                     _monday, _month_last, _rng, _span_text, _weekend)
from tools.dates.date_seasons import _latest_started_season, _season_ended, _season_instance


def _unit_range(unit: str, back_from: int, back_to: int, ctx: _Ctx) -> tuple[date, date]:
    """The whole units (calendar year/month, Mon-Sun week, day) from ``back_from``
    to ``back_to`` units before the current one (back_from >= back_to)."""
    t = ctx.today
    if unit == "year":
        return date(t.year - back_from, 1, 1), date(t.year - back_to, 12, 31)
    if unit == "month":
        y1, m1 = _add_months(t.year, t.month, -back_from)
        y2, m2 = _add_months(t.year, t.month, -back_to)
        return date(y1, m1, 1), _month_last(y2, m2)
    if unit == "week":
        monday = _monday(t)
        return monday - timedelta(weeks=back_from), monday - timedelta(weeks=back_to) + timedelta(days=6)
    return t - timedelta(days=back_from), t - timedelta(days=back_to)


def _h_ago(m: re.Match, ctx: _Ctx, phrase: str) -> DateRange | None:
    span = _count(m["n"])
    if span is None:
        return None
    low, high = span
    unit = m["unit"].rstrip("s")
    if high > 200 * {"year": 1, "month": 12, "week": 53, "day": 366}[unit]:
        return None
    first, last = _unit_range(unit, high, low, ctx)
    name = re.sub(r"\s+", " ", m[0].strip())
    return _rng(first, last, name, phrase)


def _h_seasons_ago(m: re.Match, ctx: _Ctx, phrase: str) -> DateRange | None:
    """"two summers ago": the second most recent summer that has ended ("last summer" is one
    summer ago); "a few winters back": the 2nd to 4th most recent, as one range."""
    span = _count(m["n"])
    if span is None or span[1] > 200:
        return None
    season = {"fall": "autumn", "falls": "autumn"}.get(m["season"], m["season"].rstrip("s"))
    year = _latest_started_season(season, ctx)
    if not _season_ended(season, year, ctx):  # the latest that has ended
        year -= 1
    first = _season_instance(season, year - span[1] + 1, ctx)[0]
    last = _season_instance(season, year - span[0] + 1, ctx)[1]
    return _rng(first, last, re.sub(r"\s+", " ", m[0].strip()), phrase)


def _h_relative_unit(m: re.Match, ctx: _Ctx, phrase: str) -> DateRange | None:
    unit, qual = m["unit"], m["q"]
    back = 0 if qual == "this" else 1
    if unit == "weekend":  # "this weekend": the latest that has begun; "last weekend": that is over
        return _weekend(_latest_weekend(ctx, ended=qual != "this"), f"{qual} weekend", phrase)
    if unit == "night":
        y = ctx.today - timedelta(days=1)
        return DateRange(start=datetime.combine(y, time(12)), end=datetime.combine(ctx.today, time(6)) -
                         timedelta(microseconds=1), label=f"last night ({_span_text(y, y)} evening)", phrase=phrase)
    first, last = _unit_range(unit, back, back, ctx)
    return _rng(first, last, f"{qual} {unit}", phrase)


def _h_rolling(m: re.Match, ctx: _Ctx, phrase: str) -> DateRange | None:
    """"the past year": a window ending today.  With a count ("the last 3 months", "past two weeks",
    "the past few years") it also holds the other common reading, the whole calendar units before
    this one (in November, "the last 3 months" is August-October to some and 22 August - today to
    others): it starts on the first day of the unit that many back and ends today.  That adds under
    one unit to the start, so at most 1/N of the window.  The singular "the past week / month /
    year" stays the rolling window: its whole-unit reading is what "last week" says, and taking both
    would make it up to twice as wide."""
    count = m.groupdict().get("n")
    span = _count(count) if count else (1, 1)
    if span is None:
        return None
    n = span[1]
    unit = m["unit"].rstrip("s")
    t = ctx.today
    if n > {"year": 200, "month": 2400, "week": 10_400, "day": 73_000}[unit]:
        return None
    if unit == "year":
        first = _years_before(t, n)
    elif unit == "month":
        y, mo = _add_months(t.year, t.month, -n)
        first = date(y, mo, min(t.day, calendar.monthrange(y, mo)[1]))
    else:
        first = t - timedelta(days=n * (7 if unit == "week" else 1))
    if count:
        first = min(first, _unit_range(unit, n, n, ctx)[0])
    name = re.sub(r"\s+", " ", m[0].strip())
    return _rng(first, t, name, phrase)


def _h_before_last(m: re.Match, ctx: _Ctx, phrase: str) -> DateRange | None:
    unit = m["unit"]
    if unit == "weekend":
        return _weekend(_latest_weekend(ctx, ended=True) - timedelta(weeks=1), "the weekend before last", phrase)
    first, last = _unit_range(unit, 2, 2, ctx)
    return _rng(first, last, f"the {unit} before last", phrase)


def _h_day_word(m: re.Match, ctx: _Ctx, phrase: str) -> DateRange | None:
    word = re.sub(r"\s+", " ", m["w"])
    back = {"yesterday": 1, "day before yesterday": 2}.get(word.removeprefix("the "), 0)
    d = ctx.today - timedelta(days=back)
    return _rng(d, d, word, phrase)


def _h_weekday(m: re.Match, ctx: _Ctx, phrase: str) -> DateRange | None:
    weekday = WEEKDAYS[m["wd"]]
    back = (ctx.today.weekday() - weekday) % 7 or 7  # strictly before today
    if m["q"] == "this" and ctx.today.weekday() >= weekday:
        back = ctx.today.weekday() - weekday  # this week's, today included
    d = ctx.today - timedelta(days=back)
    return _rng(d, d, f"{calendar.day_name[weekday]}", phrase)


def _years_before(d: date, years: int) -> date:
    return d.replace(year=d.year - years) if (d.month, d.day) != (2, 29) else date(d.year - years, 2, 28)


def _h_vague(m: re.Match, ctx: _Ctx, phrase: str) -> DateRange | None:
    """The vague times of the module docstring; the group that matched says which."""
    t = ctx.today
    name = re.sub(r"\s+", " ", m[0].strip())
    if (m["other"] or m["old"]) and not name.startswith(("the ", "back ", "way ")):
        name = f"the {name}"  # the normaliser took "the" off
    if m["recent"]:
        y, mo = _add_months(t.year, t.month, -3)
        return _rng(date(y, mo, min(t.day, calendar.monthrange(y, mo)[1])), t, name, phrase)
    if m["while"]:
        y, mo = _add_months(t.year, t.month, -1)
        return _rng(_years_before(t, 3), date(y, mo, min(t.day, calendar.monthrange(y, mo)[1])), name, phrase)
    if m["ages"] or m["old"]:
        last = _years_before(t, 2 if m["ages"] else 5)
        return DateRange(start=datetime.combine(date(MIN_YEAR, 1, 1), time.min), end=datetime.combine(last, time.max),
                         label=f"{name} (up to {_span_text(last, last)})", phrase=phrase)
    unit = m["other"]
    if unit in ("day", "night"):
        return _rng(t - timedelta(days=14), t - timedelta(days=1), name, phrase)
    if unit == "week":
        return _rng(t - timedelta(days=28), t - timedelta(days=7), name, phrase)
    if unit == "year":
        first, last = _unit_range("year", 3, 1, ctx)
        return _rng(first, last, name, phrase)
    season = "autumn" if unit == "fall" else unit
    year = _latest_started_season(season, ctx)
    if not _season_ended(season, year, ctx):  # still in it: the two before
        year -= 1
    return _rng(_season_instance(season, year - 1, ctx)[0], _season_instance(season, year, ctx)[1], name, phrase)
