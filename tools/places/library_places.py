"""Places relative to the library: "where we went skiing" is where the library's skiing was.

No gazetteer knows where a person went skiing, but their photos do: the events of
tools/understand/moments.py have a place and photos whose captions, keywords and tags say what
happened. So an activity phrase resolves to the places of the events whose content matches it:

1. The phrase is found (``find_activity_phrase``): "where we went skiing", "the place we went
   hiking", "where we had the wedding", "the beach we went to". Only these shapes: "where is my
   dog" and "we went home" name no activity, and the activity is never handed to the gazetteer
   (there is a town for almost every noun; none called "Skiing" must ever be the answer).
2. A photo shows the activity by words when its words (search_text: the person's captions,
   model captions, tags) hold the activity's root ("ski" in "skier", "skis"), or its event's top
   tags do; by meaning when words miss ("skijoring"): the MiniLM vector of the person's caption
   against the activity's, at ``MEANING_FLOOR``. evals/activity_meaning.py on
   Flickr8k-test (one caption per photo, 8 activities): a floor of 0.40 keeps photo precision
   0.77-1.0 (recall 0.12-0.65); 0.35 drops precision to 0.48-0.91. Events pool their photos, so
   a low photo recall still finds the event.
3. An event counts when enough of it matches (by words ``MIN_SHARE`` of its photos, or
   ``MIN_PHOTOS``; with meaning's help ``MEANING_SHARE``), and only events at least half as strong
   as the best: one stray "ski" caption at the beach
   adds no second place to a ski trip.
4. The matching events' places become one circle each (events within ``event_place_km`` of each
   other are one place): a PlaceFilter, with ``circles`` when there are several. A place, not the
   events themselves: a week's ski trip is seven day-events of which only some show snow, and
   "the hotel where we went skiing" is in the others.

Unknown activity, no matching event, or matching events without GPS: no place, and a one-line
note saying so.
"""
from __future__ import annotations

import logging
import re
from collections import defaultdict
from datetime import datetime

from pydantic import BaseModel

from tools.index.store import PhotoStore
from tools.places.countries import country_name
from tools.places.place_models import PlaceFilter
from tools.query.text_match import STOPWORDS, tokenize
from tools.understand.event_labels import EventSummary
from tools.understand.events import distance_km
from tools.understand.moments import COLLECTION as EVENTS, EventBook

log = logging.getLogger(__name__)

MEANING_FLOOR = 0.40  # evals/activity_meaning.py: photo precision 0.77-1.0 at 0.40
MIN_SHARE = 0.25  # of an event's photos that must show the activity...
MIN_PHOTOS = 3  # ...or this many of them (a big trip with a few ski photos among many)
MEANING_SHARE = 0.5  # of its photos when meaning has to help the words
MEANING_CANDIDATES = 500
_SUFFIXES = ("", "s", "es", "e", "er", "ers", "ed", "ing", "ings", "ier", "iers")
# Words that are never the activity itself ("where we went to", "the one we went on").
_NOT_ACTIVITIES = STOPWORDS | {"one", "time", "day", "way", "back", "there", "here", "home", "out", "away",
                               "place", "spot", "last", "first", "next", "again", "together", "too"}

_LEAD = r"(?:where|the\s+(?:place|spot|town|city|area)|somewhere)"
_WHO = r"(?:we|i|they|you|he|she)"
_ACT = r"[a-z][a-z'-]*"
_PATTERNS = (
    # "where we went skiing", "the place we went hiking", "where we used to go camping"
    re.compile(rf"\b{_LEAD}\s+(?:that\s+)?{_WHO}\s+(?:went|go|used\s+to\s+go|did\s+some|tried)\s+"
               rf"(?P<act>[a-z]+ing)\b", re.IGNORECASE),
    # "where we went for the wedding", "where we went on honeymoon"
    re.compile(rf"\b{_LEAD}\s+(?:that\s+)?{_WHO}\s+went\s+(?:for|on)\s+(?:(?:the|our|a|my|that)\s+)?"
               rf"(?P<act>{_ACT}(?:\s+{_ACT})?)", re.IGNORECASE),
    # "where we had the wedding", "where we held our party"
    re.compile(rf"\b{_LEAD}\s+(?:that\s+)?{_WHO}\s+(?:had|held|did|celebrated)\s+(?:the|our|a|my|that)\s+"
               rf"(?P<act>{_ACT}(?:\s+{_ACT})?)", re.IGNORECASE),
    # "the beach we went to", "the lake we were at", "that campsite we stayed at"
    re.compile(rf"\b(?:the|that)\s+(?P<act>{_ACT})\s+(?:that\s+)?{_WHO}\s+(?:went\s+to|were\s+at|stayed\s+at|"
               rf"visited)\b", re.IGNORECASE),
)
# Words the second and third shapes may run on to: "the wedding last year" keeps "wedding".
_TRAILING = re.compile(r"\s+(?:in|at|on|with|last|this|that|and|or|when|near)$")


class ActivityPhrase(BaseModel):
    start: int
    end: int
    phrase: str  # "where we went skiing"
    activity: str  # "skiing"
    activity_start: int  # where the activity's words are in the text
    activity_end: int


