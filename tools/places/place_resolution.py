"""Place phrase -> :class:`PlaceFilter` (:func:`resolve_place`): a country, the user's own places,
a curated landmark, a GeoNames region or city, or a site named by a place ("Chartres Cathedral")."""
from __future__ import annotations

import re
from typing import Any, Iterable

from tools.places import compounds, directions, landmarks
from tools.places.coordinates import _as_float, haversine_km
from tools.places.countries import _country_for, country_name
from tools.places.gazetteer import _Gazetteer, _gazetteer
from tools.places.name_keys import _fold, _key_variants, normalize
from tools.places.place_models import Place, PlaceFilter
from tools.places.place_phrases import MAX_PHRASE_CHARS, _all_quals_match, _Reading, _readings
from tools.places.place_ranking import (_best_city, _city_rows, _Known, _namesake_city, _old_world_namesake,
                                         _region_candidates)

DEFAULT_RADIUS_KM = 25.0
CITY_BEATS_REGION_POPULATION = 1_000_000
# A region the city table holds hardly any towns of (Toledo District, Belize: one) is not what a
# bare name means when a city of this size bears it too (Toledo, Ohio).
SMALL_REGION_TOWNS = 3
CITY_BEATS_SMALL_REGION_POPULATION = 100_000

# A site named by its town ("Chartres Cathedral", "Old Town of Segovia"): a circle this size around
# the town's point.  Cathedrals, castles and old towns sit in or beside the town they are named for.
COMPOUND_RADIUS_KM = 5.0
COMPOUND_LABEL_CHARS = 60

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
        if region is not None and region.kind == "region" and city is not None and not _known_in(known, region):
            population = _filter_population(gaz, city)
            small = gaz.region_sizes[(region.country_code, region.region)] < SMALL_REGION_TOWNS
            if population >= CITY_BEATS_REGION_POPULATION or _is_capital(gaz, city) \
                    or (small and population >= CITY_BEATS_SMALL_REGION_POPULATION):
                return city
        found = region or city
        if found:
            return found
    return None


# A county is an area around its towns: their mean point and the distance that holds nine in ten
# of them (a few outlying entries, islands, would make the circle twice the county).  It needs a
# few towns to be a county and not a hamlet's division: "Gwynedd" has 25 in the city table.
COUNTY_MIN_TOWNS = 3
COUNTY_REACH = 0.9


def _match_county(readings: list[_Reading], known: _Known, gaz: _Gazetteer) -> PlaceFilter | None:
    """A second-level division (county, département) the phrase names, when no town or region does;
    same-named ones: the library's country, then the one with more towns."""
    for reading in readings:
        candidates = [c for key in reading.keys for c in gaz.counties_named(key)
                      if len(c[2]) >= COUNTY_MIN_TOWNS and _all_quals_match(reading.quals, c[0], gaz.admin1[c[2][0]])]
        if not candidates:
            continue
        cc, name, rows = max(candidates, key=lambda c: (c[0] in known.countries, len(c[2])))
        lat, lon = float(gaz.lat[rows].mean()), float(gaz.lon[rows].mean())
        reach = sorted(haversine_km(lat, lon, float(gaz.lat[r]), float(gaz.lon[r])) for r in rows)
        radius = max(DEFAULT_RADIUS_KM, reach[int(COUNTY_REACH * (len(reach) - 1))])
        return PlaceFilter(kind="area", label=f"{name}, {country_name(cc)}", country_code=cc,
                           lat=lat, lon=lon, radius_km=round(radius, 1))
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
    name = _shortened(place.name)  # an official name can run to 120 characters
    label = name if not country or normalize(country) in normalize(place.name) else f"{name}, {country}"
    # A heritage site named by its town ("Chartres Cathedral"): the town is the place, and the rest
    # ("Cathedral") stays words to look for in the photos, as for a site the data files lack.
    within = next((part for part in compounds.places_in(reading.head) if part in reading.head), None) \
        if place.kind.startswith("heritage") else None
    return PlaceFilter(kind="area", label=label, country_code=place.country,
                       lat=place.lat, lon=place.lon, radius_km=place.radius_km, within=within)


# "Yosemite National Park" is the park "Yosemite"; such a phrase never means a town.  Keys are
# normalised, so "& Preserve" arrives as " preserve" ("&" is a separator) and "N.P." as " np".
_PARK_WORDS = re.compile(r"\s+(?:national|state|provincial)\s+(?:park|parks|forest|monument|preserve|reserve)"
                         r"(?:\s+(?:and\s+)?(?:preserve|reserve))?$|\s+n\s?p$", re.IGNORECASE)


# "Mtn Hood", "Gora Elbrus", "Monte Cervino": the word for a mountain, abbreviated or in the peak's
# own language, where the data files write "Mount X" ("Mt." is written out with the other keys).
_MOUNT_WORDS = re.compile(r"^(?:mtn|gora|monte|mont|pico|cerro|volcan)\s+(?=\S)")


