"""Date phrases -> ranges (tools.dates.date_phrases), against fixed "now"s, and the rule-based phrase finder."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest

from tools.dates.date_phrases import DateRange, easter_sunday, find_date_phrase, resolve_date_phrase, thanksgiving

NOV = datetime(2026, 11, 22, 15, 30)  # a Sunday, late autumn
JUL = datetime(2025, 7, 15, 9, 0)  # a Tuesday, in (northern) summer


def d(text: str) -> date:
    return date.fromisoformat(text)


# phrase, now, southern hemisphere, first day, last day (inclusive)
CASES = [
    # seasons: both readings, from the meteorological season's first day (1 Mar, Jun, Sep, Dec) to
    # the equinox or solstice that ends the astronomical one, on its usual day (20 Mar, 21 Jun,
    # 22 Sep, 21 Dec); which summer "last summer" is goes by the months (Jun-Aug in the north)
    ("last summer", NOV, False, "2026-06-01", "2026-09-22"),
    ("last summer", JUL, False, "2024-06-01", "2024-09-22"),  # in summer: last year's
    ("this summer", JUL, False, "2025-06-01", "2025-09-22"),
    ("this summer", NOV, False, "2026-06-01", "2026-09-22"),
    ("in the summer", NOV, False, "2026-06-01", "2026-09-22"),
    ("summer", JUL, False, "2025-06-01", "2025-09-22"),
    ("summer 2019", NOV, False, "2019-06-01", "2019-09-22"),
    ("summer of '19", NOV, False, "2019-06-01", "2019-09-22"),
    ("the summer of 2019", NOV, False, "2019-06-01", "2019-09-22"),
    ("summer holidays 2019", NOV, False, "2019-06-01", "2019-09-22"),
    ("last winter", NOV, False, "2025-12-01", "2026-03-20"),
    ("last winter", d("2026-01-10"), False, "2024-12-01", "2025-03-20"),  # in winter: the one before
    ("winter", d("2026-01-10"), False, "2025-12-01", "2026-03-20"),
    ("winter 2019/20", NOV, False, "2019-12-01", "2020-03-20"),
    ("spring 2021", NOV, False, "2021-03-01", "2021-06-21"),
    ("autumn", NOV, False, "2026-09-01", "2026-12-21"),
    ("fall", NOV, False, "2026-09-01", "2026-12-21"),
    ("last fall", NOV, False, "2025-09-01", "2025-12-21"),  # still in autumn: last year's
    ("late summer 2020", NOV, False, "2020-08-01", "2020-09-22"),
    ("summer last year", NOV, False, "2025-06-01", "2025-09-22"),
    ("last summer", d("2026-09-10"), False, "2026-06-01", "2026-09-22"),  # June-August are over
    ("autumn", d("2026-09-10"), False, "2026-09-01", "2026-12-21"),
    ("spring", d("2026-06-10"), False, "2026-03-01", "2026-06-21"),  # the one that has started
    # southern hemisphere: summer Dec-Feb (to 20 March), winter Jun-Aug (to 22 September)
    ("last summer", JUL, True, "2024-12-01", "2025-03-20"),
    ("last winter", JUL, True, "2024-06-01", "2024-09-22"),  # in winter now
    ("this winter", JUL, True, "2025-06-01", "2025-09-22"),
    ("summer 2019", NOV, True, "2019-12-01", "2020-03-20"),
    ("spring", NOV, True, "2026-09-01", "2026-12-21"),
    # holidays
    ("Christmas 2019", NOV, False, "2019-12-24", "2019-12-26"),
    ("Christmas", NOV, False, "2025-12-24", "2025-12-26"),
    ("xmas", d("2026-12-25"), False, "2026-12-24", "2026-12-26"),
    ("last Christmas", d("2026-12-25"), False, "2025-12-24", "2025-12-26"),
    ("Christmas Eve 2020", NOV, False, "2020-12-24", "2020-12-24"),
    ("christmas holidays 2019", NOV, False, "2019-12-20", "2020-01-06"),
    ("New Year's Eve 2018", NOV, False, "2018-12-31", "2019-01-01"),
    ("NYE", NOV, False, "2025-12-31", "2026-01-01"),
    ("new year 2019", NOV, False, "2018-12-31", "2019-01-01"),
    ("Easter 2019", NOV, False, "2019-04-19", "2019-04-22"),
    ("Easter", JUL, False, "2025-04-18", "2025-04-21"),
    ("Good Friday 2024", NOV, False, "2024-03-29", "2024-03-29"),
    ("Halloween", NOV, False, "2026-10-31", "2026-10-31"),
    ("Halloween", JUL, False, "2024-10-31", "2024-10-31"),
    ("Thanksgiving 2020", NOV, False, "2020-11-26", "2020-11-29"),
    ("Thanksgiving", NOV, False, "2025-11-27", "2025-11-30"),  # 2026's is on the 26th, not yet
    ("Valentine's day", NOV, False, "2026-02-14", "2026-02-14"),
    ("valentines 2015", NOV, False, "2015-02-14", "2015-02-14"),
    # relative
    ("two years ago", NOV, False, "2024-01-01", "2024-12-31"),
    ("2 years ago", NOV, False, "2024-01-01", "2024-12-31"),
    ("a year ago", NOV, False, "2025-01-01", "2025-12-31"),
    ("a few years ago", NOV, False, "2022-01-01", "2024-12-31"),
    ("a couple of years ago", NOV, False, "2023-01-01", "2025-12-31"),
    ("last year", NOV, False, "2025-01-01", "2025-12-31"),
    ("this year", NOV, False, "2026-01-01", "2026-12-31"),
    ("last month", NOV, False, "2026-10-01", "2026-10-31"),
    ("last month", d("2026-01-05"), False, "2025-12-01", "2025-12-31"),
    ("3 months ago", NOV, False, "2026-08-01", "2026-08-31"),
    ("three months ago", d("2026-02-10"), False, "2025-11-01", "2025-11-30"),
    ("a few months ago", NOV, False, "2026-07-01", "2026-09-30"),
    ("last week", NOV, False, "2026-11-09", "2026-11-15"),
    ("2 weeks ago", NOV, False, "2026-11-02", "2026-11-08"),
    ("yesterday", NOV, False, "2026-11-21", "2026-11-21"),
    ("the day before yesterday", NOV, False, "2026-11-20", "2026-11-20"),
    ("today", NOV, False, "2026-11-22", "2026-11-22"),
    ("5 days ago", NOV, False, "2026-11-17", "2026-11-17"),
    ("last Tuesday", NOV, False, "2026-11-17", "2026-11-17"),
    ("the past year", NOV, False, "2025-11-22", "2026-11-22"),  # the singular: a window ending today
    ("the past month", NOV, False, "2026-10-22", "2026-11-22"),
    # a count of units: both readings, the whole units before this one and the window ending today
    ("the last 3 months", NOV, False, "2026-08-01", "2026-11-22"),  # Aug-Oct, and 22 Aug - today
    ("past few weeks", NOV, False, "2026-10-19", "2026-11-22"),  # up to 4 Mon-Sun weeks back: from 19 Oct
    ("the past two weeks", d("2026-11-18"), False, "2026-11-02", "2026-11-18"),  # weeks of 2 and 9 Nov
    ("the last 2 years", NOV, False, "2024-01-01", "2026-11-22"),  # 2024-2025, and 22 Nov 2024 - today
    ("the past 3 days", NOV, False, "2026-11-19", "2026-11-22"),  # 19-21, or ending today: both
    # months, years, decades
    ("in March", NOV, False, "2026-03-01", "2026-03-31"),
    ("in March", d("2026-02-01"), False, "2025-03-01", "2025-03-31"),
    ("in March", d("2026-03-10"), False, "2026-03-01", "2026-03-31"),  # the current March
    ("last March", d("2026-03-10"), False, "2025-03-01", "2025-03-31"),
    ("in december", NOV, False, "2025-12-01", "2025-12-31"),
    ("March 2019", NOV, False, "2019-03-01", "2019-03-31"),
    ("march of '19", NOV, False, "2019-03-01", "2019-03-31"),
    ("early March 2019", NOV, False, "2019-03-01", "2019-03-10"),
    ("Sept 2018", NOV, False, "2018-09-01", "2018-09-30"),
    ("2019", NOV, False, "2019-01-01", "2019-12-31"),
    ("in 2019", NOV, False, "2019-01-01", "2019-12-31"),
    ("the year 2019", NOV, False, "2019-01-01", "2019-12-31"),
    ("2019-05", NOV, False, "2019-05-01", "2019-05-31"),
    ("2019-05-03", NOV, False, "2019-05-03", "2019-05-03"),
    ("5 May 2019", NOV, False, "2019-05-05", "2019-05-05"),
    ("May 5th, 2019", NOV, False, "2019-05-05", "2019-05-05"),
    ("the 14th of June", NOV, False, "2026-06-14", "2026-06-14"),
    ("the 90s", NOV, False, "1990-01-01", "1999-12-31"),
    ("the nineties", NOV, False, "1990-01-01", "1999-12-31"),
    ("1990s", NOV, False, "1990-01-01", "1999-12-31"),
    ("the '80s", NOV, False, "1980-01-01", "1989-12-31"),
    ("the 2010s", NOV, False, "2010-01-01", "2019-12-31"),
    ("the 20s", NOV, False, "2020-01-01", "2029-12-31"),  # the most recent twenties
    ("late 90s", NOV, False, "1997-01-01", "1999-12-31"),
    ("early 2020", NOV, False, "2020-01-01", "2020-04-30"),
    ("late 2019", NOV, False, "2019-09-01", "2019-12-31"),
    ("mid 2019", NOV, False, "2019-05-01", "2019-08-31"),
    ("2019-2020", NOV, False, "2019-01-01", "2020-12-31"),
    ("2019 \u2013 2021", NOV, False, "2019-01-01", "2021-12-31"),
    ("between 2015 and 2017", NOV, False, "2015-01-01", "2017-12-31"),
    ("since 2024", NOV, False, "2024-01-01", "2026-11-22"),
    # fillers around the phrase
    ("around 2019 or so", NOV, False, "2019-01-01", "2019-12-31"),
    ("Last Summer.", NOV, False, "2026-06-01", "2026-09-22"),
    ("during the summer of \u201919", NOV, False, "2019-06-01", "2019-09-22"),
]


@pytest.mark.parametrize("phrase, now, south, first, last", CASES, ids=[f"{c[0]}@{c[1]:%Y-%m-%d}{'-S' if c[2] else ''}"
                                                                        for c in CASES])
def test_resolve_date_phrase(phrase, now, south, first, last):
    now = now if isinstance(now, datetime) else datetime.combine(now, time(12))
    found = resolve_date_phrase(phrase, now, southern_hemisphere=south)
    assert found is not None, phrase
    assert (found.start, found.end) == (datetime.combine(d(first), time.min), datetime.combine(d(last), time.max))
    assert found.phrase == phrase.strip()
    assert found.label


# Weekends hold both readings: Saturday-Sunday and Friday evening (from 18:00) to Sunday night.
# phrase, now, the weekend's Saturday
WEEKENDS = [
    ("the weekend before last", NOV, "2026-11-07"),
    ("last weekend", NOV, "2026-11-14"),  # today is Sunday: not this one
    ("last weekend", JUL, "2025-07-12"),  # a Tuesday: the one just gone
    ("this weekend", NOV, "2026-11-21"),
    ("this weekend", datetime(2026, 11, 20, 19, 0), "2026-11-21"),  # Friday evening: it has begun
    ("this weekend", datetime(2026, 11, 20, 9, 0), "2026-11-14"),  # Friday morning: not yet
    ("last weekend", datetime(2026, 11, 20, 19, 0), "2026-11-14"),  # this one is not over
    ("last weekend of October 2017", NOV, "2017-10-28"),  # Saturday 28 October
    ("the first weekend of march", NOV, "2026-03-07"),
    ("the first weekend of this month", NOV, "2026-11-07"),
]


@pytest.mark.parametrize("phrase, now, saturday", WEEKENDS, ids=[f"{c[0]}@{c[1]:%Y-%m-%d %H}" for c in WEEKENDS])
def test_a_weekend_runs_from_friday_evening_to_sunday(phrase, now, saturday):
    found = resolve_date_phrase(phrase, now)
    assert d(saturday).weekday() == 5  # the table's own check: a Saturday
    assert found.start == datetime.combine(d(saturday) - timedelta(days=1), time(18))
    assert found.end == datetime.combine(d(saturday) + timedelta(days=1), time.max)


def test_end_is_the_last_microsecond_and_labels_read_well():
    found = resolve_date_phrase("last summer", JUL)
    assert found.end == datetime(2024, 9, 22, 23, 59, 59, 999999)
    assert found.label == "summer 2024 (1 Jun - 22 Sep 2024)"
    assert resolve_date_phrase("Christmas 2019", NOV).label == "Christmas 2019 (24 - 26 Dec 2019)"
    assert resolve_date_phrase("last winter", NOV).label == "winter 2025/26 (1 Dec 2025 - 20 Mar 2026)"
    assert resolve_date_phrase("last weekend", NOV).label == "last weekend (Fri 13 Nov evening - 15 Nov 2026)"
    assert resolve_date_phrase("March 2019", NOV).label == "March 2019"
    assert resolve_date_phrase("2019-2020", NOV).label == "2019-2020"


def test_last_night_runs_into_the_small_hours():
    found = resolve_date_phrase("last night", NOV)
    assert found.start == datetime(2026, 11, 21, 12)
    assert found.end == datetime(2026, 11, 22, 5, 59, 59, 999999)


def test_dateparser_fallback_gives_a_day():
    found = resolve_date_phrase("03/05/2019", NOV)
    assert found is not None and found.start.date() == found.end.date()
    assert found.start.year == 2019
    assert resolve_date_phrase("3pm yesterday", NOV).start.date() == date(2026, 11, 21)


def test_easter_and_thanksgiving_dates():
    known = {2000: "2000-04-23", 2008: "2008-03-23", 2011: "2011-04-24", 2019: "2019-04-21",
             2024: "2024-03-31", 2025: "2025-04-20", 2038: "2038-04-25"}
    for year, sunday in known.items():
        assert easter_sunday(year) == d(sunday)
    assert thanksgiving(2020) == date(2020, 11, 26)
    assert thanksgiving(2024) == date(2024, 11, 28)
    assert thanksgiving(2018) == date(2018, 11, 22)


@pytest.mark.parametrize("phrase", [
    "", "   ", "when I was in Berlin", "the year 99999", "x" * 10_000, "last " * 3000, "Berlin", "my friend",
    "summer 99999", "2019-13", "31 February 2019", "in 3019", "the 1 of never", "banana bread",
    "999999999 years ago", "\x00\x01", "🙂", "2020-2019",
])
def test_garbage_gives_none(phrase):
    assert resolve_date_phrase(phrase, NOV) is None


def test_non_strings_and_aware_now_do_not_raise():
    assert resolve_date_phrase(None, NOV) is None  # type: ignore[arg-type]
    from datetime import timezone

    found = resolve_date_phrase("yesterday", NOV.replace(tzinfo=timezone.utc))
    assert found is not None and found.start.tzinfo is None
    assert isinstance(found, DateRange)


FIND = [
    ("my friend jumping at that dim concert last summer, Berlin I think", "last summer"),
    ("Photos from Christmas 2019 with grandma", "Christmas 2019"),
    ("the dog on the beach two years ago", "two years ago"),
    ("I may have taken it in May", "May"),
    ("a march in Paris in the nineties", "the nineties"),
    ("kids in the snow last winter", "last winter"),
    ("that trip to Rome in the summer of '19", "the summer of '19"),
    ("our wedding, 14 June 2014", "14 June 2014"),
    ("something from the weekend before last", "the weekend before last"),
    ("New Year's Eve 2018 fireworks", "New Year's Eve 2018"),
    ("we sat on a bench yesterday", "yesterday"),
    ("early 2020 before lockdown", "early 2020"),
    ("a few years ago at the cabin", "a few years ago"),
    ("between 2015 and 2017 at uni", "between 2015 and 2017"),
    ("in the fall we went hiking", "the fall"),
    ("Easter 2019 egg hunt in the garden", "Easter 2019"),
    ("cake at mum's birthday 3 months ago", "3 months ago"),
    ("anything with snow from the past year", "the past year"),
]


@pytest.mark.parametrize("sentence, phrase", FIND)
def test_find_date_phrase(sentence, phrase):
    assert find_date_phrase(sentence) == phrase
    assert resolve_date_phrase(phrase, NOV) is not None


@pytest.mark.parametrize("sentence", [
    "Jan and me at the lake", "Me in my 20s", "sunset over the sea", "pictures of the fall colors in Vermont",
    "the sun setting behind the mountains", "my summer dress", "IMG_2019.jpg", "I may go to Paris",
    "when I was in Berlin", "", "x" * 10_000,
])
def test_find_date_phrase_none(sentence):
    assert find_date_phrase(sentence) is None
