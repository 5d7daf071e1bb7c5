"""Which gazetteer rows and regions a reading names, and which of same-named towns a person means:
their own library's places first (:class:`_Known`), then exonyms, size and prominence."""
from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable

from tools.places import populations
from tools.places.gazetteer import _Gazetteer
from tools.places.name_keys import _fold, normalize
from tools.places.place_phrases import _Reading

# English and native names for cities whose GeoNames ASCII name is the other one.
# The shipped CSV has no alternate names, so the most common cases are listed here;
# each maps a typed key to extra gazetteer keys (candidates are added, not replaced).
_EXONYMS: dict[str, tuple[str, ...]] = {
    "naples": ("napoli",), "milan": ("milano",), "cologne": ("koeln",), "koln": ("koeln",),
    "nuremberg": ("nuernberg",), "gothenburg": ("goeteborg",), "goteborg": ("goeteborg",),
    "kyiv": ("kiev",), "seville": ("sevilla",), "geneva": ("geneve",), "genf": ("geneve",),
    "frankfurt": ("frankfurt am main",), "munchen": ("munich",), "muenchen": ("munich",),
    "roma": ("rome",), "firenze": ("florence",), "venezia": ("venice",), "wien": ("vienna",),
    "praha": ("prague",), "warszawa": ("warsaw",), "lisboa": ("lisbon",),
    "kobenhavn": ("copenhagen",), "bruxelles": ("brussels",), "brussel": ("brussels",),
    "torino": ("turin",), "genova": ("genoa",), "moskva": ("moscow",), "athina": ("athens",),
    "nyc": ("new york city",), "peking": ("beijing",), "bombay": ("mumbai",),
    "calcutta": ("kolkata",), "madras": ("chennai",), "saigon": ("ho chi minh city",),
    "den haag": ("the hague",), "lucerne": ("luzern",),
}


@dataclass
class _Known:
    """The places already in the user's library, counted."""

    cities: Counter = field(default_factory=Counter)  # (city, region, cc) -> count
    regions: Counter = field(default_factory=Counter)  # (region, cc) -> count
    countries: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, places: Iterable[Any]) -> "_Known":
        known = cls()
        try:
            iterator = iter(() if places is None else places)
        except TypeError:
            return known
        for place in iterator:
            city, region, cc = (_field(place, name) for name in ("city", "region", "country_code"))
            if not cc:
                continue
            known.countries.add(cc)
            if region:
                known.regions[(region, cc)] += 1
            if city:
                known.cities[(city, region, cc)] += 1
        return known

    def has_region(self, cc: str, region: str) -> bool:
        return (region, cc) in self.regions


def _field(place: Any, name: str) -> str:
    # Accept Place objects and the plain dicts the store keeps.
    value = place.get(name) if isinstance(place, dict) else getattr(place, name, "")
    return value.strip() if isinstance(value, str) else ""


def _city_rows(gaz: _Gazetteer, reading: _Reading) -> tuple[list[int], set[int]]:
    """Gazetteer rows whose name matches the reading (qualifiers not applied yet),
    and the subset found through the exonym table, which outrank literal namesakes
    ("Roma" means Rome, Italy, before Roma, Romania)."""
    keys = reading.keys
    exonym_rows = {row for key in keys for alt in _EXONYMS.get(key, ()) for row in gaz.cities.get(alt, ())}
    # GeoNames' own alternate names of larger towns: "Bruges" -> Brugge, "Firenze" -> Florence.
    # Only when no town of 15,000+ has the name itself: alternates also hold other languages'
    # names ("Dili" is Delhi in Indonesian, "Bridgetown" a nickname of Portland).
    literal = [row for key in keys for row in gaz.cities.get(key, ())]
    literal += [row for key in keys for row in gaz.capital_rows_named(key) if row not in literal]
    alternate_rows: set[int] = set()
    if not any(gaz.population(row) for row in literal):
        by_alternate = populations.tables(normalize).by_alternate
        alternate_rows = {gaz.row_near(t.lat, t.lon, t.cc) for key in keys for t in by_alternate.get(key, ())} - {None}
    rows = literal + sorted(exonym_rows) + sorted(alternate_rows)
    if not rows:
        rows = [row for key in keys for row in gaz.cities_folded.get(_fold(key), ())]
    return list(dict.fromkeys(rows)), exonym_rows


def _region_candidates(gaz: _Gazetteer, reading: _Reading) -> list[tuple[str, str]]:
    keys = reading.keys
    found = [c for key in keys for c in gaz.regions.get(key, ())]
    if not found:
        found = [c for key in keys for c in gaz.regions_folded.get(_fold(key), ())]
    return list(dict.fromkeys(found))


