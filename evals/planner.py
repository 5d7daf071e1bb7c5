"""Planner accuracy: vague memories -> plan fields, for the rule planner and the local LLM planner.

Each case is a sentence someone might type, with what a correct plan holds: the date range
(resolved against a fixed now, 2026-11-22), the place (country code and kind), the known people,
and a few words that must survive in ``visual``.  Scores per field:

* date: both none, or the same first and last day;
* place: both none, or the same country code and kind (city / region / country), and where the
  case gives a third value, a label that starts with it ("Hamburg" after "Berlin, wait, Hamburg");
* people: the same set of known names;
* visual: every key word appears in ``visual`` (case-insensitive), and no word of ``DISCARDED``
  for that case does (the filler, or the value a self-correction threw away).

Two groups, reported apart: ``WRITTEN`` (typed memories) and ``SPOKEN`` (memories as people say
them, or as a speech-to-text transcript has them: fillers, self-corrections, vague times such
as "a while back", and phrases that only look like dates).

A second, smaller set checks the choice of tool (``tools.query.toolbox``) with ten photos on screen:
"when was #4 taken?" is ``photo_details(4)``, "who do you know?" is ``list_people``, "the third
one, more like that" is ``similar_to(3)``, a new description is ``search_photos``. The rules
column is what the agent does without an LLM: ``agent.plan.rule_tool_call``, then the feedback
parser ("#3 is close" likes #3, read as ``similar_to``), then ``agent.plan.rule_action``.

Run:  .venv/bin/python evals/planner.py [--no-llm] [--llm-size 0.5b|1.5b] [--limit N] [--threads 1]
Writes evals/reports/planner.json and prints a table.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from evals.common import REPORTS, log, machine_facts, median, rounded, table, write_report  # noqa: E402

NOW = datetime(2026, 11, 22, 12, 0)
NAMES = ["Alice", "Bob", "Grandma Rose"]
# The library's own places (what store.get_meta("places") would hold).
PLACES = [
    {"city": "Berlin", "region": "Berlin", "country_code": "DE", "country": "Germany"},
    {"city": "Arezzo", "region": "Tuscany", "subregion": "Province of Arezzo", "country_code": "IT",
     "country": "Italy"},
    {"city": "Tokyo", "region": "Tokyo", "country_code": "JP", "country": "Japan"},
    {"city": "Paris", "region": "Île-de-France", "country_code": "FR", "country": "France"},
]

LAST_SUMMER = "2026-06-01..2026-09-22"
XMAS_2019 = "2019-12-24..2019-12-26"
TWO_YEARS_AGO = "2024-01-01..2024-12-31"
MARCH = "2026-03-01..2026-03-31"
WEEKEND_BEFORE_LAST = "2026-11-06..2026-11-08"
Y2018 = "2018-01-01..2018-12-31"

# (text, date "first..last" or None, place (country code, kind[, label start]) or None, people, visual key words)
Case = tuple[str, "str | None", "tuple[str, ...] | None", list[str], list[str]]
WRITTEN: list[Case] = [
    ("me and Alice on a boat last summer in Italy", LAST_SUMMER, ("IT", "country"), ["Alice"], ["boat"]),
    ("the christmas tree at grandma's house, Christmas 2019", XMAS_2019, None, [], ["tree"]),
    ("Bob asleep on the sofa with the cat", None, None, ["Bob"], ["sofa", "cat"]),
    ("fireworks over the river in Berlin", None, ("DE", "city"), [], ["fireworks", "river"]),
    ("a bowl of ramen in Tokyo two years ago", TWO_YEARS_AGO, ("JP", "city"), [], ["ramen"]),
    ("sandcastle at the beach last summer", LAST_SUMMER, None, [], ["sandcastle", "beach"]),
    ("Grandma Rose blowing out candles in March", MARCH, None, ["Grandma Rose"], ["candles"]),
    ("the Eiffel tower at night, Paris 2018", Y2018, ("FR", "city"), [], ["eiffel tower"]),
    ("a vineyard near Arezzo with rolling hills", None, ("IT", "city"), [], ["vineyard", "hills"]),
    ("snowman in the garden the weekend before last", WEEKEND_BEFORE_LAST, None, [], ["snowman", "garden"]),
    ("Alice and Bob dancing at the wedding", None, None, ["Alice", "Bob"], ["dancing", "wedding"]),
    ("a dog chasing a frisbee in the park", None, None, [], ["dog", "frisbee"]),
    ("cherry blossoms in Japan last spring", "2026-03-01..2026-06-21", ("JP", "country"), [], ["cherry blossoms"]),
    ("my friend surfing at the beach in 2018", Y2018, None, [], ["surfing", "beach"]),
    ("the old car we had in the 90s", "1990-01-01..1999-12-31", None, [], ["car"]),
    ("Bob with a huge pumpkin on Halloween", "2026-10-31..2026-10-31", None, ["Bob"], ["pumpkin"]),
    ("sunset over the sea in Greece, summer 2023", "2023-06-01..2023-09-22", ("GR", "country"), [], ["sunset", "sea"]),
    ("a plate of pasta in Rome last year", "2025-01-01..2025-12-31", ("IT", "city"), [], ["pasta"]),
    ("Grandma Rose in her kitchen baking bread", None, None, ["Grandma Rose"], ["kitchen", "bread"]),
    ("a tram in Lisbon", None, ("PT", "city"), [], ["tram"]),
    ("the museum in Amsterdam with the big painting, October 2020", "2020-10-01..2020-10-31", ("NL", "city"), [],
     ["museum", "painting"]),
    ("kids building a snow fort last winter", "2025-12-01..2026-03-20", None, [], ["snow fort"]),
    ("Alice holding a baby goat at the farm", None, None, ["Alice"], ["goat", "farm"]),
    ("castle on a hill in Scotland", None, ("GB", "region"), [], ["castle", "hill"]),
    ("us at the Brandenburg gate in Berlin two years ago", TWO_YEARS_AGO, ("DE", "city"), [], ["brandenburg gate"]),
    ("a red umbrella in the rain", None, None, [], ["umbrella", "rain"]),
    ("Bob grilling sausages at the barbecue last summer", LAST_SUMMER, None, ["Bob"], ["sausages", "barbecue"]),
    ("the temple with the orange gates in Kyoto", None, ("JP", "city"), [], ["temple", "gates"]),
    ("my brother's graduation in 2018", Y2018, None, [], ["graduation"]),
    ("pancakes for breakfast yesterday", "2026-11-21..2026-11-21", None, [], ["pancakes"]),
    ("a bridge over the river in Prague at dawn", None, ("CZ", "city"), [], ["bridge", "river"]),
    ("Alice on a camel in the desert", None, None, ["Alice"], ["camel", "desert"]),
    ("the lighthouse at the beach, Christmas 2019", XMAS_2019, None, [], ["lighthouse"]),
    ("hiking in the mountains in Bavaria last summer", LAST_SUMMER, ("DE", "region"), [], ["hiking", "mountains"]),
    ("Grandma Rose and Bob playing cards", None, None, ["Grandma Rose", "Bob"], ["cards"]),
    ("a cappuccino with latte art in Italy", None, ("IT", "country"), [], ["cappuccino"]),
    ("the fountain in Rome where we threw coins, 2018", Y2018, ("IT", "city"), [], ["fountain", "coins"]),
    ("our tent by the lake in March", MARCH, None, [], ["tent", "lake"]),
    ("Bob on skis in Iceland", None, ("IS", "country"), ["Bob"], ["skis"]),
    ("a giant teddy bear at the fair two years ago", TWO_YEARS_AGO, None, [], ["teddy bear", "fair"]),
    ("paella on the table in Barcelona", None, ("ES", "city"), [], ["paella"]),
    ("the flooded street last month", "2026-10-01..2026-10-31", None, [], ["flooded street"]),
    ("Alice reading on a balcony in Paris", None, ("FR", "city"), ["Alice"], ["reading", "balcony"]),
    ("a double decker bus in London, spring 2022", "2022-03-01..2022-06-21", ("GB", "city"), [], ["bus"]),
    ("fish market in Tokyo early in the morning", None, ("JP", "city"), [], ["fish market"]),
    ("the sunflower field in Tuscany", None, ("IT", "region"), [], ["sunflower"]),
    ("Grandma Rose's 80th birthday party, three weeks ago", "2026-10-26..2026-11-01", None, ["Grandma Rose"],
     ["birthday"]),
    ("a hot air balloon over the fields a few years ago", "2022-01-01..2024-12-31", None, [], ["hot air balloon"]),
    ("the view from the cable car, not the foggy one", None, None, [], ["cable car"]),
    ("opera house in Vienna at night", None, ("AT", "city"), [], ["opera house"]),
    ("Easter egg hunt in the backyard", "2026-04-03..2026-04-06", None, [], ["egg hunt"]),
    ("Bob and Alice at the top of the tower in Paris in March", MARCH, ("FR", "city"), ["Alice", "Bob"], ["tower"]),
    ("a black cat on the windowsill", None, None, [], ["cat", "windowsill"]),
    ("pool party at the hotel in Spain last summer", LAST_SUMMER, ("ES", "country"), [], ["pool party"]),
    ("Alice with her new bike the weekend before last", WEEKEND_BEFORE_LAST, None, ["Alice"], ["bike"]),
    ("palm trees in California, early 2017", "2017-01-01..2017-04-30", ("US", "region"), [], ["palm trees"]),
    ("new year's eve fireworks 2021", None, None, [], ["fireworks"]),
    ("a selfie at the beach with no people in the background", None, None, [], ["selfie", "beach"]),
    ("train station in Berlin in 2018", Y2018, ("DE", "city"), [], ["train station"]),
    ("the street food stall near Arezzo last summer", LAST_SUMMER, ("IT", "city"), [], ["street food"]),
    ("Grandma Rose feeding ducks at the pond two years ago", TWO_YEARS_AGO, None, ["Grandma Rose"], ["ducks", "pond"]),
    ("a rainbow over the valley", None, None, [], ["rainbow", "valley"]),
]

# Vague times, as tools/dates/date_phrases.py documents them (now: Sunday 2026-11-22).
A_WHILE_AGO = "2023-11-22..2026-10-22"  # three years to one month before today
AGES_AGO = "1800-01-01..2024-11-22"  # anything up to two years before today
BACK_IN_THE_DAY = "1800-01-01..2021-11-22"  # anything up to five years before today
RECENTLY = "2026-08-22..2026-11-22"  # the past three months
OTHER_DAY = "2026-11-08..2026-11-21"  # the two weeks before today
OTHER_WEEK = "2026-10-25..2026-11-15"  # 7 to 28 days before today
OTHER_SUMMER = "2025-06-01..2026-09-22"  # the last two summers that have ended
COUPLE_OF_YEARS = "2023-01-01..2025-12-31"  # 1-3 calendar years back

SPOKEN: list[Case] = [
    # fillers ("like" the verb and "kind of dog" the content stay)
    ("uh so it was like, a dog on the beach, you know, in Italy", None, ("IT", "country"), [], ["dog", "beach"]),
    ("um, Alice, like, blowing out candles, kind of blurry", None, None, ["Alice"], ["candles", "blurry"]),
    ("I mean, it was basically a picnic in Tokyo, so yeah", None, ("JP", "city"), [], ["picnic"]),
    ("you know that photo of Bob, sort of laughing, at the lake", None, None, ["Bob"], ["laughing", "lake"]),
    ("the, uh, the dogs like water one, at the beach in, um, Berlin", None, ("DE", "city"), [],
     ["dogs like water", "beach"]),
    ("some kind of dog, like, a big fluffy one, in the snow", None, None, [], ["kind of dog", "fluffy", "snow"]),
    ("erm, Grandma Rose in the garden, kind of, last summer I think", LAST_SUMMER, None, ["Grandma Rose"],
     ["garden"]),
    ("basically just, like, fireworks over the river, in Paris, yeah", None, ("FR", "city"), [],
     ["fireworks", "river"]),
    ("hmm, what was it, a red umbrella in the rain, I guess", None, None, [], ["red umbrella", "rain"]),
    ("you know, the one with the, um, the sandcastle, a while back", A_WHILE_AGO, None, [], ["sandcastle"]),
    # self-corrections: the corrected value wins, the discarded one leaves the query
    ("the red, no, the orange umbrella at the beach", None, None, [], ["orange umbrella", "beach"]),
    ("me and Bob in Berlin, wait, Hamburg, at the harbour", None, ("DE", "city", "Hamburg"), ["Bob"], ["harbour"]),
    ("a birthday cake with Alice in 2019, no, 2018", Y2018, None, ["Alice"], ["birthday cake"]),
    ("with Alice, sorry, with Bob at the fair", None, None, ["Bob"], ["fair"]),
    ("at the beach, I mean the lake, with the kids", None, None, [], ["lake", "kids"]),
    ("Christmas 2019, no, 2018, the tree with all the lights", "2018-12-24..2018-12-26", None, [], ["tree", "lights"]),
    ("in Tokyo, no, Kyoto, the temple with the orange gates", None, ("JP", "city", "Kyoto"), [], ["temple", "gates"]),
    ("a black cat, no, a grey one, on the windowsill", None, None, [], ["grey cat", "windowsill"]),
    ("Alice on a camel, or rather a horse, in the desert", None, None, ["Alice"], ["horse", "desert"]),
    ("in March, no, April, the cherry blossoms", "2026-04-01..2026-04-30", None, [], ["cherry blossoms"]),
    ("near Arezzo, sorry, near Florence, the vineyard", None, ("IT", "city", "Florence"), [], ["vineyard"]),
    ("two dogs, no wait, three dogs in the park", None, None, [], ["three dogs", "park"]),
    ("Bob, I mean Alice, on the balcony in Paris", None, ("FR", "city"), ["Alice"], ["balcony"]),
    ("sunset in Greece, actually, no, in Spain", None, ("ES", "country"), [], ["sunset"]),
    ("the blue, sorry, the green tent by the river", None, None, [], ["green tent", "river"]),
    ("uh, the other day, no, yesterday, pancakes for breakfast", "2026-11-21..2026-11-21", None, [], ["pancakes"]),
    ("us at a concert ages ago, I mean the nineties", "1990-01-01..1999-12-31", None, [], ["concert"]),
    # vague times
    ("a while back, a picnic with Alice in the park", A_WHILE_AGO, None, ["Alice"], ["picnic", "park"]),
    ("ages ago, us building a snowman", AGES_AGO, None, [], ["snowman"]),
    ("the other summer, at the beach in Italy", OTHER_SUMMER, ("IT", "country"), [], ["beach"]),
    ("a couple of years ago, Bob with a big fish", COUPLE_OF_YEARS, None, ["Bob"], ["fish"]),
    ("back in the day, the old car in front of the house", BACK_IN_THE_DAY, None, [], ["old car", "house"]),
    ("recently, uh, a cappuccino with latte art", RECENTLY, None, [], ["cappuccino"]),
    ("the other day, the kids jumping in the puddles", OTHER_DAY, None, [], ["kids", "puddles"]),
    ("um, a while ago, like, fireworks in Tokyo", A_WHILE_AGO, ("JP", "city"), [], ["fireworks"]),
    ("Grandma Rose at her birthday party the other week", OTHER_WEEK, None, ["Grandma Rose"], ["birthday party"]),
    ("recently in, uh, in Berlin, a tram at night", RECENTLY, ("DE", "city"), [], ["tram"]),
    # not dates, though they look like them
    ("when I was in Berlin, the TV tower at night", None, ("DE", "city"), [], ["tower"]),
    ("may I see the, uh, march downtown in Paris", None, ("FR", "city"), [], ["march downtown"]),
]
# Words that must not be in ``visual`` (fillers, and what a self-correction discarded).
DISCARDED: dict[str, list[str]] = {
    "uh so it was like, a dog on the beach, you know, in Italy": ["uh", "so", "like", "know"],
    "um, Alice, like, blowing out candles, kind of blurry": ["um", "like", "kind"],
    "I mean, it was basically a picnic in Tokyo, so yeah": ["mean", "basically", "yeah"],
    "you know that photo of Bob, sort of laughing, at the lake": ["know", "sort"],
    "the, uh, the dogs like water one, at the beach in, um, Berlin": ["uh", "um"],
    "some kind of dog, like, a big fluffy one, in the snow": ["like"],
    "erm, Grandma Rose in the garden, kind of, last summer I think": ["erm", "kind"],
    "basically just, like, fireworks over the river, in Paris, yeah": ["basically", "like", "yeah"],
    "hmm, what was it, a red umbrella in the rain, I guess": ["hmm", "guess"],
    "you know, the one with the, um, the sandcastle, a while back": ["know", "um", "while"],
    "the red, no, the orange umbrella at the beach": ["red", "no"],
    "me and Bob in Berlin, wait, Hamburg, at the harbour": ["wait", "berlin", "hamburg"],
    "a birthday cake with Alice in 2019, no, 2018": ["2019", "no"],
    "with Alice, sorry, with Bob at the fair": ["alice", "sorry"],
    "at the beach, I mean the lake, with the kids": ["beach", "mean"],
    "Christmas 2019, no, 2018, the tree with all the lights": ["2019", "no"],
    "in Tokyo, no, Kyoto, the temple with the orange gates": ["tokyo", "kyoto"],
    "a black cat, no, a grey one, on the windowsill": ["black"],
    "Alice on a camel, or rather a horse, in the desert": ["camel", "rather"],
    "in March, no, April, the cherry blossoms": ["march", "april"],
    "near Arezzo, sorry, near Florence, the vineyard": ["arezzo", "sorry"],
    "two dogs, no wait, three dogs in the park": ["two", "wait"],
    "Bob, I mean Alice, on the balcony in Paris": ["bob", "mean"],
    "sunset in Greece, actually, no, in Spain": ["greece", "actually"],
    "the blue, sorry, the green tent by the river": ["blue", "sorry"],
    "uh, the other day, no, yesterday, pancakes for breakfast": ["other", "day", "yesterday"],
    "us at a concert ages ago, I mean the nineties": ["ages", "nineties"],
    "um, a while ago, like, fireworks in Tokyo": ["um", "while", "like"],
    "recently in, uh, in Berlin, a tram at night": ["uh", "recently"],
    "a while back, a picnic with Alice in the park": ["while", "back"],
    "ages ago, us building a snowman": ["ages", "ago"],
    "the other summer, at the beach in Italy": ["other", "summer"],
    "a couple of years ago, Bob with a big fish": ["couple", "years"],
    "back in the day, the old car in front of the house": ["back", "day"],
    "recently, uh, a cappuccino with latte art": ["recently", "uh"],
    "the other day, the kids jumping in the puddles": ["other", "day"],
    "Grandma Rose at her birthday party the other week": ["other", "week"],
    "may I see the, uh, march downtown in Paris": ["uh"],
}
CASES: list[Case] = WRITTEN + SPOKEN
GROUP = {case[0]: "spoken" for case in SPOKEN} | {case[0]: "written" for case in WRITTEN}
GROUPS = ("written", "spoken")
# "new year's eve fireworks 2021": the year alone follows the holiday, so which range is right is
# ambiguous (Dec 31 2021 - Jan 1 2022, or 2021); scored on place / people / visual only.
UNSCORED_DATE = {"new year's eve fireworks 2021"}

FIELDS = ("date", "place", "people", "visual")

# (text with ten photos on screen, expected tool, expected photo number or None)
TOOL_CASES: list[tuple[str, str, int | None]] = [
    ("show me more like the third one", "similar_to", 3),
    ("the second one is almost it, find more like that", "similar_to", 2),
    ("more like number 5", "similar_to", 5),
    ("when was number 4 taken?", "photo_details", 4),
    ("tell me more about the first photo", "photo_details", 1),
    ("where was #7 taken", "photo_details", 7),
    ("details of 2 please", "photo_details", 2),
    ("who do you know?", "list_people", None),
    ("which people are in my photos", "list_people", None),
    ("list the people you found", "list_people", None),
    ("a dog on the beach", "search_photos", None),
    ("it was at night, with fireworks", "search_photos", None),
    ("no, it was Alice in Berlin", "search_photos", None),
    ("the one with the red umbrella", "search_photos", None),
    # spoken
    ("uh, more like number 5, you know", "similar_to", 5),
    ("um, so, like, tell me more about the second one", "photo_details", 2),
    ("so yeah, like, who do you know?", "list_people", None),
    ("dogs like water, at the lake", "search_photos", None),
]


def _range(plan) -> str | None:
    r = plan.date_range
    return f"{r.start.date()}..{r.end.date()}" if r else None


def _place_ok(plan, place) -> bool:
    if not place or plan.place is None:
        return not place and plan.place is None
    return ((plan.place.country_code, plan.place.kind) == tuple(place[:2])
            and (len(place) < 3 or plan.place.label.casefold().startswith(place[2].casefold())))


def score(plan, case) -> dict[str, bool | None]:
    text, date, place, people, words = case
    visual = (plan.visual or "").casefold()
    visual_words = set(re.findall(r"[\w']+", visual))
    return {
        "date": None if text in UNSCORED_DATE else _range(plan) == date,
        "place": _place_ok(plan, place),
        "people": sorted(plan.people) == sorted(people),
        "visual": (all(w.casefold() in visual for w in words)
                   and not any(w.casefold() in visual_words for w in DISCARDED.get(text, []))),
    }


def _accuracy(rows: list[dict]) -> tuple[dict, float | None]:
    accuracy = {}
    for field in FIELDS:
        marks = [r["ok"][field] for r in rows if r["ok"][field] is not None]
        accuracy[field] = rounded(sum(marks) / len(marks), 3) if marks else None
    all_ok = [all(v is not False for v in r["ok"].values()) for r in rows]
    return accuracy, (rounded(sum(all_ok) / len(all_ok), 3) if all_ok else None)


def run_planner(name: str, plan_fn, cases) -> dict:
    rows, seconds, paths = [], [], {}
    for i, case in enumerate(cases, 1):
        started = time.perf_counter()
        plan, path = plan_fn(case[0])
        seconds.append(time.perf_counter() - started)
        paths[path] = paths.get(path, 0) + 1
        marks = score(plan, case)
        rows.append({"text": case[0], "group": GROUP.get(case[0], "written"), "path": path, "ok": marks,
                     "seconds": rounded(seconds[-1], 3),
                     "plan": plan.model_dump(mode="json", include={"visual", "date_phrase", "place_phrase", "people",
                                                                    "exclude"}),
                     "date": _range(plan), "place": plan.place.label if plan.place else None})
        if name != "rules" and (i % 10 == 0 or i == len(cases)):
            log(f"  [{name}] {i}/{len(cases)} (median {median(seconds):.2f}s/plan)")
    accuracy, all_fields = _accuracy(rows)
    groups = {}
    for group in GROUPS:
        picked = [r for r in rows if r["group"] == group]
        if picked:
            group_accuracy, group_all = _accuracy(picked)
            groups[group] = {"cases": len(picked), "accuracy": group_accuracy, "all_fields": group_all}
    return {"planner": name, "cases": len(rows), "accuracy": accuracy, "all_fields": all_fields, "groups": groups,
            "median_s": rounded(median(seconds), 4), "max_s": rounded(max(seconds), 4) if seconds else None,
            "paths": paths, "failures": [r for r in rows if not all(v is not False for v in r["ok"].values())],
            "rows": rows}


def run_tool_choice(name: str, act_fn) -> dict:
    """How often the planner picks the expected tool (and photo number) with ten photos shown."""
    rows = []
    for text, tool, photo in TOOL_CASES:
        action, path = act_fn(text)
        got_tool = getattr(action, "tool", "search_photos")  # a Plan is a search
        got_photo = getattr(action, "photo", None)
        rows.append({"text": text, "expected": [tool, photo], "got": [got_tool, got_photo], "path": path,
                     "ok": got_tool == tool and got_photo == photo})
    right = sum(r["ok"] for r in rows)
    return {"planner": name, "cases": len(rows), "accuracy": rounded(right / len(rows), 3),
            "failures": [r for r in rows if not r["ok"]]}


def rules_tool_choice(text: str):
    """What the agent does with these words without an LLM (see the module docstring)."""
    from agent.feedback import parse_feedback
    from agent.plan import rule_action, rule_tool_call
    from agent.spoken import tidy_spoken
    from tools.query.toolbox import SimilarTo

    text = tidy_spoken(text, NOW)  # as agent.dialogue does first
    asked = rule_tool_call(text, 10)
    if asked is not None:
        return asked, "rules"
    feedback = parse_feedback(text, 10)
    if feedback.liked and not feedback.rejected:
        return SimilarTo(photo=feedback.liked[0]), "feedback"
    return rule_action(text, context(shown=10)), "rules"


def context(shown: int = 0):
    from agent.plan import PlanContext

    return PlanContext(now=NOW, names=NAMES, places=PLACES, shown=shown)


def main(argv: list[str] | None = None) -> int:
    from agent.plan import rule_plan
    from tools.models.llm_setup import LLMS

    cache = Path(os.environ.get("RECALL_TEST_MODELS", Path.home() / ".cache" / "photo-recall" / "models"))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--llm", dest="llm", action="store_true", default=None,
                        help="run the LLM planner too (default: when the GGUF is cached)")
    parser.add_argument("--no-llm", dest="llm", action="store_false")
    parser.add_argument("--llm-size", default="0.5b", choices=sorted(LLMS))
    parser.add_argument("--models-dir", type=Path, default=cache)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--limit", type=int, default=0, help="only the first N cases for the LLM planner")
    parser.add_argument("--group", choices=GROUPS, help="only this group's cases for the LLM planner")
    parser.add_argument("--out", type=Path, default=REPORTS / "planner.json")
    args = parser.parse_args(argv)

    gguf = args.models_dir / "llm" / LLMS[args.llm_size].filename
    use_llm = gguf.is_file() if args.llm is None else args.llm
    results = [run_planner("rules", lambda t: (rule_plan(t, NOW, NAMES, PLACES), "rules"), CASES)]
    tool_results = [run_tool_choice("rules", rules_tool_choice)]
    if use_llm:
        from agent.llm_planner import llm_action, llm_plan
        from tools.models.llm import LocalLLM

        llm = LocalLLM(gguf, threads=args.threads)
        started = time.perf_counter()
        llm.load()
        load_s = time.perf_counter() - started
        cases = [c for c in CASES if not args.group or GROUP[c[0]] == args.group]
        cases = cases[:args.limit] if args.limit else cases
        if args.limit:  # the rules on the same subset, for a like-for-like comparison
            results.append(run_planner(f"rules (first {args.limit})",
                                       lambda t: (rule_plan(t, NOW, NAMES, PLACES), "rules"), cases))
        llm_result = run_planner(f"llm {args.llm_size}", lambda t: llm_plan(llm, t, context()), cases)
        llm_result["load_s"] = rounded(load_s, 3)
        llm_result["threads"] = args.threads
        results.append(llm_result)
        tool_results.append(run_tool_choice(f"llm {args.llm_size}", lambda t: llm_action(llm, t, context(shown=10))))

    headers = ["planner", "group", "cases", *FIELDS, "all fields", "median s", "paths"]
    lines = []
    for r in results:
        lines.append([r["planner"], "all", r["cases"], *(r["accuracy"][f] for f in FIELDS), r["all_fields"],
                      r["median_s"], ", ".join(f"{k}={v}" for k, v in r["paths"].items())])
        for group, g in r["groups"].items():
            lines.append(["", group, g["cases"], *(g["accuracy"][f] for f in FIELDS), g["all_fields"], "", ""])
    print(table(headers, lines))
    for r in results:
        for row in r["failures"]:
            bad = ",".join(k for k, v in row["ok"].items() if v is False)
            log(f"  [{r['planner']}] {row['group']:<7} {bad:<20} {row['text']!r} -> {row['plan']} "
                f"date={row['date']} place={row['place']}")
    print()
    print(table(["planner", "tool cases", "right tool"], [[r["planner"], r["cases"], r["accuracy"]] for r in tool_results]))
    for r in tool_results:
        for row in r["failures"]:
            log(f"  [{r['planner']}] {row['text']!r}: expected {row['expected']}, got {row['got']} ({row['path']})")
    write_report(args.out, {"now": NOW.isoformat(), "names": NAMES, "places": PLACES, "machine": machine_facts(),
                            "results": results, "tool_choice": tool_results})
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
