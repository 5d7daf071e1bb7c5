"""Date phrases on a corpus nobody here wrote: Duckling's English time corpus (BSD licence).

``evals/data/duckling_en_time.tsv`` (made by ``evals/duckling_corpus.py``, which says what was
kept and why) holds each phrase with the day range Duckling expects, relative to Duckling's
reference time, Tue 2013-02-12 04:30.  Every phrase goes through
``tools.dates.date_phrases.resolve_date_phrase`` with that "now".  Scores:

* exact: our first and last day are Duckling's;
* covering: our range contains Duckling's and is at most one grain coarser: Duckling's width
  is rounded up to the grain ladder day (1) < week (7) < month (31) < year (366) < decade (3653),
  and ours may be as wide as the next step ("Christmas" 24-26 Dec covers Duckling's 25 Dec;
  a whole year does not cover one day).  A date filter that is a little wide only ranks the photo
  among more; one that misses hides it;
* none: we return nothing (counted as wrong in both scores);
* negative: Duckling's negative corpus ("laughing out loud", "this one"), where any range is
  wrong; reported apart.

Every miss (not covering) is also classed, without changing the two scores above:

* convention: we answer by a convention tools/dates/date_phrases.py documents and keeps on
  purpose where Duckling has another (the singular "the past week" as a window ending today
  against the whole past week, "three months ago" as that month against one day, a two-digit
  year as the most recent past one against the coming one, "last X" as the latest that has ended
  against the latest that has started, a time of day alone as no date filter; seasons,
  weekends and counted windows hold both readings, so Duckling's is inside ours).  A miss is this class only when its phrase
  is of that form AND our answer is the one the convention gives (the same instance with other
  edges, the same day a century back, ...), so a real bug in such a phrase is not hidden here;
* no date: we return nothing;
* wrong date: any other range.

Run:  .venv/bin/python evals/dates.py [--report PATH] [--failures N] [--family NAME]
Writes evals/reports/dates.json and prints a table per family, then the failures.
"""
from __future__ import annotations

import argparse
import re
import sys
import time
from collections import Counter, defaultdict
from datetime import date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from evals.common import REPORTS, log, machine_facts, rounded, table, write_report  # noqa: E402
from tools.dates.date_phrases import resolve_date_phrase  # noqa: E402

CORPUS = ROOT / "evals" / "data" / "duckling_en_time.tsv"
REFERENCE = datetime(2013, 2, 12, 4, 30)
LADDER = [1, 7, 31, 366, 3653, 36525]


def load(path: Path = CORPUS) -> tuple[dict[str, str], list[dict]]:
    header: dict[str, str] = {}
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            key, _, value = line[1:].partition(":")
            header[key.strip()] = value.strip()
            continue
        if not line.strip():
            continue
        phrase, first, last, grain, family, section = line.split("\t")
        rows.append({"phrase": phrase, "first": None if first == "NONE" else date.fromisoformat(first),
                     "last": None if last == "NONE" else date.fromisoformat(last), "grain": grain,
                     "family": family, "section": section})
    return header, rows


def allowed_width(first: date, last: date) -> int:
    """The widest range (days) that still counts as covering ``first..last``: the next grain up."""
    width = (last - first).days + 1
    for i, step in enumerate(LADDER):
        if width <= step:
            return LADDER[min(i + 1, len(LADDER) - 1)]
    return width * 2


def _overlaps(got, expected) -> bool:
    return got[0] <= expected[1] and got[1] >= expected[0]


# (name, phrase form, what our answer must be for the miss to be that convention's)
CONVENTIONS = [
    ("the past week is a window ending today", re.compile(r"^(?:the\s+)?past\s+(?:weeks?|months?|years?)$"),
     lambda got, exp: got is not None and _overlaps(got, exp) and got[1] == REFERENCE.date()),
    ("N units ago is that whole unit", re.compile(r"\bago\b"),
     lambda got, exp: got is not None and got[0] <= exp[0] and got[1] >= exp[1]),
    ("two-digit year is the latest past one", re.compile(r"\d{1,2}[/.-]\d{1,2}[/.-]\d\d$|'\d\d\b"),
     lambda got, exp: got is not None and (got[0].month, got[0].day) == (exp[0].month, exp[0].day)
     and exp[0].year - got[0].year == 100),
    ("'last X' has ended", re.compile(r"^(?:the\s+)?(?:last|previous|past)\s+"),
     lambda got, exp: got is not None and got[1] < exp[0] <= REFERENCE.date() and 300 <= (exp[0] - got[0]).days <= 400),
    ("a time of day alone is no date", re.compile(r"^(?:at\s+)?(?:this\s+time|mid\s*day|noon|midnight|now)$"),
     lambda got, exp: got is None),
]


