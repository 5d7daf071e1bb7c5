"""The LLM planner on the real 0.5B GGUF (llama.cpp, CPU): extraction, retry / fallback, guards.

The model's free text is asserted on loosely; what code resolves (date ranges, places, known
people) is asserted exactly.  Post-processing is also tested with a scripted fake LLM, so the
guards are checked whatever the real model happens to say.
"""
from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

import pytest

from agent.llm_planner import few_shot_messages, llm_action, llm_plan, system_prompt
from agent.plan import Plan, PlanContext
from tools.models.llm import LLMOutputError, LocalLLM
from tools.models.llm_setup import assemble_llm
from tools.query.toolbox import ListPeople, PhotoDetails, SimilarTo, parse_tool_call, tool_call_schema

CACHE = Path(os.environ.get("RECALL_TEST_MODELS", Path.home() / ".cache" / "photo-recall" / "models"))
THREADS = int(os.environ.get("RECALL_TEST_LLM_THREADS", "1"))
NOW = datetime(2026, 11, 22, 12, 0)
NAMES = ["Alice", "Bob", "Grandma Rose"]
PLACES = [{"city": "Berlin", "region": "Berlin", "country_code": "DE", "country": "Germany"},
          {"city": "Arezzo", "region": "Tuscany", "country_code": "IT", "country": "Italy"}]


@pytest.fixture(scope="module")
def llm() -> LocalLLM:
    import llama_cpp  # noqa: F401  (part of the test environment: missing is a failure)

    return LocalLLM(assemble_llm(CACHE, "0.5b", log=lambda m: print(m, flush=True)), threads=THREADS)


def ctx(shown: int = 0, name_ids: dict[str, str] | None = None, places=PLACES) -> PlanContext:
    return PlanContext(now=NOW, names=NAMES, places=places, name_ids=name_ids or {}, shown=shown)


