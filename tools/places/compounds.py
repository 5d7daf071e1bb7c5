"""Site and building names built around a place name: "Historic Centre of Cordoba", "Chartres
Cathedral", "Palace and Park of Versailles", "Old Town of Segovia and its Aqueduct", "Cathedral,
Alcázar and Archivo de Indias in Seville", "Bordeaux, Port of the Moon".

Heritage lists and people name a site by its town plus a frame word ("cathedral", "old town",
"walls"), and official names stack clauses around it ("Roman Theatre and its Surroundings and
the Triumphal Arch of Orange": the town after the last "of"; "Ensembles of Úbeda and Baeza":
each town, the first first; "..., Bermuda": the address after a described site).  The curated file cannot list every cathedral, but the town is in the gazetteer, and a
photo of the site was taken in or next to it.  :func:`places_in` only cuts out the candidate
place names, best first; ``tools.places.geo`` resolves them (only when the whole phrase is no
place) and says in the label what it matched.

Ordinary phrases must stay ordinary: the frame word has to be a building or site word, the place
part has to be a real place (checked by the caller), and a dedication is no place ("Cathedral of
Saint John" is not Saint John, New Brunswick; "St Paul's Cathedral" is not Saint Paul).  A place
part after the frame word ("X Cathedral") or after "in" must be capitalised as typed: "sand
castle" and "a castle in the sand" name no town.
"""
from __future__ import annotations

import re
from typing import Iterator

# Buildings and sites a frame names.  Lead forms ("Palace of X") take all of them; the tail form
# ("X Cathedral") only those that do not end ordinary place names already ("X City", "X Park",
# "X Bay" are often the names themselves, tried whole before this module is asked).
_TAIL_NOUNS = (r"cathedral|cathedrals|abbey|priory|minster|monastery|monasteries|convent|basilica|castle|"
               r"castles|palace|palaces|fortress|citadel|bridge|aqueduct|walls|amphitheatre|amphitheater|"
               r"ruins|dolmens|site|sites|old\s+town|old\s+city|historic\s+(?:centre|center|district|quarter)|"
               r"(?:cultural|industrial|mining)\s+landscape|hillsides|coast|gorge|gorges|"
               # administrative words GeoNames leaves off the town's name ("Yaren District")
               r"district|atoll|municipality|prefecture|governorate")
_LEAD_NOUNS = (_TAIL_NOUNS + r"|church|churches|chapel|mosque|temple|synagogue|fort|forts|fortifications|"
               r"tower|towers|theatre|theater|monuments?|sites?|ensembles?|centre|center|city|town|towns|"
               r"quarter|precinct|harbour|harbor|port|bay|banks|waterfront|square|squares|place|plaza|piazza|"
               r"gardens?|park|parks|mills|saltworks|routes?|landscape|university|hillsides|caves?|"
               r"streets?|district|villages?|hospital|architecture|art|jurisdiction|lagoons?")
_RELIGIOUS = re.compile(r"\b(?:cathedrals?|abbey|priory|minster|monaster(?:y|ies)|convent|basilica|church(?:es)?|"
                        r"chapel|mosque|temple|synagogue)\b", re.IGNORECASE)
# Up to three words before the noun ("Historic Fortified City of", "Cistercian Abbey of"), and
# "and" joining nouns ("Palace and Park of", "Castles and Town Walls of").
_LEAD = re.compile(rf"^(?:the\s+)?(?:[\w'’-]+\s+){{0,3}}?(?:{_LEAD_NOUNS})"
                   rf"(?:\s+(?:and|&)\s+(?:[\w'’-]+\s+){{0,2}}?(?:{_LEAD_NOUNS}))*\s+of\s+(?:the\s+)?(?P<place>.+)$",
                   re.IGNORECASE)
_TAIL = re.compile(rf"^(?:the\s+)?(?P<place>.+?)(?<!\sand)(?<!\sits)(?<!\sthe)(?<!\sof)\s+(?:{_TAIL_NOUNS})(?:\s+(?:and|&)\s+(?:{_TAIL_NOUNS}))*$",
                   re.IGNORECASE)
_IN = re.compile(r"^(?P<site>.+)\s+in\s+(?:the\s+)?(?P<place>[^,]+)$", re.IGNORECASE)
_SITE_WORD = re.compile(rf"\b(?:{_LEAD_NOUNS})\b", re.IGNORECASE)
# "X and its Bay", "X with its Extra-Muros Churches", "X and Associated Sites": X is the place.
_WITH = re.compile(r"^(?P<place>.+?)\s+(?:(?:and|with)\s+(?:its|their|the)|and\s+(?:associated|related))\s+.+$",
                   re.IGNORECASE)
