"""Date phrases ("last summer", "Christmas 2019", "the 90s") -> concrete date ranges.

A small LLM gets calendar arithmetic wrong (Qwen2.5-1.5B turned "last summer"
into today's date), so the planner only asks it to copy the date PHRASE out of
the request and this module resolves it, relative to an injectable ``now``.
:func:`find_date_phrase` does the extraction with rules, for the planner that
runs without an LLM; it uses the same patterns as the resolver.

This module holds the rules table, the resolver and the months / years / decades / numeric forms;
the other families live beside it, one job a module: date_normalise (the text the rules read),
date_seasons, holiday_phrases (holiday_dates has the days), date_relative ("ago", "last",
"the past", vague times), date_weeks (weeks, quarters, decades), date_ranges ("from X to Y"),
date_finder (the extractor, :func:`find_date_phrase`), date_core (what they share).

Conventions (all datetimes naive wall-clock; ``end`` is inclusive: the last
microsecond of the last day):

Where two readings of a phrase are both common, the range holds both when that costs a
little (the date is a filter for a vague memory: one too narrow hides the photo, one a little
wide only ranks it among more), and keeps one reading where holding both would cost much:

* Seasons hold the meteorological and the astronomical reading: from the first day of the
  meteorological season to the solstice or equinox that ends the astronomical one, on its usual
  day: north spring 1 Mar - 21 Jun, summer 1 Jun - 22 Sep, autumn 1 Sep - 21 Dec, winter
  1 Dec - 20 Mar; south shifted by six months (summer 1 Dec - 20 Mar).  Three weeks more than
  either reading; neighbouring seasons overlap by those weeks (date_seasons says why).  A
  season that spans New Year belongs to the year it starts in: "winter 2019" (north) is
  Dec 2019 - Mar 2020, as is "winter 2019/20".  "early / mid summer" is its first / second
  month, "late summer" its third to the equinox.
* "summer" / "this summer" / "in the summer": the most recent summer that has
  started (the current one while in it).  "last summer": the most recent one
  whose months have ended, so in July "last summer" is the previous year's and on
  10 September this year's.
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
* "the past year", "the past month", "the past week": a rolling window that ends today (unlike
  "last year", which is the previous calendar year; holding both would double the window).
  With a count, "the last 3 months", "the past two weeks", "past few years" hold both readings:
  from the first day of the whole unit that many back to today (in November "the last 3
  months" is 1 August - today: August-October, and 22 August - today); under one unit more.
* Weeks run Monday to Sunday.  A weekend holds both readings, Saturday-Sunday and Friday
  evening to Sunday: Friday 18:00 to the end of Sunday.  "last weekend" is the most recent one
  that has ended (on a Sunday, the one before); "this weekend" the latest that has begun (from
  Friday 18:00), or on a weekday the one just gone.
* "the nineties", "the 90s": 1990-1999; two-digit decades mean the most recent
  such decade ("the 20s" in 2026 is the 2020s, "the 30s" the 1930s).
* Two-digit years mean the most recent such year that has begun ("'15", "3/3/15" and "15q4" in
  2026 are 2015; in 2013 they are 1915: photos are never from the future).
* "this season": the season whose meteorological months hold today; "last season": the one before.
* Kept to one reading, holding both would cost too much: "last week" / "last month" / "last
  year" is the previous calendar unit (the window reading is said "the past week", which gives
  it; both would make "last week" on a Saturday 12 days, not 7); "last Christmas" / "last Chinese New
  Year" is the latest that has ended (during it, "this Christmas" names the current one; both
  would span a year); "three months ago" is that whole calendar month (not one day: the day
  three months back is in it); a two-digit year is the latest that has begun ("3/3/15" in 2013
  is 1915: photos are never from the future); a time of day alone ("at noon", "mid day", "at
  this time") is no date: ``None`` (today's would hide every other day's noon).
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
from datetime import date, datetime, time
from typing import Callable

from tools.dates.date_core import (  # noqa: F401  (re-exported: callers import them from here)
    BREAK, COUNT, DAYNUM, DECADE_WORDS, HOLIDAY, MAX_PHRASE_CHARS, MAX_YEAR, MIN_YEAR, MONTH, MONTHS, NUMBER_WORDS,
    PART, SEASON, VAGUE_COUNTS, _ONE_COUNT, WEEKDAY, WEEKDAYS, YEAR, YEARX, DateRange, _add_months, _alt, _count, _Ctx,
    _monday, _month_last, _part, _rng, _span_text, _year)
from tools.dates import date_anchored, date_ranges, date_weeks
from tools.dates.date_core import ONE_DAY  # noqa: F401
from tools.dates.date_finder import find_date_phrase, find_date_span  # noqa: F401  (re-exported)
from tools.dates.date_normalise import _SINCE, _normalise, _strip_time_and_weekday
from tools.dates.date_relative import (_h_ago, _h_before_last, _h_day_word, _h_relative_unit, _h_rolling,
                                         _h_seasons_ago, _h_vague, _h_weekday)
from tools.dates.date_seasons import _h_season, _h_this_season
from tools.dates.easter import easter_sunday, thanksgiving  # noqa: F401  (re-exported)
from tools.dates.holiday_dates import NAMES as MORE_HOLIDAYS
from tools.dates.holiday_phrases import _h_holiday, _h_more_holiday

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
    # this season, last season: the one today is in, the one before
    (r"(?P<q>this|last|past|previous)\s+seasons?", _h_this_season),
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


# Weeks, quarters and decades first: "the week of the 18th" is not "the 18th".  Then dates placed
# from other dates and explicit ranges, which are made of the other rules' phrases.
RULES[0:0] = ([(pattern, _with_resolver(lambda m, c, p, r, h=h: h(m, c, p, lambda t: r(t, c.now))) if needs else h)
               for pattern, h, needs in date_weeks.RULES]
              + [(pattern, _with_resolver(h)) for pattern, h in date_anchored.rules(f"{HOLIDAY}|{MORE_HOLIDAYS}")]
              + [(date_ranges.rule(MORE_HOLIDAYS), _with_resolver(date_ranges.h_range))])
_FULL = [(re.compile(pattern), handler) for pattern, handler in RULES]

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


# almost anything ("in Berlin" is not one, but it may still try).
_DATE_WORDS = (set(MONTHS) | set(WEEKDAYS) | set(NUMBER_WORDS) | {
    "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth", "eleventh",
    "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth", "seventeenth", "eighteenth", "nineteenth",
    "twentieth", "thirtieth", "thirty", "st", "nd", "rd", "th", "of", "the", "on", "in", "at", "and", "ago", "last",
    "next", "this", "past", "previous", "before", "after", "yesterday", "today", "tomorrow", "tonight", "morning",
    "afternoon", "evening", "night", "noon", "midnight", "am", "pm", "day", "days", "week", "weeks", "month",
    "months", "year", "years", "hour", "hours", "minute", "minutes", "weekend", "fortnight", "o", "clock"})


_TIME_OF_DAY_WORDS = {"at", "in", "the", "on", "of", "morning", "afternoon", "evening", "night", "noon", "midnight",
                      "am", "pm", "o", "clock", "hour", "hours", "minute", "minutes"}


def _dateparser(text: str, ctx: _Ctx, phrase: str) -> DateRange | None:
    words = re.findall(r"[a-z]+|\d+", text)
    if not words or any(w not in _DATE_WORDS and not (w.isdigit() and len(w) <= 4) for w in words):
        return None
    # Numbers alone ("25", "3 30", "two three") are counts, prices or times, not dates.
    if all(w.isdigit() or w in NUMBER_WORDS for w in words) and not re.search(r"\d[/.-]\d", text):
        return None
    # A time of day alone ("at noon", "3 pm", "in the evening") is any day's, not today's.
    if all(w.isdigit() or w in NUMBER_WORDS or w in _TIME_OF_DAY_WORDS for w in words):
        return None
    import dateparser

    found = dateparser.parse(text, languages=["en"], settings={
        "RELATIVE_BASE": ctx.now, "PREFER_DATES_FROM": "past", "RETURN_AS_TIMEZONE_AWARE": False})
    if found is None or not MIN_YEAR <= found.year <= MAX_YEAR:
        return None
    return _rng(found.date(), found.date(), "", phrase)


