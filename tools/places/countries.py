"""Countries by name, alias or code ("Italy", "Holland", "USA", "IT"), their display names, and
the state and province codes people write after a town ("Paris, TX")."""
from __future__ import annotations

from collections import defaultdict
from functools import lru_cache

import pycountry

from tools.places.name_keys import _key_variants, normalize

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
