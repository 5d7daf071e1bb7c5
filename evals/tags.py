"""How often a pixel tag is right: precision and recall against the Flickr8k-test captions.

A label counts as confirmed for a photo when any of its five human captions says one of the
label's words (CONFIRMING, below: dog -> dog, dogs, puppy, ...). For every label in that table,
per source (scenes: EfficientNet-Lite3 words; colour: pixel colour words; objects: SSD COCO,
with --objects since it is ~0.3 s a photo; poses: MoveNet keypoint rules, with --poses) and per
confidence band, this prints

    precision = confirmed photos tagged / photos tagged,  recall = confirmed photos tagged / confirmed photos

Captions miss things (nobody writes "green" for every lawn), so precision here is a floor on
the truth, most of all for colours. A benchmark, not a test:

    .venv/bin/python -m evals.tags [--limit N] [--objects] [--poses] [--report evals/reports/tags.json]

``--write-floors`` also writes the table the product reads (prompts/tag_precision.txt, by
tools/understand/tag_quality.py: which pixel tags are sure enough to ask about), confirmed and
tagged counts per source, label and band. ``--tags-cache FILE`` keeps every photo's tags, so a
change to CONFIRMING is re-scored without running the models again (a source asked for that
the cache lacks is run and added to it):

    .venv/bin/python -m evals.tags --objects --tags-cache /tmp/tags-found.json --write-floors
"""
from __future__ import annotations

import argparse
import csv
import json
import re
import time
from collections import defaultdict
from pathlib import Path

from PIL import Image

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "flickr8k-test"
FLOORS = Path(__file__).resolve().parents[1] / "prompts" / "tag_precision.txt"
BANDS = ((0.3, 0.5), (0.5, 0.7), (0.7, 0.9), (0.9, 1.01))

