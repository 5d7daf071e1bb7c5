"""Place phrases from public lists (evals/data/places.json: US National Park Service parks, the
world's capitals, UNESCO World Heritage sites of France, Spain and the UK, Natural Earth's named
peaks and waterfalls, Wikidata's attractions with a visitor count; see evals/places_convert.py)
resolved with no library, scored by distance.

A phrase is within tolerance when the filter it resolves to would keep a photo taken at the
expected point: for a circle (city, area), distance(expected, centre) <= max(filter radius,
25 km); for a country or region filter, the expected point reverse-geocodes into it.  Also
reported: the same per source and per kind; for phrases with a misleading namesake (a same-named
gazetteer place elsewhere) and without; for the phrases the product's data files name
(tools/places/places.csv, written by hand, and world_heritage.csv, UNESCO's whole List: neither
built from this list, but the UNESCO rows here are from that List, so they measure the lookup and
the ranking, not coverage) and the rest; the held-out source ("visited", added after the resolver
work and not used to tune it); the source points corrected as wrong (places_convert.ERRATA); misses,
the gazetteer's build time and the first phrase's extra loads.  Run: python -m evals.places
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

from evals.common import default_report, finish_report, log, machine_facts, median, rounded

DATA = Path(__file__).resolve().parent / "data" / "places.json"
MIN_TOLERANCE_KM = 25.0
HELD_OUT = "visited"


def _hit(found, lat: float, lon: float, geo) -> tuple[bool, float | None]:
    if found is None:
        return False, None
    if found.lat is not None and found.lon is not None:
        km = geo.haversine_km(lat, lon, found.lat, found.lon)
        return km <= max(found.radius_km or 0.0, MIN_TOLERANCE_KM), km
    place = geo.reverse_geocode([(lat, lon)])[0]
    if place is None or place.country_code != found.country_code:
        return False, None
    return found.kind == "country" or place.region == found.region, None


def _in_data_files(phrase: str, geo, landmarks) -> bool:
    """Whether the data files (places.csv, world_heritage.csv) name the phrase, read as the
    resolver reads them (the keys of ``landmark_keys``: without its article, " National Park" and
    the like, a mountain word as "mount"; a whole name or an official name's head)."""
    from tools.places.place_phrases import _Reading
    from tools.places.place_resolution import landmark_keys

    keys = landmark_keys(_Reading(phrase))
    return bool(landmarks.lookup(keys, geo.normalize) or landmarks.lookup_heads(keys, geo.normalize))


def _share(rows: list[dict]) -> dict:
    hits = sum(r["hit"] for r in rows)
    return {"n": len(rows), "within": hits, "share": rounded(hits / len(rows), 3) if rows else None}


def run(phrases: list[dict], out: dict) -> None:
    from tools.places import geo, landmarks, populations

    started = time.perf_counter()
    geo.preload()
    out["gazetteer_build_s"] = round(time.perf_counter() - started, 2)
    started = time.perf_counter()
    populations.tables(geo.normalize)
    out["populations_load_s"] = round(time.perf_counter() - started, 2)
    started = time.perf_counter()
    landmarks.index(geo.normalize)
    out["curated_load_s"] = round(time.perf_counter() - started, 3)

    rows, seconds = [], []
    for item in phrases:
        started = time.perf_counter()
        found = geo.resolve_place(item["phrase"])
        seconds.append(time.perf_counter() - started)
        hit, km = _hit(found, item["lat"], item["lon"], geo)
        rows.append({"phrase": item["phrase"], "source": item.get("source", ""), "kind": item["kind"],
                     "namesake": item.get("namesake"), "in_data_files": _in_data_files(item["phrase"], geo, landmarks),
                     "hit": hit, "km": rounded(km, 1), "corrected": item.get("corrected"),
                     "got": None if found is None else {"kind": found.kind, "label": found.label,
                                                         "radius_km": found.radius_km}})
    by_kind = defaultdict(list)
    for row in rows:
        by_kind[row["kind"]].append(row)
    by_source = defaultdict(list)
    for row in rows:
        by_source[row["source"]].append(row)
    out["overall"] = _share(rows)
    out["per_source"] = {source: _share(group) for source, group in sorted(by_source.items())}
    out["per_kind"] = {kind: _share(group) for kind, group in sorted(by_kind.items())}
    out["with_namesake"] = _share([r for r in rows if r["namesake"]])
    out["without_namesake"] = _share([r for r in rows if not r["namesake"]])
    out["named_by_data_files"] = _share([r for r in rows if r["in_data_files"]])
    out["not_named_by_data_files"] = _share([r for r in rows if not r["in_data_files"]])
    out["without_held_out"] = _share([r for r in rows if r["source"] != HELD_OUT])
    out["corrected_points"] = _share([r for r in rows if r["corrected"]])
    radii = [r["got"]["radius_km"] for r in rows if r["hit"] and r["got"] and r["got"]["radius_km"]]
    out["median_radius_of_hits_km"] = rounded(median(radii), 1)
    out["resolve_ms_median"] = rounded(1000 * median(seconds), 2)
    out["misses"] = [r for r in rows if not r["hit"]]
    out["rows"] = rows


def print_summary(out: dict) -> None:
    print(f"\ngazetteer build {out['gazetteer_build_s']} s; first phrase adds populations "
          f"{out['populations_load_s']} s + curated places {out['curated_load_s']} s; "
          f"resolve median {out['resolve_ms_median']} ms")
    print(f"tolerance: distance <= max(filter radius, {MIN_TOLERANCE_KM:.0f} km), or the point inside a "
          f"country/region filter; median radius of hits {out['median_radius_of_hits_km']} km\n")
    groups = [("overall", out["overall"]), *((f"source {k}", v) for k, v in out["per_source"].items()),
              *out["per_kind"].items(),
              ("with a misleading namesake", out["with_namesake"]), ("no namesake", out["without_namesake"]),
              ("named by the data files", out["named_by_data_files"]),
              ("not named by them", out["not_named_by_data_files"]),
              ("all but the held-out source", out["without_held_out"]),
              ("source points corrected", out["corrected_points"])]
    for name, share in groups:
        print(f"{name:32} {share['within']:4}/{share['n']:<4} {share['share']}")
    corrected = out["corrected_points"]
    if corrected["n"]:
        overall = out["overall"]
        print(f"\nscored against the uncorrected source points, the {corrected['within']} corrected hits would miss: "
              f"{overall['within'] - corrected['within']}/{overall['n']} {rounded((overall['within'] - corrected['within']) / overall['n'], 3)}")
    if out["misses"]:
        print("\nmisses:")
        for row in out["misses"]:
            got = row["got"]["label"] if row["got"] else "nothing"
            print(f"  {row['phrase']!r} ({row['kind']}) -> {got}" + (f", {row['km']} km" if row["km"] else ""))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--report", type=Path, default=default_report("places"))
    args = parser.parse_args(argv)
    data = json.loads(args.data.read_text(encoding="utf-8"))
    command = " ".join([sys.executable, "-m", "evals.places", *(sys.argv[1:] if argv is None else argv)])
    out: dict = {"benchmark": "places", "command": command, "machine": machine_facts(), "data": str(args.data),
                 "about": data.get("about", [])}
    started = time.perf_counter()
    log(f"{len(data['phrases'])} phrases")
    run(data["phrases"], out)
    return finish_report(out, started, args.report, print_summary)


if __name__ == "__main__":
    main()