def classify(phrase: str, got, expected) -> tuple[str, str | None]:
    """("convention", its name) / ("no date", None) / ("wrong date", None) for a miss."""
    for name, form, answer in CONVENTIONS:
        if form.search(phrase.lower()) and answer(got, expected):
            return "convention", name
    return ("no date", None) if got is None else ("wrong date", None)


def judge(row: dict) -> dict:
    found = resolve_date_phrase(row["phrase"], REFERENCE)
    got = None if found is None else (found.start.date(), found.end.date())
    out = {"phrase": row["phrase"], "family": row["family"], "got": got and [str(got[0]), str(got[1])]}
    if row["first"] is None:
        out.update(negative=True, ok=got is None)
        return out
    expected = (row["first"], row["last"])
    out["expected"] = [str(expected[0]), str(expected[1])]
    out["exact"] = got == expected
    out["covering"] = bool(got) and got[0] <= expected[0] and got[1] >= expected[1] and (
        (got[1] - got[0]).days + 1 <= allowed_width(*expected))
    out["none"] = got is None
    if not out["covering"]:
        out["miss"], out["convention"] = classify(row["phrase"], got, expected)
    return out


def score(results: list[dict]) -> dict:
    n = len(results)
    return {"phrases": n,
            "exact": rounded(sum(r["exact"] for r in results) / n if n else None, 3),
            "covering": rounded(sum(r["covering"] for r in results) / n if n else None, 3),
            "none": sum(r["none"] for r in results),
            "misses": {kind: sum(r.get("miss") == kind for r in results) for kind in MISS_KINDS}}


MISS_KINDS = ("convention", "no date", "wrong date")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report", type=Path, default=REPORTS / "dates.json")
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--failures", type=int, default=400, help="list at most this many failures")
    parser.add_argument("--family", help="only this family's phrases")
    args = parser.parse_args()
    header, rows = load(args.corpus)
    if args.family:
        rows = [r for r in rows if r["family"] == args.family]
    started = time.perf_counter()
    results = [judge(r) for r in rows]
    seconds = time.perf_counter() - started
    positive = [r for r in results if not r.get("negative")]
    negative = [r for r in results if r.get("negative")]
    families: dict[str, list[dict]] = defaultdict(list)
    for r in positive:
        families[r["family"]].append(r)
    per_family = {f: score(rs) for f, rs in sorted(families.items(), key=lambda kv: -len(kv[1]))}
    overall = score(positive)
    def line(name: str, s: dict) -> list:
        return [name, s["phrases"], s["exact"], s["covering"], s["none"], *(s["misses"][k] for k in MISS_KINDS)]

    lines = [line(f, s) for f, s in per_family.items()] + [line("all", overall)]
    print(f"corpus: {header.get('source', args.corpus)}")
    print(f"reference time {REFERENCE:%Y-%m-%d %H:%M}; {header.get('examples read', '')}")
    print(table(["family", "phrases", "exact", "covering", "none", "miss: convention", "no date", "wrong date"],
                lines))
    conventions = Counter(r["convention"] for r in positive if r.get("convention"))
    misses = sum(overall["misses"].values())
    print(f"misses: {misses}; conventions kept on purpose {overall['misses']['convention']} ("
          + ", ".join(f"{name} {n}" for name, n in conventions.most_common())
          + f"); no date {overall['misses']['no date']}; wrong date {overall['misses']['wrong date']}")
    wrong_negative = [r for r in negative if not r["ok"]]
    print(f"negative corpus: {len(negative) - len(wrong_negative)}/{len(negative)} give nothing, as they should")
    failures = [r for r in positive if not r["covering"]]
    for r in failures[:args.failures]:
        kind = r["miss"] + (f" ({r['convention']})" if r["convention"] else "")
        log(f"  {r['family']:<26} {r['phrase']!r}: expected {r['expected'][0]}..{r['expected'][1]}, "
            f"got {'nothing' if r['got'] is None else '..'.join(r['got'])}  [{kind}]")
    for r in wrong_negative:
        log(f"  negative {r['phrase']!r} -> {'..'.join(r['got'])}")
    print(f"{len(results)} phrases in {seconds:.2f} s")
    write_report(args.report, {"corpus": header, "reference": REFERENCE.isoformat(), "machine": machine_facts(),
                               "overall": overall, "families": per_family, "conventions": dict(conventions),
                               "negative": {"phrases": len(negative), "wrongly_dated": len(wrong_negative)},
                               "results": results})
    print(f"wrote {args.report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