# label -> caption words that confirm it (whole words, lower case; plurals listed where they differ).
CONFIRMING: dict[str, tuple[str, ...]] = {
    "dog": ("dog", "dogs", "puppy", "puppies", "poodle", "terrier", "retriever", "collie", "greyhound", "hound"),
    "cat": ("cat", "cats", "kitten"),
    "horse": ("horse", "horses", "pony"),
    "bird": ("bird", "birds", "duck", "ducks", "seagull", "pigeon", "goose"),
    "beach": ("beach", "ocean", "shore", "sand", "sandy", "sea", "surf", "waves"),
    "sea": ("sea", "ocean", "waves", "surf", "beach"),
    "mountain": ("mountain", "mountains", "mountainside", "hill", "hills", "cliff"),
    "snow": ("snow", "snowy", "snowboarder", "skier", "skiing", "ski"),
    "lake": ("lake", "pond", "river", "water"),
    "bicycle": ("bike", "bikes", "bicycle", "bicycles", "biker", "cyclist", "bmx"),
    "car": ("car", "cars", "vehicle", "jeep", "truck", "suv"),
    "boat": ("boat", "boats", "canoe", "kayak", "raft", "sailboat"),
    "swimsuit": ("swimsuit", "bikini", "trunks", "swimming", "swim", "pool"),
    "helmet": ("helmet", "helmets"),
    "stage": ("stage", "concert", "band", "performs", "performing", "performer"),
    "fountain": ("fountain", "fountains"),
    "skiing": ("ski", "skis", "skier", "skiing", "skiers"),
    "sled": ("sled", "sledding", "sleigh"),
    "soccer": ("soccer", "football"),
    "basketball": ("basketball",),
    "baseball": ("baseball",),
    "tennis": ("tennis", "racket", "racquet"),
    "swing": ("swing", "swings", "swinging"),
    "food": ("food", "eating", "eats", "pizza", "cake", "meal"),
    # labels the SSD COCO detector says (objects source); "bear" is what it calls many black dogs
    "bear": ("bear", "bears"),
    "teddy bear": ("teddy", "stuffed"),
    "sheep": ("sheep", "lamb", "lambs"),
    "cow": ("cow", "cows", "cattle", "bull", "calf", "calves", "ox", "oxen"),
    "elephant": ("elephant", "elephants"),
    "motorcycle": ("motorcycle", "motorcycles", "motorbike", "motorcyclist", "motocross", "dirtbike"),
    "truck": ("truck", "trucks", "pickup"),
    "bus": ("bus", "buses"),
    "train": ("train", "trains", "subway"),
    "airplane": ("airplane", "plane", "planes", "jet", "aircraft"),
    "skis": ("ski", "skis", "skier", "skiing", "skiers"),
    "snowboard": ("snowboard", "snowboarder", "snowboarders", "snowboarding"),
    "surfboard": ("surfboard", "surfer", "surfers", "surfing", "surfs", "surf", "boogie", "bodyboard"),
    "skateboard": ("skateboard", "skateboarder", "skateboarding", "skateboards", "skater", "skates"),
    "sports ball": ("ball", "balls", "soccer", "football", "basketball", "volleyball", "baseball", "rugby"),
    "frisbee": ("frisbee", "frisbees", "disc"),
    "kite": ("kite", "kites"),
    "umbrella": ("umbrella", "umbrellas", "parasol"),
    "backpack": ("backpack", "backpacks", "rucksack", "backpacker", "backpacking"),
    "handbag": ("purse", "handbag", "bag", "bags"),
    "bench": ("bench", "benches"),
    "chair": ("chair", "chairs", "seat", "seated"),
    "couch": ("couch", "sofa"),
    "bed": ("bed",),
    "tennis racket": ("tennis", "racket", "racquet"),
    "baseball bat": ("baseball", "bat"),
    "baseball glove": ("baseball", "glove", "mitt"),
    "bottle": ("bottle", "bottles"),
    "cup": ("cup", "cups", "mug", "coffee"),
    "person": ("man", "woman", "men", "women", "boy", "girl", "person", "people", "child", "children", "kid", "kids"),
    # colours: the words people say for the colour of a thing
    "red": ("red",), "orange": ("orange",), "yellow": ("yellow",), "green": ("green", "grass", "grassy", "lawn"),
    "blue": ("blue",), "purple": ("purple",), "pink": ("pink",), "brown": ("brown", "tan", "dirt", "mud", "muddy"),
    "black": ("black",), "white": ("white",), "grey": ("grey", "gray"),
    "black and white": ("black-and-white", "monochrome"),
    "dark": ("dark", "night", "dimly", "nighttime"),
    "bright": ("bright", "sunny", "sunlight", "snow"),
    # poses (MoveNet keypoint rules); phrases match as whole words too
    "jumping": ("jump", "jumps", "jumping", "jumped", "leap", "leaps", "leaping", "midair", "mid-air"),
    "arms up": ("arms up", "arm up", "arms raised", "arm raised", "raised", "raises", "raising", "hands up",
                "hands raised", "arms in the air", "hands in the air", "arm in the air", "hand in the air",
                "above his head", "above her head", "over his head", "over her head"),
    "sitting": ("sit", "sits", "sitting", "seated", "sat"),
    "lying down": ("lying", "lays", "laying", "lies", "lay", "lie", "laid"),
}