class FakeLLM:
    """Answers from a script: dicts are returned, exceptions raised; records the calls."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.calls: list[dict] = []

    def complete_json(self, system, messages, schema, max_tokens=256, temperature=0.0):
        self.calls.append({"system": system, "messages": messages, "schema": schema, "max_tokens": max_tokens})
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def extraction(**fields) -> dict:
    base = {"tool": "search_photos", "visual": "", "date_phrase": None, "place_phrase": None, "people": [], "exclude": []}
    return {**base, **fields}


# --------------------------------------------------------------------------- prompts


def test_prompts_load_and_examples_fit_the_schema():
    assert "verbatim" in system_prompt().lower() or "copy" in system_prompt().lower()
    assert "photo_details" in system_prompt() and "{tools}" not in system_prompt()
    shots = few_shot_messages()
    assert 16 <= len(shots) <= 40 and [m["role"] for m in shots[:2]] == ["user", "assistant"]
    tools = {parse_tool_call(json.loads(answer["content"])).tool for answer in shots[1::2]}
    assert tools == {"search_photos", "similar_to", "photo_details", "list_people"}
    search = tool_call_schema()["anyOf"][0]
    assert list(search["properties"]) == ["tool", "visual", "date_phrase", "place_phrase", "people", "exclude"]


# --------------------------------------------------------------------------- the real model


@pytest.mark.parametrize("text, check", [
    ("Alice and my friend jumping at a concert last summer in Berlin", "concert"),
    ("Grandma Rose cutting a cake, Christmas 2019, near Arezzo", "christmas"),
    ("a dog running on the beach two years ago", "beach"),
])
def test_real_model_extracts_a_valid_plan(llm, text, check):
    plan, path = llm_plan(llm, text, ctx())
    print(f"\n{path}: {plan.model_dump(include={'visual', 'date_phrase', 'place_phrase', 'people', 'exclude'})}",
          llm.last_timing)
    assert path == "llm"
    Plan.model_validate(plan.model_dump())
    assert plan.visual and plan.visual.strip() == plan.visual
    if check == "concert":
        assert (str(plan.date_range.start.date()), str(plan.date_range.end.date())) == ("2026-06-01", "2026-09-22")
        assert plan.place.country_code == "DE" and plan.place.kind == "city"
        assert plan.people == ["Alice"]
        assert "concert" in plan.visual.lower() and "berlin" not in plan.visual.lower()
    elif check == "christmas":
        assert (str(plan.date_range.start.date()), str(plan.date_range.end.date())) == ("2019-12-24", "2019-12-26")
        assert plan.place.country_code == "IT" and "Arezzo" in plan.place.label
        assert plan.people == ["Grandma Rose"]
        assert "cake" in plan.visual.lower()
    else:
        assert (str(plan.date_range.start.date()), str(plan.date_range.end.date())) == ("2024-01-01", "2024-12-31")
        assert plan.place is None  # "the beach" is a kind of place, not the US town Beach
        assert plan.people == []
        assert "dog" in plan.visual.lower() and "beach" in plan.visual.lower()


def test_real_model_cut_short_retries_then_falls_back_to_rules(llm):
    """max_tokens=3 cuts the JSON short: LLMOutputError, one retry (also cut), then the rules."""
    plan, path = llm_plan(llm, "a cat on the sofa in Berlin last summer", ctx(), max_tokens=3)
    with pytest.raises(LLMOutputError):  # what llm_plan met, twice
        llm.complete_json(system_prompt(), [*few_shot_messages(), {"role": "user", "content": "a cat"}], tool_call_schema(),
                          max_tokens=3)
    assert path == "rules-fallback"
    assert isinstance(plan, Plan) and plan.place.country_code == "DE"
    assert str(plan.date_range.start.date()) == "2026-06-01" and "cat" in plan.visual


# --------------------------------------------------------------------------- retry / fallback paths


def test_invalid_then_valid_answer_takes_the_retry_path():
    fake = FakeLLM({"visual": 3, "people": "Bob"}, extraction(visual="Bob fishing", people=["Bob"]))
    plan, path = llm_plan(fake, "Bob fishing", ctx())
    assert path == "llm-retry" and plan.people == ["Bob"] and plan.visual == "fishing"
    retry = fake.calls[1]["messages"]
    assert retry[-2]["role"] == "assistant" and retry[-1]["role"] == "user" and "invalid" in retry[-1]["content"]
    assert all(call["max_tokens"] <= 512 for call in fake.calls)


def test_exclusion_needs_a_negation():
    fake = FakeLLM(extraction(visual="asleep on the sofa", people=["Bob"], exclude=["cat"]))
    plan, _ = llm_plan(fake, "Bob asleep on the sofa with the cat", ctx())
    assert plan.exclude == [] and "cat" in plan.visual and "sofa" in plan.visual and plan.people == ["Bob"]


def test_garbage_twice_and_broken_llm_fall_back_to_rules():
    fake = FakeLLM(LLMOutputError('{"vis'), LLMOutputError('{"visual": "a'), extraction(visual="never asked"))
    plan, path = llm_plan(fake, "a dog in Italy", ctx())
    assert path == "rules-fallback" and len(fake.calls) == 2
    assert plan.place.country_code == "IT" and plan.visual == "a dog"
    plan, path = llm_plan(FakeLLM(RuntimeError("llama.cpp crashed")), "a dog", ctx())
    assert path == "rules-fallback" and plan.visual == "a dog"
    assert llm_plan(None, "a dog", ctx())[1] == "rules-fallback"
    assert llm_plan(FakeLLM(), "   ", ctx()) == (Plan(), "rules-fallback")


# --------------------------------------------------------------------------- guards


def test_date_phrase_not_in_the_text_is_replaced():
    fake = FakeLLM(extraction(visual="a picnic", date_phrase="2026-06-01"))
    plan, path = llm_plan(fake, "a picnic last summer", ctx())
    assert path == "llm" and plan.date_phrase == "last summer"
    assert (str(plan.date_range.start.date()), str(plan.date_range.end.date())) == ("2026-06-01", "2026-09-22")
    # No date in the text at all: an invented one is dropped.
    plan, _ = llm_plan(FakeLLM(extraction(visual="a picnic", date_phrase="summer 2025")), "a picnic", ctx(places=[]))
    assert plan.date_phrase is None and plan.date_range is None


def test_place_people_and_exclusion_guards():
    fake = FakeLLM(extraction(visual="my friend at the beach", place_phrase="the beach",
                              people=["Alice", "my friend", "Carol"], exclude=["rain", "snow"]))
    plan, _ = llm_plan(fake, "Alice and my friend at the beach, not in the rain", ctx(name_ids={"Alice": "p1"}))
    assert plan.place is None and plan.place_phrase is None  # the US town "Beach" is not meant
    assert plan.people == ["Alice"] and plan.person_ids == ["p1"]
    assert "my friend" in plan.visual and "beach" in plan.visual
    assert plan.exclude == ["rain"] and "rain" not in plan.visual  # "snow" is not in the text
    # A place phrase not in the text is replaced by the rules' (here: Italy).
    fake = FakeLLM(extraction(visual="olive trees", place_phrase="Rome"))
    plan, _ = llm_plan(fake, "olive trees in italy", ctx())
    assert plan.place.country_code == "IT" and plan.place.kind == "country" and plan.place_phrase == "italy"
    # The LLM's place is used and stripped from visual; names are spelled as known.
    fake = FakeLLM(extraction(visual="grandma rose at the market in Arezzo", place_phrase="near Arezzo",
                              people=["grandma rose"]))
    plan, _ = llm_plan(fake, "grandma rose at the market near Arezzo", ctx())
    assert plan.place.label.startswith("Arezzo") and plan.people == ["Grandma Rose"]
    assert "market" in plan.visual and "arezzo" not in plan.visual.lower() and "rose" not in plan.visual.lower()
    # A single capitalised word at the start is every sentence's first word: a weak town is not meant.
    plan, _ = llm_plan(FakeLLM(extraction(visual="party", place_phrase="Beach")), "Beach party", ctx())
    assert plan.place is None and "beach" in plan.visual.lower()


# --------------------------------------------------------------------------- the other tools


@pytest.mark.parametrize("text, shown, expected", [
    ("when was #4 taken?", 10, PhotoDetails(photo=4)),
    ("who do you know?", 0, ListPeople()),
    ("the third one is nearly it, more like that", 10, SimilarTo(photo=3)),
])
def test_real_model_picks_the_other_tools(llm, text, shown, expected):
    action, path = llm_action(llm, text, ctx(shown=shown))
    print(f"\n{path}: {action!r}", llm.last_timing)
    assert path == "llm" and action == expected


def test_a_photo_number_not_on_screen_is_retried():
    fake = FakeLLM({"tool": "photo_details", "photo": 12}, {"tool": "photo_details", "photo": 2})
    action, path = llm_action(fake, "details of the second one", ctx(shown=10))
    assert (action, path) == (PhotoDetails(photo=2), "llm-retry")
    assert "no photo #12" in fake.calls[1]["messages"][-1]["content"]
    # Twice wrong: the rules' reading of the same words.
    fake = FakeLLM({"tool": "similar_to", "photo": 40}, {"tool": "similar_to", "photo": 40})
    action, path = llm_action(fake, "details of 2", ctx(shown=10))
    assert (action, path) == (PhotoDetails(photo=2), "rules-fallback")
    # llm_plan wants a search: another tool there gives the rules' plan.
    plan, path = llm_plan(FakeLLM({"tool": "list_people"}), "a dog in Italy", ctx())
    assert path == "llm-other-tool" and plan.place.country_code == "IT"


# --------------------------------------------------------------------------- in the agent


def test_agent_shows_rules_results_first_then_the_llm_refines(llm, make_settings, library):
    from agent.dialogue import Agent
    from agent.llm_planner import make_llm_planner
    from agent.state import DialogueState
    from tests.photos import write_photo
    from tests.test_agent_search import ITALY, caption, index

    for i, text in enumerate(["a dog running on the beach", "a cathedral at dusk", "a dog asleep by the fire"]):
        caption(write_photo(library / f"p{i}.jpg", seed=i, gps=ITALY, taken="2026-07-0%d 12:00:00" % (i + 1)), text)
    searcher = index(make_settings(analyze_faces=False, analyze_objects=False), library)
    agent = Agent(searcher.store, searcher, planner=make_llm_planner(llm), now=NOW)
    state, quick = DialogueState(), []
    reply = agent.turn(state, "my dog running on the beach last summer", on_quick=quick.append)
    assert [q.planner for q in quick] == ["rules"] and quick[0].results
    assert reply.planner == "llm" and Path(reply.results[0].path).name == "p0.jpg"
    assert len(state.turns) == 1  # the quick pass ran on a copy of the state
    assert state.plan.date_range.label and "dog" in state.plan.visual
    details = agent.turn(state, "when was the first one taken?")  # caught by the rules: no LLM call
    assert details.planner == "rules" and "2026-07-01" in details.message


# --------------------------------------------------------------------------- question wording


class ScriptedText:
    def __init__(self, answer):
        self.answer = answer

    def complete_text(self, system, messages, max_tokens=128, temperature=0.0):
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def test_real_model_words_a_question_around_the_search(llm):
    from agent.phrasing import acceptable, make_llm_phraser
    from agent.questions import Question

    question = Question(text="Was it in Italy or Finland?", attribute="country", options=["Italy", "Finland"])
    wording = LocalLLM(llm.path, n_ctx=512, threads=THREADS)  # its own context, as recall ask makes it
    text = make_llm_phraser(wording)(question, "picnic in the park with friends")
    print(f"\n{text!r}", wording.last_timing)
    assert text != question.text and acceptable(text, question)
    assert wording.load() is not llm.load()  # the planner's cached prefix stays where it is


def test_a_wording_that_loses_an_option_keeps_the_template():
    from agent.phrasing import make_llm_phraser
    from agent.questions import Question

    question = Question(text="Was it in Italy or Finland?", attribute="country", options=["Italy", "Finland"])
    for answer in ("Where was the picnic?", "Was it in Italy?", "Italy or Finland? Or somewhere else?", "",
                   RuntimeError("llama.cpp crashed")):
        assert make_llm_phraser(ScriptedText(answer))(question, "a picnic") == question.text
    good = "Was the picnic in Italy or in Finland?"
    assert make_llm_phraser(ScriptedText(f' "{good}" '))(question, "a picnic") == good
