"""Converts Duckling's English time corpus into evals/data/duckling_en_time.tsv for evals/dates.py.

The corpus (github.com/facebook/duckling, Duckling/Time/EN/Corpus.hs, BSD licence) is a list of
``examples (EXPECTED) ["phrase", ...]`` blocks resolved against Tue 2013-02-12 04:30.  Each
expected value becomes an inclusive day range (first, last): a datetime at Day grain is that
day, at Week grain its Monday-Sunday, Month / Quarter / Year the whole unit; an interval's end
is exclusive in Duckling, so its last day is the day of (end - 1 second); times of day at hour,
minute or second grain are mapped to their day (a photo filter works in days).

Kept: phrases a photo search could use.  Dropped, with the reason counted in the file's header:
* future-only phrases ("next week", "in 3 days", "tomorrow", "2 weeks from now", "upcoming");
* phrases with no explicit year whose expected value lies after the reference day: Duckling
  picks the coming instance ("monday" = 18 Feb), a photo search the past one by convention, so
  the two answers are not comparable (an explicit year, "diwali 2019", is kept either way);
* times of day with no date in them ("at 3pm", "15:30", "last 2 minutes"): not a date filter;
* open intervals ("since 2014", "until 2pm") and Duckling's negative corpus (kept apart, as
  phrases that must give nothing).

Run:  .venv/bin/python evals/duckling_corpus.py PATH/TO/duckling [--commit SHA]
(PATH is a checkout or a bare git dir; the file is read at --commit, default HEAD.)
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "evals" / "data" / "duckling_en_time.tsv"
SOURCE = "Duckling/Time/EN/Corpus.hs"
REFERENCE = datetime(2013, 2, 12, 4, 30)

_FUTURE = re.compile(
    r"\b(?:next|tomorrows?|tmrw|coming|upcoming|following|hence|from\s+(?:now|today|right\s+now)|after\s+next"
    r"|in\s+(?:a|an|one|two|three|four|five|six|seven|eight|nine|ten|few|couple|\d+(?:\.\d+)?)\s+\w+"
    r"|in\s+\d+(?:/\d+)?\s*(?:['\"]|h\b|hours?)|asap|as\s+soon\s+as|by\s+(?:the\s+)?(?:eoy|eom|end)|tonight|tonite"
    r"|later|soon|within|next\s+\d+|rest\s+of|remainder|eod|eom|eoy|till|until|upto|up\s+to|by\s+\w+)\b",
    re.IGNORECASE)
_DATE_WORD = re.compile(
    r"\b(?:today|yesterday|day|days|week|weekend|week-end|month|year|monday|tuesday|wednesday|thursday|friday"
    r"|saturday|sunday|mon|tue|tues|wed|thu|thurs|fri|sat|sun|jan\w*|feb\w*|mar|march|apr\w*|may|june?|july?"
    r"|aug\w*|sept?\w*|oct\w*|nov\w*|dec\w*|christmas|xmas|\d{1,2}/\d{1,2}|\d{4}|\d+(?:st|nd|rd|th))\b",
    re.IGNORECASE)
_YEAR = re.compile(r"\b(?:1[89]\d\d|20\d\d)\b|\btwo\s+thousand\b|\b'\d\d\b|\b\d{1,2}/\d{1,2}/\d{2,4}\b",
                   re.IGNORECASE)

# Families, first match wins: what kind of form a phrase is, for the per-family figures.
_WESTERN = (r"christmas|xmas|easter|halloween|thanksgiving|valentine|new\s+year'?s?(?:\s+(?:eve|day))?\b(?<!chinese)"
            r"|mlk|martin\s+luther|civil\s+rights|black\s+friday|patrick|paddy|boss'?s?\b|mardi\s+gras|pancake"
            r"|\blent\b|king'?s\s+day|koningsdag|mother'?s\s+day|father'?s\s+day|memorial|labou?r\s+day")
# Words any date phrase may use; a phrase with a word outside these (and no Western holiday) names a
# holiday of another calendar ("diwali 2019", "yom kippur 2018").
_VOCAB = set("""today yesterday tomorrow day days week weeks weekend month months year years yr quarter qtr
season seasons summer winter spring fall autumn morning afternoon evening night tonight noon midnight
monday tuesday wednesday thursday friday saturday sunday mon tue tues wed thu thurs fri sat sun
january february march april may june july august september october november december jan feb mar apr jun
jul aug sep sept oct nov dec ago back last past previous this current the of in on at a an one two three
four five six seven eight nine ten twenty thousand first second third fourth fifth 1st 2nd 3rd 4th 5th st nd
rd th from to and between through until till about around approximately beginning end middle mid early late
all before after closest week's am pm boy bom eoy eom time h pm jr""".split()) | {
    d + "s" for d in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")}