def _name_in_admin(name_key: str, admin_key: str) -> bool:
    """ "arezzo" in "province of arezzo", "cambridge" in "cambridgeshire",
    "koeln" in "regierungsbezirk koln"."""
    name, admin = _fold(name_key), _fold(admin_key)
    return bool(name) and re.search(r"(?:^| )" + re.escape(name), admin) is not None


def _city_rank(gaz: _Gazetteer, row: int, known: _Known, preferred: set[int]) -> tuple:
    """Sort key (higher is better) among same-named cities.

    1. a region of the user's library contains it (they were there);
    2. it came from the exonym table ("Naples" -> Napoli);
    3. its size class, the order of magnitude of its prominence (GeoNames population, times
       CAPITAL_WEIGHT for a national capital; 0 below 15,000 people): Paris, France (2 million)
       beats Paris, Texas (25,000) whatever the library holds elsewhere in the US, since "Paris"
       means Texas only to someone who was there;
    4. the user's library has photos in its country: between towns of one size class
       (Cambridge GB and Cambridge MA) the library's country decides;
    5. the prominence itself;
    6. the city gives its name to its admin1 region: capitals and city-states such as
       Berlin, Vienna, Lima, Tripoli (for towns below 15,000 people, which have no population);
    7. how many GeoNames entries lie within 30 km (big cities are ringed by suburbs and
       satellite towns), tripled when the city's name also starts a word of its admin1 or
       admin2 (seats: Arezzo/"Province of Arezzo", Cambridge/"Cambridgeshire").
    """
    name_key, cc = gaz.name_keys[row], gaz.cc[row]
    seat = _name_in_admin(name_key, gaz.admin1_keys[row]) or _name_in_admin(name_key, gaz.admin2_keys[row])
    prominence = gaz.prominence(row)
    return (
        known.has_region(cc, gaz.admin1[row]),
        row in preferred,
        int(math.log10(prominence)) if prominence > 0 else 0,
        cc in known.countries,
        prominence,
        _fold(name_key) == _fold(gaz.admin1_keys[row]),
        gaz.satellites(row) * (3 if seat else 1),
        -row,  # stable tie-break
    )


def _best_city(gaz: _Gazetteer, rows: list[int], known: _Known, preferred: set[int] = frozenset()) -> int | None:
    return max(rows, key=lambda row: _city_rank(gaz, row, known, preferred)) if rows else None


def _namesake_city(gaz: _Gazetteer, reading: _Reading, cc: str, region: str, known: _Known) -> int | None:
    """The city a region is named after, if the reading names it too.

    People typing "Berlin", "Madrid" or "Zurich" mean the city, not the
    state, community or canton that shares its name.
    """
    rows, preferred = _city_rows(gaz, reading)
    # "Buenos Aires" the city sits in admin1 "Buenos Aires F.D.", not in the province.
    rows = [r for r in rows if gaz.cc[r] == cc and (
        gaz.admin1[r] == region or _name_in_admin(gaz.name_keys[r], gaz.admin1_keys[r]))]
    return _best_city(gaz, rows, known, preferred)


# The Americas and Oceania named many of their towns after European ones (Córdoba, Argentina after
# Córdoba, Spain; Durham, North Carolina after Durham, England; Canterbury, New Zealand after
# Canterbury, Kent), as colonists did in Asia and Africa (Toledo, Cebu).  A bare "Cordoba" means
# the bigger namesake (population decides, as for every name), but a heritage site named by the
# town ("Historic Centre of Cordoba", "Durham Castle and Cathedral") is the original's: the copy
# is younger than the site.  So Europe first, then the rest of the Old World ("Bethlehem").
_NEW_WORLD = frozenset({"NA", "SA", "OC"})
_OLD_WORLD = frozenset({"EU", "AS", "AF"})


def _old_world_namesake(gaz: _Gazetteer, reading: _Reading, found_cc: str) -> int | None:
    """For a reading resolved to a place in the Americas or Oceania (``found_cc``): the row of the
    same-named town of 15,000+ people in Europe (the largest), else in Asia or Africa, or None."""
    continents = populations.tables(normalize).continents
    if continents.get(found_cc) not in _NEW_WORLD:
        return None
    # GeoNames names some of them "City of Westminster", "City of London"
    rows = _city_rows(gaz, reading)[0] + [r for key in reading.keys for r in gaz.cities.get(f"city of {key}", ())]
    rows = [r for r in rows if continents.get(gaz.cc[r]) in _OLD_WORLD and gaz.population(r) > 0]
    return max(rows, key=lambda r: (continents.get(gaz.cc[r]) == "EU", gaz.population(r)), default=None)
