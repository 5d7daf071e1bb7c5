"""Date phrases ("last summer", "Christmas 2019", "the 90s") -> concrete date ranges.

A small LLM gets calendar arithmetic wrong (Qwen2.5-1.5B turned "last summer"
into today's date), so the planner only asks it to copy the date PHRASE out of
the request and this module resolves it, relative to an injectable ``now``.
:func:`find_date_phrase` does the extraction with rules, for the planner that
runs without an LLM; it uses the same patterns as the resolver.

Conventions (all datetimes naive wall-clock; ``end`` is inclusive: the last
microsecond of the last day):

* Seasons are meteorological: north spring Mar-May, summer Jun-Aug, autumn
  Sep-Nov, winter Dec-Feb; south shifted by six months (summer Dec-Feb).  A
  season that spans New Year belongs to the year it starts in: "winter 2019"
  (north) is Dec 2019 - Feb 2020, as is "winter 2019/20".
* "summer" / "this summer" / "in the summer": the most recent summer that has
  started (the current one while in it).  "last summer": the most recent one
  that has ended, so in July "last summer" is the previous year's.
* Holidays: Christmas Dec 24-26, Christmas Eve/Day one day, Christmas holidays
  Dec 20 - Jan 6, New Year's Eve Dec 31 - Jan 1 (the party runs past midnight),
  New Year's Day Jan 1, "New Year 2019" Dec 31 2018 - Jan 1 2019, Easter Good
  Friday - Easter Monday, Halloween Oct 31, Thanksgiving (US) the 4th Thursday
  of November to the Sunday, Valentine's Day Feb 14.  Without a year: the most
  recent one that has started; "last Christmas": the most recent one that ended.
* "two years ago" (or "back"): that whole calendar year; "3 months ago": that calendar
  month; "2 weeks ago": that Monday-Sunday week; "a few" = 2-4, "a couple of" = 1-3,
  "several" = 3-6 units ago, as one range.  "two summers ago": the second most recent
  summer that has ended ("last summer" being one summer ago).
* "in March": this year's March if it has begun, else last year's; "last March":
  the most recent March that has ended.  "early/mid/late March": days 1-10,
  11-20, 21-end.  "early/mid/late 2020": Jan-Apr, May-Aug, Sep-Dec.
  "early/mid/late 90s": 1990-93, 1994-96, 1997-99.
* "the past year", "the last 3 months", "past few weeks": a rolling window that
  ends today (unlike "last year", which is the previous calendar year).
* Weeks run Monday to Sunday; "last weekend" is the most recent Saturday-Sunday
  that has ended (on a Sunday, the one before).
* "the nineties", "the 90s": 1990-1999; two-digit decades mean the most recent
  such decade ("the 20s" in 2026 is the 2020s, "the 30s" the 1930s).
* Vague times, as people say them (wide on purpose: a date filter that is too
  narrow hides the photo, one that is too wide only ranks it among more):
  "recently", "lately", "not long ago": the past three months, ending today;
  "the other day" / "the other night": the 14 days before today; "the other
  week": 7 to 28 days before today; "the other year": 1-3 calendar years back
  (as "a couple of years ago"); "the other summer" (any season): the last two
  that have ended, as one range; "a while ago/back", "some time ago": three
  years to one month before today; "ages ago", "a long time ago", "years ago":
  anything up to two years before today; "back in the day", "in the old days",
  "way back when": anything up to five years before today.

Anything else goes to ``dateparser`` (English, past preferred) when every word is
date vocabulary, so "when I was in Berlin" is not mistaken for a date; the day it
finds is returned.  Nothing here raises: odd input gives ``None``.
"""
from __future__ import annotations

import calendar
import re
from datetime import date, datetime, time, timedelta
from typing import Callable

from tools.resolve.date_core import (  # noqa: F401  (re-exported: callers import them from here)
    BREAK, COUNT, DAYNUM, DECADE_WORDS, HOLIDAY, MAX_PHRASE_CHARS, MAX_YEAR, MIN_YEAR, MONTH, MONTHS, NUMBER_WORDS,
    PART, SEASON, VAGUE_COUNTS, _ONE_COUNT, WEEKDAY, WEEKDAYS, YEAR, YEARX, DateRange, _add_months, _alt, _count, _Ctx,
    _monday, _month_last, _rng, _span_text, _year)
