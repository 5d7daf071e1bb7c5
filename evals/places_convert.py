"""Convert evals/data/places_sources.tsv (public lists, see its header) into the place phrases
of evals/places.py: evals/data/places.json.

* nps (US National Park Service points): each park twice, as its full name ("Yosemite National
  Park") and as people say it ("Yosemite": " National Park", " & Preserve" and the like cut);
* capitals (each country's capital): the name as listed; an entry whose name is a description
  ("Vaiaku village, Funafuti province") is dropped.

Each phrase is marked with a misleading namesake when the gazetteer itself (GeoNames
cities1000, admin1 regions) has a place of the same name over NAMESAKE_KM from the expected
point: the "Paris, Texas" of that phrase.  Run: python -m evals.places_convert
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from tools.resolve import geo

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "data" / "places_sources.tsv"
OUT = HERE / "data" / "places.json"
NAMESAKE_KM = 100.0
_PARK_SUFFIX = re.compile(r"\s+(?:&\s+Kings Canyon\s+)?National Parks?(?:\s+&\s+Preserve)?$", re.IGNORECASE)


def _entries() -> list[dict]:
    out = []
    for line in SOURCES.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        source, name, lat, lon, country = line.split("\t")
        item = {"source": source, "name": name, "lat": float(lat), "lon": float(lon), "country": country}
        if source == "nps":
            out.append({**item, "phrase": name, "kind": "national park (full name)"})
            short = _PARK_SUFFIX.sub("", name).strip()
            if short and short != name:
                out.append({**item, "phrase": short, "kind": "national park (short name)"})
        elif source == "capitals":
            if "," in name and name != "Washington, D.C.":
                continue
            out.append({**item, "phrase": name, "kind": "capital"})
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
