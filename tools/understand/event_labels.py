"""What an event is called: "Berlin, Sat 14 Jul 2025, evening, 87 photos", its people and top tags.

The label is what a person would say of the occasion: where (the town most of its photos name,
else the region or country), which day (a weekday helps memory more than a date does: "that
Saturday"), the part of the day and how big it was. The short form (place and day) goes on each
photo for explanations ("from: Berlin, Sat 14 Jul 2025").
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone

from pydantic import BaseModel

from tools.index.records import PhotoRecord
from tools.understand.city_names import city_for

TOP_TAGS = 5
# Tags that say how a photo was framed or taken, not what the occasion was (the label says the part of day).
NOT_ABOUT_THE_EVENT = {"portrait", "landscape", "panorama", "square", "screenshot", "camera photo",
                       "morning", "afternoon", "evening", "night"}


class EventSummary(BaseModel):
    id: str
    start_ts: int
    end_ts: int
    count: int
    place: str | None = None  # "Berlin"
    country_code: str | None = None
    lat: float | None = None  # mean of the located photos
    lon: float | None = None
    people: list[str] = []  # person ids, most frequent first
    tags: list[str] = []
    label: str = ""  # "Berlin, Sat 14 Jul 2025, evening, 87 photos"
    short_label: str = ""  # "Berlin, Sat 14 Jul 2025"
    photo_ids: list[str] = []

    @property
    def start(self) -> datetime:
        return _wall_clock(self.start_ts)

    @property
    def end(self) -> datetime:
        return _wall_clock(self.end_ts)


def _wall_clock(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, tz=timezone.utc).replace(tzinfo=None)


def part_of_day(hour: int) -> str:
    if 5 <= hour < 12:
        return "morning"
    if 12 <= hour < 17:
        return "afternoon"
    if 17 <= hour < 21:
        return "evening"
    return "night"


def _day(value: datetime) -> str:
    return f"{value:%a} {value.day} {value:%b %Y}"


def days_label(start: datetime, end: datetime) -> str:
    """"Sat 14 Jul 2025"; "Sat 14 - Mon 16 Jul 2025" over days; full dates across months."""
    if start.date() == end.date():
        return _day(start)
    if (start.year, start.month) == (end.year, end.month):
        return f"{start:%a} {start.day} - {_day(end)}"
    if start.year == end.year:
        return f"{start:%a} {start.day} {start:%b} - {_day(end)}"
    return f"{_day(start)} - {_day(end)}"


def times_label(start: datetime, end: datetime) -> str:
    first, last = part_of_day(start.hour), part_of_day(end.hour)
    if (end - start).total_seconds() > 36 * 3600:
        return ""  # a trip: its days say it
    return first if first == last else f"{first} to {last}"


def _place(records: list[PhotoRecord]) -> tuple[str | None, str | None]:
    """The town most photos name (Berlin, not its district Mitte), else the region or country."""
    for field in ("city", "region", "country"):
        named = Counter(getattr(r, field) for r in records if getattr(r, field))
        if named:
            name = named.most_common(1)[0][0]
            there = [r for r in records if getattr(r, field) == name]
            code = Counter(r.country_code for r in there if r.country_code)
            code = code.most_common(1)[0][0] if code else None
            if field == "city":
                sample = next((r for r in there if r.lat is not None and r.lon is not None), there[0])
                name = city_for(name, sample.region, code, sample.lat, sample.lon)
            return name, code
    return None, None


def summarise(event_id: str, records: list[PhotoRecord]) -> EventSummary:
    """The summary of one event from its photos' records (all dated)."""
    records = sorted(records, key=lambda r: (r.taken_ts, r.id))
    start, end = records[0].taken_at, records[-1].taken_at
    place, code = _place(records)
    located = [r for r in records if r.lat is not None and r.lon is not None]
    people = Counter(p for r in records for p in r.people)
    tags = Counter(t for r in records for t in set(r.tags) if t not in NOT_ABOUT_THE_EVENT)
    count = len(records)
    short = ", ".join(p for p in (place, days_label(start, end)) if p)
    label = ", ".join(p for p in (short, times_label(start, end), f"{count} photo{'s' if count != 1 else ''}") if p)
    return EventSummary(
        id=event_id, start_ts=records[0].taken_ts, end_ts=records[-1].taken_ts, count=count, place=place,
        country_code=code, lat=round(sum(r.lat for r in located) / len(located), 5) if located else None,
        lon=round(sum(r.lon for r in located) / len(located), 5) if located else None,
        people=[p for p, _ in sorted(people.items(), key=lambda item: (-item[1], item[0]))],
        tags=[t for t, _ in sorted(tags.items(), key=lambda item: (-item[1], item[0]))[:TOP_TAGS]],
        label=label, short_label=short, photo_ids=[r.id for r in records])