# UNESCO-style long names put the town after the last "of" of a clause that holds a site word
# further back ("Roman Theatre and its Surroundings and the Triumphal Arch of Orange").
_LAST_OF = re.compile(r"^(?P<site>.+)\s+of\s+(?:the\s+)?(?P<place>[^\s,][^,]*)$", re.IGNORECASE)
_SEPARATORS = re.compile(r"\s*(?:[,:;()\[\]–—]|\s-\s)\s*")
# A dedication, not a town: "Saint John", "St. Mary", "Notre-Dame", "Our Lady", "the Holy Cross".
_DEDICATION = re.compile(r"^(?:st\.?|saint|san|santa|santo|sankt|notre[\s-]dame|our\s+lady|holy|sacred|the\s+holy)\b",
                         re.IGNORECASE)
_POSSESSIVE = re.compile(r"['’]s?$")
# Style and age words that are also towns ("Roman Walls" is no wall of Roman, Romania).
_STYLE = {"roman", "romanesque", "gothic", "greek", "norman", "moorish", "medieval", "ancient", "old", "new",
          "royal", "great", "grand", "imperial", "baroque", "byzantine", "saxon", "celtic", "historic", "summer",
          "winter", "little", "big"}


def _capitalised(text: str) -> bool:
    return text[:1].isupper()


def _usable(place: str, frame: str) -> bool:
    words = place.split()
    if not words or _POSSESSIVE.search(words[-1]):  # "St Paul's Cathedral": a saint, not a town
        return False
    return not (_RELIGIOUS.search(frame) and _DEDICATION.match(place))


def _framed(text: str, whole: str = "") -> Iterator[str]:
    """The place part of one frame around ``text`` ("Chartres Cathedral" -> "Chartres"); ``whole``
    is the full list-style phrase whose other parts may hold the site word of an "in" form."""
    match = _WITH.match(text)
    if match:
        yield match.group("place")
        yield from _framed(match.group("place"))
    match = _IN.match(text)
    if match and _SITE_WORD.search(whole or match.group("site")) and _capitalised(match.group("place")):
        yield match.group("place")
    match = _LEAD.match(text)
    if match and _usable(match.group("place"), text[:match.start("place")]):
        yield match.group("place")
        yield from _framed(match.group("place"))  # "Old Town of Segovia and its Aqueduct"
        yield from _joined(match.group("place"))  # "Monumental Ensembles of Úbeda and Baeza"
    match = _TAIL.match(text)
    if match and _capitalised(match.group("place")) and match.group("place").split()[-1].lower() not in _STYLE \
            and _usable(match.group("place"), text[match.end("place"):]):
        yield match.group("place")
        yield from _framed(match.group("place"))  # "Antequera Dolmens Site"
        if _capitalised(text[match.end("place"):].strip()):  # a name's own frame word, capitalised
            yield from _joined(match.group("place"))  # "Giant's Causeway and Causeway Coast"
    match = _LAST_OF.match(text)
    if match and _SITE_WORD.search(match.group("site")) and _capitalised(match.group("place")) \
            and " of " not in match.group("place").lower() and _usable(match.group("place"), match.group("site")):
        yield match.group("place")


def places_in(phrase: str) -> list[str]:
    """Candidate place names inside a site or building name, best first; [] when none.

    A list written with separators names its place first when the rest describes a site or the
    first separator is a dash or colon (a title and its subtitle: "Bordeaux, Port of the Moon",
    "Strasbourg – Grande île"), else last, in address order ("Alhambra, Generalife and Albayzín,
    Granada"), unless that last part is itself a description ("... and St Martin's Church") or
    the phrase is a name and its qualifier.
    """
    if not isinstance(phrase, str):
        return []
    text = " ".join(phrase.split())
    found: list[str] = []
    parts = [p for p in _SEPARATORS.split(text) if p and p.strip()]
    if len(parts) > 1:
        first, last = parts[0], re.sub(r"^(?:and|&)\s+", "", parts[-1], flags=re.IGNORECASE)
        titled = re.match(r"[^,;]*?(?:[:(–—]|\s-\s)", text) is not None
        if titled or any(_SITE_WORD.search(p) for p in parts[1:]):
            found.append(first)
        # Two parts without a site word are a name and its qualifier ("Arezzo, France": no such
        # Arezzo, so no place), never the qualifier alone.  A last part that is a bare name after
        # a described site is its address, and beats a town inside the description ("Historic
        # Town of St George and Related Fortifications, Bermuda": Bermuda, not St George, St
        # Vincent).
        if _capitalised(last) and not _SITE_WORD.search(last) and (
                len(parts) > 2 or any(_SITE_WORD.search(p) for p in parts[:-1])):
            found.append(last)
        found += list(_framed(first))
        match = _IN.match(last)
        if match:
            found += list(_framed(last, whole=text))
    else:
        found += list(_framed(text))
    found = [f.strip() for f in found if f.strip() and f.strip() != text]
    return list(dict.fromkeys(found))


def _joined(place: str) -> list[str]:
    """Two towns joined after a frame: the pair is no place, each one is; the filter is one circle,
    so the first one said comes first."""
    halves = re.split(r"\s+(?:and|&)\s+", place)
    if len(halves) != 2 or not all(_capitalised(h) and _usable(h, "") for h in halves):
        return []
    return halves
