"""A search plan made from one sentence by rules (no LLM): what the photo shows, when, where, who.

``rule_plan`` finds the spans it understands (a date phrase, place phrases, known names,
"not X" exclusions), resolves them with the tools (``tools.dates.date_phrases``, ``geo.resolve_place``), and
what is left, minus filler words, is the visual description. ``plan_to_query`` turns the plan
into the search tool's typed ``SearchQuery``.

Spoken phrasing is tidied first (``agent.spoken.tidy_spoken``, also run by the LLM planner and
the dialogue): fillers go, and a self-correction keeps only the corrected value.

Place rules, because the gazetteer knows a town for almost every noun ("Beach", "Friend",
"Home", "Sunset" are US towns):
* a capitalised span counts when it resolves; a single capitalised word at the start of a
  sentence (where every word is capitalised) counts only when it is strong (below);
* a lowercase span counts only after in/at/near/around, and only when it is strong: a country,
  a region, or a city that is in the person's own library ("in italy", "in berlin" for someone
  with Berlin photos, but not "at the beach").
"""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Iterable, Union

from pydantic import BaseModel

from agent.feedback import ordinals_to_numbers
from agent.spoken import tidy_spoken
from tools.places import geo, home, library_places
from tools.dates.date_phrases import DateRange, find_date_span, resolve_date_phrase
from tools.query.search import SearchQuery
from tools.query.toolbox import ListPeople, PhotoDetails, SameEvent, ShowBurst, SimilarTo

MAX_PLACE_WORDS = 6
FILLERS = ("the one with", "i remember", "a photo of", "a picture of", "photo of", "picture of", "pic of", "photos of", "pictures of",
           "i think", "i guess", "i believe", "i suppose", "maybe", "it was", "it's", "there was", "uh", "um", "erm",
           "that", "may i see", "can you find", "can you show me", "show me", "find me", "i'm looking for",
           "looking for", "do you have", "or something", "or whatever", "the photo of", "the picture of",
           "this photo of", "this picture of", "the one where", "there's", "there is", "that time")
# Words that never start a place, though some are capitalised ("I", weekdays and months belong
# to dates, which are removed first anyway).
NOT_PLACE_WORDS = {"i", "my", "me", "we", "our", "the", "a", "an", "and", "or", "with", "of", "it", "was",
                   "that", "this", "there", "some", "one"}
# Words after "not"/"no" that are not things to exclude ("not sure", "no idea").
NOT_EXCLUSIONS = {"sure", "really", "very", "too", "so", "much", "idea", "one", "longer", "more", "that",
                  "at", "in", "on", "quite", "exactly", "certain"}
_WORD = r"[A-Za-z\u00C0-\u024F][\w'\u00C0-\u024F-]*"
# "St. Moritz", "Mt. Fuji", "Ft. Lauderdale": the period of these abbreviations is inside a name.
_ABBREVIATION = r"(?:St|Ste|Mt|Mtn|Ft|Pt)\."
_CAP = rf"(?:{_ABBREVIATION}|[A-Z\u00C0-\u00DE][\w'\u00C0-\u024F-]*)"
# Lower-case words inside a name: "Isle of Skye", "Lake of the Woods", "Roman Walls of Lugo",
# "Trinidad and Tobago", "Newcastle upon Tyne", "Rio de Janeiro".
_JOINTS = {"of", "the", "de", "del", "della", "di", "da", "du", "des", "la", "le", "los", "las", "y", "upon",
           "on", "am", "and"}
_JOINT = "|".join(sorted(_JOINTS))
_CAPITALISED_RUN = rf"{_CAP}(?:(?:\s+(?:{_JOINT}))*\s+{_CAP})*"


class Plan(BaseModel):
    visual: str = ""  # what the photo shows, in the person's words
    date_phrase: str | None = None
    place_phrase: str | None = None
    people: list[str] = []  # names as the person wrote them
    exclude: list[str] = []  # words after "not" / "no" / "without"
    required_tags: list[str] = []  # e.g. "night" from "it was at night"; boosted, not filtered
    faces: str | None = None  # "nobody" / "one person" / "several people": an answer; a weight, not a filter
    ruled_out: list[str] = []  # "country=Italy", "year=2022", "event=ev-1": the options of a question answered "neither"
    # Filled by code from the phrases above:
    date_range: DateRange | None = None
    place: geo.PlaceFilter | None = None
    person_ids: list[str] = []
    unknown: list[str] = []  # what did not resolve, each with a short note for the person
    # Set by the dialogue ("more from that day", an answer to "which occasion?"), never by a planner:
    event: str | None = None  # an event id (tools/understand/moments.py)
    event_label: str | None = None  # its short label, "Berlin, Sat 12 Jul 2025": the id means nothing to people

    def with_event(self, event_id: str, label: str | None) -> "Plan":
        """This plan narrowed to one event. Its date and place go: the event says when and where,
        and a date kept beside it could only cut it short (a trip running past the end of "July")."""
        return self.model_copy(update={"event": event_id, "event_label": label, "date_phrase": None,
                                       "date_range": None, "place_phrase": None, "place": None})


