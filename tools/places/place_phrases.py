"""Reading a place phrase: filler words off ("near", "the ... area"), then each way to read it as
a name plus qualifiers ("Paris" + "Texas"), and whether a qualifier fits a place."""
from __future__ import annotations

from dataclasses import dataclass

from tools.places.countries import _country_for, _is_code_like, _state_codes
from tools.places.gazetteer import _gazetteer
from tools.places.name_keys import _key_variants, normalize

# No place name is longer than this; longer input is not a place phrase, and
# capping it keeps the phrase splitting below cheap.
MAX_PHRASE_CHARS = 120
MAX_PHRASE_WORDS = 8

_LEADING_FILLERS: tuple[tuple[str, ...], ...] = (
    ("close", "to"), ("next", "to"), ("not", "far", "from"), ("near",), ("nearby",), ("in",),
    ("at",), ("around",), ("by",), ("from",), ("within",), ("inside",), ("of",),
)
_TRAILING_FILLERS: tuple[tuple[str, ...], ...] = (
    ("and", "its", "surroundings"), ("and", "surroundings"), ("area",), ("region",), ("surroundings",), ("vicinity",), ("nearby",),
)


def _strip_fillers(tokens: list[str], fillers: tuple[tuple[str, ...], ...], leading: bool) -> list[str]:
    """Drop filler words at one end, always leaving at least one word."""
    changed = True
    while changed:
        changed = False
        for filler in fillers:
            n = len(filler)
            if len(tokens) <= n:
                continue
            end = tokens[:n] if leading else tokens[-n:]
            if tuple(normalize(t) for t in end) == filler:
                tokens = tokens[n:] if leading else tokens[:-n]
                changed = True
    return tokens


def _strip_article(tokens: list[str]) -> list[str]:
    return tokens[1:] if len(tokens) > 1 and normalize(tokens[0]) == "the" else tokens


@dataclass(frozen=True)
class _Reading:
    """One way to read a phrase: a name plus qualifiers ("Paris" + ("Texas",))."""

    head: str  # the name as typed (case kept: "IT" is a code, "it" is not)
    quals: tuple[str, ...] = ()

    @property
    def keys(self) -> list[str]:
        return _key_variants(self.head)


def _phrase_parts(phrase: str) -> list[list[str]]:
    """Comma-separated parts as word lists, filler words removed."""
    parts = [p.split() for p in phrase.split(",")]
    parts = [p for p in parts if p]
    if not parts:
        return []
    parts[0] = _strip_fillers(parts[0], _LEADING_FILLERS, leading=True)
    parts[-1] = _strip_fillers(parts[-1], _TRAILING_FILLERS, leading=False)
    for i in range(1, len(parts)):
        parts[i] = _strip_article(_strip_fillers(parts[i], _LEADING_FILLERS, leading=True))
    return parts


def _readings(phrase: str) -> list[_Reading]:
    """All readings of a phrase, most literal first.

    "the Tuscany area" -> "the Tuscany", "Tuscany";  "Paris, Texas" ->
    "Paris Texas", "Paris"+Texas;  "Berlin Germany" -> "Berlin Germany",
    "Berlin"+Germany (a trailing word is tried as a qualifier when it names a
    country or region).
    """
    parts = _phrase_parts(phrase)
    if not parts or sum(len(p) for p in parts) > MAX_PHRASE_WORDS:
        return []
    # "The Hague" keeps its article; "the Tuscany" loses it.
    heads = [parts[0]] + ([_strip_article(parts[0])] if _strip_article(parts[0]) != parts[0] else [])
    rest = [" ".join(p) for p in parts[1:]]
    readings: list[_Reading] = []
    for head in heads:
        readings.append(_Reading(" ".join(head + [w for p in parts[1:] for w in p])))
        if rest:
            readings.append(_Reading(" ".join(head), tuple(rest)))
        else:
            for k in range(len(head) - 1, 0, -1):
                tail = _strip_article(_strip_fillers(head[k:], _LEADING_FILLERS, leading=True))
                tail_text = " ".join(tail)
                if _qualifier_known(tail_text):
                    readings.append(_Reading(" ".join(head[:k]), (tail_text,)))
    return list(dict.fromkeys(readings))


def _qualifier_known(raw: str) -> bool:
    key = normalize(raw)
    if not key:
        return False
    if _country_for(raw) or (_is_code_like(raw) and raw.strip() in _state_codes()):
        return True
    gaz = _gazetteer()
    return key in gaz.regions or key in gaz.admin2_key_set


def _qualifier_matches(raw: str, cc: str, admin1: str, admin2: str = "") -> bool:
    """Whether "Texas" / "Germany" / "US" / "TX" / "Sangamon County" fits a place."""
    key = normalize(raw)
    if not key:
        return True
    if _country_for(raw) == cc:
        return True
    if key in (normalize(admin1), normalize(admin2)):
        return True
    return _is_code_like(raw) and (cc, normalize(admin1)) in _state_codes().get(raw.strip(), ())


def _all_quals_match(quals: tuple[str, ...], cc: str, admin1: str, admin2: str = "") -> bool:
    return all(_qualifier_matches(q, cc, admin1, admin2) for q in quals)
