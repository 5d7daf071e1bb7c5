"""The agent turn by turn (rules planner), as a person scripts it with `recall ask`."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from agent.dialogue import Agent
from agent.state import DialogueState
from evals.library import build_library
from tests.conftest import FLICKR, ROOT
from tests.photos import write_photo
from tests.test_agent_search import FINLAND, ITALY, caption, index

NOW = datetime(2026, 11, 22, 12, 0)


def picnics(make_settings, library) -> Agent:
    """Six captioned picnics in July 2021, alternately in Italy and Finland: a country question."""
    for i in range(6):
        where = ITALY if i % 2 == 0 else FINLAND
        photo = write_photo(library / f"p{i}.jpg", seed=i, gps=where, taken="2021:07:0%d 12:00:00" % (i + 1))
        caption(photo, "a picnic in the park with friends")
    searcher = index(make_settings(), library)
    return Agent(searcher.store, searcher, now=NOW)


def test_question_when_spread_then_the_answer_narrows(make_settings, library):
    agent = picnics(make_settings, library)
    state = DialogueState()
    first = agent.turn(state, "that picnic in the park")
    assert first.question is not None and first.question.attribute == "country"
    assert first.question.text == "Was it in Italy or Finland?" or set(first.question.options) == {"Italy", "Finland"}
    second = agent.turn(state, "Finland")
    assert second.results and all(int(Path(p.path).stem[1:]) % 2 == 1 for p in second.results)
    assert second.question is None or second.question.attribute != "country"


def test_feedback_turns_drop_and_keep_photos(make_settings, tmp_path):
    build_library(tmp_path / "lib", FLICKR, count=30)
    searcher = index(make_settings(), tmp_path / "lib")
    agent = Agent(searcher.store, searcher, now=NOW)
    state = DialogueState()
    first = agent.turn(state, "uh, a dog running through the water I think")
    assert first.results and first.results[0].explanation
    rejected = first.results[0].id
    second = agent.turn(state, "not 1")
    assert rejected in state.rejected and rejected not in [p.id for p in second.results]
    liked = second.results[1].id
    agent.turn(state, "#2 is close")
    assert liked in state.liked and len(state.turns) == 3


@pytest.fixture(scope="module")
def ask_env(tmp_path_factory):
    base = tmp_path_factory.mktemp("ask")
    build_library(base / "lib", FLICKR, count=20)
    env = dict(os.environ, RECALL_DB=str(base / "db"), RECALL_MODELS=str(base / "models"),
               RECALL_SESSIONS_DIR=str(base / "sessions"),
               RECALL_ANALYZE_FACES="false", RECALL_ANALYZE_OBJECTS="false")
    subprocess.run([sys.executable, "-m", "recall", "index", str(base / "lib")], cwd=ROOT, env=env, check=True,
                   capture_output=True, timeout=600)
    return base, env


def sessions_of(base: Path) -> Path:
    """This index's own session folder (sessions are kept per index)."""
    from tools.settings import load_settings

    return load_settings(db=base / "db", sessions_dir=base / "sessions").sessions_path