def landmark_keys(reading: _Reading) -> list[str]:
    """The keys a reading is looked up under in the data files: as written, without " National
    Park" and the like, and with a mountain word as "mount"."""
    keys = reading.keys
    keys += [k for k in (_PARK_WORDS.sub("", key) for key in keys) if k and k not in keys]
    keys += [k for k in (_MOUNT_WORDS.sub("mount ", key) for key in keys) if k not in keys]
    return keys


def _match_landmark(readings: list[_Reading], gaz: _Gazetteer, heads: bool = False) -> PlaceFilter | None:
    """A curated island, region, feature or landmark the phrase names ("Lake Como"), or with
    ``heads`` one whose official name starts with the phrase ("Gulf of Porto")."""
    find = landmarks.lookup_heads if heads else landmarks.lookup
    for reading in readings:
        for place in find(landmark_keys(reading), normalize):
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
    south of France", "northern Italy") it means that place (``tools.places.directions``).
    A phrase that is no place as a whole but a site named by a place ("Chartres Cathedral",
    "Historic Centre of Cordoba", "Cathedral, Alcázar and Archivo de Indias in Seville") means
    that place (``tools.places.compounds``; a town as a COMPOUND_RADIUS_KM circle), with the
    matched part said in the label; a town of the Americas or Oceania there yields to a same-named
    Old World one (``_older_namesake``).  Last, a county or département no town or region is
    named after ("Gwynedd"): an area around its towns (``_match_county``).
    """
    found = _resolve_whole(phrase, known_places, radius_km)
    if found is None and isinstance(phrase, str) and len(phrase) <= MAX_PHRASE_CHARS:
        found = _resolve_compound(phrase, known_places, radius_km)
    return found


def _shortened(text: str) -> str:
    return text if len(text) <= COMPOUND_LABEL_CHARS else text[:COMPOUND_LABEL_CHARS - 1].rstrip() + "…"


def _library_site(found: PlaceFilter | None, phrase: str, known: _Known, known_places: Iterable[Place],
                  radius_km: float) -> PlaceFilter | None:
    """A heritage site abroad whose town's namesake is where the library's photos are ("Historic
    Centre of Cordoba" to someone with photos in Córdoba, Argentina) is that town's site."""
    if found is None or found.within is None or not known.countries or found.country_code in known.countries:
        return found
    theirs = _resolve_compound(phrase, known_places, radius_km)
    return theirs if theirs is not None and theirs.country_code in known.countries else found


def _resolve_compound(phrase: str, known_places: Iterable[Place], radius_km: float) -> PlaceFilter | None:
    for part in compounds.places_in(phrase):
        inner = _resolve_whole(part, known_places, radius_km)
        if inner is None:
            continue
        inner = _older_namesake(part, inner, known_places, radius_km)
        # "the city of angels": a lower-case place part must be more than a village of that name.
        if part == part.lower() and inner.kind == "city" and _filter_population(_gazetteer(), inner) == 0:
            continue
        shown = _shortened(phrase)
        update: dict[str, Any] = {"label": f'{inner.label} (matched "{part}" in "{shown}")', "within": part}
        if inner.kind == "city":
            update["radius_km"] = min(inner.radius_km or COMPOUND_RADIUS_KM, COMPOUND_RADIUS_KM)
        return inner.model_copy(update=update)
    return None


def _older_namesake(part: str, inner: PlaceFilter, known_places: Iterable[Place], radius_km: float) -> PlaceFilter:
    """A site named by a town in the Americas or Oceania whose name an Old World town of 15,000+
    people also bears is the Old World town's (place_ranking._old_world_namesake says why),
    unless the library has photos in the first one's country."""
    if inner.kind not in ("city", "region") or inner.country_code in _Known.of(known_places).countries:
        return inner
    readings, gaz = _readings(part), _gazetteer()
    row = _old_world_namesake(gaz, readings[0], inner.country_code) if readings else None
    return inner if row is None else _city_filter(gaz, row, _radius(radius_km))


def _resolve_whole(
    phrase: str, known_places: Iterable[Place] = (), radius_km: float = DEFAULT_RADIUS_KM
) -> PlaceFilter | None:
    if not isinstance(phrase, str) or len(phrase) > MAX_PHRASE_CHARS:
        return None
    readings = _readings(phrase)
    if not readings:
        # Too many words for a name plus qualifiers, but maybe a site's whole official name
        # ("Prehistoric Sites and Decorated Caves of the Vézère Valley").
        whole, gaz = ([_Reading(phrase)] if phrase.strip() else []), _gazetteer()
        return _match_landmark(whole, gaz) or _match_landmark(whole, gaz, heads=True)
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
    found = mine or _library_site(_match_landmark(readings, gaz), phrase, known, known_places, radius_km) \
        or _match_gazetteer(readings, known, gaz, radius) or _match_landmark(readings, gaz, heads=True) \
        or _match_county(readings, known, gaz)
    directed = directions.split(literal) if found is None else None
    if directed is not None:  # "the south of France": France (no outlines offline to cut its south out)
        return resolve_place(directed.place, known_places, radius_km)
    return found
