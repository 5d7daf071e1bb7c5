"""Events and bursts in the index, kept up to date incrementally after each index run.

Events live in their own Chroma collection, ``events`` (one record per event: its span, size,
place, people, top tags and label as metadata, its photo ids as the document); each photo carries
its ``event_id`` and short ``event_label``, and its burst (``burst_id``, ``burst_cover``,
``burst_size``). Only photos with a real date (EXIF or a sidecar) join events: a file's own time
is when it was copied as often as when it was taken.

An index run that adds or removes photos recomputes only the events around them: for a new
photo, the event it falls in (or the two it falls between); for a removed one, its event and
that event's neighbours. Those windows are cut again by the rule of tools/understand/events.py,
with the event on either side as context for the local average gap and the window's edges kept
as boundaries, so every other event stays exactly as it was. A recomputed event keeps the id of
the old event it shares most photos with, so ids survive photos joining, leaving and splits.
Bursts are found again inside the recomputed events only (they are seconds long; events never
end inside one). A version mark makes a changed rule recompute the library once.
"""
from __future__ import annotations

import bisect
import hashlib
import json
import logging
import time
from collections import Counter
from collections.abc import Iterable

from pydantic import BaseModel

from tools.index.records import PhotoRecord
from tools.index.store import PLACEHOLDER, PhotoStore
from tools.settings import Settings
from tools.understand import bursts as burst_rules
from tools.understand.event_labels import EventSummary, summarise
from tools.understand.events import GapRule, Point, segment

VERSION = "1"  # bump when the rule or the summary changes: the library is recomputed once
COLLECTION = "events"
META_KEY = "moments"
DATED = ("exif", "sidecar")
LIST_FIELDS = ("people", "tags")

log = logging.getLogger(__name__)


class MomentsReport(BaseModel):
    events: int = 0  # events in the library after the update
    changed: int = 0  # events made or changed by it
    removed: int = 0  # events that ceased to exist (merged, or all their photos gone)
    bursts: int = 0  # bursts in the recomputed events
    photos_looked_at: int = 0  # photos whose pixels were read for burst detection
    full: bool = False  # the whole library was recomputed (first run, or a new VERSION)


def dated(record: PhotoRecord) -> bool:
    return record.taken_at is not None and record.date_source in DATED


def _new_id(prefix: str, seed: str, taken: set[str]) -> str:
    for attempt in range(1000):
        candidate = f"{prefix}{hashlib.blake2b(f'{seed}/{attempt}'.encode(), digest_size=5).hexdigest()}"
        if candidate not in taken:
            return candidate
    raise RuntimeError("no free id")  # 1000 collisions of 40-bit hashes: not in this universe