FAMILIES = [
    ("numeric", r"^[\d\s/.:-]+$"),
    ("holiday", _WESTERN),
    ("holiday (other calendars)", None),
    ("time+date", r"\d\s*(?:am|pm|a\.m|p\.m|h\d|:\d)|\b(?:noon|midnight|morning|afternoon|evening|night|lunch"
                  r"|o'?clock)\b|\bat\s+\d"),
    ("week", r"\bweeks?\b|\bweek-?end\b"),
    ("interval", r"\b(?:from|between|through|thru|to|till|until)\b|\d\s*-\s*\d|\s-\s"),
    ("season", r"\b(?:summer|winter|spring|fall|autumn|seasons?)\b"),
    ("part-of", r"\b(?:beginning|start|end|early|mid|late|middle|boy|bom)\b|\b(?:first|second|third|fourth|last)"
                r"\s+\w+day\s+(?:of|in)\b"),
    ("relative", r"\b(?:ago|back|last|past|previous|this|current|yesterday|today)\b"),
    ("weekday", r"\b(?:mon|tue|wed|thu|fri|sat|sun)\w*\b"),
    ("day-month", r"\d+(?:st|nd|rd|th)?\s*(?:of\s+)?[a-z]|[a-z]\s+\d{1,2}(?:st|nd|rd|th)?\b|\b(?:first|second|third)\b"
                  r"|\d{1,2}[/.-][a-z]"),
    ("month", r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)\w*\b"),
    ("year", r"\d{4}|\b(?:year|decade|century)\b"),
]


def family(phrase: str) -> str:
    for name, pattern in FAMILIES:
        if pattern is None:
            words = re.findall(r"[a-z']+", re.sub(r"\d+(?:st|nd|rd|th|h)?", " ", phrase.lower()))
            if any(w not in _VOCAB and not w.isdigit() for w in words):
                return name
            continue
        if re.search(pattern, phrase, re.IGNORECASE):
            return name
    return "other"


def _tuple(text: str) -> datetime:
    y, mo, d, h, mi, s = (int(x) for x in re.findall(r"-?\d+", text))
    return datetime(max(y, 1), mo, d, h, mi, s)