def ask(env, *args):
    return subprocess.run([sys.executable, "-m", "recall", "ask", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)


def test_recall_ask_continues_a_saved_session(ask_env):
    base, env = ask_env
    first = ask(env, "children playing in a fountain", "--session", "trip", "--json")
    assert first.returncode == 0, first.stderr
    reply = json.loads(first.stdout)
    assert reply["results"] and {"message", "question", "results", "planner", "notices"} <= reply.keys()
    assert reply["results"][0]["why"] and reply["results"][0]["explanation"]
    assert any("no local LLM" in n for n in reply["notices"])  # no GGUF in this models folder
    top = reply["results"][0]["path"]
    second = json.loads(ask(env, "not 1", "--session", "trip", "--json").stdout)
    assert top not in [r["path"] for r in second["results"]]
    saved = json.loads((sessions_of(base) / "trip.json").read_text())
    assert len(saved["turns"]) == 2
    fresh = json.loads(ask(env, "children playing in a fountain", "--session", "trip", "--new", "--json").stdout)
    assert fresh["results"][0]["path"] == top  # --new forgot the rejection


def test_corrupt_session_starts_fresh_with_a_note(ask_env):
    base, env = ask_env
    sessions_of(base).mkdir(parents=True, exist_ok=True)
    (sessions_of(base) / "broken.json").write_text("{ not json")
    result = ask(env, "a dog", "--session", "broken", "--no-llm")
    assert result.returncode == 0 and "starting fresh" in result.stderr and "Traceback" not in result.stderr


def test_without_clip_liking_a_photo_brings_up_photos_captioned_like_it(make_settings, library):
    """No CLIP: "#N is close" pulls in caption-meaning space, and its neighbours join the candidates
    (bike2 shares no word with "a wall" and is below the meaning floor, so only the like finds it)."""
    captions = {"bike1": "a red bicycle leaning against a brick wall",
                "bike2": "an old bike parked next to the garden fence",
                "wall1": "a brick wall covered in graffiti", "wall2": "a stone wall by the sea",
                "wall3": "a wall clock in the kitchen", "cat": "a cat asleep on the sofa"}
    for i, (name, text) in enumerate(captions.items()):
        caption(write_photo(library / f"{name}.jpg", seed=i), text)
    searcher = index(make_settings(analyze_faces=False, analyze_objects=False), library)
    agent = Agent(searcher.store, searcher, now=NOW)
    state = DialogueState()
    first = agent.turn(state, "a wall")
    shown = [Path(p.path).stem for p in first.results]
    assert "bike2" not in shown and shown[-1] == "bike1"  # no word of it, and too far in meaning
    second = agent.turn(state, f"#{shown.index('bike1') + 1} is close")
    ranked = [Path(p.path).stem for p in second.results]
    assert "bike2" in ranked and "feedback" in second.results[ranked.index("bike2")].why
    # Unseen and like the liked one: ahead of the seen photos it is not word-matched with.
    assert ranked.index("bike2") < ranked.index("bike1") and ranked.index("bike2") < ranked.index("wall3")


def test_photo_details_and_people_are_answered_not_searched(make_settings, library):
    for i, (where, text) in enumerate([(ITALY, "a cathedral at dusk"), (FINLAND, "a harbour with boats")]):
        caption(write_photo(library / f"p{i}.jpg", seed=i, gps=where, taken="2021:07:0%d 12:00:00" % (i + 1)), text)
    searcher = index(make_settings(analyze_faces=False, analyze_objects=False), library)
    agent = Agent(searcher.store, searcher, now=NOW)
    state = DialogueState()
    first = agent.turn(state, "a cathedral")
    assert Path(first.results[0].path).name == "p0.jpg"
    details = agent.turn(state, "when was the first one taken?")
    assert "p0.jpg" in details.message and "2021-07-01" in details.message and "Italy" in details.message
    assert state.liked == [] and [p.id for p in details.results] == [p.id for p in first.results]
    people = agent.turn(state, "who do you know?")
    assert "nobody by face" in people.message and people.question is None
    assert agent.turn(state, "details of #9").message.startswith("I found") is False  # 9 is not on screen: a search


def test_a_place_that_matches_nothing_is_dropped_with_a_notice(make_settings, library):
    caption(write_photo(library / "parade.jpg", seed=1), "women dressed in green at a street parade")
    searcher = index(make_settings(analyze_faces=False, analyze_objects=False), library)
    state = DialogueState()
    reply = Agent(searcher.store, searcher, now=NOW).turn(state, "women in green at a parade in Berlin")
    assert [Path(p.path).name for p in reply.results] == ["parade.jpg"]
    assert any("nothing matched in Berlin" in n for n in reply.notices) and state.plan.place is None


def test_who_was_in_it_answered_puts_photos_with_that_many_faces_first(make_settings, library):
    from evals.library import FACES, load_captions
    from evals.dated_copies import dated_copy

    portraits = sorted((FACES / "images").glob("img*.jpg"))[:3]
    captions = load_captions(FLICKR)
    # Flickr photos of a dog alone on grass: no one in them, as every caption says.
    alone = [n for n, texts in captions.items()
             if all("dog" in t.lower() and "grass" in t.lower() for t in texts[:2])
             and not any(w in t.lower().split() for t in texts for w in ("man", "woman", "boy", "girl", "person",
                                                                          "people", "child", "owner"))][:3]
    taken = datetime(2024, 6, 1, 15, 0)
    for n, photo in enumerate([*portraits, *(FLICKR / "images" / a for a in alone)]):
        copy = dated_copy(photo, library / f"{'face' if n < 3 else 'dog'}-{n}.jpg", taken.replace(minute=n))
        caption(copy, "an afternoon in the garden")
    quiet = dict(analyze_objects=False, analyze_captions=False, analyze_colour=False, analyze_scenes=False,
                 analyze_ocr=False)
    settings = make_settings(**quiet)
    searcher = index(settings, library)
    from tools.models.registry import Models
    from tools.understand.analysis import Analyzer

    Analyzer(settings, searcher.store, Models(settings)).run()
    faces = {Path(r.path).stem: r.faces for r in searcher.store.iter_photos()}
    assert all(faces[f"face-{n}"] == 1 for n in range(3)) and all(faces[f"dog-{n}"] == 0 for n in range(3, 6))
    for said, wanted in (("nobody", "dog"), ("just one person", "face")):
        agent, state = Agent(searcher.store, searcher, now=NOW), DialogueState()
        first = agent.turn(state, "an afternoon in the garden")
        assert first.question is not None and first.question.attribute == "faces", first.question
        assert {"nobody", "one person"} <= set(first.question.options)
        second = agent.turn(state, said)
        assert state.plan.faces == said.removeprefix("just ")
        assert [Path(p.path).stem.split("-")[0] for p in second.results[:3]] == [wanted] * 3


def test_no_question_about_a_person_after_a_boy_or_a_woman_was_named():
    from agent.questions import best_question
    from tools.index.records import PhotoRecord

    records = [PhotoRecord(id=f"p{i}", path=f"p{i}.jpg", size=1, mtime_ns=0, tags=["person"] if i % 2 else []) for i in range(4)]
    scores = [0.8, 0.79, 0.78, 0.77]
    assert best_question(records, scores, said="a swing in the park").attribute == "tag:person"
    for said in ("a boy on a swing", "two women on a bench", "a crowd at the beach"):
        question = best_question(records, scores, said=said)
        assert question is None or question.attribute != "tag:person", said


def test_neither_or_dont_know_answers_the_question_and_rejects_no_photo(make_settings, library):
    agent = picnics(make_settings, library)
    for said, answered in (("neither", "neither"), ("none of those", "neither"), ("I don't know", "don't know"),
                           ("not sure.", "don't know")):
        state = DialogueState()
        first = agent.turn(state, "that picnic in the park")
        assert first.question is not None and first.question.attribute == "country"
        second = agent.turn(state, said)
        assert state.answers == {"country": answered}, said
        assert state.rejected == [] and len(second.results) == 6  # "neither" is no "none of these photos"
        assert second.question is None or second.question.attribute != "country"  # not asked again
        assert state.plan.ruled_out == (["country=Italy", "country=Finland"] if answered == "neither" else [])
        assert state.plan.visual == "picnic in the park" or "neither" not in state.plan.visual