class PlanContext(BaseModel):
    """What a planner knows besides the sentence."""

    now: datetime
    names: list[str] = []  # the people the library knows by name
    places: list[Any] = []  # the library's places (store meta "places")
    name_ids: dict[str, str] = {}  # name -> person id
    shown: int = 0  # photos on screen: the numbers the person may refer to
    anchors: dict[str, Any] = {}  # "home" / "work" -> tools.places.home.Anchor, for "at home"
    events: Any = None  # tools.places.library_places.LibraryEvents, for "where we went skiing"


# What a planner decides: search with a plan, or call one of the other tools.
Action = Union[Plan, SimilarTo, PhotoDetails, ListPeople, SameEvent, ShowBurst]

_DETAILS = re.compile(r"\b(?:details?|tell me (?:more )?about|info(?:rmation)? (?:on|about)|more about|"
                      r"(?:when|where) was)\b.*?#?\s*(\d{1,3})\b", re.IGNORECASE)
_PEOPLE = re.compile(r"\b(?:(?:list|show)(?: me)?(?: the| all)? (?:people|persons|faces)|which people|"
                     r"who (?:do you know|is in my|are the people|have you (?:found|seen)))\b", re.IGNORECASE)


# "other photos from that day", "the rest of that day", "more from that trip": the occasion of a
# photo on screen, not a description of one.
_OCCASION = (r"(?:day|trip|event|evening|morning|afternoon|night|outing|weekend|holiday|vacation|occasion|"
             r"party|concert|wedding)")
_SAME_EVENT = re.compile(
    rf"\b(?:(?:other|more)\s+(?:(?:photos?|pictures?|pics|shots)\s+)?(?:from|of)|(?:the\s+)?rest\s+of|"
    rf"everything\s+(?:else\s+)?from|all\s+(?:the\s+)?(?:photos?|pictures?)\s+(?:from|of))\s+"
    rf"(?:that|this|the\s+same)\s+{_OCCASION}\b", re.IGNORECASE)
_PHOTO_NUMBER = re.compile(r"(?<!\w)#?\s*(\d{1,3})\b")


# "show the burst", "all the frames of #2", "the other shots of that one": a burst's frames.
_BURST = re.compile(r"\b(?:(?:show|see|open|expand)\s+(?:me\s+)?(?:all\s+)?(?:the\s+)?(?:other\s+)?"
                    r"(?:frames|shots|burst)|all\s+(?:the\s+)?(?:other\s+)?frames|the\s+other\s+frames)\b",
                    re.IGNORECASE)


def _show_burst(text: str, shown: int, that: int | None) -> ShowBurst | None:
    if not shown or not _BURST.search(text):
        return None
    numbers = [int(n) for n in _PHOTO_NUMBER.findall(text) if 1 <= int(n) <= shown]
    return ShowBurst(photo=numbers[0] if numbers else that if that and 1 <= that <= shown else 1)


def _same_event(text: str, shown: int, that: int | None) -> SameEvent | None:
    """"more from that day (as #2)": the photo named by number, else the one being talked about
    (``that``), else #1, the agent's own best guess."""
    if not shown or not _SAME_EVENT.search(text):
        return None
    numbers = [int(n) for n in _PHOTO_NUMBER.findall(text) if 1 <= int(n) <= shown]
    return SameEvent(photo=numbers[0] if numbers else that if that and 1 <= that <= shown else 1)


def rule_tool_call(text: str, shown: int,
                   that: int | None = None) -> PhotoDetails | ListPeople | SameEvent | ShowBurst | None:
    """The other tools, by pattern: "details of #2", "who do you know?", "more from that day",
    "show the burst of #2"; ``that``: the number of the photo "that day" means when none is said."""
    text = ordinals_to_numbers(text or "", shown)
    occasion = _same_event(text, shown, that) or _show_burst(text, shown, that)
    if occasion is not None:
        return occasion
    match = _DETAILS.search(text)
    if match and 1 <= int(match.group(1)) <= shown:
        return PhotoDetails(photo=int(match.group(1)))
    if _PEOPLE.search(text or ""):
        return ListPeople()
    return None