from tools.resolve import date_ranges, date_weeks
from tools.resolve.date_core import ONE_DAY  # noqa: F401
from tools.resolve.easter import easter_sunday, thanksgiving  # noqa: F401
from tools.resolve.holiday_dates import NAMES as MORE_HOLIDAYS
from tools.resolve.holiday_dates import holiday_days
from tools.resolve.spoken_numbers import digits, words_to_digits

# --------------------------------------------------------------------------- seasons

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


def _part(text: str | None) -> str | None:
    if not text:
        return None
    text = re.sub(r"\s+", " ", text.strip())
    return {"beginning of": "early", "start of": "early", "middle of": "mid", "end of": "late"}.get(text, text)


# --------------------------------------------------------------------------- holidays


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


# --------------------------------------------------------------------------- relative


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
    if _season_instance(season, year, ctx)[1] >= ctx.today:  # the latest that has ended
        year -= 1
    first = _season_instance(season, year - span[1] + 1, ctx)[0]
    last = _season_instance(season, year - span[0] + 1, ctx)[1]
    return _rng(first, last, re.sub(r"\s+", " ", m[0].strip()), phrase)


def _h_relative_unit(m: re.Match, ctx: _Ctx, phrase: str) -> DateRange | None:
    unit, qual = m["unit"], m["q"]
    back = 0 if qual == "this" else 1
    if unit == "weekend":
        t = ctx.today
        saturday = t - timedelta(days=(t.weekday() - 5) % 7)  # the latest Saturday, today included
        # "this weekend": the current one on a Saturday or Sunday, else the one just gone (photos are
        # never from the future); "last weekend": the latest one that is over.
        if qual != "this" and saturday + timedelta(days=1) >= t:
            saturday -= timedelta(weeks=1)
        return _rng(saturday, saturday + timedelta(days=1), f"{qual} weekend", phrase)
    if unit == "night":
        y = ctx.today - timedelta(days=1)
        return DateRange(start=datetime.combine(y, time(12)), end=datetime.combine(ctx.today, time(6)) -
                         timedelta(microseconds=1), label=f"last night ({_span_text(y, y)} evening)", phrase=phrase)
    first, last = _unit_range(unit, back, back, ctx)
    return _rng(first, last, f"{qual} {unit}", phrase)


def _h_rolling(m: re.Match, ctx: _Ctx, phrase: str) -> DateRange | None:
    """"the past year", "the last 3 months", "past few weeks": a window ending today."""
    count = m.groupdict().get("n")
    span = _count(count) if count else (1, 1)
    if span is None:
        return None
    n = span[1]
    unit = m["unit"].rstrip("s")
    t = ctx.today
    if unit == "year":
        if n > 200:
            return None
        first = t.replace(year=t.year - n) if (t.month, t.day) != (2, 29) else date(t.year - n, 2, 28)
    elif unit == "month":
        if n > 2400:
            return None
        y, mo = _add_months(t.year, t.month, -n)
        first = date(y, mo, min(t.day, calendar.monthrange(y, mo)[1]))
    else:
        days = n * (7 if unit == "week" else 1)
        if days > 73_000:
            return None
        first = t - timedelta(days=days)
    name = re.sub(r"\s+", " ", m[0].strip())
    return _rng(first, t, name, phrase)


def _h_before_last(m: re.Match, ctx: _Ctx, phrase: str) -> DateRange | None:
    unit = m["unit"]
    if unit == "weekend":
        last_weekend = _h_relative_unit({"unit": "weekend", "q": "last"}, ctx, phrase)  # type: ignore[arg-type]
        first = last_weekend.start.date() - timedelta(weeks=1)
        return _rng(first, first + timedelta(days=1), "the weekend before last", phrase)
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
    if _season_instance(season, year, ctx)[1] >= t:  # still in it: the two before
        year -= 1
    return _rng(_season_instance(season, year - 1, ctx)[0], _season_instance(season, year, ctx)[1], name, phrase)


# --------------------------------------------------------------------------- months, years, decades


def _h_month(m: re.Match, ctx: _Ctx, phrase: str) -> DateRange | None:
    month = MONTHS[m["m"].rstrip(".")]
    qual = m["q"]
    if m["year"]:
        year = _year(m["year"], ctx)
        if year is None:
            return None
    elif qual == "this":
        year = ctx.today.year
    elif qual in ("last", "past", "previous"):
        year = ctx.today.year if ctx.today.month > month else ctx.today.year - 1
    else:
        year = ctx.today.year if ctx.today.month >= month else ctx.today.year - 1
    first, last = date(year, month, 1), _month_last(year, month)
    name = f"{calendar.month_name[month]} {year}"
    part = _part(m["part"])
    if part:
        first, last = {"early": (first, first.replace(day=10)), "mid": (first.replace(day=11), first.replace(day=20)),
                       "late": (first.replace(day=21), last)}[part]
        name = f"{part} {name}"
    return _rng(first, last, name, phrase)


