"""Convert evals/data/places_sources.tsv (public lists, see its header) into the place phrases
of evals/places.py: evals/data/places.json.

* nps (US National Park Service points): each park twice, as its full name ("Yosemite National
  Park") and as people say it ("Yosemite": " National Park", " & Preserve" and the like cut);
* capitals (each country's capital): the name as listed; an entry whose name is a description
  ("Vaiaku village, Funafuti province") is dropped;
* unesco (World Heritage sites, UNESCO's official names): the official name ("Historic Centre of
  Cordoba") and, where one can be cut out by the fixed rules of ``_unesco_short``, the name people
  say ("Cordoba", "Alhambra" from "Alhambra, Generalife and Albayzín, Granada");
* naturalearth (named peaks, passes, depressions and waterfalls): Natural Earth's name ("Gora
  Elbrus") and its English name where that differs ("Mount Elbrus");
* visited (Wikidata attractions with a visitor count): the English label as listed.

Three capitals' points in the source are another town's (ERRATA): the expected point is
corrected, the entry marked "corrected" with the reason, and evals/places.py says how many.

Each phrase is marked with a misleading namesake when the gazetteer itself (GeoNames
cities1000, admin1 regions) has a place of the same name over NAMESAKE_KM from the expected
point: the "Paris, Texas" of that phrase.  Run: python -m evals.places_convert
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from tools.places import geo

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "data" / "places_sources.tsv"
OUT = HERE / "data" / "places.json"
NAMESAKE_KM = 100.0
# Source points that are another place's, checked against GeoNames (cities1000 / cities15000):
# each capital's list entry carries the point of the town that was capital before, or of another
# island.  (source, name) -> (lat, lon, why).
ERRATA = {
    ("capitals", "Naypyidaw"): (19.745, 96.130, "the source gives Yangon's point (16.8 N 96.15 E), the capital until 2005"),
    ("capitals", "Gitega"): (-3.426, 29.931, "the source gives Bujumbura's point (3.37 S 29.35 E), the capital until 2019"),
    ("capitals", "Tarawa Atoll"): (1.328, 172.977, "the source gives Banaba's point (0.88 S 169.53 E), another island"),
}
_PARK_SUFFIX = re.compile(r"\s+(?:&\s+Kings Canyon\s+)?National Parks?(?:\s+&\s+Preserve)?$", re.IGNORECASE)


# Official UNESCO names wrap the place people name in descriptions: "Historic Centre of X",
# "X, Port of the Moon", "X (Roman Aqueduct)", "Cathedral, Alcázar and Archivo de Indias in Seville".
_UNESCO_LEAD = re.compile(r"^(?:the\s+)?(?:historic(?:al)?\s+(?:centre|center|city|town|site|areas?)|old\s+(?:and\s+new\s+)?"
                          r"(?:town|towns|city)|historic\s+fortified\s+city|city|town|episcopal\s+city|"
                          r"archaeological\s+(?:site|ensemble)|jurisdiction|monuments|university\s+and\s+historic\s+precinct)"
                          r"\s+of\s+", re.IGNORECASE)
_UNESCO_TAIL = re.compile(r"\s*(?:[,:(].*|\s[–-]\s.*|\s+(?:with|and\s+its|and\s+the)\s+.*)$")
_GENERIC = {"cathedral", "church", "abbey", "monastery", "palace", "the climats", "the causses"}


def _unesco_short(name: str) -> str:
    """The place inside an official name, or "" when the rules cut out nothing or only a common noun."""
    short = _UNESCO_TAIL.sub("", _UNESCO_LEAD.sub("", name.strip())).strip()
    if not short or short.lower() in _GENERIC or short.lower() == name.strip().lower():
        return ""
    return short


def _entries() -> list[dict]:
    out = []
    for line in SOURCES.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        source, name, lat, lon, country, *more = line.split("\t")
        category, other = (more + ["", ""])[:2]
        item = {"source": source, "name": name, "lat": float(lat), "lon": float(lon), "country": country}
        if (source, name) in ERRATA:
            item["lat"], item["lon"], item["corrected"] = ERRATA[(source, name)]
        if category:
            item["category"] = category
        if source == "nps":
            out.append({**item, "phrase": name, "kind": "national park (full name)"})
            short = _PARK_SUFFIX.sub("", name).strip()
            if short and short != name:
                out.append({**item, "phrase": short, "kind": "national park (short name)"})
        elif source == "capitals":
            if "," in name and name != "Washington, D.C.":
                continue
            out.append({**item, "phrase": name, "kind": "capital"})
        elif source == "unesco":
            out.append({**item, "phrase": name, "kind": "UNESCO site (official name)"})
            short = _unesco_short(name)
            if short:
                out.append({**item, "phrase": short, "kind": "UNESCO site (short name)"})
        elif source == "visited":
            out.append({**item, "phrase": name, "kind": "most-visited attraction"})
        elif source == "naturalearth":
            out.append({**item, "phrase": name, "kind": f"natural feature ({category})"})
            if other and other != name:
                out.append({**item, "phrase": other, "kind": f"natural feature ({category})"})
    return out


def _namesake(phrase: str, lat: float, lon: float) -> str | None:
    """A same-named gazetteer place far from the expected one, biggest first."""
    gaz = geo._gazetteer()
    key = geo.normalize(phrase)
    far = [row for row in gaz.cities.get(key, ()) if geo.haversine_km(lat, lon, gaz.lat[row], gaz.lon[row]) > NAMESAKE_KM]
    if far:
        row = max(far, key=lambda r: (gaz.population(r), gaz.satellites(r)))
        return f"{gaz.names[row]}, {gaz.admin1[row]}, {gaz.cc[row]}"
    regions = gaz.regions.get(key, ())
    return f"{regions[0][1]} (region), {regions[0][0]}" if regions else None


def main() -> None:
    entries = _entries()
    for entry in entries:
        entry["namesake"] = _namesake(entry["phrase"], entry["lat"], entry["lon"])
    header = [line[2:] for line in SOURCES.read_text(encoding="utf-8").splitlines() if line.startswith("# ")]
    data = {"about": header + [f"namesake: a gazetteer place of the same name more than {NAMESAKE_KM:.0f} km away"],
            "phrases": entries}
    OUT.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    with_namesake = sum(1 for e in entries if e["namesake"])
    print(f"{len(entries)} phrases, {with_namesake} with a misleading namesake -> {OUT}")


if __name__ == "__main__":
    main()