def rule_action(text: str, ctx: PlanContext) -> Action:
    """What the rules make of a sentence: another tool's call when it asks for one, else a plan."""
    return rule_tool_call(text, ctx.shown) or rule_plan(text, ctx.now, ctx.names, ctx.places, name_ids=ctx.name_ids,
                                                        anchors=ctx.anchors, events=ctx.events)


def known_places_from(raw: Iterable[Any]) -> list[geo.Place]:
    """``store.get_meta("places", [])`` gives dicts; geo wants Place values."""
    out = []
    for item in raw or []:
        if isinstance(item, geo.Place):
            out.append(item)
        elif isinstance(item, dict):
            try:
                out.append(geo.Place(**{k: v or "" for k, v in item.items() if k in geo.Place.model_fields}))
            except Exception:  # noqa: BLE001 - a malformed fact must not stop a search
                continue
    return out


def _strong(found: geo.PlaceFilter, known: list[geo.Place]) -> bool:
    """A country, a region, or a city the library has photos from."""
    if found.kind != "city":
        return True
    city = geo.normalize(found.label.split(",")[0])
    return any(geo.normalize(p.city) == city and p.country_code == found.country_code for p in known)


class _Spans:
    """Character spans of the input that are understood, so the rest is the visual phrase."""

    def __init__(self, text: str):
        self.text = text
        self.taken: list[tuple[int, int]] = []
        self.held: list[tuple[int, int]] = []  # read (no place is in them) but still words to see

    def free(self, start: int, end: int) -> bool:
        return all(end <= a or start >= b for a, b in self.taken + self.held)

    def take(self, start: int, end: int) -> None:
        self.taken.append((start, end))

    def hold(self, start: int, end: int) -> None:
        self.held.append((start, end))

    def rest(self) -> str:
        chars = list(self.text)
        for a, b in self.taken:
            for i in range(a, b):
                chars[i] = " "
        return "".join(chars)


def _find_date(text: str, now: datetime, spans: _Spans) -> tuple[str | None, DateRange | None]:
    span = find_date_span(text, now)
    if not span:
        return None, None
    at, end = span
    phrase = text[at:end]
    # Take a leading preposition with it: "in March" leaves no dangling "in".
    lead = re.search(r"\b(?:in|during|on|from|at|around|over)\s+$", text[:at], re.IGNORECASE)
    spans.take(lead.start() if lead else at, end)
    return phrase, resolve_date_phrase(phrase, now)


def _find_people(text: str, known_names: list[str], spans: _Spans) -> list[str]:
    found: list[str] = []
    for name in sorted({n for n in known_names if n and n.strip()}, key=len, reverse=True):
        pattern = re.compile(rf"(?:\bwith\s+)?(?<![\w'])({re.escape(name.strip())})(?![\w'])", re.IGNORECASE)
        for match in pattern.finditer(text):
            if spans.free(match.start(1), match.end(1)):
                spans.take(match.start(), match.end())
                if name not in found:
                    found.append(name)
    return found


def _words_after(text: str, start: int) -> list[re.Match]:
    """Up to MAX_PLACE_WORDS words from ``start``, stopping at punctuation."""
    words: list[re.Match] = []
    for match in re.finditer(rf"{_ABBREVIATION}|{_WORD}|[^\w\s]", text[start:]):
        if not re.match(_WORD, match.group()) or len(words) >= MAX_PLACE_WORDS:
            break
        words.append(match)
    return words


def _try_span(text: str, start: int, words: list[re.Match], known: list[geo.Place], need_strong: bool,
              spans: _Spans) -> tuple[int, int, geo.PlaceFilter] | None:
    """Longest prefix of ``words`` (offsets relative to ``start``) that resolves as a place."""
    for n in range(len(words), 0, -1):
        first, last = start + words[0].start(), start + words[n - 1].end()
        phrase = text[first:last]
        if words[0].group().lower() in NOT_PLACE_WORDS and words[0].group().lower() != "the":
            return None
        if phrase.lower() in ("the",) or not spans.free(first, last):
            continue
        found = geo.resolve_place(phrase, known)
        if found is not None and (not need_strong or _strong(found, known)):
            return first, last, found
    return None