def captions_by_image(folder: Path) -> dict[str, list[str]]:
    by_image: dict[str, list[str]] = defaultdict(list)
    with open(folder / "captions.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            by_image[row["image"]].append(row["caption"].lower())
    return by_image


def confirmed(label: str, captions: list[str]) -> bool:
    text = " ".join(captions)
    if label == "black and white":
        return "black and white photo" in text or "black and white picture" in text or bool(
            re.search(r"\b(black-and-white|monochrome)\b", text))
    return any(re.search(rf"\b{re.escape(word)}\b", text) for word in CONFIRMING[label])


def band_of(confidence: float) -> str | None:
    for low, high in BANDS:
        if low <= confidence < high:
            return f"{low:.1f}-{min(high, 1.0):.1f}"
    return None


def _taggers(sources: set[str]) -> dict:
    """source -> a function from an image to its labels, for the sources asked for."""
    runs = {}
    if "scenes" in sources:
        from tools.models.scenes import SceneClassifier

        runs["scenes"] = SceneClassifier(threads=2, min_confidence=0.3).classify
    if "colour" in sources:
        from tools.models.colour import colour_labels

        runs["colour"] = colour_labels
    if "objects" in sources:
        from tools.models.objects import ObjectDetector

        runs["objects"] = ObjectDetector(min_confidence=0.3, threads=2).detect
    if "poses" in sources:
        from tools.models.poses import PoseEstimator

        runs["poses"] = PoseEstimator(threads=2, min_confidence=0.3).poses
    return runs


def tag_photos(names: list[str], folder: Path, sources: set[str]) -> tuple[dict[str, dict[str, dict[str, float]]], dict[str, float]]:
    """source -> photo -> label -> confidence, and seconds per photo per source."""
    runs = _taggers(sources)
    found: dict[str, dict[str, dict[str, float]]] = defaultdict(dict)
    seconds: dict[str, float] = defaultdict(float)
    for name in names:
        with Image.open(folder / "images" / name) as image:
            image = image.convert("RGB")
        for source, run in runs.items():
            start = time.perf_counter()
            labels = run(image)
            seconds[source] += time.perf_counter() - start
            kept: dict[str, float] = {}
            for label in labels:
                name_ = label.label if source == "objects" else label.name
                kept[name_] = max(kept.get(name_, 0.0), label.confidence)
            found[source][name] = kept
    return found, {k: round(v / len(names), 4) for k, v in seconds.items()}


def score(found, captions: dict[str, list[str]]) -> dict:
    """Per source and label: precision/recall overall (at the floor 0.3) and per confidence band."""
    report: dict = {}
    for source, photos in found.items():
        per_label = {}
        for label in CONFIRMING:
            truth = {n for n in photos if confirmed(label, captions[n])}
            tagged = {n: labels[label] for n, labels in photos.items() if label in labels}
            if not tagged:
                continue
            hits = {n for n in tagged if n in truth}
            bands = {}
            for low, high in BANDS:
                in_band = [n for n, c in tagged.items() if low <= c < high]
                if in_band:
                    right = sum(n in truth for n in in_band)
                    bands[band_of(low)] = {"tagged": len(in_band), "confirmed": right,
                                           "precision": round(right / len(in_band), 3)}
            per_label[label] = {"tagged": len(tagged), "confirmable": len(truth),
                                "precision": round(len(hits) / len(tagged), 3),
                                "recall": round(len(hits) / len(truth), 3) if truth else None, "bands": bands}
        all_tagged = sum(v["tagged"] for v in per_label.values())
        all_hits = sum(round(v["precision"] * v["tagged"]) for v in per_label.values())
        band_totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for v in per_label.values():
            for band, b in v["bands"].items():
                band_totals[band][0] += b["tagged"]
                band_totals[band][1] += b["confirmed"]
        report[source] = {"labels": per_label, "tagged": all_tagged,
                          "precision": round(all_hits / all_tagged, 3) if all_tagged else None,
                          "bands": {b: {"tagged": t, "confirmed": h, "precision": round(h / t, 3)}
                                    for b, (t, h) in sorted(band_totals.items())}}
    return report


def write_floors(report: dict, photos: int, path: Path, command: str) -> None:
    """The table tools/understand/tag_quality.py reads: confirmed/tagged per source, label, band."""
    import subprocess
    from datetime import date

    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                cwd=Path(__file__).resolve().parents[1], timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        commit = "?"
    names = [band_of(low) for low, _ in BANDS]
    lines = [
        "# How often a pixel tag is right, per source, label and confidence band: the table behind",
        "# the tag floors (tools/understand/tag_quality.py). Only tags whose measured precision at",
        "# their confidence is high enough are asked about in clarifying questions; weaker ones still",
        "# rank, at a lower weight. Made by evals/tags.py (do not edit by hand; regenerate):",
        f"#   {command}",
        f"# on {photos} Flickr8k-test photos, {date.today().isoformat()}, commit {commit}. A tag counts as",
        "# confirmed when any of the photo's five human captions says one of its words (evals/tags.py",
        "# CONFIRMING); captions miss things, so these are floors on the truth (most of all colours).",
        "# Columns: source, label, then per band " + " ".join(names) + " 'confirmed/tagged' ('-': none",
        "# tagged). Label '*' is the whole source (every confirmable label): the prior for a label",
        "# measured on few photos or not at all. Separated by tabs (labels have spaces).",
    ]
    for source, figures in report.items():
        rows = [("*", figures["bands"])] + sorted((label, v["bands"]) for label, v in figures["labels"].items())
        for label, bands in rows:
            cells = [f"{bands[b]['confirmed']}/{bands[b]['tagged']}" if b in bands else "-" for b in names]
            lines.append("\t".join([source, label, *cells]))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, default=DATA)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--objects", action="store_true", help="also the SSD COCO detector (~0.3 s a photo)")
    parser.add_argument("--poses", action="store_true", help="also the MoveNet pose rules (~10 ms a photo)")
    parser.add_argument("--report", type=Path, default=None, help="write the figures as JSON here")
    parser.add_argument("--tags-cache", type=Path, default=None,
                        help="every photo's tags: read from here when it exists, else written here")
    parser.add_argument("--write-floors", nargs="?", const=FLOORS, default=None, type=Path,
                        help=f"write the precision table the product reads (default {FLOORS})")
    args = parser.parse_args()
    captions = captions_by_image(args.images)
    names = sorted(captions)[: args.limit]
    wanted = {"scenes", "colour"} | {s for s, on in (("objects", args.objects), ("poses", args.poses)) if on}
    found: dict = {}
    seconds: dict = {}
    if args.tags_cache and args.tags_cache.is_file():
        cached = json.loads(args.tags_cache.read_text())
        found, seconds = cached["found"], cached["seconds"]
        names = [n for n in names if all(n in photos for photos in found.values())]
        print(f"tags of {len(names)} photos read from {args.tags_cache}: {', '.join(sorted(found))}")
    missing = wanted - set(found)
    if missing:
        # Only what the cache lacks runs, so adding a source does not re-run the slow detector.
        new_found, new_seconds = tag_photos(names, args.images, missing)
        found.update(new_found)
        seconds.update(new_seconds)
        if args.tags_cache:
            args.tags_cache.write_text(json.dumps({"found": found, "seconds": seconds}))
    # Every source in the cache is scored (as before), so --write-floors keeps the rows of all.
    found = {source: {n: photos[n] for n in names} for source, photos in found.items()}
    report = score(found, captions)
    for source, figures in report.items():
        print(f"\n{source}: {figures['tagged']} tags on {len(names)} photos, precision {figures['precision']}, "
              f"{seconds[source] * 1000:.1f} ms a photo")
        print("  by confidence: " + ", ".join(f"{b} p={v['precision']} (n={v['tagged']})" for b, v in figures["bands"].items()))
        for label, v in sorted(figures["labels"].items(), key=lambda kv: -kv[1]["tagged"]):
            bands = " ".join(f"{b}:{x['precision']}/{x['tagged']}" for b, x in v["bands"].items())
            print(f"  {label:16s} tagged {v['tagged']:4d}  precision {v['precision']:.3f}  recall {v['recall']}  [{bands}]")
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(json.dumps({"photos": len(names), "ms_per_photo": {k: round(v * 1000, 2) for k, v in seconds.items()},
                                           "sources": report}, indent=1))
        print(f"\nwrote {args.report}")
    if args.write_floors:
        import sys

        write_floors(report, len(names), args.write_floors,
                     " ".join([".venv/bin/python -m evals.tags", *sys.argv[1:]]))


if __name__ == "__main__":
    main()
