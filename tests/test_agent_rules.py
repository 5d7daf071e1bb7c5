"""The agent's rules without an index: plans from sentences, dialogue state, feedback, Rocchio."""
from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pytest

from agent.feedback import Feedback, parse_feedback, positions_to_ids, rocchio, shifted_range
from agent.plan import Plan, plan_to_query, rule_plan
from agent.state import DialogueState, Turn, load_state, save_state, session_path

NOW = datetime(2026, 11, 22, 12, 0)
NAMES = ["Alice", "Bob"]

# sentence, date range (first, last day) or None, (place kind, country code, label start) or None,
# people, exclusions, words the visual phrase must contain, words it must not contain
PLANS = [
    ("uh, my friend jumping at that dim concert last summer, Berlin I think",
     (date(2026, 6, 1), date(2026, 9, 22)), ("city", "DE", "Berlin"), [], [], ["friend jumping", "dim concert"],
     ["uh", "Berlin", "think", "summer", "that"]),
    ("dog on the beach in Italy", None, ("country", "IT", "Italy"), [], [], ["dog on the beach"], ["Italy"]),
    ("Alice at the beach, not crowded", None, None, ["Alice"], ["crowded"], ["beach"], ["Alice", "crowded"]),
    ("photo of a red car in Paris 2019", (date(2019, 1, 1), date(2019, 12, 31)), ("city", "FR", "Paris"), [], [],
     ["red car"], ["photo", "Paris", "2019"]),
    ("the one with the cake at Christmas 2019", (date(2019, 12, 24), date(2019, 12, 26)), None, [], [],
     ["cake"], ["one with", "Christmas"]),
    ("sunset near Arezzo", None, ("city", "IT", "Arezzo"), [], [], ["sunset"], ["Arezzo", "near"]),
    ("Bob and alice hiking two years ago", (date(2024, 1, 1), date(2024, 12, 31)), None, ["Alice", "Bob"], [],
     ["hiking"], ["Bob", "alice", "years"]),
    ("kids in the snow without hats", None, None, [], ["hats"], ["kids in the snow"], ["hats"]),
    ("I remember a picture of my sister at the lake", None, None, [], [], ["my sister at the lake"],
     ["remember", "picture"]),
    ("breakfast in Rome in March", (date(2026, 3, 1), date(2026, 3, 31)), ("city", "IT", "Rome"), [], [],
     ["breakfast"], ["Rome", "March"]),
    ("um the dog, in finland I think", None, ("country", "FI", "Finland"), [], [], ["dog"], ["finland", "um"]),
    ("a concert at the park", None, None, [], [], ["concert at the park"], []),  # "Park" the town is not meant
    ("Beach party at night", None, None, [], [], ["Beach party at night"], []),  # nor "Beach, ND"
    ("lunch with Carol in Tuscany", None, ("region", "IT", "Tuscany"), [], [], ["lunch"], ["Carol", "Tuscany"]),
    ("my sister at the beach", None, None, [], [], ["my sister at the beach"], []),  # "my sister" is no name
]


@pytest.mark.parametrize("sentence,dates,place,people,exclude,has,lacks", PLANS, ids=[p[0][:30] for p in PLANS])
def test_rule_plan(sentence, dates, place, people, exclude, has, lacks):
    plan = rule_plan(sentence, NOW, NAMES, [])
    if dates is None:
        assert plan.date_range is None
    else:
        assert (plan.date_range.start.date(), plan.date_range.end.date()) == dates
    if place is None:
        assert plan.place is None, plan.place
    else:
        assert (plan.place.kind, plan.place.country_code) == place[:2] and plan.place.label.startswith(place[2])
    assert sorted(plan.people) == people and plan.exclude == exclude
    for words in has:
        assert words in plan.visual, plan.visual
    for words in lacks:
        assert words.lower() not in plan.visual.lower().split() and words not in plan.visual, plan.visual


def test_unknown_places_and_people_are_reported():
    plan = rule_plan("street food in Xyzzyville with Carol", NOW, NAMES, [])
    assert plan.place is None and plan.visual == "street food Xyzzyville"  # words lost nothing
    assert any("Xyzzyville" in u for u in plan.unknown) and any("Carol" in u for u in plan.unknown)


def test_library_places_make_lowercase_cities_count():
    library = [{"city": "Arezzo", "region": "Tuscany", "subregion": "", "country_code": "IT", "country": "Italy"}]
    assert rule_plan("lunch in arezzo", NOW, [], []).place is None  # a lowercase town: too weak alone
    plan = rule_plan("lunch in arezzo", NOW, [], library)
    assert plan.place is not None and plan.place.label.startswith("Arezzo") and plan.visual == "lunch"


def test_plan_to_query_carries_every_filter():
    plan = rule_plan("Alice hiking near Arezzo last summer", NOW, NAMES, [], name_ids={"alice": "p7"})
    query = plan_to_query(plan, k=15)
    assert query.text == "hiking" and query.k == 15 and query.people == ["p7"]
    assert query.date_from == datetime(2026, 6, 1) and query.date_to.date() == date(2026, 9, 22)
    assert query.place is not None and query.place.country_code == "IT"
    empty = plan_to_query(Plan(visual="a dog"))
    assert empty.text == "a dog" and not empty.has_filters()