def _find_place(text: str, known: list[geo.Place], spans: _Spans,
                unknown: list[str]) -> tuple[str | None, geo.PlaceFilter | None]:
    unresolved: str | None = None
    # 1. "in / at / near / around X": lowercase X only when strong.
    for match in re.finditer(r"\b(in|at|near|around)\s+", text, re.IGNORECASE):
        words = _words_after(text, match.end())
        if not words or not spans.free(match.start(), match.end()):
            continue
        capitalised = [w for w in words if w.group()[0].isupper() or w.group().lower() == "the"]
        # A capitalised run ("Arezzo", "New York") may resolve to any place; else need a strong one.
        run = []
        for i, w in enumerate(words):
            word = w.group()
            joint = run and word.lower() in _JOINTS and any(x.group()[0].isupper() for x in words[i + 1:i + 3])
            if not (word[0].isupper() or (not run and word.lower() == "the") or joint):
                break
            run.append(w)
        hit = None
        if run and any(w.group()[0].isupper() for w in run):
            hit = _try_span(text, match.end(), run, known, False, spans)
            if hit is None and capitalised:
                name = text[match.end() + run[0].start():match.end() + run[-1].end()]
                if geo.is_kind_of_place(name):  # "near the Old Town": something to see, not a town
                    continue
                close = geo.close_place_names(name, 3)
                unknown.append(f"place {name!r} not found" + (f" (did you mean {', '.join(close)}?)" if close else "")
                               + "; its words are looked for in the photos instead")
                # A sight no data file names ("the British Library") is still words a caption, a
                # sign read by OCR or a file name may hold: only the preposition goes.
                spans.take(match.start(), match.end())
                if run[0].group().lower() == "the":
                    spans.take(match.end() + run[0].start(), match.end() + run[0].end())
                spans.hold(match.end() + run[0].start(), match.end() + run[-1].end())
                unresolved = unresolved or name
                continue
        if hit is None:
            hit = _try_span(text, match.end(), words, known, True, spans)
        if hit:
            first, last, found = hit
            _take_place(text, spans, match.start(), match.end(), first, last, found)
            return text[first:last], found
    # 2. Capitalised runs anywhere ("..., Berlin I think").
    for match in re.finditer(_CAPITALISED_RUN, text):
        words = [w for w in re.finditer(_WORD, match.group())]
        words = [w for w in words if w.group() != "I"][:MAX_PLACE_WORDS]
        if not words:
            continue
        at_start = not text[:match.start()].strip() or text[:match.start()].rstrip()[-1] in ".!?"
        hit = _try_span(text, match.start(), words, known, at_start and len(words) == 1, spans)
        if hit:
            first, last, found = hit
            _take_place(text, spans, first, first, first, last, found)
            return text[first:last], found
    # A place named but not found: its phrase without a filter, so a dialogue drops the place
    # an earlier turn gave rather than keep it against the person's words.
    return unresolved, None


def _take_place(text: str, spans: _Spans, lead: int, lead_end: int, first: int, last: int,
                found: geo.PlaceFilter) -> None:
    """Mark the place words understood (with their preposition, ``lead``..``lead_end``); of a site
    name only its place part ("Chartres" of "Chartres Cathedral"): the site is something to see."""
    if found.within:
        at = text.lower().find(found.within.lower(), first, last)
        if at >= 0:
            spans.take(lead, lead_end)
            spans.take(at, at + len(found.within))
            return
    spans.take(lead, last)


def _find_home(text: str, anchors: dict[str, Any], spans: "_Spans",
               unknown: list[str]) -> tuple[str | None, geo.PlaceFilter | None]:
    """ "at home", "near work": a circle around where the library's photos say those are."""
    found = home.find(text)
    if found is None or not spans.free(found.start, found.end):
        return None, None
    anchor = anchors.get(found.kind)
    if anchor is None:  # no pattern in the photos and no setting: "at home" stays words to look for
        unknown.append(f"{found.kind} is not known from your photos' GPS (set RECALL_{found.kind.upper()}=lat,lon)")
        return None, None
    spans.take(found.start, found.end)
    return text[found.start:found.end], home.place_filter(anchor, found.near)


