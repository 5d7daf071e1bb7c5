"""One-shot search: a text and filters in, ranked photos with their reasons out.

Signals (each used when it exists; the response says which were off and why):
- ``visual``: CLIP similarity between the text and the photo.
- ``words``: BM25 of the text against captions and keywords people wrote.
- ``meaning``: sentence-embedding similarity of the text to those captions (only above a floor,
  so that an unrelated caption does not count as a match).
Fusion is a weighted sum of per-query min-max normalised scores:
``score = sum_s w_s * (x_s - min_s) / (max_s - min_s) / sum_s w_s`` over the signals that returned
anything for this query (min and max over that signal's candidates; a photo a signal did not
return gets 0 from it). A photo best on every signal scores 1.0. Weights: visual 1, meaning 1,
words 0.2. On Flickr8k-test with one caption per photo as the person's own text (600 queries,
evals/retrieval.py), equal-weight reciprocal rank fusion scored R@1 39.5 against 50.3 for meaning
alone, because word overlap is the weaker signal on paraphrases; this fusion scores 50.5, not
worse than its best part, while a tag or keyword that only word matching sees still counts.
Each result's ``why`` keeps every signal's own score and rank.
Filters (date range, place, camera, event) are applied inside the store before ranking.
Frames of one burst (tools/understand/moments.py) are one result: scored by its best frame, shown
by its cover (the sharpest) when the cover is among the candidates read, with ``burst_count``.
"""
from __future__ import annotations

import math
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field, field_validator

from tools.models.registry import Models
from tools.understand.people import people_filter
from tools.index.records import PhotoRecord, wall_clock_ts
from tools.index.store import PhotoStore
from tools.index import word_postings
from tools.query.text_match import bm25_scores, query_terms, tokenize

if TYPE_CHECKING:
    from tools.places import geo

SIGNAL_WEIGHTS = {"visual": 1.0, "meaning": 1.0, "words": 0.2}
MAX_QUERY_CHARS = 1000  # longer text adds nothing a model can use
CANDIDATES = 200  # per signal, before fusion
# A caption whose meaning is this far from the query is unrelated (all-MiniLM-L6-v2 puts unrelated
# sentences near 0.0-0.15, paraphrases above 0.5); without a floor every captioned photo would
# get a rank from this signal, however irrelevant.
MEANING_MIN_SIMILARITY = 0.25


class SearchError(ValueError):
    """A query that cannot be run, with a message meant for the user."""


class SearchQuery(BaseModel):
    text: str = ""
    k: int = Field(20, ge=1, le=10_000)
    date_from: datetime | None = None
    date_to: datetime | None = None
    # A geo.PlaceFilter. Typed Any and checked below because importing the gazetteer (scipy,
    # GeoNames) took ~0.5 s of every cold `recall search`, most of which name no place.
    place: Any = None
    camera: str | None = None
    people: list[str] = []  # person (cluster) ids
    people_mode: Literal["all", "any", "only"] = "all"
    faces: tuple[int, bool] | None = None  # (count, at_least)
    event: str | None = None  # an event id (`recall events`)
    all_frames: bool = False  # every frame of a burst, not one per burst

    @field_validator("text")
    @classmethod
    def _trim(cls, value: str) -> str:
        return " ".join(value.split())[:MAX_QUERY_CHARS]

    @field_validator("place")
    @classmethod
    def _place(cls, value: Any) -> "geo.PlaceFilter | None":
        if value is None:
            return None
        from tools.places import geo

        return value if isinstance(value, geo.PlaceFilter) else geo.PlaceFilter.model_validate(value)

    def has_filters(self) -> bool:
        return any((self.date_from, self.date_to, self.place, self.camera, self.people, self.faces, self.event))


class SignalScore(BaseModel):
    score: float
    rank: int


class SearchResult(BaseModel):
    id: str
    path: str
    score: float
    taken_at: str | None
    place: str | None
    lat: float | None
    lon: float | None
    camera: str | None = None
    date_source: str | None = None  # exif, sidecar or file
    event_id: str | None = None
    event: str | None = None  # the event's short label, "Berlin, Sat 14 Jul 2025"
    burst_id: str | None = None
    burst_count: int = 0  # frames in its burst (this one stands for them all); 0: not in a burst
    text_in_photo: str = ""  # what OCR (or the captioner) read in it: "the sign said OPEN"
    why: dict[str, SignalScore] = {}


class SearchResponse(BaseModel):
    query: SearchQuery
    results: list[SearchResult]
    signals_used: list[str]
    notices: list[str] = []  # e.g. "visual search is off: ..."


