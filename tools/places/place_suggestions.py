"""Spellings to suggest when a place phrase matches nothing ("unknown place 'Arezo': did you mean
Arezzo?"): :func:`close_place_names`."""
from __future__ import annotations

import difflib
import math
import threading

from tools.places.countries import _country_index, country_name
from tools.places.gazetteer import _Gazetteer, _gazetteer
from tools.places.name_keys import normalize
from tools.places.place_phrases import MAX_PHRASE_CHARS, _phrase_parts, _strip_article
from tools.places.place_ranking import _name_in_admin

_VOCAB_LOCK = threading.Lock()
_VOCAB: dict[str, tuple[int, str]] | None = None  # key -> (kind rank, display name)


def _vocabulary() -> dict[str, tuple[int, str]]:
    """Every name a phrase can match; countries before regions before cities on ties."""
    global _VOCAB
    with _VOCAB_LOCK:
        if _VOCAB is None:
            gaz = _gazetteer()
            vocab: dict[str, tuple[int, str]] = {}
            names, _codes = _country_index()
            for key, code in names.items():
                vocab.setdefault(key, (0, country_name(code)))
            for key, candidates in gaz.regions.items():
                vocab.setdefault(key, (1, candidates[0][1]))
            for key, rows in gaz.cities.items():
                vocab.setdefault(key, (2, gaz.names[rows[0]]))
            _VOCAB = vocab
        return _VOCAB


def _prominence(gaz: _Gazetteer, key: str, kind: int) -> float:
    """Small score bonus so that, between similar spellings, the better-known
    place wins: countries and regions, then towns that name their region or
    province, or that have many neighbours (see `_city_rank`)."""
    if kind < 2:
        return 0.1
    best = 0.0
    for row in gaz.cities[key][:20]:
        seat = _name_in_admin(key, gaz.admin1_keys[row]) or _name_in_admin(key, gaz.admin2_keys[row])
        best = max(best, min(0.08, 0.01 * math.log2(1 + gaz.satellites(row))) + 0.05 * seat)
    return best


def close_place_names(phrase: str, n: int = 5) -> list[str]:
    """Up to ``n`` known place names spelled like ``phrase``, best first.

    For "unknown place 'Arezo': did you mean Arezzo?" messages.  difflib's
    similarity ratio, plus a little for a matching first letter (typos rarely
    hit it) and for prominent places.
    """
    if not isinstance(phrase, str) or isinstance(n, bool) or not isinstance(n, int) or n <= 0:
        return []
    parts = _phrase_parts(phrase[:MAX_PHRASE_CHARS])
    key = normalize(" ".join(_strip_article(parts[0]))) if parts else ""
    if not key:
        return []
    gaz = _gazetteer()
    matcher = difflib.SequenceMatcher()
    matcher.set_seq2(key)  # difflib caches details about seq2: keep the query there
    slack = max(2, len(key) // 3)
    scored: list[tuple[float, str]] = []
    for candidate, (kind, display) in _vocabulary().items():
        if abs(len(candidate) - len(key)) > slack:  # cannot reach the cutoff anyway
            continue
        matcher.set_seq1(candidate)
        if matcher.real_quick_ratio() < 0.6 or matcher.quick_ratio() < 0.6:
            continue
        ratio = matcher.ratio()
        if ratio >= 0.6:
            bonus = 0.05 * (candidate[0] == key[0]) + _prominence(gaz, candidate, kind)
            scored.append((-(ratio + bonus), display))
    scored.sort()
    return list(dict.fromkeys(display for _, display in scored))[:n]
