"""Phrases that place one date relative to another: "the closest Christmas to today", "the 3rd
closest xmas to today", "thanksgiving 3 months ago", "the third Tuesday after Christmas 2014".

Conventions:

* "the closest X to Y": of X's yearly instances (X said with a year, each year from five before
  Y's to five after), the one whose middle is nearest Y's middle; "the 3rd closest" the third
  nearest.  Only things with one instance a year (holidays, months, seasons) have instances.
* "X N months / weeks / days ago": the instance of X nearest the day N units before today (so in
  February "thanksgiving 3 months ago" is last November's); "X N years ago" is the holiday rule's.
* "the 3rd Tuesday after / before X": counted from the day after X ends (before: the day before
  it starts).

Each part is resolved as a phrase of its own, through the resolver date_phrases passes in.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timedelta

from tools.dates.date_core import COUNT, WEEKDAY, WEEKDAYS, YEAR, DateRange, _count, _Ctx, _rng

Resolve = Callable[[str, datetime], "DateRange | None"]
_THING = r"[a-z][a-z' .-]{1,40}?"  # a holiday, month or season name: words, no digits


def _middle(r: DateRange) -> date:
    return (r.start + (r.end - r.start) / 2).date()


def _instances(thing: str, around: date, now: datetime, resolve: Resolve) -> list[DateRange]:
    if re.search(rf"\b{YEAR}\b", thing):  # said with a year already: one instance, not a series
        return []
    found: dict[tuple[datetime, datetime], DateRange] = {}
    for year in range(around.year - 5, around.year + 6):
        r = resolve(f"{thing} {year}", now)
        if r is not None:
            found.setdefault((r.start, r.end), r)
    return list(found.values())


def _nth_closest(thing: str, around: date, n: int, now: datetime, resolve: Resolve) -> DateRange | None:
    ranked = sorted(_instances(thing, around, now, resolve), key=lambda r: (abs((_middle(r) - around).days), r.start))
    return ranked[n - 1] if 1 <= n <= len(ranked) else None


def h_closest(m: re.Match, ctx: _Ctx, phrase: str, resolve: Resolve) -> DateRange | None:
    if m["anchor"] in ("today", "now"):
        around = ctx.today
    else:
        anchor = resolve(m["anchor"], ctx.now)
        if anchor is None:
            return None
        around = _middle(anchor)
    found = _nth_closest(m["x"], around, int(m["n"] or 1), ctx.now, resolve)
    return _rng(found.start.date(), found.end.date(), found.label.split(" (")[0], phrase) if found else None


def h_thing_ago(m: re.Match, ctx: _Ctx, phrase: str, resolve: Resolve) -> DateRange | None:
    span = _count(m["n"])
    if span is None or span[1] > 400:
        return None
    days = {"month": 30.44, "week": 7, "day": 1}[m["unit"].rstrip("s")] * (span[0] + span[1]) / 2
    around = ctx.today - timedelta(days=round(days))
    found = _nth_closest(m["x"], around, 1, ctx.now, resolve)
    return _rng(found.start.date(), found.end.date(), found.label.split(" (")[0], phrase) if found else None


def h_weekday_after(m: re.Match, ctx: _Ctx, phrase: str, resolve: Resolve) -> DateRange | None:
    inner = resolve(m["x"], ctx.now)
    if inner is None:
        return None
    weekday, n = WEEKDAYS[m["wd"]], int(m["n"] or 1)
    if m["dir"] == "after":
        start = inner.end.date() + timedelta(days=1)
        d = start + timedelta(days=(weekday - start.weekday()) % 7 + 7 * (n - 1))
    else:
        start = inner.start.date() - timedelta(days=1)
        d = start - timedelta(days=(start.weekday() - weekday) % 7 + 7 * (n - 1))
    return _rng(d, d, f"{m[0]}", phrase)


def rules(holidays: str) -> list[tuple[str, Callable]]:
    """(pattern, handler taking the resolver) for date_phrases' rules table."""
    return [
        # the closest xmas to today, the 3rd closest christmas to 2010
        (rf"(?:the\s+)?(?:(?P<n>[1-9])(?:st|nd|rd|th)\s+)?(?:closest|nearest)\s+(?P<x>{_THING})\s+to\s+"
         rf"(?P<anchor>today|now|{_THING}(?:\s+{YEAR})?|{YEAR})", h_closest),
        # thanksgiving 3 months ago, christmas a few weeks back
        (rf"(?P<x>{holidays})\s+(?P<n>{COUNT})\s+(?P<unit>months?|weeks?|days?)\s+(?:ago|back)", h_thing_ago),
        # the third tuesday after christmas 2014, the 2nd sunday before easter
        (rf"(?:the\s+)?(?:(?P<n>[1-5])(?:st|nd|rd|th)\s+)?(?P<wd>{WEEKDAY})\s+(?P<dir>after|before)\s+"
         rf"(?P<x>(?!last\b|next\b).+)", h_weekday_after),
    ]