def _grain_range(start: datetime, grain: str) -> tuple[date, date]:
    first = start.date()
    if grain == "Week":
        return first, first + timedelta(days=6)
    if grain == "Month":
        nxt = date(first.year + first.month // 12, first.month % 12 + 1, 1)
        return first, nxt - timedelta(days=1)
    if grain == "Quarter":
        y, m = divmod(first.month - 1 + 3, 12)
        return first, date(first.year + y, m + 1, 1) - timedelta(days=1)
    if grain == "Year":
        return first, date(first.year, 12, 31)
    return first, first  # Day, and Hour / Minute / Second mapped to their day


def _expected(expr: str) -> tuple[str, date, date, str] | None:
    """(kind, first, last, grain) of one ``examples (...)`` head; None for forms we do not use."""
    tuples = re.findall(r"\(\s*-?\d+\s*,\s*\d+\s*,\s*\d+\s*,\s*\d+\s*,\s*\d+\s*,\s*\d+\s*\)", expr)
    grain = re.search(r"\)\s*(Second|Minute|Hour|Day|Week|Month|Quarter|Year)\b", expr)
    if not tuples or not grain:
        return None
    grain_name = grain[1]
    if "OpenInterval" in expr:
        return ("open", *_grain_range(_tuple(tuples[0]), grain_name), grain_name)
    if "Interval" in expr:
        start, end = _tuple(tuples[0]), _tuple(tuples[1])
        return ("interval", start.date(), (end - timedelta(seconds=1)).date(), grain_name)
    return ("point", *_grain_range(_tuple(tuples[0]), grain_name), grain_name)


def _strings(block: str) -> list[str]:
    return [bytes(s, "utf-8").decode("unicode_escape") for s in re.findall(r'"((?:[^"\\]|\\.)*)"', block)]


def parse(source: str) -> tuple[list[tuple[str, str, date, date, str]], list[str]]:
    """((section, phrase, first, last, grain) for every example, the negative corpus's phrases)."""
    found = []
    negative: list[str] = []
    sections = re.split(r"\n(?=[a-zA-Z]+\s*::)", source)
    for section in sections:
        name = section.split("::")[0].strip()
        if name == "negativeCorpus":
            negative = _strings(section[section.index("examples =") :])
            continue
        if name not in ("allExamples", "defaultCorpus", "latentCorpus"):
            continue  # diffCorpus has another reference time
        for match in re.finditer(r"examples\s*\(", section):
            depth, i = 1, match.end()
            while depth and i < len(section):
                depth += {"(": 1, ")": -1}.get(section[i], 0)
                i += 1
            head = section[match.end() - 1:i]
            close = section.index("]", i)
            exp = _expected(head)
            if exp is None:
                continue
            kind, first, last, grain = exp
            for phrase in _strings(section[i:close + 1]):
                found.append((f"{name}:{kind}", phrase, first, last, grain))
    return found, negative


def keep(section: str, phrase: str, first: date, last: date, grain: str) -> str | None:
    """None to keep the example, else why it is dropped."""
    if section.endswith(":open"):
        return "open interval"
    if _FUTURE.search(phrase):
        return "future-only phrase"
    # At a sub-day grain a bare four-digit number that is not the expected year is a clock time ("at 1030").
    clockless = re.sub(rf"\b(?!{first.year}\b)\d{{4}}\b", "", phrase)
    if grain in ("Hour", "Minute", "Second") and not _DATE_WORD.search(clockless):
        return "time of day, no date"
    if first > REFERENCE.date() and not _YEAR.search(phrase):
        return "expected in the future (Duckling's next instance)"
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("duckling", type=Path, help="a checkout or bare git dir of facebook/duckling")
    parser.add_argument("--commit", default="HEAD")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    git = ["git", "--git-dir", str(args.duckling)] if (args.duckling / "HEAD").exists() and not (
        args.duckling / ".git").exists() else ["git", "-C", str(args.duckling)]
    commit = subprocess.run([*git, "rev-parse", args.commit], capture_output=True, text=True, check=True).stdout.strip()
    source = subprocess.run([*git, "show", f"{commit}:{SOURCE}"], capture_output=True, text=True, check=True).stdout
    examples, negative = parse(source)
    kept, dropped, seen = [], Counter(), set()
    for section, phrase, first, last, grain in examples:
        why = keep(section, phrase, first, last, grain)
        if why is None and phrase.lower() in seen:
            why = "duplicate"
        if why:
            dropped[why] += 1
            continue
        seen.add(phrase.lower())
        kept.append((phrase, first, last, grain, family(phrase), section.split(":")[0]))
    lines = [
        "# Duckling English time corpus, converted by evals/duckling_corpus.py for evals/dates.py",
        f"# source: https://github.com/facebook/duckling/blob/{commit}/{SOURCE}",
        f"# commit: {commit}",
        "# licence: BSD-3-Clause, Copyright (c) 2016-present, Facebook, Inc. (Duckling's LICENSE)",
        f"# reference time: {REFERENCE:%Y-%m-%d %H:%M} (Tuesday)",
        f"# examples read: {len(examples)}; kept: {len(kept)}; dropped: "
        + ", ".join(f"{why} {n}" for why, n in dropped.most_common()),
        "# columns: phrase, first day, last day (inclusive), Duckling grain, family, corpus section;",
        "# rows 'NONE' in the first-day column are Duckling's negative corpus: phrases that are no time",
    ]
    rows = [f"{p}\t{a}\t{b}\t{g}\t{f}\t{s}" for p, a, b, g, f, s in kept]
    rows += [f"{p}\tNONE\tNONE\t-\tnegative\tnegativeCorpus" for p in negative]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines + rows) + "\n", encoding="utf-8")
    print(f"{len(examples)} examples, kept {len(kept)} (+{len(negative)} negative) -> {args.out}")
    for why, n in dropped.most_common():
        print(f"  dropped {n:4d}  {why}")
    print("  families:", dict(Counter(f for *_, f, _ in kept).most_common()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
