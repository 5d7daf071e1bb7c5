"""Events and bursts on a synthetic phone-like library: purity, completeness, burst precision.

The library (fixed seed) is copies of Flickr8k-test photos with EXIF dates and GPS written into
the copies (evals/dated_copies.py): ``--events`` occasions over three years in real towns, each
3-30 photos with gaps drawn per event from a shooting density (every few seconds to every ~20
minutes, log-normal), GPS within a kilometre of the town and missing on a fifth of the photos
(indoors); some occasions fall on the same day as another in the same town hours apart, or the next
day (a trip), which must stay apart. Bursts: frames of one camera photo (crops of 1-3%, exposure
+-8%, all but one slightly blurred) 0.5-2 s apart, placed inside events, each followed a second
later by a different photo that must not join it.

It is indexed twice into temporary indexes: at once, and in two halves in random order (the
incremental path); both must give the same events. Figures, against the synthetic truth:
- purity: for each found event, the share of its photos from its commonest true event (weighted by size);
- completeness: for each true event, the share of its photos in the found event holding most of them;
- burst precision / recall over pairs of photos put in the same burst.

``python -m evals.moments [--events 40] [--report out.json]``
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from collections import Counter
from datetime import datetime, timedelta
from itertools import combinations
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evals.dated_copies import burst_frame, dated_copy  # noqa: E402
from evals.library import DEFAULT_FLICKR  # noqa: E402

EXIF_PHOTOS = ROOT / ".." / "shared" / "data" / "exif-photos"
TOWNS = {"Berlin": (52.52, 13.405), "Hamburg": (53.5511, 9.9937), "Rome": (41.9028, 12.4964),
         "Lisbon": (38.7223, -9.1393), "Kyoto": (35.0116, 135.7681), "Austin": (30.2672, -97.7431),
         "Cusco": (-13.5319, -71.9675), "Edinburgh": (55.9533, -3.1883), "Cape Town": (-33.9249, 18.4241),
         "Hanoi": (21.0278, 105.8342), "Oslo": (59.9139, 10.7522), "Valencia": (39.4699, -0.3763)}


def _near(rng: random.Random, town: tuple[float, float], km: float = 1.0) -> tuple[float, float]:
    return town[0] + rng.uniform(-km, km) / 111.0, town[1] + rng.uniform(-km, km) / 111.0


def build(out: Path, events: int, bursts: int, seed: int) -> tuple[dict[str, str], dict[str, str]]:
    """Write the library; returns (file name -> true event, file name -> true burst)."""
    rng = random.Random(seed)
    photos = sorted((DEFAULT_FLICKR / "images").glob("*.jpg"))
    rng.shuffle(photos)
    supply = iter(photos)
    truth_event: dict[str, str] = {}
    truth_burst: dict[str, str] = {}
    plans = []
    day = datetime(2022, 1, 1)
    for n in range(events):
        kind = rng.random()
        if plans and kind < 0.15:  # later the same day, same town: a different occasion
            prev = plans[-1]
            start = prev["end"] + timedelta(hours=rng.uniform(3, 5))
            town = prev["town"]
        elif plans and kind < 0.3:  # the next day of a trip
            prev = plans[-1]
            start = prev["start"].replace(hour=0, minute=0) + timedelta(days=1, hours=rng.uniform(9, 12))
            town = prev["town"]
        else:
            day += timedelta(days=rng.randint(3, 40))
            start = day + timedelta(hours=rng.uniform(8, 19))
            town = rng.choice(list(TOWNS))
        size = rng.randint(3, 30)
        # How densely this person shoots at this occasion: a median gap of 10 s to 15 min.
        median = rng.choice([10, 40, 120, 300, 900])
        times, t = [], start
        for _ in range(size):
            times.append(t)
            t += timedelta(seconds=max(4.0, min(25 * 60.0, rng.lognormvariate(0, 0.8) * median)))
        plans.append({"name": f"e{n:03d}", "town": town, "start": start, "end": times[-1], "times": times})
    for plan in plans:
        for i, taken in enumerate(plan["times"]):
            gps = None if rng.random() < 0.2 else _near(rng, TOWNS[plan["town"]])
            target = out / f"{plan['name']}-{i:02d}.jpg"
            dated_copy(next(supply), target, taken, gps)
            truth_event[target.name] = plan["name"]
    sources = sorted(EXIF_PHOTOS.glob("DSCN*.jpg"))
    for b in range(bursts):
        plan = rng.choice(plans)
        t = rng.choice(plan["times"]) + timedelta(seconds=5)
        gps = _near(rng, TOWNS[plan["town"]])
        source = sources[b % len(sources)]
        frames = rng.randint(3, 6)
        sharp = rng.randrange(frames)
        for f in range(frames):
            target = out / f"{plan['name']}-burst{b:02d}-{f}.jpg"
            burst_frame(source, target, t, gps, crop=rng.uniform(0.01, 0.03), exposure=rng.uniform(0.92, 1.08),
                        shift=(rng.random(), rng.random()), blur=0.0 if f == sharp else rng.uniform(1.0, 2.0))
            truth_event[target.name] = plan["name"]
            truth_burst[target.name] = f"b{b:02d}"
            t += timedelta(seconds=rng.uniform(0.5, 2.0))
        other = out / f"{plan['name']}-after{b:02d}.jpg"  # a different scene one second later
        dated_copy(next(supply), other, t + timedelta(seconds=1), gps)
        truth_event[other.name] = plan["name"]
    return truth_event, truth_burst


def _index(db: Path, folders: list[Path]) -> tuple[dict[str, str | None], dict[str, str | None]]:
    """Index the folders one run each (no models: events need none); file name -> event, -> burst."""
    from tools.index.indexer import Indexer
    from tools.index.store import PhotoStore
    from tools.models.registry import Models
    from tools.settings import load_settings

    settings = load_settings(db=db, models_dir=db.parent / "no-models", clip_model="absent", zero_shot_tags=False)
    store = PhotoStore(settings)
    for folder in folders:
        Indexer(settings, store, Models(settings)).run([folder])
    records = list(store.iter_photos())
    return {Path(r.path).name: r.event_id for r in records}, {Path(r.path).name: r.burst_id for r in records}


def purity_completeness(found: dict[str, str | None], truth: dict[str, str]) -> tuple[float, float]:
    groups: dict[str, list[str]] = {}
    for name, event in found.items():
        groups.setdefault(event or f"none:{name}", []).append(name)
    pure = sum(Counter(truth[n] for n in members).most_common(1)[0][1] for members in groups.values())
    true_groups: dict[str, list[str]] = {}
    for name, event in truth.items():
        true_groups.setdefault(event, []).append(name)
    complete = sum(Counter(found.get(n) or f"none:{n}" for n in members).most_common(1)[0][1]
                   for members in true_groups.values())
    return pure / len(found), complete / len(truth)


def burst_pairs(found: dict[str, str | None], truth: dict[str, str]) -> tuple[float, float, int, int]:
    def pairs(labels: dict[str, str | None]) -> set[tuple[str, str]]:
        by: dict[str, list[str]] = {}
        for name, label in labels.items():
            if label:
                by.setdefault(label, []).append(name)
        return {tuple(sorted(p)) for members in by.values() for p in combinations(members, 2)}

    got, want = pairs(found), pairs(truth)
    precision = len(got & want) / len(got) if got else 1.0
    recall = len(got & want) / len(want) if want else 1.0
    return precision, recall, len(got), len(want)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=40)
    parser.add_argument("--bursts", type=int, default=15)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--report", type=Path, help="write the figures as JSON here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="recall-moments-") as tmp:
        work = Path(tmp)
        library = work / "library"
        library.mkdir()
        truth_event, truth_burst = build(library, args.events, args.bursts, args.seed)
        # The incremental path: two halves in random order, each an index run of its own.
        rng = random.Random(args.seed + 1)
        names = sorted(truth_event)
        rng.shuffle(names)
        halves = [work / "half1", work / "half2"]
        for half, chunk in zip(halves, (names[: len(names) // 2], names[len(names) // 2:])):
            half.mkdir()
            for name in chunk:
                (half / name).symlink_to(library / name)
        at_once, bursts_once = _index(work / "db-once", [library])
        stepwise, _ = _index(work / "db-steps", halves)
    purity, completeness = purity_completeness(at_once, truth_event)
    purity_s, completeness_s = purity_completeness(stepwise, truth_event)
    precision, recall, got, want = burst_pairs(bursts_once, truth_burst)
    same = _partition(at_once) == _partition(stepwise)
    figures = {"photos": len(truth_event), "true_events": len(set(truth_event.values())),
               "found_events": len({e for e in at_once.values() if e}), "purity": round(purity, 4),
               "completeness": round(completeness, 4), "incremental_purity": round(purity_s, 4),
               "incremental_completeness": round(completeness_s, 4), "incremental_same_events": same,
               "burst_precision": round(precision, 4), "burst_recall": round(recall, 4),
               "burst_pairs_found": got, "burst_pairs_true": want, "seed": args.seed}
    for key, value in figures.items():
        print(f"{key:28} {value}")
    if args.report:
        args.report.write_text(json.dumps(figures, indent=2) + "\n")


def _partition(found: dict[str, str | None]) -> set[frozenset]:
    groups: dict[str, set[str]] = {}
    for name, event in found.items():
        if event:
            groups.setdefault(event, set()).add(name)
    return {frozenset(g) for g in groups.values()}


if __name__ == "__main__":
    main()
