"""Season phrases: "last summer", "summer 2019", "the summer of '19", "early summer", "winter 2019/20",
"this season" (the one today is in), "last season" (the one before it).

Split out of date_phrases.py (whose docstring states the conventions: a season holds both its
readings, north and south, a season that spans New Year belongs to the year it starts in);
date_relative.py uses the helpers for "two summers ago" and "the other summer".

Why both readings: "summer" is June-August to a weather forecaster (the meteorological season)
and 21 June - 22 September to a calendar (the astronomical one); both are common, in speech and
in memory ("summer" runs to Labor Day; a September beach week is "last summer").  The range is a
search filter for a vague memory, so it runs from the first day of the meteorological season to
the equinox or solstice that ends the astronomical one: summer 1 June - 22 September.  That is
three weeks (about a quarter) more than either reading alone and holds every day either reading
holds; neighbouring seasons overlap by those weeks.  Which instance a phrase names ("last
summer" in September, "this season") is still decided by the meteorological months, so only the
edges move.
"""
from __future__ import annotations

import re
from datetime import date

from tools.dates.date_core import DateRange, _add_months, _Ctx, _month_last, _part, _rng, _year

_SEASON_START = {False: {"spring": 3, "summer": 6, "autumn": 9, "winter": 12},
                 True: {"autumn": 3, "winter": 6, "spring": 9, "summer": 12}}


# The equinox or solstice that ends the astronomical season, on its usual date (it falls on the
# 20th-23rd), by the season's first meteorological month: the season starting in June (north
# summer, south winter) ends at the September equinox.
_ASTRONOMICAL_END = {3: (6, 21), 6: (9, 22), 9: (12, 21), 12: (3, 20)}


def _season_months(season: str, year: int, ctx: _Ctx) -> tuple[date, date]:
    """The meteorological season: its three whole months."""
    first_month = _SEASON_START[ctx.south][season]
    end_year, end_month = _add_months(year, first_month, 2)
    return date(year, first_month, 1), _month_last(end_year, end_month)


def _season_instance(season: str, year: int, ctx: _Ctx) -> tuple[date, date]:
    """Both readings: the meteorological season's first day to the astronomical season's last."""
    first, last = _season_months(season, year, ctx)
    month, day = _ASTRONOMICAL_END[first.month]
    return first, date(last.year, month, day)  # the month after its last one


def _season_ended(season: str, year: int, ctx: _Ctx) -> bool:
    """Whether that season is over, by its months ("last summer" on 10 September is this year's)."""
    return _season_months(season, year, ctx)[1] < ctx.today


def _season_name(season: str, year: int, ctx: _Ctx) -> str:
    first, last = _season_instance(season, year, ctx)
    return f"{season} {year}" if first.year == last.year else f"{season} {year}/{str(year + 1)[2:]}"


def _latest_started_season(season: str, ctx: _Ctx) -> int:
    first_month = _SEASON_START[ctx.south][season]
    return ctx.today.year if ctx.today.month >= first_month else ctx.today.year - 1


def _h_season(m: re.Match, ctx: _Ctx, phrase: str) -> DateRange | None:
    season = "autumn" if m["season"] == "fall" else m["season"]
    qual = (m["q"] or "").strip()
    if m["year"]:
        year = _year(m["year"], ctx)
        if year is None:
            return None
        if m["year2"]:
            first, last = _season_instance(season, year, ctx)
            year2 = _year(m["year2"], ctx) if len(m["year2"]) == 4 else year // 100 * 100 + int(m["year2"])
            if first.year == last.year or year2 != year + 1:
                return None
    elif m["rel"]:
        year = ctx.today.year + (-1 if m["rel"] == "last" else 0)
    else:
        year = _latest_started_season(season, ctx)
        if qual in ("last", "past", "previous") and not _season_ended(season, year, ctx):
            year -= 1  # still in it: the last one that ended is a year earlier
    first, last = _season_instance(season, year, ctx)
    name = _season_name(season, year, ctx)
    part = _part(m["part"])
    if part:  # early/mid/late summer: its first or second month, its third to the equinox
        index = {"early": 0, "mid": 1, "late": 2}[part]
        y, mo = _add_months(first.year, first.month, index)
        first, last = date(y, mo, 1), (last if part == "late" else _month_last(y, mo))
        name = f"{part} {name}"
    return _rng(first, last, name, phrase)


def _h_this_season(m: re.Match, ctx: _Ctx, phrase: str) -> DateRange | None:
    """"this season": the season whose meteorological months hold today; "last season": the one
    before (each with both readings' days, as every season)."""
    t = ctx.today
    starts = _SEASON_START[ctx.south]
    # the season whose first month is the latest one not after today's month (Dec of last year in Jan-Feb)
    year, month = max((y, mo) for y in (t.year - 1, t.year) for mo in starts.values() if (y, mo) <= (t.year, t.month))
    if m["q"] != "this":
        year, month = _add_months(year, month, -3)
    season = next(name for name, first in starts.items() if first == month)
    first, last = _season_instance(season, year, ctx)
    return _rng(first, last, _season_name(season, year, ctx), phrase)
