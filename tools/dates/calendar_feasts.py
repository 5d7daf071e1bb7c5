"""Feasts of the Hebrew and Islamic calendars that the ``holidays`` package has no date for, from
calendar packages that compute them offline:

* Hebrew dates from ``pyluach`` (MIT): the Hebrew calendar is arithmetic, so a date converts
  exactly.  Tu BiShvat 15 Shevat; Tisha B'Av 9 Av (moved to Sunday when it falls on the Sabbath);
  Yom HaShoah 27 Nisan, Yom HaZikaron 4 Iyar and Yom HaAtzmaut 5 Iyar, moved as Israeli law moves
  them so they never touch the Sabbath.  Each range starts on the eve, as the day begins at
  sundown (so "Yom HaShoah 2018" is 11-12 April).
* Islamic dates from ``hijridate`` (MIT): the Umm al-Qura calendar of Saudi Arabia (1343-1500 AH,
  1924-2077).  Where the month begins on the crescent's sighting the day differs by one from
  country to country, so a one-day feast gets a day either side (Laylat al-Qadr the 27th of
  Ramadan, Isra and Mi'raj the 27th of Rajab).  Jumu'atul-Wida is the last Friday before the
  1st of Shawwal.

Outside a package's range, or with a package missing, a feast has no date (None), never a guess.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

DayRange = tuple[date, date]

# pyluach's month numbers count from Nisan
NISAN, IYAR, AV, SHEVAT = 1, 2, 5, 11


def _hebrew(year: int, month: int, day: int) -> date | None:
    """The Gregorian day of a Hebrew date in the Hebrew year that mostly overlaps ``year``'s
    January-September (Nisan to Elul, and Tevet to Adar, fall in Gregorian year + 3760)."""
    try:
        from pyluach import dates
        return dates.HebrewDate(year + 3760, month, day).to_pydate()
    except Exception:  # missing package or a date it cannot make: no date rather than a guess
        return None


def _eve(d: date | None) -> DayRange | None:
    return (d - timedelta(days=1), d) if d else None


def tu_bishvat(year: int) -> DayRange | None:
    return _eve(_hebrew(year, SHEVAT, 15))


def tisha_bav(year: int) -> DayRange | None:
    d = _hebrew(year, AV, 9)
    if d is None:
        return None
    observed = d + timedelta(days=1) if d.weekday() == 5 else d  # a fast is not kept on the Sabbath
    return d - timedelta(days=1), observed


def yom_hashoah(year: int) -> DayRange | None:
    d = _hebrew(year, NISAN, 27)
    if d is None:
        return None
    d += {4: timedelta(days=-1), 6: timedelta(days=1)}.get(d.weekday(), timedelta())  # Fri -> Thu, Sun -> Mon
    return _eve(d)


def yom_haatzmaut(year: int) -> DayRange | None:
    d = _hebrew(year, IYAR, 5)
    if d is None:
        return None
    # Friday or Saturday -> the Thursday before; Monday -> Tuesday (so Yom HaZikaron, the day
    # before, is not on a Sunday, after the Sabbath)
    d += {4: timedelta(days=-1), 5: timedelta(days=-2), 0: timedelta(days=1)}.get(d.weekday(), timedelta())
    return _eve(d)


def yom_hazikaron(year: int) -> DayRange | None:
    found = yom_haatzmaut(year)
    return _eve(found[0]) if found else None


def _hijri_days(year: int, month: int, day: int) -> list[date]:
    """The Gregorian days of ``day``/``month`` of the Hijri years that touch Gregorian ``year``
    (a lunar year is 11 days short, so a Gregorian year may hold the same Hijri date twice)."""
    try:
        from hijridate import Gregorian, Hijri
        first = Gregorian(year, 1, 1).to_hijri().year
        found = []
        for hijri_year in (first, first + 1):
            try:
                d = Hijri(hijri_year, month, day).to_gregorian()
            except (ValueError, OverflowError):
                continue
            if d.year == year:
                found.append(date(d.year, d.month, d.day))
        return found
    except Exception:
        return []


def hijri_feast(month: int, day: int) -> Callable[[int], DayRange | None]:
    """A one-day Islamic feast (its first instance in the year), with a day either side."""
    def span(year: int) -> DayRange | None:
        days = _hijri_days(year, month, day)
        return (days[0] - timedelta(days=1), days[0] + timedelta(days=1)) if days else None
    return span


def jumuatul_wida(year: int) -> DayRange | None:
    days = _hijri_days(year, 10, 1)  # 1 Shawwal, Eid al-Fitr
    if not days:
        return None
    friday = days[0] - timedelta(days=(days[0].weekday() - 4) % 7 or 7)  # the last Friday before it
    return friday, friday