def _h_day_month(m: re.Match, ctx: _Ctx, phrase: str) -> DateRange | None:
    month = MONTHS[m["m"].rstrip(".")]
    day = int(re.match(r"\d+", m["d"])[0])
    if m["year"]:
        year = _year(m["year"], ctx)
        if year is None:
            return None
    else:
        year = ctx.today.year
        if (month, day) > (ctx.today.month, ctx.today.day):
            year -= 1
    try:
        d = date(year, month, day)
    except ValueError:
        return None
    return _rng(d, d, "", phrase)


def _h_iso(m: re.Match, ctx: _Ctx, phrase: str) -> DateRange | None:
    year = _year(m["y"], ctx)
    if year is None:
        return None
    try:
        month = int(m["mo"])
        if m["d"]:
            d = date(year, month, int(m["d"]))
            return _rng(d, d, "", phrase)
        return _rng(date(year, month, 1), _month_last(year, month), "", phrase)
    except ValueError:
        return None


def _h_year(m: re.Match, ctx: _Ctx, phrase: str) -> DateRange | None:
    year = _year(m["year"], ctx)
    if year is None:
        return None
    part = _part(m["part"])
    if part:
        months = {"early": (1, 4), "mid": (5, 8), "late": (9, 12)}[part]
        return _rng(date(year, months[0], 1), _month_last(year, months[1]), f"{part} {year}", phrase)
    return _rng(date(year, 1, 1), date(year, 12, 31), str(year), phrase)


def _h_years(m: re.Match, ctx: _Ctx, phrase: str) -> DateRange | None:
    y1 = _year(m["y1"], ctx)
    if y1 is None:
        return None
    y2 = _year(m["y2"], ctx) if len(m["y2"]) == 4 else y1 // 100 * 100 + int(m["y2"])
    if y2 is None or not y1 < y2 <= y1 + 100:
        return None
    return _rng(date(y1, 1, 1), date(y2, 12, 31), f"{y1}-{y2}", phrase)


def _h_decade(m: re.Match, ctx: _Ctx, phrase: str) -> DateRange | None:
    if m["full"]:
        start = int(m["full"])
    else:
        digit = DECADE_WORDS[m["word"]] if m["word"] else int(m["two"][0])
        century = ctx.today.year // 100 * 100
        start = century + digit * 10 if century + digit * 10 <= ctx.today.year else century - 100 + digit * 10
    if not MIN_YEAR <= start <= MAX_YEAR:
        return None
    first, last = start, start + 9
    name = f"the {start}s"
    part = _part(m["part"])
    if part:
        first, last = {"early": (start, start + 3), "mid": (start + 4, start + 6), "late": (start + 7, start + 9)}[part]
        name = f"{part} {start}s"
    return _rng(date(first, 1, 1), date(last, 12, 31), name, phrase)