def _where(query: SearchQuery, cameras: list[str]) -> dict | None:
    clauses: list[dict] = []
    if query.date_from:
        clauses.append({"taken_ts": {"$gte": wall_clock_ts(query.date_from)}})
    if query.date_to:
        clauses.append({"taken_ts": {"$lte": wall_clock_ts(query.date_to)}})
    place = query.place
    if place is not None:
        if place.kind == "country":
            clauses.append({"country_code": place.country_code})
        elif place.kind == "region":
            clauses += [{"country_code": place.country_code}, {"region": place.region}]
        elif place.lat is not None and place.lon is not None:
            # A bounding box in the store; the exact circle is checked afterwards.
            clauses += _box(place.lat, place.lon, place.radius_km or 25.0)
        elif place.circles:
            boxes = [{"$and": _box(lat, lon, radius)} for lat, lon, radius in place.circles]
            clauses.append(boxes[0] if len(boxes) == 1 else {"$or": boxes})
    if query.camera:
        wanted = query.camera.lower()
        matching = [c for c in cameras if wanted in c.lower()]
        if not matching:
            raise SearchError(f"no photo was taken with a camera matching {query.camera!r}"
                              + (f"; cameras in the library: {', '.join(sorted(cameras)[:8])}" if cameras else ""))
        clauses.append({"camera": {"$in": matching}})
    people = people_filter(query.people, query.people_mode)
    if people:
        clauses.append(people)
    if query.faces is not None:
        count, at_least = query.faces
        clauses.append({"faces": {"$gte": count} if at_least else count})
    if query.event:
        clauses.append({"event_id": query.event})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def _box(lat: float, lon: float, radius_km: float) -> list[dict]:
    dlat = radius_km / 111.0
    dlon = radius_km / max(1e-6, 111.0 * math.cos(math.radians(lat)))
    return [{"lat": {"$gte": lat - dlat}}, {"lat": {"$lte": lat + dlat}},
            {"lon": {"$gte": lon - dlon}}, {"lon": {"$lte": lon + dlon}}]


def _in_circle(record: PhotoRecord, place: "geo.PlaceFilter | None") -> bool:
    if place is None or place.kind not in ("city", "area"):
        return True
    circles = place.circles or ([(place.lat, place.lon, place.radius_km or 25.0)] if place.lat is not None
                                and place.lon is not None else [])
    if not circles:
        return True
    if record.lat is None or record.lon is None:
        return False
    from tools.places import geo

    return any(geo.haversine_km(lat, lon, record.lat, record.lon) <= radius for lat, lon, radius in circles)


class Searcher:
    def __init__(self, store: PhotoStore, models: Models):
        self.store = store
        self.models = models

    def search(self, query: SearchQuery) -> SearchResponse:
        if query.date_from and query.date_to and query.date_from > query.date_to:
            raise SearchError("the start date is after the end date")
        if not query.text and not query.has_filters():
            raise SearchError("nothing to search for: give some words, or a filter such as --from, --near or --camera")
        where = _where(query, self.store.get_meta("cameras", []))
        notices: list[str] = []
        ranked: dict[str, dict[str, SignalScore]] = {}
        if query.text:
            for name, hits in self._signals(query.text, where, notices):
                for rank, (id_, score) in enumerate(hits, start=1):
                    ranked.setdefault(id_, {})[name] = SignalScore(score=round(score, 4), rank=rank)
            used = sorted({s for why in ranked.values() for s in why})
            results = self._fuse(ranked, query)
        else:
            used = ["filters"]
            results = self._browse(query, where)
        return SearchResponse(query=query, results=results, signals_used=used, notices=notices)

    # ---- signals -------------------------------------------------------------------------------
    def _signals(self, text: str, where: dict | None, notices: list[str]):
        clip = self.models.clip() if self.models.clip_available() else None
        if clip is not None:
            collection = self.store.vectors("clip", clip.name, clip.dim)
            if collection.count():
                yield "visual", self.store.query_vectors(collection, clip.embed_texts([text])[0], CANDIDATES, where)
            else:
                notices.append("visual search is on but no photo has a CLIP embedding yet: run `recall index` again")
        else:
            notices.append("visual search is off (no CLIP weights): `recall models` says how to turn it on")
        yield "words", self._words(text, where)
        text_model = self.models.text()
        if text_model is not None:
            collection = self.store.vectors("text", text_model.name, text_model.dim)
            if collection.count():
                hits = self.store.query_vectors(collection, text_model.embed([text])[0], CANDIDATES, where)
                yield "meaning", [(id_, score) for id_, score in hits if score >= MEANING_MIN_SIMILARITY]

    def _words(self, text: str, where: dict | None) -> list[tuple[str, float]]:
        terms = query_terms(text)
        if not terms:
            return []
        postings = word_postings.for_collection(self.store.photos)
        if postings is not None:  # the read path: postings built once per index state
            allowed = self.store.photos.rows_where(where)
            if allowed is None or len(allowed) == len(postings):  # else a write landed in between
                return postings.ranked(terms, allowed, max(self.store.count(), 1), CANDIDATES)
        return words_from_store(self.store, terms, where)

    # ---- ranking -------------------------------------------------------------------------------
    def _fuse(self, ranked: dict[str, dict[str, SignalScore]], query: SearchQuery) -> list[SearchResult]:
        fused = fuse_scores(ranked)
        order = sorted(fused, key=lambda id_: -fused[id_])
        shown = OnePerBurst(expand=query.all_frames)
        chunk_size = query.k * 3
        for start in range(0, len(order), chunk_size):
            chunk = order[start:start + chunk_size]
            records = self.store.get_photos(chunk)
            for id_ in chunk:
                record = records.get(id_)  # None: deleted since the vectors were written
                if record is not None and _in_circle(record, query.place):
                    shown.add(record, fused[id_], ranked[id_])
            if len(shown.results) >= query.k:
                break  # the rest of this chunk was still read: a cover ranked a little lower counts
        return shown.results[: query.k]

    def _browse(self, query: SearchQuery, where: dict | None) -> list[SearchResult]:
        records = [r for r in self.store.iter_photos(where) if _in_circle(r, query.place)]
        records.sort(key=lambda r: (r.taken_at or datetime.min, r.path), reverse=True)
        shown = OnePerBurst(expand=query.all_frames)
        for record in records:
            shown.add(record, 1.0, {})
        return shown.results[: query.k]