class EventMatch(BaseModel):
    event_id: str
    label: str  # the event's short label, "Zermatt, Sat 4 Feb 2023"
    place: str | None
    country_code: str | None
    lat: float | None
    lon: float | None
    start: datetime
    count: int  # photos in the event
    hits: int  # of them showing the activity
    how: str  # "words" or "meaning"


class ActivityPlaces(BaseModel):
    """What an activity phrase resolved to; ``place`` is None when no place can be said."""

    activity: str
    phrase: str
    events: list[EventMatch] = []
    place: PlaceFilter | None = None
    note: str = ""  # "where you went skiing: Zermatt, Feb 2023 (event of 42 photos)"


def find_activity_phrase(text: str) -> ActivityPhrase | None:
    """The first activity phrase in ``text``. Apart from "went <doing>", a capitalised word is a
    name ("the Louvre we went to"), left to the gazetteer."""
    best = None
    for n, pattern in enumerate(_PATTERNS):
        for match in pattern.finditer(text):
            act = _TRAILING.sub("", match.group("act").strip())
            # "went Skiing" is an activity however it was typed; "the Louvre we went to" is a name.
            if n == 0:
                act = act.lower()
            words = act.split()
            if not words or any(w.lower() in _NOT_ACTIVITIES for w in words) or act != act.lower():
                continue
            # "the beach we went to": the phrase runs past the activity; else it ends with it.
            end = match.end() if n == len(_PATTERNS) - 1 else match.start("act") + len(act)
            if best is None or match.start() < best.start:
                best = ActivityPhrase(start=match.start(), end=end, phrase=text[match.start():end], activity=act,
                                      activity_start=match.start("act"),
                                      activity_end=match.start("act") + len(act))
            break
    return best


def activity_roots(activity: str) -> set[str]:
    """"skiing" -> {"ski"}, "swimming" -> {"swim", "swimm"}, "the wedding" -> {"wedd", "wedding"}."""
    roots = set()
    for word in tokenize(activity):
        roots.add(word)
        for suffix in ("ing", "er", "ers", "es", "s", "e"):
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                root = word[: -len(suffix)]
                roots.add(root)
                if len(root) >= 4 and root[-1] == root[-2]:  # swimm-ing, shopp-ing
                    roots.add(root[:-1])
                break
    return roots


def _mentions(tokens: set[str], roots: set[str]) -> bool:
    return any(root + suffix in tokens for root in roots for suffix in _SUFFIXES)


class LibraryEvents:
    """The library's events, read only when an activity is asked about. ``models``: a
    tools.models.registry.Models, for the meaning of captions (None: words only)."""

    def __init__(self, store: PhotoStore, models=None):
        self.store = store
        self.models = models

    def activity_places(self, found: ActivityPhrase,
                        date_range: tuple[datetime, datetime] | None = None) -> ActivityPlaces:
        out = ActivityPlaces(activity=found.activity, phrase=found.phrase)
        try:
            self.store.client.get_collection(EVENTS)  # EventBook would create it: a search writes nothing
            events = {e.id: e for e in EventBook(self.store, self.store.settings).list()}
        except Exception as error:  # noqa: BLE001 - no or an unreadable events collection is no events
            log.info("events not readable: %s", error)
            events = {}
        if date_range is not None:
            lo, hi = date_range
            events = {i: e for i, e in events.items() if e.end >= lo and e.start <= hi}
        if not events:
            then = " then" if date_range else ""
            out.note = f"no dated events in your photos{then}: {found.activity!r} is a word to look for, not a place"
            return out
        words = self._word_hits(found.activity, events)
        meaning = self._meaning_hits(found.activity, events)
        matches = _strong_matches(words, meaning, events)
        out.events = matches
        if not matches:
            out.note = f"no event in your photos looks like {found.activity!r}: no place taken from it"
            return out
        out.place = place_of(matches, self.store.settings.event_place_km)
        out.note = _note(found, matches, out.place)
        return out

    def _word_hits(self, activity: str, events: dict[str, EventSummary]) -> dict[str, set[str]]:
        """Event id -> its photos whose words (or whose event's top tags) name the activity."""
        roots = activity_roots(activity)
        hits: dict[str, set[str]] = defaultdict(set)
        for event in events.values():
            if _mentions(set(tokenize(" ".join(event.tags))), roots):
                hits[event.id] |= set(event.photo_ids)  # a top tag speaks for the whole event
        ids: set[str] = set()
        for root in sorted(roots):
            for form in (root, root.capitalize()):  # the store's full-text match is case-sensitive
                ids |= set(self.store.photos.get(where_document={"$contains": form}, include=[])["ids"])
        for record in self.store.get_photos(sorted(ids)).values():
            if record.event_id in events and _mentions(set(tokenize(record.search_text())), roots):
                hits[record.event_id].add(record.id)
        return dict(hits)

    def _meaning_hits(self, activity: str, events: dict[str, EventSummary]) -> dict[str, set[str]]:
        """Event id -> its photos whose own captions mean the activity (MiniLM, >= MEANING_FLOOR),
        all of them when the event's top tags do."""
        model = self.models.text() if self.models is not None else None
        if model is None:
            return {}
        query = model.embed([activity])[0]
        collection = self.store.vectors("text", model.name, model.dim)
        near = [i for i, score in self.store.query_vectors(collection, query, MEANING_CANDIDATES)
                if score >= MEANING_FLOOR]
        hits: dict[str, set[str]] = defaultdict(set)
        for record in self.store.get_photos(near).values():
            if record.event_id in events:
                hits[record.event_id].add(record.id)
        tagged = [e for e in events.values() if e.tags]
        if tagged:
            sims = model.embed([", ".join(e.tags) for e in tagged]) @ query
            for event, sim in zip(tagged, sims):
                if sim >= MEANING_FLOOR:
                    hits[event.id] |= set(event.photo_ids)
        return dict(hits)


