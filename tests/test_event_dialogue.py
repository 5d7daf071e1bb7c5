"""Events in the conversation: "more from that day", "which occasion?", the event filter kept.

A real index (Chroma) of dated copies of real photos (evals/dated_copies.py), in three synthetic
events: two evenings of concerts in Berlin a week apart and a morning in Rome. The Berlin photos
share one caption, so a search for it cannot tell the two evenings apart by words, town or year.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from agent.dialogue import Agent
from agent.llm_planner import make_llm_planner
from agent.plan import Plan, rule_tool_call
from agent.questions import Question, event_answer
from agent.state import DialogueState
from evals.dated_copies import dated_copy
from tests.test_agent_search import caption, index
from tests.test_llm_planner import FakeLLM, extraction
from tests.test_moments import BERLIN, FLICKR_PHOTOS, ROME
from tools.query.toolbox import PhotoDetails, SameEvent, ShowBurst, parse_tool_call, tool_call_schema

NOW = datetime(2026, 11, 22, 12, 0)
EVENTS = {
    "berlin-a": (datetime(2025, 7, 12, 19, 5), BERLIN, [0, 4, 9, 13, 20], "a crowd at a rock concert"),
    "berlin-b": (datetime(2025, 7, 19, 19, 30), BERLIN, [0, 3, 7, 12], "a crowd at a rock concert"),
    "rome": (datetime(2024, 11, 2, 9, 30), ROME, [0, 6, 12, 30, 33, 41], "a fountain in a sunny square"),
}
QUIET = dict(analyze_faces=False, analyze_objects=False, analyze_captions=False, analyze_colour=False,
             analyze_scenes=False, analyze_ocr=False)  # no tag of the pixels splits the candidates


def build(folder: Path) -> None:
    photos = iter(FLICKR_PHOTOS)
    for name, (start, place, minutes, text) in EVENTS.items():
        for n, offset in enumerate(minutes):
            caption(dated_copy(next(photos), folder / f"{name}-{n}.jpg", start + timedelta(minutes=offset), place),
                    text)


def event_of(name: str) -> str:
    return name.rsplit("-", 1)[0]


def names(reply) -> list[str]:
    return [Path(p.path).stem for p in reply.results]


def test_more_from_that_day_shows_the_rest_of_its_event_and_keeps_to_it(make_settings, library):
    build(library)
    searcher = index(make_settings(**QUIET), library)
    agent = Agent(searcher.store, searcher, now=NOW)
    state = DialogueState()
    first = agent.turn(state, "a fountain in a square")
    assert names(first)[0].startswith("rome")
    top = names(first)[0]
    more = agent.turn(state, "more from that day, #1")
    assert sorted(names(more)) == sorted(f"rome-{n}" for n in range(6) if f"rome-{n}" != top)
    assert more.message.startswith("Other photos from Rome, Sat 2 Nov 2024") and more.question is None
    taken = [p.taken_at for p in more.results]
    assert taken == sorted(taken)  # in the order it happened
    assert state.plan.event and state.plan.event_label == "Rome, Sat 2 Nov 2024"
    # The next words search that occasion only: the Berlin concerts match them but are not it.
    then = agent.turn(state, "a crowd")
    assert then.results and all(event_of(n) == "rome" for n in names(then))
    # A new place is another occasion: the event filter goes.
    elsewhere = agent.turn(state, "no, it was in Berlin")
    assert state.plan.event is None and {event_of(n) for n in names(elsewhere)} == {"berlin-a", "berlin-b"}

    # Words the rules do not know: the LLM's same_event call is carried out the same way.
    fake = FakeLLM(extraction(visual="fountain in a square"), {"tool": "same_event", "photo": 1})
    llm_agent, state = Agent(searcher.store, searcher, planner=make_llm_planner(fake), now=NOW), DialogueState()
    top = names(llm_agent.turn(state, "a fountain in a square"))[0]
    reply = llm_agent.turn(state, "what else did I shoot around then?")  # no number: not feedback
    assert reply.planner == "llm"
    assert sorted(names(reply)) == sorted(f"rome-{n}" for n in range(6) if f"rome-{n}" != top)


def test_the_event_question_is_asked_and_its_answer_filters(make_settings, library):
    build(library)
    searcher = index(make_settings(**QUIET), library)
    agent = Agent(searcher.store, searcher, now=NOW)
    for answer, wanted in (("the 19th", "berlin-b"), ("the first one", None)):
        state = DialogueState()
        first = agent.turn(state, "the rock concert in Berlin")
        assert {event_of(n) for n in names(first)} == {"berlin-a", "berlin-b"}
        question = first.question
        assert question is not None and question.attribute == "event", question
        assert sorted(question.options) == ["Berlin, Sat 12 Jul 2025", "Berlin, Sat 19 Jul 2025"]
        assert question.text.startswith("The one in Berlin on Sat 1") and ", or in Berlin on Sat " in question.text
        wanted = wanted or ("berlin-a" if question.options[0].endswith("12 Jul 2025") else "berlin-b")
        second = agent.turn(state, answer)  # by words, then by position (not a like of #1)
        assert state.liked == [] and state.plan.event in question.option_ids
        assert second.results and {event_of(n) for n in names(second)} == {wanted}
        assert second.question is None or second.question.attribute != "event"


def test_event_answers_by_position_or_distinguishing_words():
    question = Question(text="?", attribute="event", options=["Berlin, Sat 12 Jul 2025", "Hamburg, Sat 8 Mar 2025"],
                        option_ids=["ev-a", "ev-b"])
    picks = {text: event_answer(question, text) for text in (
        "2", "the first one", "last", "Hamburg", "the one in March", "Saturday 12 July", "2025", "#1 is close", "3")}
    assert picks == {"2": "ev-b", "the first one": "ev-a", "last": "ev-b", "Hamburg": "ev-b",
                     "the one in March": "ev-b", "Saturday 12 July": "ev-a", "2025": None, "#1 is close": None,
                     "3": None}
    # The chat's choices send the option picked, whole: each picks its own event, also a day
    # without a place beside the same day with one (its words are all in the other's).
    for options in (question.options, ["Sat 12 Jul 2025", "Berlin, Sat 12 Jul 2025", "Berlin, Sun 13 Jul 2025"]):
        asked = Question(text="?", attribute="event", options=options, option_ids=[f"ev-{i}" for i in range(len(options))])
        assert [event_answer(asked, o) for o in options] == asked.option_ids
        assert [event_answer(asked, f" {o.upper()} ") for o in options] == asked.option_ids


def test_same_event_by_rules_and_in_the_llm_schema():
    assert rule_tool_call("other photos from that day", 10) == SameEvent(photo=1)
    assert rule_tool_call("the rest of that trip for the third one", 10) == SameEvent(photo=3)
    assert rule_tool_call("more from that day", 10, that=4) == SameEvent(photo=4)
    assert rule_tool_call("more from that evening #2", 10) == SameEvent(photo=2)
    assert rule_tool_call("more from that day", 0) is None  # nothing on screen to be "that"
    assert rule_tool_call("details of #2", 10) == PhotoDetails(photo=2)
    assert rule_tool_call("a concert that day in 2019", 10) is None
    tools = [v["properties"]["tool"]["const"] for v in tool_call_schema()["anyOf"]]
    assert tools[0] == "search_photos" and "same_event" in tools
    assert parse_tool_call({"tool": "same_event", "photo": 2}) == SameEvent(photo=2)
    # The event filter travels to the search tool.
    from agent.plan import plan_to_query

    assert plan_to_query(Plan(visual="cake").with_event("ev-1", "Rome, Sat 2 Nov 2024")).event == "ev-1"


def test_a_season_or_a_year_misremembered_still_finds_the_occasion_but_a_day_is_a_filter(make_settings, library):
    build(library)
    searcher = index(make_settings(**QUIET), library)
    agent = Agent(searcher.store, searcher, now=NOW)
    # The Rome morning was on 2 Nov 2024: summer 2024 is a season off, 2023 a year off, "three or
    # four years ago" (2022-2023 from NOW) a year off too. People misremember so; the photos stay.
    for when in ("in the summer of 2024", "in 2023", "three or four years ago"):
        state = DialogueState()
        reply = agent.turn(state, f"a fountain in a sunny square, {when}")
        assert state.plan.date_range is not None and state.plan.date_range.end < datetime(2024, 11, 1), when
        assert {event_of(n) for n in names(reply)[:6]} == {"rome"}, (when, names(reply))
        said = state.plan.date_phrase
        assert f"taken 2024-11-02, outside your {said!r} range" in reply.results[0].explanation, when
    # A day is not a memory to widen: nothing from 2 Nov 2023.
    day = agent.turn(DialogueState(), "a fountain in a sunny square on 2 November 2023")
    assert not any(event_of(n) == "rome" for n in names(day))


def test_under_a_place_the_photos_the_words_miss_follow_the_ones_they_find(make_settings, library):
    photos = iter(FLICKR_PHOTOS)
    start = datetime(2024, 11, 2, 9, 30)
    for n, text in enumerate(["a fountain in a sunny square"] + ["two dogs asleep on warm stone steps"] * 4):
        caption(dated_copy(next(photos), library / f"rome-{n}.jpg", start + timedelta(minutes=5 * n), ROME), text)
    for n in range(3):  # the same words elsewhere: the place keeps them out
        caption(dated_copy(next(photos), library / f"berlin-{n}.jpg", datetime(2025, 7, 12, 19, n), BERLIN),
                "a fountain in a sunny square")
    searcher = index(make_settings(**QUIET), library)
    reply = Agent(searcher.store, searcher, now=NOW).turn(DialogueState(), "the fountain in Rome")
    assert names(reply)[0] == "rome-0"
    assert sorted(names(reply)[1:]) == [f"rome-{n}" for n in range(1, 5)]  # the rest of Rome, after it


def test_show_the_burst_and_feedback_on_its_cover_is_about_all_its_frames(make_settings, library):
    from tests.test_moments import make_burst

    frames = make_burst(library, datetime(2024, 6, 1, 12, 0, 0))  # five frames, burst-2 the sharp one
    for name in frames:
        caption(library / name, "a bell tower over the rooftops")
    caption(library / "other.jpg", "a bell tower over the rooftops at noon")
    searcher = index(make_settings(**QUIET), library)
    agent = Agent(searcher.store, searcher, now=NOW)
    state = DialogueState()
    first = agent.turn(state, "a bell tower over the rooftops")
    assert sorted(names(first)) == ["burst-2", "other"]  # the burst once, by its sharpest frame
    cover = names(first).index("burst-2") + 1
    assert rule_tool_call(f"show me all the frames of #{cover}", 2) == ShowBurst(photo=cover)
    burst = agent.turn(state, f"show the burst of #{cover}")
    assert names(burst) == [f"burst-{n}" for n in range(5)]  # every frame, in the order taken
    assert burst.message.startswith(f"The 5 frames of #{cover}'s burst") and burst.question is None
    single = agent.turn(DialogueState(), "a bell tower")
    other = names(single).index("other") + 1
    state = DialogueState()
    agent.turn(state, "a bell tower")
    assert agent.turn(state, f"show the other frames of #{other}").message == f"#{other} is a single photo, not one of a burst."
    # "not" the cover: the burst's other frames do not step in for it.
    state = DialogueState()
    shown = agent.turn(state, "a bell tower over the rooftops")
    after = agent.turn(state, f"not {names(shown).index('burst-2') + 1}")
    assert not any(n.startswith("burst") for n in names(after)), names(after)
    assert sorted(state.rejected) == sorted(searcher.store.get_photos(
        [r.id for r in searcher.store.iter_photos() if r.burst_id]).keys())
