"""The agent on real indexes: feedback re-ranking with the tiny CLIP, questions, explanations."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

from agent.explain import explain
from agent.feedback import parse_feedback, positions_to_ids
from agent.plan import Plan, rule_plan
from agent.questions import best_question
from agent.rerank import search_with_feedback
from agent.state import DialogueState, Turn
from tests.photos import write_photo
from tools.index.indexer import Indexer
from tools.models.registry import Models
from tools.query.search import Searcher, SignalScore
from tools.index.store import PhotoStore

NOW = datetime(2026, 11, 22, 12, 0)
ITALY, FINLAND = (43.4633, 11.8797), (60.1699, 24.9384)  # Arezzo, Helsinki


def index(settings, folder: Path) -> Searcher:
    store, models = PhotoStore(settings), Models(settings)
    Indexer(settings, store, models).run([folder])
    return Searcher(store, models)


def caption(photo: Path, text: str) -> None:
    Path(f"{photo}.xmp").write_text(
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:description><rdf:Alt>'
        f'<rdf:li xml:lang="x-default">{text}</rdf:li></rdf:Alt></dc:description>'
        '</rdf:Description></rdf:RDF></x:xmpmeta>')


def names(results) -> list[str]:
    return [Path(r.path).name for r in results]


def test_liking_a_red_circle_brings_red_circles_up(make_settings, tiny_clip_models_dir, library):
    for i in range(3):
        write_photo(library / f"red_circle_{i}.jpg", "circle", "red", seed=i, size=160)
        write_photo(library / f"blue_circle_{i}.jpg", "circle", "blue", seed=50 + i, size=160)
        write_photo(library / f"blue_square_{i}.jpg", "square", "blue", seed=100 + i, size=160)
    searcher = index(make_settings(tiny_clip_models_dir), library)
    state = DialogueState()
    plan = state.merge(rule_plan("a circle", NOW, [], []))
    before = search_with_feedback(searcher, plan, state, k=9)
    state.turns.append(Turn(user="a circle", shown=[r.id for r in before]))
    red_positions = [i for i, n in enumerate(names(before), start=1) if n.startswith("red_circle")]
    last_red = names(before)[red_positions[-1] - 1]

    feedback = parse_feedback(f"#{red_positions[0]} is close", shown_count=len(before))
    state.like(positions_to_ids(feedback.liked, state.last_shown))
    after = search_with_feedback(searcher, state.plan, state, k=9)
    assert all(n.startswith("red_circle") for n in names(after)[:3]), (names(before), names(after))
    assert names(after).index(last_red) <= names(before).index(last_red)
    assert all("feedback" in r.why for r in after)

    # Rejecting the shown photos takes them out of the next list.
    state.reject([r.id for r in after[:2]])
    again = search_with_feedback(searcher, state.plan, state, k=9)
    assert not {r.id for r in after[:2]} & {r.id for r in again}


def _same_caption_library(library: Path, lead: bool) -> None:
    for i in range(6):
        photo = write_photo(library / f"p{i}.jpg", "circle", "red", seed=i, taken="2021:06:15 12:00:00",
                            gps=ITALY if i % 2 else FINLAND)
        caption(photo, "a picnic by the lake" + (" with the old lighthouse keeper" if lead and i == 0 else ""))


def test_a_question_splits_spread_candidates(make_settings, library):
    _same_caption_library(library, lead=False)
    searcher = index(make_settings(), library)
    plan = rule_plan("picnic by the lake", NOW, [], [])
    results = search_with_feedback(searcher, plan, DialogueState(), k=10)
    assert len(results) == 6
    records = searcher.store.get_photos([r.id for r in results])
    question = best_question([records[r.id] for r in results], [r.score for r in results])
    assert question is not None and question.attribute == "country", question
    assert sorted(question.options) == ["Finland", "Italy"]
    assert question.text in ("Was it in Italy or Finland?", "Was it in Finland or Italy?")


def test_no_question_when_one_photo_is_clearly_ahead(make_settings, library):
    _same_caption_library(library, lead=True)
    searcher = index(make_settings(), library)
    plan = rule_plan("old lighthouse keeper picnic", NOW, [], [])
    results = search_with_feedback(searcher, plan, DialogueState(), k=10)
    assert names(results)[0] == "p0.jpg"
    records = searcher.store.get_photos([r.id for r in results])
    assert best_question([records[r.id] for r in results], [r.score for r in results]) is None


def test_explain_names_the_signals(make_settings, library):
    photo = write_photo(library / "dog.jpg", taken="2026:07:14 10:00:00", gps=ITALY)
    caption(photo, "A dog on the beach")
    searcher = index(make_settings(), library)
    plan = rule_plan("dog on beach last summer near Arezzo", NOW, [], searcher.store.get_meta("places", []))
    plan.required_tags = []
    results = search_with_feedback(searcher, plan, DialogueState())
    assert names(results) == ["dog.jpg"]
    record = searcher.store.get_photos([results[0].id])[results[0].id]
    line = explain(results[0], record, plan)
    assert "caption words: dog, beach" in line, line
    assert "taken 2026-07-14, in your 'last summer' range" in line, line
    assert "in Arezzo, Italy (near 'Arezzo')" in line, line
    visual = explain(results[0].model_copy(update={"why": {"visual": SignalScore(score=0.31, rank=1)}}), record,
                     Plan(visual="dog on beach"))
    assert "looks like 'dog on beach' (visual 0.31)" in visual
    alice = explain(results[0], record.model_copy(update={"people": ["p1"]}),
                    Plan(visual="dog", people=["Alice"], person_ids=["p1"]))
    assert "with Alice" in alice


def test_no_question_about_what_the_person_already_said():
    from datetime import datetime as dt

    from tools.index.records import PhotoRecord

    records = [PhotoRecord(id=str(i), path=f"/p{i}.jpg", size=1, mtime_ns=1, taken_at=dt(2020, 1, 1),
                           tags=["dog"] if i % 2 else ["dog", "snow"] if i % 4 == 0 else []) for i in range(8)]
    scores = [0.5] * 8
    assert best_question(records, scores).attribute == "tag:dog"
    assert best_question(records, scores, said="two dogs running").attribute == "tag:snow"
    assert best_question(records, scores, said="dog in the snow") is None


def test_a_place_no_data_file_names_is_still_found_by_its_words(make_settings, library):
    # No data file holds the British Library; the person's own caption does.
    for name, text in [("library.jpg", "Reading room of the British Library"), ("park.jpg", "Picnic in the park"),
                       ("museum.jpg", "The Natural History Museum hall")]:
        caption(write_photo(library / name, taken="2025:05:03 11:00:00"), text)
    searcher = index(make_settings(), library)
    plan = rule_plan("me at the British Library", NOW, [], searcher.store.get_meta("places", []))
    assert plan.place is None and "British Library" in plan.visual
    assert any("British Library" in note and "looked for" in note for note in plan.unknown), plan.unknown
    plan.required_tags = []
    assert names(search_with_feedback(searcher, plan, DialogueState()))[0] == "library.jpg"
