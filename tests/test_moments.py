"""Moments: events from time gaps and places, kept incrementally; bursts collapsed to their sharpest.

Libraries are copies of real photos (../shared/data) with EXIF dates and GPS written into the
copies only (evals/dated_copies.py), indexed into real Chroma stores.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from agent.explain import explain
from agent.plan import Plan
from evals.dated_copies import burst_frame, dated_copy
from tests.conftest import EXIF_PHOTOS, FLICKR, ROOT, copy_exif_photos
from tools.index.indexer import Indexer
from tools.index.store import PhotoStore
from tools.models.registry import Models
from tools.query.search import SearchQuery, Searcher
from tools.query.toolbox import same_event
from tools.understand.events import GapRule, Point, segment
from tools.understand.moments import EventBook

BERLIN, HAMBURG, ROME = (52.5200, 13.4050), (53.5511, 9.9937), (41.9028, 12.4964)
FLICKR_PHOTOS = sorted((FLICKR / "images").glob("*.jpg"))
# Three occasions on different days and in different towns, photos minutes apart in each.
EVENTS = {
    "berlin": (datetime(2025, 7, 12, 19, 5), BERLIN, [0, 4, 9, 13, 20]),  # minutes after the start
    "hamburg": (datetime(2025, 3, 8, 14, 0), HAMBURG, [0, 2, 3, 11]),
    "rome": (datetime(2024, 11, 2, 9, 30), ROME, [0, 6, 12, 30, 33, 41]),
}


def build_events_library(folder: Path) -> dict[str, str]:
    """Photo file name -> the synthetic event it belongs to; one undated photo besides."""
    truth = {}
    photos = iter(FLICKR_PHOTOS)
    for name, (start, place, minutes) in EVENTS.items():
        for n, offset in enumerate(minutes):
            target = folder / f"{name}-{n}.jpg"
            dated_copy(next(photos), target, start + timedelta(minutes=offset), place)
            truth[target.name] = name
    (folder / "undated.jpg").write_bytes(next(photos).read_bytes())
    return truth


def index(settings, folder):
    store = PhotoStore(settings)
    report = Indexer(settings, store, Models(settings)).run([folder])
    return report, store


def events_by_member(store, settings) -> dict[frozenset, object]:
    book = EventBook(store, settings)
    records = {r.id: Path(r.path).name for r in store.iter_photos()}
    return {frozenset(records[i] for i in e.photo_ids): e for e in book.list()}


def test_rule_adapts_to_how_densely_someone_shoots():
    rule = GapRule()
    # Frames every 10 s, then a 40-minute pause: a new event for a dense shooter...
    dense = [Point(f"d{i}", i * 10) for i in range(20)] + [Point(f"e{i}", 190 + 2400 + i * 10) for i in range(20)]
    assert [len(g) for g in segment(dense, rule)] == [20, 20]
    # ...but a walk shot every 25 minutes with one 40-minute gap stays one outing.
    walk = [Point(f"w{i}", i * 1500 + (900 if i > 5 else 0)) for i in range(12)]
    assert len(segment(walk, rule)) == 1
    # A night between photos always splits, and so does a jump of 300 km.
    assert len(segment([Point("a", 0), Point("b", 9 * 3600)], rule)) == 2
    moved = [Point("a", 0, *BERLIN), Point("b", 600, *HAMBURG)]
    assert len(segment(moved, rule)) == 2


def test_arezzo_walk_is_one_event_and_labelled_as_people_say_it(make_settings, tmp_path):
    copy_exif_photos(tmp_path / "cam")
    settings = make_settings()
    report, store = index(settings, tmp_path / "cam")
    assert report.moments.full and report.moments.events == 6
    walk = [e for e in EventBook(store, settings).list() if e.place == "Arezzo"]
    assert len(walk) == 1 and walk[0].count == 9
    assert walk[0].label == "Arezzo, Wed 22 Oct 2008, afternoon to evening, 9 photos"
    members = [r for r in store.iter_photos() if r.event_id == walk[0].id]
    assert sorted(Path(r.path).name for r in members) == sorted(p.name for p in EXIF_PHOTOS.glob("DSCN*.jpg"))
    assert {r.event_label for r in members} == {"Arezzo, Wed 22 Oct 2008"}


def test_synthetic_events_come_out_exactly_and_grow_incrementally(make_settings, library):
    truth = build_events_library(library)
    settings = make_settings()
    report, store = index(settings, library)
    found = events_by_member(store, settings)
    expected = {frozenset(n for n, e in truth.items() if e == name) for name in EVENTS}
    assert set(found) == expected
    labels = sorted(e.label for e in found.values())
    assert labels == ["Berlin, Sat 12 Jul 2025, evening, 5 photos", "Hamburg, Sat 8 Mar 2025, afternoon, 4 photos",
                      "Rome, Sat 2 Nov 2024, morning, 6 photos"]
    undated = next(r for r in store.iter_photos() if r.path.endswith("undated.jpg"))
    assert undated.event_id is None  # a file's own time says nothing about an occasion
    before = {e.id: e for e in EventBook(store, settings).list()}
    berlin_id = next(e.id for e in before.values() if e.place == "Berlin")

    # A photo in the middle of the Berlin evening joins it; nothing else is touched.
    start, place, _ = EVENTS["berlin"]
    dated_copy(FLICKR_PHOTOS[100], library / "berlin-late.jpg", start + timedelta(minutes=11), place)
    report, store = index(settings, library)
    assert report.new == 1 and not report.moments.full and report.moments.changed == 1
    after = {e.id: e for e in EventBook(store, settings).list()}
    assert set(after) == set(before) and after[berlin_id].count == 6
    assert all(after[i] == before[i] for i in before if i != berlin_id)

    # One a day later is an event of its own; the others keep their ids and contents.
    dated_copy(FLICKR_PHOTOS[101], library / "berlin-next-day.jpg", start + timedelta(days=1), place)
    report, store = index(settings, library)
    later = {e.id: e for e in EventBook(store, settings).list()}
    assert len(later) == 4 and set(before) < set(later) and report.moments.changed == 1
    assert all(later[i] == after[i] for i in after)
    new = next(e for i, e in later.items() if i not in before)
    assert new.label == "Berlin, Sun 13 Jul 2025, evening, 1 photo"

    # A photo removed leaves its event smaller under the same id.
    (library / "berlin-late.jpg").unlink()
    report, store = index(settings, library)
    assert report.removed == 1
    final = {e.id: e for e in EventBook(store, settings).list()}
    assert final[berlin_id].count == 5 and set(final) == set(later)


def test_a_photo_bridging_two_events_merges_them_under_one_old_id(make_settings, library):
    start = datetime(2023, 5, 6, 10, 0)
    for n in range(4):
        dated_copy(FLICKR_PHOTOS[n], library / f"a{n}.jpg", start + timedelta(minutes=3 * n), ROME)
        dated_copy(FLICKR_PHOTOS[10 + n], library / f"b{n}.jpg", start + timedelta(minutes=130 + 3 * n), ROME)
    settings = make_settings()
    _, store = index(settings, library)
    first = EventBook(store, settings).list()
    assert len(first) == 2
    for n, minute in enumerate((40, 70, 100)):  # the two hours are filled: one morning in Rome
        dated_copy(FLICKR_PHOTOS[20 + n], library / f"bridge{n}.jpg", start + timedelta(minutes=minute), ROME)
    report, store = index(settings, library)
    merged = EventBook(store, settings).list()
    assert len(merged) == 1 and merged[0].count == 11 and merged[0].id in {e.id for e in first}
    assert report.moments.removed == 1
    assert {r.event_id for r in store.iter_photos()} == {merged[0].id}


def make_burst(folder: Path, start: datetime) -> list[str]:
    """Five frames of one real photo a second apart, the third the only sharp one, and a
    different photo one second after the last."""
    source = EXIF_PHOTOS / "DSCN0021.jpg"
    names = []
    for n, (crop, exposure) in enumerate(((0.01, 1.0), (0.02, 1.08), (0.015, 0.93), (0.03, 1.04), (0.02, 0.97))):
        target = folder / f"burst-{n}.jpg"
        burst_frame(source, target, start + timedelta(seconds=n), ROME, crop=crop, exposure=exposure,
                    shift=(0.3 * n % 1, 0.5), blur=0.0 if n == 2 else 1.6)
        names.append(target.name)
    dated_copy(EXIF_PHOTOS / "DSCN0040.jpg", folder / "other.jpg", start + timedelta(seconds=5), ROME)
    return names


def test_burst_frames_group_under_their_sharpest_and_search_shows_one(make_settings, library):
    frames = make_burst(library, datetime(2024, 6, 1, 12, 0, 0))
    settings = make_settings()
    report, store = index(settings, library)
    assert report.moments.bursts == 1
    records = {Path(r.path).name: r for r in store.iter_photos()}
    burst = {records[n].burst_id for n in frames}
    assert len(burst) == 1 and None not in burst
    assert [n for n in frames if records[n].burst_cover] == ["burst-2.jpg"]
    assert all(records[n].burst_size == 5 for n in frames)
    assert records["other.jpg"].burst_id is None  # a second later, but another scene

    event = records["other.jpg"].event_id
    searcher = Searcher(store, Models(settings))
    shown = searcher.search(SearchQuery(event=event)).results
    assert sorted(Path(r.path).name for r in shown) == ["burst-2.jpg", "other.jpg"]
    cover = next(r for r in shown if r.burst_id)
    assert cover.burst_count == 5 and cover.event == "Rome, Sat 1 Jun 2024"
    every = searcher.search(SearchQuery(event=event, all_frames=True)).results
    assert len(every) == 6
    line = explain(cover, records["burst-2.jpg"], Plan())
    assert "from: Rome, Sat 1 Jun 2024 (5 frames, this the sharpest)" in line
    # "Other photos from that day": the event less the photo and its own burst's frames.
    assert [Path(r.path).name for r in same_event(searcher, records["burst-0.jpg"].id)] == ["other.jpg"]
    assert [Path(r.path).name for r in same_event(searcher, records["other.jpg"].id)] == ["burst-2.jpg"]


def recall(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "recall", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def test_cli_lists_events_and_filters_search_by_one(tmp_path, library):
    truth = build_events_library(library)
    env = {**os.environ, "RECALL_DB": str(tmp_path / "db"), "RECALL_MODELS": str(tmp_path / "no-models"),
           "RECALL_DATA_DIR": str(tmp_path / "data")}
    done = recall("index", str(library), "--quick", env=env)
    assert done.returncode == 0, done.stderr
    listed = recall("events", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [r["place"] for r in rows] == ["Rome", "Hamburg", "Berlin"]  # oldest first
    assert rows[2]["label"] == "Berlin, Sat 12 Jul 2025, evening, 5 photos" and rows[2]["count"] == 5
    assert rows[2]["start"] == "2025-07-12T19:05:00" and rows[2]["country_code"] == "DE"
    found = recall("search", "--event", rows[2]["id"], "--json", env=env)
    assert found.returncode == 0, found.stderr
    results = [json.loads(line) for line in found.stdout.splitlines()]
    assert sorted(Path(r["path"]).name for r in results) == sorted(n for n, e in truth.items() if e == "berlin")
    assert {r["event"] for r in results} == {"Berlin, Sat 12 Jul 2025"}
    table = recall("events", env=env)
    assert "Hamburg, Sat 8 Mar 2025, afternoon, 4 photos" in table.stdout
    missing = recall("search", "--event", "ev-nope", env=env)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr and "no event" in missing.stderr
