"""Build tools/places/world_heritage.csv from UNESCO's own export of the World Heritage List.

Source: ``whc-sites-2019.csv``, UNESCO's export of the whole List as of 2019 (1,121 sites; the
same columns as whc.unesco.org/en/list/xls), as kept in the public repository
github.com/painte15/Evolution-of-the-UNESCO-World-Heritage-Program at commit
b91cd7c8de350d9f8f41c6dfeac541abcbcecb10.  Only facts are kept: each site's English and French
name, its point, a radius from its inscribed area, its category and its country.  The whole
List goes in, not a chosen part: evals/places.py draws 100 of its sites (France, Spain, the UK)
from a different copy of it and reports how it does on phrases that the data files name and
on those they do not.

Run: python scripts/world_heritage.py PATH/TO/whc-sites-2019.csv
"""
from __future__ import annotations

import csv
import html
import io
import math
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script: the project's own gazetteer places the territories

import numpy as np  # noqa: E402

from tools.places import geo  # noqa: E402
from tools.places.coordinates import _chord, _unit_vectors  # noqa: E402
from tools.places.gazetteer import _gazetteer  # noqa: E402

OUT = ROOT / "tools" / "places" / "world_heritage.csv"
# A State Party with no town of its own this near the site's point is not where the site is:
# the territory it lies in is (Bermuda for the UK, New Caledonia for France).
TERRITORY_KM = 300.0

# A site's area as a circle, kept between these: a cathedral's 1 ha is still photographed from the
# square in front of it, and a desert park of 7 million ha is not one place a photo is "at".
MIN_RADIUS_KM = 2.0
# A coast, a range or a reef is photographed from around it (a boat in the gulf, a viewpoint across
# the valley), and its listed point is one spot of it.
MIN_NATURAL_RADIUS_KM = 10.0
MAX_RADIUS_KM = 150.0
DEFAULT_RADIUS_KM = 5.0  # no area given

HEADER = """\
# The UNESCO World Heritage List (2019, 1,121 sites): facts only, built by
# scripts/world_heritage.py from UNESCO's whc-sites-2019 export (source and commit in that
# script).  name: the English name; alt_names: the French name where it differs; radius_km:
# the circle of the inscribed area, between 2 km (natural and mixed sites 10 km) and 150 km,
# 5 km when no area is given; kind: "heritage" plus the category; country: ISO 3166-1, "" for a
# site of several countries, and an overseas territory's own code (Bermuda BM, not the State
# Party's GB), as reverse geocoding gives its photos.  Left out: the 30 sites whose names lost
# letters in the export ("Historic Centre of ?eský Krumlov"), which would match nothing.
# Tried after tools/places/places.csv, whose hand-written rows keep their meaning.
"""


def _text(raw: bytes) -> str:
    """The export mixes Windows-1252 rows with UTF-8 ones: each line is read as what it decodes as."""
    lines = []
    for line in raw.split(b"\n"):
        for encoding in ("utf-8", "cp1252", "latin-1"):
            try:
                lines.append(line.decode(encoding))
                break
            except UnicodeDecodeError:
                continue
    return "\n".join(lines)


def _clean(name: str) -> str:
    name = re.sub(r"<[^>]+>", "", html.unescape(name or ""))
    return re.sub(r"\s+", " ", name).strip(" ,")


def _radius(area_ha: str, category: str) -> float:
    floor = MIN_NATURAL_RADIUS_KM if category.strip().lower() in ("natural", "mixed") else MIN_RADIUS_KM
    try:
        area = float(area_ha)
    except ValueError:
        return max(floor, DEFAULT_RADIUS_KM)
    if not math.isfinite(area) or area <= 0:
        return max(floor, DEFAULT_RADIUS_KM)
    radius = math.sqrt(area / 100.0 / math.pi)
    return round(min(MAX_RADIUS_KM, max(floor, radius)), 1)


def _territory(country: str, lat: float, lon: float) -> str:
    """The code of the territory a State Party's far-off site lies in, else ``country``."""
    gaz = _gazetteer()
    point = _unit_vectors(np.array([lat]), np.array([lon]))[0]
    if any(gaz.cc[row] == country for row in gaz.tree.query_ball_point(point, _chord(TERRITORY_KM))):
        return country
    found = geo.reverse_geocode([(lat, lon)])[0]
    return found.country_code if found is not None and found.country_code else country


def rows(raw: bytes) -> list[list[str]]:
    out = []
    for site in csv.DictReader(io.StringIO(_text(raw))):
        name, french = _clean(site["name_en"]), _clean(site["name_fr"])
        try:
            lat, lon = float(site["latitude"]), float(site["longitude"])
        except ValueError:
            continue
        if "?" in name:  # a letter the export lost ("Taputapu?tea"): the other name, if it kept it
            name, french = (french, "") if french and "?" not in french else ("", "")
        if "?" in french:
            french = ""
        if not name or not (-90 <= lat <= 90 and -180 <= lon <= 180):
            continue
        codes = [c.strip().upper() for c in (site["iso_code"] or "").split(",") if c.strip()]
        country = codes[0] if len(codes) == 1 and len(codes[0]) == 2 else ""
        if country:
            country = _territory(country, lat, lon)
        alt = french if french and french.casefold() != name.casefold() else ""
        kind = "heritage " + (site["category"] or "").strip().lower()
        out.append([name, alt.replace("|", "/"), f"{lat:.4f}", f"{lon:.4f}", str(_radius(site["area_hectares"], site["category"] or "")),
                    kind.strip(), country])
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    table = rows(Path(argv[0]).read_bytes())
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["name", "alt_names", "lat", "lon", "radius_km", "kind", "country"])
    writer.writerows(table)
    OUT.write_text(HEADER + buffer.getvalue(), encoding="utf-8")
    print(f"{len(table)} sites -> {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
