"""Season phrases: "last summer", "summer 2019", "the summer of '19", "early summer", "winter 2019/20",
"this season" (the one today is in), "last season" (the one before it).

Split out of date_phrases.py (whose docstring states the conventions: meteorological seasons, north
and south, a season that spans New Year belongs to the year it starts in); date_relative.py uses
the helpers for "two summers ago" and "the other summer".
"""
from __future__ import annotations

import re
from datetime import date

from tools.dates.date_core import DateRange, _add_months, _Ctx, _month_last, _part, _rng, _year

_SEASON_START = {False: {"spring": 3, "summer": 6, "autumn": 9, "winter": 12},
                 True: {"autumn": 3, "winter": 6, "spring": 9, "summer": 12}}


def _season_instance(season: str, year: int, ctx: _Ctx) -> tuple[date, date]:
    first_month = _SEASON_START[ctx.south][season]
    end_year, end_month = _add_months(year, first_month, 2)
    return date(year, first_month, 1), _month_last(end_year, end_month)


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
        if qual in ("last", "past", "previous"):
            _, last = _season_instance(season, year, ctx)
            if last >= ctx.today:  # still in it: the last one that ended is a year earlier
                year -= 1
    first, last = _season_instance(season, year, ctx)
    name = _season_name(season, year, ctx)
    part = _part(m["part"])
    if part:  # early/mid/late summer: its first, second or third month
        index = {"early": 0, "mid": 1, "late": 2}[part]
        y, mo = _add_months(first.year, first.month, index)
        first, last = date(y, mo, 1), _month_last(y, mo)
        name = f"{part} {name}"
    return _rng(first, last, name, phrase)


def _h_this_season(m: re.Match, ctx: _Ctx, phrase: str) -> DateRange | None:
    """"this season": the meteorological season today is in; "last season": the one before."""
    t = ctx.today
    starts = _SEASON_START[ctx.south]
    # the season whose first month is the latest one not after today's month (Dec of last year in Jan-Feb)
    year, month = max((y, mo) for y in (t.year - 1, t.year) for mo in starts.values() if (y, mo) <= (t.year, t.month))
    if m["q"] != "this":
        year, month = _add_months(year, month, -3)
    season = next(name for name, first in starts.items() if first == month)
    first, last = _season_instance(season, year, ctx)
    return _rng(first, last, _season_name(season, year, ctx), phrase)
