"""Places relative to the library: "where we went skiing" is where the library's skiing events were.

One real index of dated, located copies of Flickr8k-test photos (evals/dated_copies.py), each with
one of its own human captions as the person's XMP sidecar caption: skiers in Zermatt (Feb 2023),
a skijoring photo near Chamonix (Mar 2024: its caption has no ski word, only meaning finds it),
children on a beach in Biarritz (Jul 2025) and dogs in Berlin (May 2025).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from agent.plan import plan_to_query, rule_plan
from evals.dated_copies import dated_copy
from tests.conftest import FLICKR, ROOT
from tests.test_agent_search import caption
from tools.index.indexer import Indexer
from tools.index.store import PhotoStore
from tools.models.registry import Models
from tools.places import geo
from tools.places.library_places import LibraryEvents, find_activity_phrase
from tools.query.search import Searcher
from tools.settings import load_settings

NOW = datetime(2025, 10, 1, 12, 0)
ZERMATT, CHAMONIX, BIARRITZ, BERLIN = (46.0207, 7.7491), (45.9237, 6.8694), (43.4832, -1.5586), (52.52, 13.405)
# event -> (start, place, [(Flickr8k photo, its caption used as the sidecar)])
LIBRARY = {
    "zermatt": (datetime(2023, 2, 4, 10, 0), ZERMATT, [
        ("113678030_87a6a6e42e.jpg", "A snowboarder sits on a slope with skiers and boarders nearby"),
        ("1472882567_33dc14c8b6.jpg", "a group of skiers going up a mountain"),
        ("2100816230_ff866fb352.jpg", "A man in yellow jumps with his skis"),
        ("3139876823_859c7d7c23.jpg", "A downhill skier in black catches a tiny bit of air"),
        # MiniLM puts "hiking" 0.41 from this one: meaning alone must not make Zermatt a hike.
        ("2285570521_05015cbf4b.jpg", "A cross-country skier has left a trail behind him as he makes his way "
                                      "through the snow")]),
    "chamonix": (datetime(2024, 3, 9, 11, 0), CHAMONIX, [
        ("2194494220_bb2178832c.jpg", "A person is skijoring with a dog in the mountains")]),
    "biarritz": (datetime(2025, 7, 19, 15, 0), BIARRITZ, [
        ("106490881_5a2dd9b7bd.jpg", "A boy in his blue swim shorts at the beach"),
        ("1248940539_46d33ed487.jpg", "Three children are playing in sand near to the beach"),
        ("1322323208_c7ecb742c6.jpg", "A boy and a girl playing on the beach"),
        ("1408958345_68eea9a4e4.jpg", "A girl smiles as she runs across the white sandy beach in her swimsuit")]),
    "berlin": (datetime(2025, 5, 3, 16, 0), BERLIN, [
        ("1084040636_97d9633581.jpg", "A closeup of a white dog that is laying its head on its paws"),
        ("1107246521_d16a476380.jpg", "a black dog jumping to catch a rope toy"),
        ("1119015538_e8e796281e.jpg", "A little tan dog with large ears running through the grass")]),
}


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    base = tmp_path_factory.mktemp("library-places")
    for event, (start, place, photos) in LIBRARY.items():
        for n, (name, text) in enumerate(photos):
            target = dated_copy(FLICKR / "images" / name, base / "lib" / f"{event}-{n}.jpg",
                                start + timedelta(minutes=7 * n), place)
            caption(target, text)
    env = {"db": base / "db", "models_dir": base / "no-models", "clip_model": "absent-clip",
           "analyze_faces": False, "analyze_objects": False}
    settings = load_settings(**env)
    store = PhotoStore(settings)
    Indexer(settings, store, Models(settings)).run([base / "lib"])
    searcher = Searcher(store, Models(settings))
    return base, store, searcher


def plan_for(text, searcher):
    events = LibraryEvents(searcher.store, searcher.models)
    return rule_plan(text, NOW, [], searcher.store.get_meta("places", []), events=events)


def found_events(results) -> set[str]:
    return {Path(r.path).name.split("-")[0] for r in results}


def test_the_phrase_family_and_what_it_is_not():
    said = {"where we went skiing": "skiing", "the place we went hiking": "hiking",
            "where we had the wedding": "wedding", "the beach we went to last summer": "beach",
            "photos from where we went for the wedding last year": "wedding", "Where we went Skiing": "skiing"}
    for text, activity in said.items():
        found = find_activity_phrase(text)
        assert found is not None and found.activity == activity, text
    for text in ("where is my dog", "we went home", "where we went to Paris", "the Louvre we went to",
                 "the one we went to", "a dog skiing", "we went skiing"):
        assert find_activity_phrase(text) is None, text
    # No town is made from the activity, whatever its case, even with no events to ask.
    for word in ("Skiing", "skiing", "Hiking", "Wedding"):
        assert geo.resolve_place(word, []) is None
    plan = rule_plan("the place we went Skiing", NOW, [], [])
    assert plan.place is None and plan.visual == "skiing" and "events were not looked at" in plan.unknown[0]


def test_where_we_went_skiing_is_the_snow_events_places_not_the_beach(indexed):
    _, _, searcher = indexed
    plan = plan_for("where we went skiing", searcher)
    assert plan.place is not None and plan.place.circles and len(plan.place.circles) == 2  # Zermatt, Chamonix
    assert plan.visual == "" and plan.place_phrase == "where we went skiing"
    results = searcher.search(plan_to_query(plan)).results
    assert found_events(results) == {"zermatt", "chamonix"} and len(results) == 6
    # With words too, the circles are a filter inside the store ("$or" of boxes), then exact.
    words = plan_for("a dog where we went skiing", searcher)
    assert words.visual == "a dog" and words.place == plan.place
    assert found_events(searcher.search(plan_to_query(words)).results) <= {"zermatt", "chamonix"}
    assert "chamonix" in found_events(searcher.search(plan_to_query(words)).results)  # the skijoring dog
    # Chamonix came by meaning ("skijoring" has no ski word), Zermatt by words.
    lookup = LibraryEvents(searcher.store, searcher.models)
    matched = lookup.activity_places(find_activity_phrase("where we went skiing")).events
    assert [(m.place, m.how) for m in matched] == [("Zermatt", "words"), ("Chamonix-Mont-Blanc", "meaning")]
    assert plan.unknown == ["where you went skiing: Zermatt, Feb 2023 (event of 5 photos); "
                            "Chamonix-Mont-Blanc, Mar 2024 (event of 1 photo)"]
    # A date narrows the events: one place, said the way the person would say it.
    dated = plan_for("where we went skiing in 2023", searcher)
    assert dated.place.circles == [] and dated.place.lat is not None
    assert dated.unknown == ["where you went skiing: Zermatt, Feb 2023 (event of 5 photos)"]
    assert found_events(searcher.search(plan_to_query(dated)).results) == {"zermatt"}


def test_the_beach_we_went_to_last_summer_and_what_was_done_there(indexed):
    _, _, searcher = indexed
    plan = plan_for("children playing at the beach we went to last summer", searcher)
    assert plan.place is not None and plan.place.label.startswith("Biarritz")
    assert plan.date_range is not None and plan.visual == "children playing"
    assert any(n.startswith("the beach you went to: Biarritz, Jul 2025 (event of 4 photos)") for n in plan.unknown)
    results = searcher.search(plan_to_query(plan)).results
    assert found_events(results) == {"biarritz"}


def test_no_matching_event_gives_no_place_and_says_so(indexed):
    _, _, searcher = indexed
    for text, activity in (("the place we went hiking", "hiking"), ("where we had the wedding", "wedding")):
        plan = plan_for(text, searcher)
        assert plan.place is None and plan.place_phrase is None, text
        assert plan.visual == activity  # still a word to look for in the photos
        assert plan.unknown == [f"no event in your photos looks like {activity!r}: no place taken from it"]
    # Ordinary phrases are left to the usual rules.
    assert plan_for("where is my dog", searcher).place is None
    assert plan_for("we went home", searcher).place is None


def test_recall_ask_explains_the_place(indexed):
    base, _, _ = indexed
    env = {**os.environ, "RECALL_DB": str(base / "db"), "RECALL_MODELS": str(base / "no-models"),
           "RECALL_CLIP_MODEL": "absent-clip", "RECALL_DATA_DIR": str(base / "data")}
    done = subprocess.run([sys.executable, "-m", "recall", "ask", "the skiers where we went skiing in 2023",
                           "--no-llm", "--json"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    reply = json.loads(done.stdout)
    assert "where you went skiing: Zermatt, Feb 2023 (event of 5 photos)" in reply["notices"]
    assert reply["results"] and {Path(r["path"]).name.split("-")[0] for r in reply["results"]} == {"zermatt"}
    assert "(near 'where we went skiing')" in reply["results"][0]["explanation"]
