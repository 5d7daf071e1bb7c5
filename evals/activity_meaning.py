"""How well MiniLM tells "a photo of this activity" from its caption, for activity places.

tools/places/library_places.py matches an activity ("skiing", "the beach") to photos by their
captions' words first and by meaning when words miss. This measures the meaning floor: each
Flickr8k-test photo's first caption stands for the person's own sidecar caption; a photo is
about an activity when at least 2 of its 5 captions hold one of the activity's words (a proxy
truth); for floors 0.30-0.55, precision and recall of "similarity of caption and activity
>= floor", and how many of the positives have no activity word in the first caption (those only
meaning can find). Prints a table; writes evals/reports/activity_meaning.json.

    python -m evals.activity_meaning
"""
from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from tools.models.registry import Models
from tools.settings import load_settings

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "flickr8k-test"
ACTIVITIES = {  # what a person says -> words that mark it in a caption
    "skiing": ("ski", "snowboard"),
    "hiking": ("hik", "trail", "backpack"),
    "the beach": ("beach", "sand", "shore"),
    "swimming": ("swim", "pool"),
    "climbing": ("climb",),
    "the wedding": ("wedding", "bride", "groom"),
    "playing soccer": ("soccer",),
    "biking": ("bike", "bicycl", "biker", "cyclist"),
}
FLOORS = (0.30, 0.35, 0.40, 0.45, 0.50, 0.55)


def main() -> dict:
    captions: dict[str, list[str]] = defaultdict(list)
    with open(DATA / "captions.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            captions[row["image"]].append(row["caption"])
    images = sorted(captions)
    first = [captions[i][0] for i in images]
    model = Models(load_settings()).text()
    vectors = model.embed(first)
    report = {}
    print(f"{'activity':16} {'pos':>4} {'no-word':>7} " + " ".join(f"P/R@{f:.2f}" for f in FLOORS))
    for activity, words in ACTIVITIES.items():
        truth = np.array([sum(any(w in c.lower() for w in words) for c in captions[i]) >= 2 for i in images])
        worded = np.array([any(w in c.lower() for w in words) for c in first])
        sims = vectors @ model.embed([activity])[0]
        row = {}
        for floor in FLOORS:
            hit = sims >= floor
            precision = float((hit & truth).sum() / max(hit.sum(), 1))
            recall = float((hit & truth).sum() / max(truth.sum(), 1))
            recall_unworded = float((hit & truth & ~worded).sum() / max((truth & ~worded).sum(), 1))
            row[f"{floor:.2f}"] = {"precision": round(precision, 3), "recall": round(recall, 3),
                                   "recall_without_word": round(recall_unworded, 3)}
        report[activity] = {"positives": int(truth.sum()), "positives_without_word": int((truth & ~worded).sum()),
                            "floors": row}
        print(f"{activity:16} {int(truth.sum()):4d} {int((truth & ~worded).sum()):7d} "
              + " ".join(f"{row[f'{f:.2f}']['precision']:.2f}/{row[f'{f:.2f}']['recall']:.2f}" for f in FLOORS))
    out = Path(__file__).resolve().parent / "reports" / "activity_meaning.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
