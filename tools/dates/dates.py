"""Dates typed on the command line: "2008", "2008-10", "2008-10-22", "22 Oct 2008"."""
from __future__ import annotations

import calendar
import re
from datetime import datetime, timedelta

_ISO = re.compile(r"^\s*(\d{4})(?:[-/.](\d{1,2})(?:[-/.](\d{1,2}))?)?\s*$")


class DateError(ValueError):
    pass


def parse_date_bound(text: str, end: bool = False) -> datetime:
    """The first (or, with ``end``, the last) moment a date expression covers."""
    match = _ISO.match(text or "")
    try:
        if match:
            year = int(match.group(1))
            month = int(match.group(2)) if match.group(2) else None
            day = int(match.group(3)) if match.group(3) else None
            if not end:
                return datetime(year, month or 1, day or 1)
            if day:
                last = datetime(year, month, day)
            elif month:
                last = datetime(year, month, calendar.monthrange(year, month)[1])
            else:
                last = datetime(year, 12, 31)
            return last + timedelta(days=1) - timedelta(microseconds=1)
    except ValueError:
        raise DateError(f"not a real date: {text!r}") from None
    import dateparser

    parsed = dateparser.parse(text, settings={"PREFER_DAY_OF_MONTH": "last" if end else "first",
                                              "RETURN_AS_TIMEZONE_AWARE": False})
    if parsed is None:
        raise DateError(f"cannot read the date {text!r}; use YYYY, YYYY-MM or YYYY-MM-DD")
    if end and parsed.time() == datetime.min.time():
        parsed = parsed + timedelta(days=1) - timedelta(microseconds=1)
    return parsed