class EventBook:
    def __init__(self, store: PhotoStore, settings: Settings):
        self.store = store
        self.settings = settings
        self.rule = GapRule.from_settings(settings)
        self.events = store.client.get_or_create_collection(COLLECTION, embedding_function=None)

    # ---- reading ------------------------------------------------------------------------------
    def list(self) -> list[EventSummary]:
        """Every event, oldest first."""
        found = self.events.get(include=["metadatas", "documents"])
        out = [self._summary(i, m, d) for i, m, d in zip(found["ids"], found["metadatas"], found["documents"])]
        return sorted(out, key=lambda e: (e.start_ts, e.id))

    def get(self, event_id: str) -> EventSummary | None:
        found = self.events.get(ids=[event_id], include=["metadatas", "documents"])
        if not found["ids"]:
            return None
        return self._summary(found["ids"][0], found["metadatas"][0], found["documents"][0])

    @staticmethod
    def _summary(id_: str, meta: dict, document: str | None) -> EventSummary:
        data = {k: v for k, v in (meta or {}).items() if v is not None}
        return EventSummary(id=id_, photo_ids=json.loads(document or "[]"), **data)

    # ---- writing ------------------------------------------------------------------------------
    def _save(self, summaries: list[EventSummary]) -> None:
        if not summaries:
            return
        metas = []
        for s in summaries:
            meta = s.model_dump(exclude={"id", "photo_ids"})
            metas.append({k: (None if v == [] or v == "" else v) for k, v in meta.items()})
        self.events.upsert(ids=[s.id for s in summaries], embeddings=[PLACEHOLDER] * len(summaries),
                           metadatas=metas, documents=[json.dumps(s.photo_ids) for s in summaries])

    def update(self, removed: Iterable[PhotoRecord] = ()) -> MomentsReport:
        """Bring events and bursts up to date with the photos added since the last update and
        the ``removed`` ones (their records as they were before deletion)."""
        started = int(time.time())
        state = self.store.get_meta(META_KEY) or {}
        report = MomentsReport(full=state.get("version") != VERSION)
        old = {e.id: e for e in self.list()}
        if report.full:
            photos = [r for r in self.store.iter_photos() if dated(r)]
            self._recompute(photos, [], old, set(old), report)
        else:
            since = int(state.get("through", 0))
            added = [r for r in self.store.iter_photos({"indexed_at": {"$gte": since}})
                     if dated(r) and r.event_id is None]
            removed = [r for r in removed if dated(r)]
            if added or removed:
                for lo, hi, before, after, touched in self._windows(added, removed, old):
                    self._recompute_window(lo, hi, before, after, touched, old, report)
        report.events = self.events.count()
        self.store.set_meta(META_KEY, {"version": VERSION, "through": started})
        return report

    def refresh(self, photo_ids: Iterable[str]) -> int:
        """Summaries (people, tags) again for the events of these photos, e.g. after the
        understanding pass found faces and objects in them; returns how many changed."""
        ids = {r.event_id for r in self.store.get_photos(photo_ids).values() if r.event_id}
        changed = []
        for event_id in sorted(ids):
            members = list(self.store.iter_photos({"event_id": event_id}))
            current = self.get(event_id)
            if not members or current is None:
                continue
            summary = summarise(event_id, members)
            if summary != current:
                changed.append(summary)
        self._save(changed)
        return len(changed)

    # ---- the incremental windows --------------------------------------------------------------
    def _windows(self, added: list[PhotoRecord], removed: list[PhotoRecord], old: dict[str, EventSummary]):
        """(lo, hi, event before, event after, old event ids) of each stretch of time to recompute."""
        timeline = sorted(old.values(), key=lambda e: (e.start_ts, e.id))
        spans: list[tuple[int, int, set[str]]] = []

        starts = [e.start_ts for e in timeline]

        def position(ts: int) -> int:
            """Index of the last event starting at or before ts (-1 before the first)."""
            return bisect.bisect_right(starts, ts) - 1

        for record in added:
            ts = record.taken_ts
            i = position(ts)
            inside = i >= 0 and ts <= timeline[i].end_ts
            # Inside an event only that event can change; between two, both (it may join either,
            # bridge them or stand alone).
            chosen = [timeline[i]] if inside else [timeline[j] for j in (i, i + 1) if 0 <= j < len(timeline)]
            spans.append(self._span(ts, chosen))
        by_id = {e.id: n for n, e in enumerate(timeline)}
        for record in removed:
            ts = record.taken_ts
            n = by_id.get(record.event_id) if record.event_id else None
            if n is None:
                n = position(ts)
            # A photo gone from an event widens a gap in it (it may split) and changes the local
            # average at its edges (it may merge with a neighbour).
            chosen = [timeline[j] for j in (n - 1, n, n + 1) if 0 <= j < len(timeline)]
            spans.append(self._span(ts, chosen))
        spans.sort()
        merged: list[list] = []
        for lo, hi, ids in spans:
            if merged and lo <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], hi)
                merged[-1][2] |= ids
            else:
                merged.append([lo, hi, set(ids)])
        for lo, hi, ids in merged:
            before = [e for e in timeline if e.end_ts < lo and e.id not in ids]
            after = [e for e in timeline if e.start_ts > hi and e.id not in ids]
            yield lo, hi, (before[-1] if before else None), (after[0] if after else None), ids

    @staticmethod
    def _span(ts: int, events: list[EventSummary]) -> tuple[int, int, set[str]]:
        return (min([ts] + [e.start_ts for e in events]), max([ts] + [e.end_ts for e in events]),
                {e.id for e in events})

    def _in_time(self, lo: int, hi: int) -> list[PhotoRecord]:
        where = {"$and": [{"taken_ts": {"$gte": lo}}, {"taken_ts": {"$lte": hi}}]}
        return [r for r in self.store.iter_photos(where) if dated(r)]

    def _recompute_window(self, lo: int, hi: int, before: EventSummary | None, after: EventSummary | None,
                          touched: set[str], old: dict[str, EventSummary], report: MomentsReport) -> None:
        window = self._in_time(lo, hi)
        context = []
        for event in (before, after):
            if event is not None:
                context += [r for r in self._in_time(event.start_ts, event.end_ts) if r.event_id == event.id]
        touched = touched | {r.event_id for r in window if r.event_id}
        self._recompute(window, context, old, touched, report)

    def _recompute(self, photos: list[PhotoRecord], context: list[PhotoRecord], old: dict[str, EventSummary],
                   touched: set[str], report: MomentsReport) -> None:
        """Cut ``photos`` into events (``context`` only informs the average gap at the edges) and
        write them, reusing the ids of the ``touched`` old events they overlap most."""
        mine = {r.id for r in photos}
        points = [Point(r.id, r.taken_ts, r.lat, r.lon) for r in photos + [c for c in context if c.id not in mine]]
        ordered = sorted(points, key=lambda p: (p.ts, p.id))
        # The window's edges stay boundaries: the events outside it are not to change.
        forced = {i for i, (a, b) in enumerate(zip(ordered, ordered[1:])) if (a.id in mine) != (b.id in mine)}
        groups = [g for g in segment(points, self.rule, forced) if g[0].id in mine]
        records = {r.id: r for r in photos}

        overlaps = []
        for n, group in enumerate(groups):
            for old_id, shared in Counter(records[p.id].event_id for p in group if records[p.id].event_id).items():
                if old_id in touched:
                    overlaps.append((-shared, n, old_id))
        names: dict[int, str] = {}
        used: set[str] = set()
        for _, n, old_id in sorted(overlaps):  # the largest overlaps choose first
            if n not in names and old_id not in used:
                names[n] = old_id
                used.add(old_id)
        taken = set(old) | used
        summaries, changed_photos, moved = [], [], []
        for n, group in enumerate(groups):
            event_id = names.get(n) or _new_id("ev-", group[0].id, taken)
            taken.add(event_id)
            members = [records[p.id] for p in group]
            summary = summarise(event_id, members)
            if old.get(event_id) != summary:
                summaries.append(summary)
            for record in members:
                if (record.event_id, record.event_label) != (event_id, summary.short_label):
                    if record.event_id != event_id:
                        moved.append(record)
                    record.event_id, record.event_label = event_id, summary.short_label
                    changed_photos.append(record)
            changed_photos += self._bursts(members, report)
        gone = sorted(touched - used)
        if gone:
            self.events.delete(ids=gone)
        self._save(summaries)
        self.store.upsert_photos(list({r.id: r for r in changed_photos}.values()))
        if moved:  # vector records carry event_id too, for filtered vector queries
            self.store.update_filter_fields(list({r.id: r for r in moved}.values()))
        report.changed += len(summaries)
        report.removed += len(gone)

    # ---- bursts -------------------------------------------------------------------------------
    def _bursts(self, members: list[PhotoRecord], report: MomentsReport) -> list[PhotoRecord]:
        """Find the bursts among one event's photos; the records whose burst fields changed."""
        members = sorted(members, key=lambda r: (r.taken_ts, r.id))
        gap = self.settings.burst_gap_s
        close = {r.id for a, b in zip(members, members[1:]) if b.taken_ts - a.taken_ts <= gap for r in (a, b)}
        changed = []
        for record in members:
            if record.id in close and record.dhash is None:
                try:
                    record.dhash, record.sharpness = burst_rules.look(record.path)
                except Exception as error:  # noqa: BLE001 - a photo gone or unreadable is simply no burst
                    log.info("no burst check for %s: %s", record.path, error)
                    continue
                report.photos_looked_at += 1
                changed.append(record)
        frames = [burst_rules.Frame(r.id, r.taken_ts, r.dhash, r.sharpness or 0.0) for r in members if r.id in close]
        found = burst_rules.group(frames, gap, self.settings.burst_hash_bits)
        wanted: dict[str, tuple[str | None, bool, int]] = {}
        for burst in found:
            burst_id = "bu-" + hashlib.blake2b(burst[0].id.encode(), digest_size=5).hexdigest()
            cover = burst_rules.cover(burst).id
            for frame in burst:
                wanted[frame.id] = (burst_id, frame.id == cover, len(burst))
        report.bursts += len(found)
        for record in members:
            value = wanted.get(record.id, (None, False, 0))
            if (record.burst_id, record.burst_cover, record.burst_size) != value:
                record.burst_id, record.burst_cover, record.burst_size = value
                changed.append(record)
        return changed
