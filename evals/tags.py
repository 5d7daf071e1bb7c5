"""How often a pixel tag is right: precision and recall against the Flickr8k-test captions.

A label counts as confirmed for a photo when any of its five human captions says one of the
label's words (CONFIRMING, below: dog -> dog, dogs, puppy, ...). For every label in that table,
per source (scenes: EfficientNet-Lite3 words; colour: pixel colour words; objects: SSD COCO,
with --objects since it is ~0.3 s a photo) and per confidence band, this prints

    precision = confirmed photos tagged / photos tagged,  recall = confirmed photos tagged / confirmed photos

Captions miss things (nobody writes "green" for every lawn), so precision here is a floor on
the truth, most of all for colours. A benchmark, not a test:

    .venv/bin/python -m evals.tags [--limit N] [--objects] [--report evals/reports/tags.json]
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
    "person": ("man", "woman", "men", "women", "boy", "girl", "person", "people", "child", "children", "kid", "kids"),
    # colours: the words people say for the colour of a thing
    "red": ("red",), "orange": ("orange",), "yellow": ("yellow",), "green": ("green", "grass", "grassy", "lawn"),
    "blue": ("blue",), "purple": ("purple",), "pink": ("pink",), "brown": ("brown", "tan", "dirt", "mud", "muddy"),
    "black": ("black",), "white": ("white",), "grey": ("grey", "gray"),
    "black and white": ("black-and-white", "monochrome"),
    "dark": ("dark", "night", "dimly", "nighttime"),
    "bright": ("bright", "sunny", "sunlight", "snow"),
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


def tag_photos(names: list[str], folder: Path, use_objects: bool) -> tuple[dict[str, dict[str, dict[str, float]]], dict[str, float]]:
    """source -> photo -> label -> confidence, and seconds per photo per source."""
    from tools.models.colour import colour_labels
    from tools.models.scenes import SceneClassifier

    classifier = SceneClassifier(threads=2, min_confidence=0.3)
    detector = None
    if use_objects:
        from tools.models.objects import ObjectDetector

        detector = ObjectDetector(min_confidence=0.3, threads=2)
    found: dict[str, dict[str, dict[str, float]]] = defaultdict(dict)
    seconds: dict[str, float] = defaultdict(float)
    for name in names:
        with Image.open(folder / "images" / name) as image:
            image = image.convert("RGB")
        for source, run in (("scenes", classifier.classify), ("colour", colour_labels),
                            ("objects", detector.detect if detector else None)):
            if run is None:
                continue
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
                    bands[band_of(low)] = {"tagged": len(in_band),
                                           "precision": round(sum(n in truth for n in in_band) / len(in_band), 3)}
            per_label[label] = {"tagged": len(tagged), "confirmable": len(truth),
                                "precision": round(len(hits) / len(tagged), 3),
                                "recall": round(len(hits) / len(truth), 3) if truth else None, "bands": bands}
        all_tagged = sum(v["tagged"] for v in per_label.values())
        all_hits = sum(round(v["precision"] * v["tagged"]) for v in per_label.values())
        band_totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for v in per_label.values():
            for band, b in v["bands"].items():
                band_totals[band][0] += b["tagged"]
                band_totals[band][1] += round(b["precision"] * b["tagged"])
        report[source] = {"labels": per_label, "tagged": all_tagged,
                          "precision": round(all_hits / all_tagged, 3) if all_tagged else None,
                          "bands": {b: {"tagged": t, "precision": round(h / t, 3)} for b, (t, h) in sorted(band_totals.items())}}
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, default=DATA)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--objects", action="store_true", help="also the SSD COCO detector (~0.3 s a photo)")
    parser.add_argument("--report", type=Path, default=None, help="write the figures as JSON here")
    args = parser.parse_args()
    captions = captions_by_image(args.images)
    names = sorted(captions)[: args.limit]
    found, seconds = tag_photos(names, args.images, args.objects)
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


if __name__ == "__main__":
    main()
