"""One clarifying question, when the top candidates are too close to tell apart.

When to ask: the candidates' fused scores (search scores, in [0, 1]) are "spread" when the best
is less than LEAD_MARGIN ahead of the second; then no single photo is clearly the one. When
one is that far ahead, asking would only slow the person down.

What to ask: each candidate attribute (a tag some of the top photos have and some do not, the
year, the country, the city, how many faces, which named person) splits the top TOP_N photos
into groups. Weighting photos by softmax(score / TEMPERATURE), the answer's entropy is the
expected information gain (the answer fully determines the group), so the attribute with the
largest entropy, in bits, is asked. Attributes unknown for most of the mass are skipped, since
a person cannot answer for photos the index knows nothing about.

Which tags: only those sure enough to ask about (tools/understand/tag_quality.py: a pixel tag
whose measured precision at its confidence, per source and label, is below ASK_PRECISION,
0.8, is not asked about: SSD MobileNet's "bear" on a black dog must not become "Was there a
bear in it?"). A photo whose tag is there but weak counts as unknown for that question.

Which occasion: when the top photos fall into 2 to MAX_EVENTS events (tools/understand/moments.py)
with labels a person can tell apart, the event is one more attribute ("The one in Berlin on Sat
12 Jul 2025, or in Hamburg on Sat 8 Mar 2025?"). It is weighed by the same gain and comes last,
so it is asked when it splits the photos better than year, country or city do (two evenings in
one town), and a simpler question wins a tie. The answer picks an event by its position ("the
second") or by words only one option has ("Hamburg", "the 19th"): :func:`event_answer`.
"""
from __future__ import annotations

import math
import re
from collections import defaultdict
from typing import Callable

from pydantic import BaseModel

from tools.index.records import PhotoRecord
from tools.understand.tag_quality import sure_tags

LEAD_MARGIN = 0.15
TOP_N = 10
TEMPERATURE = 0.1
MIN_GAIN_BITS = 0.5
MAX_UNKNOWN_MASS = 0.5
MAX_EVENTS = 4  # more occasions than this is a list to read, not a question to answer
# Plain-English templates for tags people can answer about; other tags get "Was there a {tag}?".
TAG_QUESTIONS = {"indoor": ("Was it indoors or outdoors?", ["indoors", "outdoors"]),
                 "outdoor": ("Was it indoors or outdoors?", ["outdoors", "indoors"]),
                 "night": ("Was it taken at night?", ["yes", "no"]),
                 "crowd": ("Was there a crowd?", ["yes", "no"]),
                 "sunset": ("Was it at sunset?", ["yes", "no"])}


class Question(BaseModel):
    text: str
    attribute: str  # "tag:night", "year", "country", "city", "faces", "person:p3", "event"
    options: list[str]
    option_ids: list[str] = []  # "event": each option's event id, in the order of options


def _softmax(scores: list[float]) -> list[float]:
    top = max(scores)
    weights = [math.exp((s - top) / TEMPERATURE) for s in scores]
    total = sum(weights)
    return [w / total for w in weights]


def _faces_bucket(r: PhotoRecord) -> str:
    return "nobody" if r.faces == 0 else "one person" if r.faces == 1 else "several people"


def _attributes(records: list[PhotoRecord]) -> dict[str, Callable[[PhotoRecord], str | None]]:
    attrs: dict[str, Callable[[PhotoRecord], str | None]] = {
        "year": lambda r: str(r.taken_at.year) if r.taken_at else None,
        "country": lambda r: r.country or None,
        "city": lambda r: r.city or None,
        "faces": lambda r: _faces_bucket(r) if "faces-1" in r.analyzed or r.faces else None,
    }
    sure = {id(r): sure_tags(r.tags_detail, r.tags) for r in records}
    for tag in sorted({t for r in records for t in sure[id(r)]}):
        if not all(tag in sure[id(r)] for r in records):
            # Weak where it is (below its floor): unknown, neither a yes nor a no.
            attrs[f"tag:{tag}"] = lambda r, tag=tag: ("yes" if tag in sure[id(r)] else
                                                      None if tag in r.tags else "no")
    for person in sorted({p for r in records for p in r.people}):
        attrs[f"person:{person}"] = lambda r, person=person: "yes" if person in r.people else "no"
    if _event_labels(records):
        attrs["event"] = lambda r: r.event_id or None  # last: a simpler question wins a tie
    return attrs


def _event_labels(records: list[PhotoRecord]) -> dict[str, str]:
    """Event id -> short label, when the photos fall into 2..MAX_EVENTS events whose labels
    differ (two "Helsinki, Tue 15 Jun 2021" options could not be told apart); else empty."""
    labels = {r.event_id: r.event_label for r in records if r.event_id}
    if not 2 <= len(labels) <= MAX_EVENTS or not all(labels.values()) or len(set(labels.values())) < len(labels):
        return {}
    return labels


def _occasion(label: str) -> str:
    """ "Berlin, Sat 12 Jul 2025" -> "in Berlin on Sat 12 Jul 2025" (a label without a place: its day)."""
    match = re.match(r"^(?:(?P<place>.+?), )?(?P<days>(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) .+)$", label)
    if not match:
        return label
    return f"in {match['place']} on {match['days']}" if match["place"] else f"on {match['days']}"


def _event_question(ids: list[str], labels: dict[str, str]) -> Question:
    said = [_occasion(labels[i]) for i in ids]
    text = f"The one {', '.join(said[:-1])}, or {said[-1]}?"
    return Question(text=text, attribute="event", options=[labels[i] for i in ids], option_ids=list(ids))