def _h_more_holiday(m: re.Match, ctx: _Ctx, phrase: str) -> DateRange | None:
    """Holidays of tools.resolve.holiday_dates: "father's day 2019", "last Diwali", "MLK day of last
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


def _h_year_month(m: re.Match, ctx: _Ctx, phrase: str) -> DateRange | None:
    """"2016 November", "11/2016", "2015.3", "2015/3": that month."""
    year = _year(m["y"], ctx)
    month = int(m["mo"]) if m["mo"] else MONTHS[m["m"].rstrip(".")]
    if year is None or not 1 <= month <= 12:
        return None
    return _rng(date(year, month, 1), _month_last(year, month), f"{calendar.month_name[month]} {year}", phrase)


def _h_numeric_day(m: re.Match, ctx: _Ctx, phrase: str) -> DateRange | None:
    """"10/31/1974", "3/3/15", "31.10.1974": month first (as US speech-to-text and dateparser write
    it) unless the first number cannot be a month."""
    a, b = int(m["a"]), int(m["b"])
    month, day = (a, b) if a <= 12 else (b, a)
    year = _year(m["y"] if len(m["y"]) == 4 else f"'{m['y']}", ctx)
    if year is None:
        return None
    try:
        d = date(year, month, day)
    except ValueError:
        return None
    return _rng(d, d, "", phrase)


# --------------------------------------------------------------------------- rules

Handler = Callable[[re.Match, _Ctx, str], "DateRange | None"]
_QUAL = r"(?:(?P<q>last|this|past|previous|that)\s+)"

RULES: list[tuple[str, Handler]] = [
    # 2019-05-03, 2019-05
    (r"(?P<y>\d{4})-(?P<mo>\d{1,2})(?:-(?P<d>\d{1,2}))?", _h_iso),
    (r"(?P<y>\d{4})[/.](?P<mo>\d{1,2})[/.](?P<d>\d{1,2})", _h_iso),
    # 2015/3, 2015.3, 11/2016, 2016 November: a month, never a day
    (rf"(?P<y>{YEAR})\s*[/.]\s*(?P<mo>\d{{1,2}})|(?P<mo2>\d{{1,2}})\s*[/.-]\s*(?P<y2>{YEAR})"
     rf"|(?P<y3>{YEAR}),?\s+(?P<m>{MONTH})", lambda m, c, p: _h_year_month(_Groups(m), c, p)),
    # 10/31/1974, 3/3/15, 10-31-74
    (r"(?P<a>\d{1,2})\s*(?P<sep>[/.-])\s*(?P<b>\d{1,2})\s*(?P=sep)\s*(?P<y>\d{4}|\d\d)", _h_numeric_day),
    # 2019-2020, 2019 to 2021, between 2019 and 2020, 2019/20
    (rf"(?:between\s+|from\s+)?(?P<y1>{YEAR})\s*(?:-|to|until|till|and|/)\s*(?P<y2>{YEAR}|\d\d)", _h_years),
    # last summer, summer 2019, the summer of '19, early summer, winter 2019/20, summer holidays, summer last year
    (rf"{_QUAL}?(?:(?P<part>{PART})\s+)?(?:the\s+)?(?P<season>{SEASON})(?:\s+{BREAK})?"
     rf"(?:\s+(?:of\s+|in\s+)?(?P<year>{YEARX})(?:\s*[-/]\s*(?P<year2>{YEAR}|\d\d))?"
     rf"|\s+(?P<rel>last|this)\s+year)?", _h_season),
    # Christmas 2019, last Christmas, Easter, the 2018 Christmas holidays
    (rf"{_QUAL}?(?:(?P<year0>{YEAR})\s+)?(?P<h>{HOLIDAY})(?:\s+(?P<brk>{BREAK}))?"
     rf"(?:\s+(?:of\s+|in\s+)?(?P<year>{YEARX})|\s+of\s+(?P<rel>last|this)\s+year"
     rf"|\s+(?P<ago>{_ONE_COUNT})\s+years?\s+(?:ago|back))?", _h_holiday),
    # Father's Day 2019, last Diwali, MLK day of last year, the 2018 Lunar New Year
    (rf"{_QUAL}?(?:(?P<year0>{YEAR})\s+)?(?P<h>{MORE_HOLIDAYS})(?:\s+(?:of\s+|in\s+)?(?P<year>{YEARX})"
     rf"|\s+of\s+(?P<rel>last|this)\s+year|\s+(?P<ago>{COUNT})\s+years?\s+(?:ago|back))?", _h_more_holiday),
    # two years ago, a few months ago, 3 weeks ago
    (rf"(?P<n>{COUNT})\s+(?P<unit>years?|months?|weeks?|days?)\s+(?:ago|back)", _h_ago),
    # two summers ago, a few winters back
    (rf"(?P<n>{COUNT})\s+(?P<season>summers?|winters?|springs?|autumns?|falls?)\s+(?:ago|back)", _h_seasons_ago),
    # the weekend before last
    (r"(?:the\s+)?(?P<unit>weekend|week|month|year)\s+before\s+last", _h_before_last),
    # the past year, the last 3 months, past few weeks: a window ending today
    (rf"(?:past|last)\s+(?P<n>{COUNT})\s+(?P<unit>years|months|weeks|days)", _h_rolling),
    (r"past\s+(?P<unit>year|month|week)", _h_rolling),
    # last year, this month, last weekend, last night
    (r"(?P<q>last|this|previous|past)\s+(?P<unit>year|month|week|weekend|night)", _h_relative_unit),
    # recently, the other day, a while back, ages ago, back in the day
    (r"(?P<recent>(?:just\s+|quite\s+|fairly\s+|pretty\s+|only\s+)?(?:recently|lately)"
     r"|not\s+(?:so\s+|that\s+|too\s+)?long\s+ago|a\s+(?:little|short)\s+while\s+(?:ago|back))"
     r"|(?P<while>(?:a\s+(?:good\s+)?while|quite\s+a\s+while|some\s+time)\s+(?:ago|back))"
     r"|(?P<ages>(?:ages|years|a\s+long\s+(?:time|while)|long|donkey'?s\s+years)\s+ago)"
     r"|(?P<old>back\s+in\s+the\s+day|(?:in\s+)?(?:the\s+)?old\s+days|way\s+back\s+when)"
     rf"|(?:the\s+)?other\s+(?P<other>day|night|week|year|{SEASON})", _h_vague),
    # today, yesterday, the day before yesterday
    (r"(?P<w>(?:the\s+)?day\s+before\s+yesterday|yesterday|today|tonight|this\s+(?:morning|afternoon|evening))",
     _h_day_word),
    # 5 May 2019, the 5th of May, May 5th, 2019
    (rf"(?:the\s+)?(?P<d>{DAYNUM})\s+(?:of\s+)?(?P<m>{MONTH})(?:,?\s+(?P<year>{YEARX}))?", _h_day_month),
    (rf"(?P<m>{MONTH})\s+(?:the\s+)?(?P<d>{DAYNUM})(?:,?\s+(?P<year>{YEARX}))?", _h_day_month),
    # in March, last March, March 2019, early March, march of '19
    (rf"{_QUAL}?(?:(?P<part>{PART})\s+)?(?P<m>{MONTH})(?:\s+(?:of\s+)?(?P<year>{YEARX}))?", _h_month),
    # Tuesday, last Tuesday
    (rf"{_QUAL}?(?P<wd>{WEEKDAY})", _h_weekday),
    # 2019, early 2020, the year 2019, '19
    (rf"(?:(?P<part>{PART})\s+)?(?:the\s+year\s+|year\s+)?(?P<year>{YEARX})", _h_year),
    # the 90s, the nineties, 1990s, early 2000s, the '80s
    (rf"(?:(?P<part>{PART})\s+)?(?:the\s+)?(?:(?P<full>(?:1[89]|2[01])\d0)'?s|'?(?P<two>\d0)'?s"
     rf"|(?P<word>{_alt(DECADE_WORDS)}))", _h_decade),
]


class _Groups:
    """A match whose alternatives name the same thing twice (y / y2 / y3): the one that matched."""

    def __init__(self, m: re.Match):
        self.m = m

    def __getitem__(self, key: str):
        for name in (key, f"{key}2", f"{key}3"):
            if self.m.groupdict().get(name):
                return self.m[name]
        return None


def _with_resolver(handler):
    """A rule whose handler resolves parts of the phrase as phrases of their own."""
    def run(m: re.Match, ctx: _Ctx, phrase: str) -> DateRange | None:
        def resolve(text: str, now: datetime) -> DateRange | None:
            return _resolve(_normalise(text), _Ctx(now=now, south=ctx.south), text)
        return handler(m, ctx, phrase, resolve)
    return run


# Weeks, quarters and decades first: "the week of the 18th" is not "the 18th".  Then explicit
# ranges, which are made of the other rules' phrases.
RULES[0:0] = ([(pattern, _with_resolver(lambda m, c, p, r, h=h: h(m, c, p, lambda t: r(t, c.now))) if needs else h)
               for pattern, h, needs in date_weeks.RULES]
              + [(date_ranges.rule(MORE_HOLIDAYS), _with_resolver(date_ranges.h_range))])
_FULL = [(re.compile(pattern), handler) for pattern, handler in RULES]

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
    # "31-Oct-74", "31/Oct/1974": a day, a month name and a year
    (r"^(\d{1,2})[-/ ]([a-z]{3,9})\.?[-/ ](\d{4}|\d\d)$",
     lambda m: f"{m[1]} {m[2]} {m[3] if len(m[3]) == 4 else chr(39) + m[3]}"),
]


def _normalise(phrase: str) -> str:
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


def resolve_date_phrase(phrase: str, now: datetime, southern_hemisphere: bool = False) -> DateRange | None:
    """The date range a phrase means, relative to ``now``; ``None`` if it is not a date."""
    try:
        if not isinstance(phrase, str) or not phrase.strip() or len(phrase) > MAX_PHRASE_CHARS:
            return None
        ctx = _Ctx(now=now.replace(tzinfo=None), south=bool(southern_hemisphere))
        text = _normalise(phrase)
        since = _SINCE.match(text)
        if since:
            inner = _resolve(_normalise(since["rest"]), ctx, phrase.strip())
            if inner is None or inner.start > ctx.now:
                return None
            end = datetime.combine(ctx.today, time.max)
            return DateRange(start=inner.start, end=end, label=f"since {inner.label}", phrase=phrase.strip())
        return _resolve(text, ctx, phrase.strip())
    except Exception:  # the contract: odd input gives None, never an exception
        return None


def _resolve(text: str, ctx: _Ctx, phrase: str) -> DateRange | None:
    if not text:
        return None
    recognised = False
    for pattern, handler in _FULL:
        match = pattern.fullmatch(text)
        if match:
            recognised = True
            found = handler(match, ctx, phrase)
            if found is not None:
                return found
    # A phrase a rule recognised but found impossible ("2019-13", "31 February 2019") is not a
    # date; dateparser would make one up (13 Nov 2019).
    if recognised:
        return None
    # A date with a time of day or its weekday ("yesterday at 2pm", "Fri, Jul 18, 2014 19h00",
    # "morning of Christmas 2013"): the date filter works in days, so the date part decides.
    bare = _strip_time_and_weekday(text)
    if bare != text and bare:
        found = _resolve(bare, ctx, phrase)
        if found is not None:
            return found
    return _dateparser(text, ctx, phrase)


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


# Every word must be one of these for dateparser to be asked: it finds dates in
# almost anything ("in Berlin" is not one, but it may still try).
_DATE_WORDS = (set(MONTHS) | set(WEEKDAYS) | set(NUMBER_WORDS) | {
    "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth", "eleventh",
    "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth", "seventeenth", "eighteenth", "nineteenth",
    "twentieth", "thirtieth", "thirty", "st", "nd", "rd", "th", "of", "the", "on", "in", "at", "and", "ago", "last",
    "next", "this", "past", "previous", "before", "after", "yesterday", "today", "tomorrow", "tonight", "morning",
    "afternoon", "evening", "night", "noon", "midnight", "am", "pm", "day", "days", "week", "weeks", "month",
    "months", "year", "years", "hour", "hours", "minute", "minutes", "weekend", "fortnight", "o", "clock"})


def _dateparser(text: str, ctx: _Ctx, phrase: str) -> DateRange | None:
    words = re.findall(r"[a-z]+|\d+", text)
    if not words or any(w not in _DATE_WORDS and not (w.isdigit() and len(w) <= 4) for w in words):
        return None
    # Numbers alone ("25", "3 30", "two three") are counts, prices or times, not dates.
    if all(w.isdigit() or w in NUMBER_WORDS for w in words) and not re.search(r"\d[/.-]\d", text):
        return None
    import dateparser

    found = dateparser.parse(text, languages=["en"], settings={
        "RELATIVE_BASE": ctx.now, "PREFER_DATES_FROM": "past", "RETURN_AS_TIMEZONE_AWARE": False})
    if found is None or not MIN_YEAR <= found.year <= MAX_YEAR:
        return None
    return _rng(found.date(), found.date(), "", phrase)


# --------------------------------------------------------------------------- extraction

_FIND = [re.compile(rf"(?<![\w'])(?:the\s+)?(?:{pattern})(?![\w'])", re.IGNORECASE) for pattern, _ in RULES + [
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
    try:
        if not isinstance(text, str) or not text.strip():
            return None
        text = text[:2000].replace("\u2019", "'").replace("\u2018", "'")  # same length: offsets hold
        now = now or datetime.now()
        # The rules are written for digits: look in a copy with number words as digits ("June of
        # nineteen ninety nine" -> "June of 1999") and cut the phrase from the original.
        converted, spans = digits(text)
        candidates: set[tuple[int, int]] = set()
        for pattern in _FIND:
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


def _plausible(found: str, before: str, after: str = "") -> bool:
    low = found.lower()
    core = re.sub(r"^the\s+", "", low).rstrip(".")
    has_the = core != low or bool(re.search(r"\bthe\s+$", before, re.IGNORECASE))
    context = bool(_CONTEXT_BEFORE.search(before))
    if core in _ABBREVIATIONS or re.fullmatch(r"'\d\d", core):
        return False
    if core in ("may", "march"):  # also verbs
        return found[len(found) - len(core) - (1 if low.endswith(".") else 0)].isupper() and context
    if core in ("spring", "fall"):  # "a spring", "the fall of the Wall", "fall colors"
        return bool(re.search(r"\b(?:in|during|that|since)\s+(?:the\s+)?$", before, re.IGNORECASE))
    if core in MONTHS:
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
