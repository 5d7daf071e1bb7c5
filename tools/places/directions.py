"""Compass words around a place name: "the south of France", "southern Italy", "the north".

GeoNames has admin1 regions called "South" (Iceland), "North" (Cameroon, Burkina Faso), "East",
"West" and "Centre", so the planner's shorter readings of "in the south of France" used to
land in Iceland.  A compass word plus a place means that place (there are no country outlines
offline to cut out its southern part, so the filter is the whole place); a compass word alone
means no place, unless the person's own library has a region of that name.

Real names that start with a compass word ("South Africa", "North Carolina", "West Virginia",
"Southern California") are read literally first by the caller; only a phrase that resolves to
nothing as written is tried here.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

_COMPASS = (r"north(?:[- ]?(?:east|west))?|south(?:[- ]?(?:east|west))?|east|west|centre|center|"
            r"northern|southern|eastern|western|central|north(?:ern)?most|south(?:ern)?most")
# "the south of France", "south of Spain", "the southern part of Italy", "the far north of Norway"
_OF_FORM = re.compile(rf"^(?:the\s+)?(?:far\s+|deep\s+)?({_COMPASS})(?:\s+(?:part|parts|coast|end|tip))?"
                      rf"\s+of\s+(?:the\s+)?(.+)$", re.IGNORECASE)
# "southern France", "northern Italy", "central Spain"
_ADJECTIVE_FORM = re.compile(r"^(?:the\s+)?(northern|southern|eastern|western|central|"
                             r"north(?:ern)?-?(?:east|west)ern|south(?:ern)?-?(?:east|west)ern)\s+(.+)$",
                             re.IGNORECASE)
_BARE = re.compile(rf"^(?:the\s+)?(?:far\s+)?(?:{_COMPASS})$", re.IGNORECASE)  # not "the Deep South"


@dataclass(frozen=True)
class Directed:
    direction: str  # "south", "northern"
    place: str  # the rest of the phrase, as typed: "France"


def split(phrase: str) -> Directed | None:
    """ "the south of France" -> Directed("south", "France"); None when there is no compass word."""
    text = " ".join(phrase.split()) if isinstance(phrase, str) else ""
    for pattern in (_OF_FORM, _ADJECTIVE_FORM):
        match = pattern.match(text)
        if match and match.group(2).strip():
            return Directed(match.group(1).lower(), match.group(2).strip())
    return None


def is_bare(phrase: str) -> bool:
    """ "the south", "North", "the far north": a direction with no place."""
    return isinstance(phrase, str) and _BARE.match(" ".join(phrase.split())) is not None