def _strong_matches(words: dict[str, set[str]], meaning: dict[str, set[str]],
                    events: dict[str, EventSummary]) -> list[EventMatch]:
    """The events that show the activity: by words, ``MIN_SHARE`` of their photos (or
    ``MIN_PHOTOS``); by words and meaning together, ``MEANING_SHARE`` (meaning is less precise
    per photo: "hiking" is 0.41 from "a cross-country skier has left a trail"). Then only those
    at least half as strong as the best."""
    strength: dict[str, tuple[float, int, str]] = {}
    for event_id in set(words) | set(meaning):
        count = max(events[event_id].count, 1)
        worded = words.get(event_id, set())
        either = worded | meaning.get(event_id, set())
        if len(worded) / count >= MIN_SHARE or len(worded) >= MIN_PHOTOS:
            strength[event_id] = (len(either) / count, len(either), "words")
        elif len(either) / count >= MEANING_SHARE:
            strength[event_id] = (len(either) / count, len(either), "meaning")
    if not strength:
        return []
    best = max(share for share, _, _ in strength.values())
    chosen = sorted((i for i, (share, _, _) in strength.items() if share >= best / 2), key=lambda i: events[i].start_ts)
    return [EventMatch(event_id=i, label=events[i].short_label or events[i].label, place=events[i].place,
                       country_code=events[i].country_code, lat=events[i].lat, lon=events[i].lon,
                       start=events[i].start, count=events[i].count, hits=strength[i][1], how=strength[i][2])
            for i in chosen]


def place_of(matches: list[EventMatch], radius_km: float) -> PlaceFilter | None:
    """One circle per place of the located events (those within ``radius_km`` are one place);
    None when none has GPS."""
    groups: list[list[EventMatch]] = []
    for match in (m for m in matches if m.lat is not None and m.lon is not None):
        home = next((g for g in groups if distance_km(g[0].lat, g[0].lon, match.lat, match.lon) <= radius_km), None)
        if home is None:
            groups.append([match])
        else:
            home.append(match)
    if not groups:
        return None
    circles = []
    for group in groups:
        lat = sum(m.lat for m in group) / len(group)
        lon = sum(m.lon for m in group) / len(group)
        spread = max(distance_km(lat, lon, m.lat, m.lon) for m in group)
        circles.append((round(lat, 5), round(lon, 5), round(radius_km + spread, 1)))
    labels = list(dict.fromkeys(_place_label(g[0]) for g in groups))
    codes = {g[0].country_code or "" for g in groups}
    common = dict(kind="area", label=" or ".join(labels), country_code=codes.pop() if len(codes) == 1 else "")
    if len(circles) == 1:
        lat, lon, radius = circles[0]
        return PlaceFilter(lat=lat, lon=lon, radius_km=radius, **common)
    return PlaceFilter(circles=circles, **common)


def _place_label(match: EventMatch) -> str:
    country = country_name(match.country_code) if match.country_code else ""
    parts = [p for p in (match.place, country) if p]
    if len(parts) == 2 and parts[0] == parts[1]:
        parts = parts[:1]
    return ", ".join(parts) or f"{match.lat:.3f}, {match.lon:.3f}"


def _note(found: ActivityPhrase, matches: list[EventMatch], place: PlaceFilter | None) -> str:
    """"where you went skiing: Zermatt, Feb 2023 (event of 42 photos)"."""
    said = re.sub(r"\bwe\b", "you", found.phrase, flags=re.IGNORECASE)
    said = re.sub(r"\b(?:our)\b", "your", said, flags=re.IGNORECASE)
    by_place: dict[str, list[EventMatch]] = defaultdict(list)
    for match in matches:
        by_place[match.place or "no place"].append(match)
    parts = []
    for name, group in by_place.items():
        when = group[0].start.strftime("%b %Y")
        if len(group) > 1 and group[-1].start.strftime("%b %Y") != when:
            when += f" - {group[-1].start:%b %Y}"
        photos = sum(m.count for m in group)
        size = (f"event of {photos} photo{'s' if photos != 1 else ''}" if len(group) == 1
                else f"{len(group)} events, {photos} photos")
        parts.append(f"{name}, {when} ({size})")
    note = f"{said}: {'; '.join(parts)}"
    if place is None:
        note += " - but none of those photos has a location, so no place is taken from it"
    return note
