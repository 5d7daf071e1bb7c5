"""The tools the agent's LLM may call, each a typed call with a pydantic argument model.

The LLM is sent :func:`tool_call_schema` (one of the calls below, chosen by its ``tool`` field)
and llama.cpp decodes under it; :func:`parse_tool_call` validates the answer. A call carries
what the person SAID, never what it means: ``search_photos`` holds the date and place
*phrases*, which code resolves (``tools.dates.date_phrases``, ``tools.places.geo``) into the search tool's
typed ``SearchQuery`` before ``Searcher.search`` runs it; ``similar_to``, ``photo_details`` and
``same_event`` name a photo by the number it was shown under (``#3``), which code maps to the photo.

Calls are flat (``{"tool": "similar_to", "photo": 3}``, not nested under "arguments"): every
token the model writes costs ~70 ms with the 1.5B model on two cores.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Literal, Union

import numpy as np
from pydantic import BaseModel, Field, TypeAdapter

from tools.understand.people import PeopleBook, Person
from tools.query.search import SearchQuery, SearchResult, Searcher, SignalScore, result_from_record
from tools.index.store import PhotoStore

MAX_PHRASE = 60
MAX_SHOWN_NUMBER = 100


class SearchPhotos(BaseModel):
    """Find photos from a description of them."""

    tool: Literal["search_photos"] = "search_photos"
    visual: str = Field("", max_length=160, description="what the photo shows, in the person's words")
    date_phrase: str | None = Field(None, max_length=MAX_PHRASE, description="the words that say when, copied")
    place_phrase: str | None = Field(None, max_length=MAX_PHRASE, description="a town/region/country, copied")
    people: list[Annotated[str, Field(max_length=40)]] = Field([], max_length=4, description="names of people")
    exclude: list[Annotated[str, Field(max_length=40)]] = Field([], max_length=4,
                                                               description="things said NOT to be in it")


class SimilarTo(BaseModel):
    """Photos that look like one already shown."""

    tool: Literal["similar_to"] = "similar_to"
    photo: int = Field(ge=1, le=MAX_SHOWN_NUMBER, description="the number it was shown under")


class PhotoDetails(BaseModel):
    """Everything known about one shown photo."""

    tool: Literal["photo_details"] = "photo_details"
    photo: int = Field(ge=1, le=MAX_SHOWN_NUMBER, description="the number it was shown under")


class ShowBurst(BaseModel):
    """Every frame of the burst a shown photo stands for (rules only: not in the LLM's schema)."""

    tool: Literal["show_burst"] = "show_burst"
    photo: int = Field(ge=1, le=MAX_SHOWN_NUMBER, description="the number it was shown under")


class SameEvent(BaseModel):
    """Other photos from the occasion (day, trip) of one shown."""

    tool: Literal["same_event"] = "same_event"
    photo: int = Field(ge=1, le=MAX_SHOWN_NUMBER, description="the number it was shown under")


class ListPeople(BaseModel):
    """The people the library knows by face."""

    tool: Literal["list_people"] = "list_people"


# same_event last: the earlier tools keep their places in the prompt's list and the schema.
ToolCall = Annotated[Union[SearchPhotos, SimilarTo, PhotoDetails, ListPeople, SameEvent], Field(discriminator="tool")]
TOOLS: dict[str, type[BaseModel]] = {m.model_fields["tool"].default: m
                                     for m in (SearchPhotos, SimilarTo, PhotoDetails, ListPeople, SameEvent)}
_ADAPTER: TypeAdapter = TypeAdapter(ToolCall)


@lru_cache(maxsize=1)
def tool_call_schema() -> dict:
    """A JSON schema llama.cpp can turn into a grammar: one object per tool, ``tool`` first and
    required (so the model commits to a tool with its first tokens), every field required (so the
    grammar, not the model, decides the keys)."""
    variants = []
    for name, model in TOOLS.items():
        schema = model.model_json_schema()
        properties = {"tool": {"const": name}}
        for field, spec in schema.get("properties", {}).items():
            if field != "tool":
                spec = {k: v for k, v in spec.items() if k not in ("default", "title", "description")}
                properties[field] = spec
        variants.append({"type": "object", "properties": properties, "required": list(properties),
                         "additionalProperties": False})
    return {"anyOf": variants}


def parse_tool_call(value: object) -> SearchPhotos | SimilarTo | PhotoDetails | ListPeople | SameEvent:
    """A validated call; raises pydantic's ``ValidationError`` with what is wrong."""
    return _ADAPTER.validate_python(value)


def tools_help() -> str:
    """One line per tool, for the prompt: name, what it does, its arguments."""
    lines = []
    for name, model in TOOLS.items():
        args = ", ".join(f for f in model.model_fields if f != "tool") or "no arguments"
        lines.append(f"- {name}: {model.__doc__.strip()} ({args})")
    return "\n".join(lines)


# ---- what the calls do (search_photos runs as Searcher.search on the resolved SearchQuery) -------
class PhotoFacts(BaseModel):
    """What ``photo_details`` answers."""

    id: str
    path: str
    taken_at: str | None
    date_source: str
    place: str | None
    camera: str | None
    people: list[str]  # names, or person ids where unnamed
    faces: int
    tags: list[str]
    caption: str
    user_text: str


def looks_space(searcher: Searcher) -> tuple[str, object] | None:
    """The vector space in which photos are compared with each other: CLIP when it is loaded and
    has vectors, else the sentence embeddings of their captions; None when neither exists."""
    models, store = searcher.models, searcher.store
    clip = models.clip() if models.clip_available() else None
    if clip is not None:
        collection = store.vectors("clip", clip.name, clip.dim)
        if collection.count():
            return "visual", collection
    text = models.text()
    if text is not None:
        collection = store.vectors("text", text.name, text.dim)
        if collection.count():
            return "meaning", collection
    return None


def similar_to(searcher: Searcher, photo_id: str, k: int = 20, skip: tuple[str, ...] = ()) -> list[SearchResult]:
    """The photos nearest to ``photo_id`` (itself and ``skip`` left out), best first; empty when the
    photo has no vector in the looks space (e.g. no CLIP and no caption)."""
    space = looks_space(searcher)
    if space is None:
        return []
    signal, collection = space
    vector = searcher.store.get_vectors(collection, [photo_id]).get(photo_id)
    if vector is None:
        return []
    unwanted = {photo_id, *skip}
    hits = [(i, s) for i, s in searcher.store.query_vectors(collection, vector, k + len(unwanted))
            if i not in unwanted][:k]
    records = searcher.store.get_photos([i for i, _ in hits])
    return [result_from_record(records[i], s, {signal: SignalScore(score=round(s, 4), rank=rank)})
            for rank, (i, s) in enumerate(hits, start=1) if i in records]


def same_event(searcher: Searcher, photo_id: str, k: int = 50) -> list[SearchResult]:
    """Other photos from the event of ``photo_id`` ("other photos from that day"), in time order,
    one per burst; empty when the photo belongs to no event (it has no camera date)."""
    record = searcher.store.get_photos([photo_id]).get(photo_id)
    if record is None or not record.event_id:
        return []
    found = searcher.search(SearchQuery(event=record.event_id, k=min(k + 1, 10_000))).results
    same = [r for r in found if r.id != photo_id and not (record.burst_id and r.burst_id == record.burst_id)]
    return sorted(same, key=lambda r: (r.taken_at or "", r.path))[:k]


def burst_frames(searcher: Searcher, photo_id: str) -> list[SearchResult]:
    """Every frame of the burst ``photo_id`` belongs to ("show the burst"), in time order, the
    photo itself among them; empty when it is in no burst."""
    record = searcher.store.get_photos([photo_id]).get(photo_id)
    if record is None or not record.burst_id or not record.event_id:
        return []
    found = searcher.search(SearchQuery(event=record.event_id, k=10_000, all_frames=True)).results
    frames = [r for r in found if r.burst_id == record.burst_id]
    return sorted(frames, key=lambda r: (r.taken_at or "", r.path))


def photo_details(store: PhotoStore, photo_id: str) -> PhotoFacts | None:
    record = store.get_photos([photo_id]).get(photo_id)
    if record is None:
        return None
    names = {p.id: p.label for p in PeopleBook(store).list(with_photos=False)}
    return PhotoFacts(id=record.id, path=record.path, taken_at=record.taken_at_iso, date_source=record.date_source,
                      place=record.place, camera=record.camera, people=[names.get(p, p) for p in record.people],
                      faces=record.faces, tags=list(record.tags), caption=record.caption, user_text=record.user_text)


def list_people(store: PhotoStore) -> list[Person]:
    return PeopleBook(store).list(with_photos=False)


def vector_of(searcher: Searcher, ids: list[str]) -> dict[str, np.ndarray] | None:
    """The looks-space vectors of ``ids``, for re-ranking by feedback; None without a looks space."""
    space = looks_space(searcher)
    return None if space is None else searcher.store.get_vectors(space[1], ids)