def words_from_store(store: PhotoStore, terms: list[str], where: dict | None) -> list[tuple[str, float]]:
    """The words signal through Chroma (the write path, a Chroma server): the store's full-text
    index asked term by term, each match tokenized again to check it holds the word.

    Chroma's ``$contains`` is case-sensitive, so each term is asked as people write it: as typed
    (lowercased), capitalised ("Anna", a caption's first word) and in capitals (a sign read by
    OCR), each as its stem is written; a word in other mixed case ("McDonald") is found on the read
    path only."""
    docs: dict[str, str] = {}
    doc_freq: dict[str, int] = {}
    for term in terms:
        # the stem's written form: "puppy" is written "puppies" too (text_match.stem)
        root = term[:-1] if len(term) > 3 and term.endswith("y") else term
        forms = [{"$contains": form} for form in dict.fromkeys((root, root.capitalize(), root.upper()))]
        found = store.photos.get(where=where, where_document=forms[0] if len(forms) == 1 else {"$or": forms},
                                 include=["documents"])  # one query: its matches in storage order
        matching = {i: d for i, d in zip(found["ids"], found["documents"]) if term in set(tokenize(d or ""))}
        doc_freq[term] = len(matching)
        docs.update(matching)
    scores = bm25_scores(terms, docs, max(store.count(), 1), doc_freq)
    return sorted(scores.items(), key=lambda item: -item[1])[:CANDIDATES]


class OnePerBurst:
    """Results in rank order, a burst's frames as one: its slot is where its best frame ranked,
    with that frame's score and reasons, and its photo is the burst's cover once the cover is seen."""

    def __init__(self, expand: bool = False):
        self.expand = expand
        self.results: list[SearchResult] = []
        self._slot: dict[str, int] = {}

    def add(self, record: PhotoRecord, score: float, why: dict[str, SignalScore]) -> None:
        burst = None if self.expand else record.burst_id
        if burst is None:
            self.results.append(result_from_record(record, score, why))
            return
        if burst not in self._slot:
            self._slot[burst] = len(self.results)
            self.results.append(result_from_record(record, score, why))
        elif record.burst_cover:
            best = self.results[self._slot[burst]]
            self.results[self._slot[burst]] = result_from_record(record, best.score, best.why)


def fuse_scores(ranked: dict[str, dict[str, SignalScore]]) -> dict[str, float]:
    """The documented fusion (module docstring): photo id -> fused score in [0, 1]."""
    bounds: dict[str, tuple[float, float]] = {}
    for why in ranked.values():
        for signal, value in why.items():
            low, high = bounds.get(signal, (value.score, value.score))
            bounds[signal] = (min(low, value.score), max(high, value.score))
    total_weight = sum(SIGNAL_WEIGHTS[s] for s in bounds) or 1.0
    fused = {}
    for id_, why in ranked.items():
        score = 0.0
        for signal, value in why.items():
            low, high = bounds[signal]
            score += SIGNAL_WEIGHTS[signal] * ((value.score - low) / (high - low) if high > low else 1.0)
        fused[id_] = score / total_weight
    return fused


def result_from_record(record: PhotoRecord, score: float, why: dict[str, SignalScore]) -> SearchResult:
    return SearchResult(id=record.id, path=record.path, score=round(score, 4), taken_at=record.taken_at_iso,
                        place=record.place, lat=record.lat, lon=record.lon, camera=record.camera,
                        date_source=record.date_source, event_id=record.event_id, event=record.event_label,
                        burst_id=record.burst_id, burst_count=record.burst_size,
                        text_in_photo=record.text_in_photo or "", why=why)