def _gain(groups: dict[str | None, float]) -> float:
    return -sum(p * math.log2(p) for p in groups.values() if p > 0)


def _phrase(attribute: str, options: list[str]) -> Question:
    listed = " or ".join(options[:3]) if len(options) <= 3 else ", ".join(options[:3]) + " or somewhere else"
    if attribute.startswith("tag:"):
        tag = attribute[4:]
        text, opts = TAG_QUESTIONS.get(tag, (f"Was there {'an' if tag[0] in 'aeiou' else 'a'} {tag} in it?",
                                             ["yes", "no"]))
        return Question(text=text, attribute=attribute, options=opts)
    if attribute.startswith("person:"):
        return Question(text=f"Was {attribute[7:]} in it?", attribute=attribute, options=["yes", "no"])
    text = {"year": f"Which year was it: {listed}?", "country": f"Was it in {listed}?",
            "city": f"Was it in {listed}?", "faces": f"Who was in it: {listed}?"}[attribute]
    return Question(text=text, attribute=attribute, options=options[:3])


# Words that say a person is in the photo: after "a boy on a swing", "Was there a person in it?"
# asks what was said.
PERSON_WORDS = set("""person people man men woman women boy boys girl girls child children kid kids baby
toddler guy lady player players skier surfer rider biker climber crowd family couple someone""".split())


def _told(tag: str, said: set[str]) -> bool:
    """Whether the person already named the tag ("a dog running": no "Was there a dog?")."""
    if tag.lower() in ("person", "people") and said & PERSON_WORDS:
        return True
    return all(w in said or f"{w}s" in said or f"{w}es" in said for w in tag.lower().split())


def best_question(records: list[PhotoRecord], scores: list[float], said: str = "") -> Question | None:
    """The most informative question about the top candidates, or None when one is clearly ahead
    (or nothing splits them). ``records`` and ``scores`` are in rank order, best first. Tags in
    ``said`` (what the person has said so far) are not asked about: they were told already."""
    pairs = sorted(zip(scores, range(len(records))), key=lambda p: -p[0])[:TOP_N]
    if len(pairs) < 2 or pairs[0][0] - pairs[1][0] >= LEAD_MARGIN:
        return None
    top = [records[i] for _, i in pairs]
    weights = _softmax([s for s, _ in pairs])
    best: tuple[float, str, list[str]] | None = None
    told = set(re.findall(r"[a-z]+", said.lower()))
    for name, value_of in _attributes(top).items():
        if name.startswith("tag:") and _told(name[4:], told):
            continue
        groups: dict[str | None, float] = defaultdict(float)
        for record, weight in zip(top, weights):
            groups[value_of(record)] += weight
        if groups.get(None, 0.0) > MAX_UNKNOWN_MASS or len([v for v in groups if v is not None]) < 2:
            continue
        gain = _gain(groups)
        options = [v for v, _ in sorted(groups.items(), key=lambda g: -g[1]) if v is not None]
        if gain >= MIN_GAIN_BITS and (best is None or gain > best[0] + 1e-9):
            best = (gain, name, options)
    if best and best[1] == "event":
        return _event_question(best[2], _event_labels(top))
    return _phrase(best[1], best[2]) if best else None


_POSITIONS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "1st": 1, "2nd": 2, "3rd": 3, "4th": 4}
_BY_POSITION = re.compile(rf"(?:it was\s+)?(?:the\s+)?(?:#?\s*(?P<n>\d)|(?P<word>{'|'.join(_POSITIONS)}|last))"
                          r"(?:\s+(?:one|event|option|day|trip))?\s*[.!]?", re.IGNORECASE)
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_WORDS = {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "tues", "thurs"}
_MONTH_WORDS = {"january", "february", "march", "april", "june", "july", "august", "september", "sept",
                "october", "november", "december"}


def _tokens(text: str) -> set[str]:
    """Words of a label or an answer, read alike: "19th" as "19", "Saturday" as "sat", "July" as "jul"."""
    out = set()
    for word in re.findall(r"[\w\u00C0-\u024F]+", text.casefold()):
        if re.fullmatch(r"\d+(?:st|nd|rd|th)", word):
            word = re.sub(r"\D", "", word)
        elif word in _DAY_WORDS or word in _MONTH_WORDS:
            word = word[:3]
        out.add(word)
    return out


def event_answer(question: Question, text: str) -> str | None:
    """The event id an answer to an event question picks, or None when it picks none (or several)."""
    if question.attribute != "event" or len(question.option_ids) != len(question.options):
        return None
    spoken = " ".join((text or "").split())
    # An option said whole (the chat's choices send the one picked): that one, even when its
    # words are all in another's ("Sat 12 Jul 2025" beside "Berlin, Sat 12 Jul 2025").
    whole = [i for i, option in zip(question.option_ids, question.options)
             if " ".join(option.split()).casefold() == spoken.casefold()]
    if len(whole) == 1:
        return whole[0]
    by_position = _BY_POSITION.fullmatch(spoken)
    if by_position:
        word = (by_position["word"] or "").lower()
        n = int(by_position["n"]) if by_position["n"] else len(question.options) if word == "last" else _POSITIONS[word]
        return question.option_ids[n - 1] if 1 <= n <= len(question.options) else None
    labels = [_tokens(o) for o in question.options]
    common = set.intersection(*labels)
    said = _tokens(spoken)
    # Only words that tell options apart count: "2025" says nothing when both were in 2025.
    hits = [len(said & (label - common)) for label in labels]
    best = max(hits)
    return question.option_ids[hits.index(best)] if best and hits.count(best) == 1 else None
