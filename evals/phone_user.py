"""The simulated user of evals/dialogue.py on the phone-like library (evals/library.py): what
they remember of when and where, and how they answer the agent's questions.

Memory (seeded, per target): the opening adds a rough when and where drawn from the target's
true date and town, in words people say, as people remember:
* when (85%): "in the summer of 2023" (40%), "two or three years ago", sometimes with the season
  before it ("summer, two or three years ago"; 30%), or "in 2023" / "around 2023" (30%); the
  year is off by one in 15% of them and the season off by one (spring for summer) in 15%;
  nothing about when in 15%;
* where (85%): the town ("in Seville", 45%), the region ("somewhere in Andalusia", 20%; the
  country for a town without one), the country ("somewhere in Spain", 20%); nothing in 15%.
  Places are never wrong, only coarser.
Seasons are the northern ones (the library's towns all are): winter is December to February,
and a January photo is "the winter of" the year before (the date parser's convention).

Answers (truthful, from the target's own record, which holds what the copies' EXIF says):
year / country / city / event / person / faces from the record, tags from what the captions say
where evals/tags.py can confirm the label (the user sees the photo, not its tags; see
evals.dialogue.answer); "neither" when the true value is none of the options, "I don't know"
when the record holds no value.
"""
from __future__ import annotations

import random
from datetime import datetime

SEASONS = ["winter", "spring", "summer", "autumn"]
NUMBERS = ["no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def season_of(taken: datetime) -> tuple[str, int]:
    """(season, the year it is "of"): December 2023 to February 2024 is the winter of 2023."""
    if taken.month in (12, 1, 2):
        return "winter", taken.year if taken.month == 12 else taken.year - 1
    return SEASONS[(taken.month - 3) // 3 + 1], taken.year


def remembered_when(taken: datetime, now: datetime, rng: random.Random) -> tuple[str, dict]:
    """Words for when, and what went into them (kind, remembered year/season, what is wrong)."""
    season, season_year = season_of(taken)
    year, wrong = taken.year, []
    if rng.random() < 0.15:
        shift = rng.choice([-1, 1])
        year, season_year = year + shift, season_year + shift
        wrong.append("year")
    if rng.random() < 0.15:
        season = SEASONS[(SEASONS.index(season) + rng.choice([-1, 1])) % 4]
        wrong.append("season")
    form = rng.random()
    if form < 0.4:
        words, kind = f"in the {season} of {season_year}", "season and year"
    elif form < 0.7:
        ago = max(1, now.year - year)
        low = ago if rng.random() < 0.5 or ago == 1 else ago - 1
        span = "a year or two ago" if low == 1 else f"{NUMBERS[low]} or {NUMBERS[low + 1]} years ago"
        with_season = rng.random() < 0.5
        words, kind = (f"{season}, {span}" if with_season else span), "years ago"
        if not with_season:
            wrong = [w for w in wrong if w != "season"]
    else:
        words, kind = f"{rng.choice(['in', 'around'])} {year}", "year"
        wrong = [w for w in wrong if w != "season"]
    return words, {"kind": kind, "year": year, "season": season, "wrong": wrong}


def remembered_where(town: str | None, region: str | None, country: str | None,
                     rng: random.Random) -> tuple[str, str | None]:
    """Words for where and how fine they are ("town", "region", "country")."""
    if town is None:
        return "", None
    pick = rng.random()
    if pick < 0.45 / 0.85:
        return f"in {town}", "town"
    if pick < 0.65 / 0.85 and region:
        return f"somewhere in {region}", "region"
    return f"somewhere in {country}", "country"


def opening(caption: str, taken: datetime, town: str | None, region: str | None, country: str | None,
            now: datetime, rng: random.Random) -> tuple[str, dict]:
    """The first message: the caption, then maybe when, then maybe where."""
    facts: dict = {"when": None, "where": None}
    parts = [caption.rstrip(" .")]
    if rng.random() >= 0.15:
        words, facts["when"] = remembered_when(taken, now, rng)
        parts.append(words)
    if rng.random() >= 0.15:
        words, facts["where"] = remembered_where(town, region, country, rng)
        if words:
            parts.append(words)
    return ", ".join(parts), facts


def record_value(attribute: str, record) -> str | None:
    """What the record says of a year/country/city/faces question, in the options' words."""
    if record is None:
        return None
    if attribute == "year":
        return str(record.taken_at.year) if record.taken_at else None
    if attribute in ("country", "city"):
        return getattr(record, attribute, None)
    if attribute == "faces":
        return "nobody" if record.faces == 0 else "one person" if record.faces == 1 else "several people"
    return None


def metadata_answer(attribute: str, options: list[str], record) -> str | None:
    """The truthful answer to a year/country/city/faces question from the record; None for
    attributes this does not answer (tags, people, events: evals.dialogue.answer)."""
    if attribute not in ("year", "country", "city", "faces"):
        return None
    value = record_value(attribute, record)
    if not value:
        return "I don't know"
    return next((o for o in options if o.casefold() == value.casefold()), "neither")