def test_state_merges_turns_and_round_trips(tmp_path):
    state = DialogueState()
    state.merge(rule_plan("my friend jumping at a concert last summer", NOW, NAMES, []))
    state.merge(rule_plan("it was at night, in Berlin", NOW, NAMES, []))
    state.merge(rule_plan("with Alice", NOW, NAMES, []))
    assert "night" in state.plan.visual and "concert" in state.plan.visual
    assert state.plan.required_tags == ["night"] and state.plan.people == ["Alice"]
    assert state.plan.place.label.startswith("Berlin") and state.plan.date_phrase == "last summer"
    state.merge(rule_plan("actually it was 2019", NOW, NAMES, []))
    assert state.plan.date_range.start == datetime(2019, 1, 1)
    # a place named but not found drops Berlin rather than keep it against the person's words
    state.merge(rule_plan("no, it was at the Xyzzy Hall", NOW, NAMES, []))
    assert state.plan.place is None and state.plan.place_phrase == "the Xyzzy Hall"
    assert "Xyzzy Hall" in state.plan.visual
    state.merge(rule_plan("it was in Berlin after all", NOW, NAMES, []))
    assert state.plan.place.label.startswith("Berlin")
    state.turns.append(Turn(user="a concert", agent="Here are 3", shown=["a", "b", "c"]))
    state.like(["b"])
    state.reject(["a"])
    state.answers["country"] = "Germany"
    path = save_state(state, tmp_path / "sessions", "../my session!")
    assert path.parent == tmp_path / "sessions" and path.name == "my-session.json"
    loaded, notice = load_state(tmp_path / "sessions", "../my session!")
    assert notice is None and loaded == state and loaded.last_shown == ["a", "b", "c"]


def test_corrupt_or_missing_session_starts_fresh(tmp_path):
    fresh, notice = load_state(tmp_path, "nobody")
    assert fresh == DialogueState() and notice is None
    session_path(tmp_path, "bad").write_text("{not json")
    state, notice = load_state(tmp_path, "bad")
    assert state == DialogueState() and "starting fresh" in notice
    session_path(tmp_path, "wrong").write_text('{"liked": "not a list"}')
    state, notice = load_state(tmp_path, "wrong")
    assert state == DialogueState() and notice


FEEDBACK = [
    ("#3 is close", Feedback(liked=[3])),
    ("3 is close", Feedback(liked=[3])),
    ("like 3", Feedback(liked=[3])),
    ("not 1 or 2", Feedback(rejected=[1, 2])),
    ("not #1, #2", Feedback(rejected=[1, 2])),
    ("none of these", Feedback(reject_all=True)),
    ("more like 4 but at night", Feedback(liked=[4], extra_visual="at night")),
    ("it was earlier than that", Feedback(date_shift="earlier")),
    ("later", Feedback(date_shift="later")),
    ("#2 is close but not 1", Feedback(liked=[2], rejected=[1])),
    ("no, 2 and 5 are wrong", Feedback(rejected=[2, 5])),
    ("like 42", Feedback()),  # only 10 were shown
]


@pytest.mark.parametrize("text,expected", FEEDBACK, ids=[f[0] for f in FEEDBACK])
def test_parse_feedback(text, expected):
    assert parse_feedback(text, shown_count=10) == expected


def test_positions_and_date_shifts():
    assert positions_to_ids([1, 3, 9], ["a", "b", "c"]) == ["a", "c"]
    shown = [datetime(2019, 7, 1), None, datetime(2020, 3, 5)]
    earlier = shifted_range("earlier", shown, None)
    assert earlier.end < datetime(2019, 7, 1) and earlier.start.year == 1800
    later = shifted_range("later", shown, None)
    assert later.start > datetime(2020, 3, 5)
    assert shifted_range("later", [None], None) is None


def test_rocchio_moves_towards_liked_and_away_from_rejected():
    q, liked, rejected = np.array([1.0, 0, 0]), [np.array([0, 2.0, 0])], [np.array([0, 0, 5.0])]
    moved = rocchio(q, liked, rejected)
    expected = np.array([1.0, 0.75, -0.25])
    assert np.allclose(moved, expected / np.linalg.norm(expected))
    assert np.isclose(np.linalg.norm(moved), 1.0)
    assert np.allclose(rocchio(q, [], []), q)
    only_liked = rocchio(np.zeros(3), liked, [])  # no words: the liked photo alone
    assert np.allclose(only_liked, [0, 1, 0])


@pytest.mark.parametrize("text, label, visual", [
    # the period of "St.", "Mt.", "Ft." is inside the name, not the end of a sentence
    ("skiing in St. Moritz", "Saint Moritz, Switzerland", "skiing"), ("Mt. Fuji at dawn", "Mount Fuji, Japan", "dawn"),
    ("me on Mt. Fuji", "Mount Fuji, Japan", "me"), ("Ft. Lauderdale beach", "Fort Lauderdale, United States", "beach"),
    # a sentence's own period still ends the name
    ("I was in Berlin. Anna took it", "Berlin, Germany", "I was Anna took it"),
])
def test_abbreviated_names_keep_their_period(text, label, visual):
    plan = rule_plan(text, NOW, NAMES, [])
    assert plan.place is not None and plan.place.label == label and plan.visual == visual, plan