def _find_activity(text: str, events: Any, date_range: DateRange | None, spans: _Spans,
                   notes: list[str]) -> tuple[str | None, geo.PlaceFilter | None, str]:
    """ "where we went skiing", "the beach we went to": the places of the library's events of
    that activity (tools/places/library_places.py), with a note saying which. No match: no
    place, and the activity (third value) stays a word to look for in the photos; its words are
    taken all the same, so no place rule makes a town of "Skiing"."""
    found = library_places.find_activity_phrase(text)
    if found is None or not spans.free(found.start, found.end):
        return None, None, ""
    result = None
    if events is not None:
        window = (date_range.start, date_range.end) if date_range else None
        result = events.activity_places(found, window)
    spans.take(found.start, found.end)
    if result is not None and result.place is not None:
        notes.append(result.note)
        return found.phrase, result.place, ""
    notes.append(result.note if result is not None else
                 f"{found.phrase!r}: your events were not looked at, so {found.activity!r} is a word to look for")
    return None, None, found.activity


def _find_exclusions(text: str, spans: _Spans) -> list[str]:
    out = []
    for match in re.finditer(rf"\b(?:not|no|without)\s+(?:any\s+|a\s+|an\s+|the\s+)?({_WORD})", text,
                             re.IGNORECASE):
        word = match.group(1).lower()
        if word in NOT_EXCLUSIONS or not spans.free(match.start(), match.end()):
            continue
        spans.take(match.start(), match.end())
        out.append(word)
    return out


def clean_visual(text: str) -> str:
    """Drop filler words and stray punctuation; keep the person's own description words."""
    out = " " + text + " "
    for filler in sorted(FILLERS, key=len, reverse=True):
        out = re.sub(rf"(?<![\w']){re.escape(filler)}(?![\w'])", " ", out, flags=re.IGNORECASE)
    out = re.sub(r"[,;:!?.\"()]+", " ", out)
    out = re.sub(r"\s+", " ", out).strip()
    out = re.sub(r"^(?:yes|yeah|yep|yup|no+|nope)\b\s*", "", out, flags=re.IGNORECASE)  # an answer, not a look
    # A preposition or conjunction left dangling at either end by a removed span.
    edge = r"(?:in|at|near|around|with|and|or|on|from|of|during|for)"
    out = re.sub(rf"^(?:{edge}\s+)+|(?:\s+(?:{edge}|the|a|an))+$", "", out, flags=re.IGNORECASE)
    out = out.strip()
    return "" if out.lower() in ("the", "a", "an") else out


def rule_plan(text: str, now: datetime, known_names: list[str], known_places: Iterable[Any] = (),
              name_ids: dict[str, str] | None = None, anchors: dict[str, Any] | None = None,
              events: Any = None) -> Plan:
    """A plan from one sentence, by rules. ``name_ids`` (name -> person id, from PeopleBook) fills
    ``person_ids``; without it names are kept as names only. ``events`` (a
    tools.places.library_places.LibraryEvents) answers "where we went skiing". Never raises on odd text."""
    text = tidy_spoken(" ".join((text or "").split())[:1000], now)
    known = known_places_from(known_places)
    spans = _Spans(text)
    unknown: list[str] = []
    date_phrase, date_range = _find_date(text, now, spans)
    if date_phrase and date_range is None:
        unknown.append(f"date {date_phrase!r} not understood")
    people = _find_people(text, known_names, spans)
    place_phrase, place, activity = _find_activity(text, events, date_range, spans, unknown)
    if place is None:
        place_phrase, place = _find_home(text, anchors or {}, spans, unknown)
    if place is None:
        place_phrase, place = _find_place(text, known, spans, unknown)
    exclude = _find_exclusions(text, spans)
    # "with Bob" where Bob is nobody known: say so rather than searching for a town called Bob.
    for match in re.finditer(rf"\bwith\s+({_CAP})", text):
        if spans.free(match.start(1), match.end(1)) and match.group(1) != "I":
            unknown.append(f"person {match.group(1)!r} is not a named person")
            spans.take(match.start(), match.end())
    ids_by_name = {k.casefold(): v for k, v in (name_ids or {}).items()}
    person_ids = [ids_by_name[n.casefold()] for n in people if n.casefold() in ids_by_name]
    return Plan(visual=clean_visual(f"{spans.rest()} {activity}"), date_phrase=date_phrase, place_phrase=place_phrase,
                people=people, exclude=exclude, date_range=date_range, place=place, person_ids=person_ids,
                unknown=unknown)


def plan_to_query(plan: Plan, k: int = 20) -> SearchQuery:
    """The typed query the search tool runs. Exclusions and required tags are applied by the
    agent's re-ranking (the search tool has no negative terms)."""
    return SearchQuery(text=plan.visual, k=k,
                       date_from=plan.date_range.start if plan.date_range else None,
                       date_to=plan.date_range.end if plan.date_range else None,
                       place=plan.place, people=list(plan.person_ids), event=plan.event)
