"""Evaluation libraries from Flickr8k-test (and the faces and EXIF samples) without touching ../shared.

``build_library``: each photo is linked (symlink) into a temporary folder with ONE of its five
human captions written into an XMP sidecar beside it, the way a person's own caption would sit;
the other captions are the queries.

``build_phone_library``: a phone-like library, reproducible from its seed. Copies (never the
originals) of the Flickr8k-test photos get EXIF dates and GPS (evals/dated_copies.py):
* the photos are grouped into synthetic events by what their captions are about (snow, beach,
  water, dogs, bikes, ball games, mountains, streets, children, the rest), 3-20 photos an event;
* each event gets a day between 2019 and 2025 (snow in winter, beach in summer, water May to
  September, the rest any month) and a real town from GeoNames (the coordinates are the
  gazetteer's, tools/places; northern hemisphere only, so "summer" means June to August), its
  photos minutes apart (a log-normal gap around a per-event median of 30 s to 10 min) within a
  kilometre of the town, every photo located (a phone with location on);
* ten events get 2-4 portraits of one person of ../shared/data/faces (named after indexing, as a
  person would with ``recall people name``);
* the ../shared/data/exif-photos samples are copied with their own EXIF (the 2008 Arezzo walk),
  and a few bursts (frames of one Arezzo photo seconds apart) are placed inside events.
``photos`` in the result says, for every file, its event, date, town, region, country, person,
burst and (Flickr photos) the captions not written into a sidecar.

``python -m evals.library --out DIR [--phone] [--count N]`` builds one.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import random
import re
import shutil
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from xml.sax.saxutils import escape

DEFAULT_FLICKR = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "flickr8k-test"
FACES = DEFAULT_FLICKR.parent / "faces"
EXIF_PHOTOS = DEFAULT_FLICKR.parent / "exif-photos"

XMP_TEMPLATE = """<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">
   <dc:description><rdf:Alt><rdf:li xml:lang="x-default">{caption}</rdf:li></rdf:Alt></dc:description>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>
"""


def load_captions(flickr_dir: Path = DEFAULT_FLICKR) -> dict[str, list[str]]:
    """image file name -> its captions, in file order."""
    captions: dict[str, list[str]] = defaultdict(list)
    with open(flickr_dir / "captions.csv", newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            captions[row["image"]].append(row["caption"].strip())
    return dict(sorted(captions.items()))


def build_library(out_dir: Path, flickr_dir: Path = DEFAULT_FLICKR, count: int | None = None,
                  sidecar_caption: int | None = 0) -> dict[str, list[str]]:
    """Link ``count`` photos into ``out_dir``; returns path -> the captions NOT written (queries).

    ``sidecar_caption`` picks which caption goes into the sidecar; None writes no sidecar.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    queries: dict[str, list[str]] = {}
    for name, captions in list(load_captions(flickr_dir).items())[:count]:
        source = (flickr_dir / "images" / name).resolve()
        target = out_dir / name
        if not target.exists():
            os.symlink(source, target)
        rest = list(captions)
        if sidecar_caption is not None:
            caption = rest.pop(sidecar_caption % len(rest))
            (out_dir / f"{name}.xmp").write_text(XMP_TEMPLATE.format(caption=escape(caption)), encoding="utf-8")
        queries[str(target)] = rest
    return queries


# ---- the phone-like library ------------------------------------------------------------------
# (town, the region people would say or None, the country people would say); coordinates from GeoNames.
TOWNS = [("Seville", "Andalusia", "Spain"), ("Barcelona", "Catalonia", "Spain"), ("Florence", "Tuscany", "Italy"),
         ("Munich", "Bavaria", "Germany"), ("Edinburgh", "Scotland", "the UK"), ("Kyoto", None, "Japan"),
         ("Sapporo", "Hokkaido", "Japan"), ("Lisbon", None, "Portugal"), ("Porto", None, "Portugal"),
         ("Austin", "Texas", "the US"), ("Boston", "Massachusetts", "the US"), ("Lyon", None, "France"),
         ("Krakow", None, "Poland"), ("Bergen", None, "Norway"), ("Vancouver", "British Columbia", "Canada")]
# What a photo is about, by words in its captions (the first topic named twice wins).
TOPICS = [("snow", "snow ski skier skiing skiers snowy sled snowboard snowboarder"),
          ("beach", "beach ocean sand surf surfer surfing wave waves sea shore"),
          ("water", "water lake river pool swimming swim splash splashes fountain"),
          ("dog", "dog dogs puppy"), ("bike", "bike bicycle biker cyclist motorcycle bmx dirt"),
          ("ball", "football soccer basketball baseball ball rugby tennis volleyball hockey"),
          ("mountain", "mountain rock climbing climber cliff hiking hiker hill"),
          ("street", "street city building sidewalk crowd road store"),
          ("child", "child children girl boy kids baby toddler")]
TOPIC_MONTHS = {"snow": [12, 1, 2], "beach": [6, 7, 8], "water": [5, 6, 7, 8, 9]}
PEOPLE_NAMES = ["Anna", "Ben", "Carla", "David", "Elena", "Felix", "Greta", "Hugo", "Iris", "Jonas", "Kira",
                "Leo", "Maya"]
YEARS = (2019, 2025)


@dataclass
class PhonePhoto:
    path: str
    event: str
    taken: str  # ISO date and time written into the copy's EXIF
    town: str | None
    region: str | None
    country: str | None
    kind: str  # "flickr", "face", "exif", "burst"
    topic: str | None = None
    person: str | None = None  # the name of the person in a faces-set portrait
    burst: str | None = None
    queries: list[str] = field(default_factory=list)  # Flickr captions not written into a sidecar


def topic_of(captions: list[str]) -> str:
    counts: dict[str, int] = defaultdict(int)
    for caption in captions:
        for word in re.findall(r"[a-z]+", caption.lower()):
            counts[word] += 1
    return next((name for name, words in TOPICS if sum(counts[w] for w in words.split()) >= 2), "misc")


def town_coordinates() -> dict[str, tuple[float, float]]:
    from tools.places import geo

    out = {}
    for town, _, _ in TOWNS:
        place = geo.resolve_place(town)
        if place is None or place.lat is None:
            raise SystemExit(f"the gazetteer does not know {town}")
        out[town] = (place.lat, place.lon)
    return out


def _event_start(rng: random.Random, topic: str, taken_days: set) -> datetime:
    while True:
        month = rng.choice(TOPIC_MONTHS.get(topic, list(range(1, 13))))
        year = rng.randint(*YEARS)
        day = datetime(year, month, rng.randint(1, 28))
        if day.date() not in taken_days:  # one occasion a day: two on a day is moments.py's test
            taken_days.add(day.date())
            return day + timedelta(hours=rng.uniform(9, 17))


def build_phone_library(out_dir: Path, flickr_dir: Path = DEFAULT_FLICKR, count: int | None = None,
                        sidecar_caption: int | None = 0, seed: int = 13, bursts: int = 5) -> dict[str, PhonePhoto]:
    """Write the phone-like library into ``out_dir``; returns file name -> its truth (module docstring).
    ``count``: the first N Flickr photos (file order) only; None: all."""
    from evals.dated_copies import burst_frame, dated_copy

    rng = random.Random(seed)
    coords = town_coordinates()
    out_dir.mkdir(parents=True, exist_ok=True)
    captions = dict(list(load_captions(flickr_dir).items())[:count])
    by_topic: dict[str, list[str]] = defaultdict(list)
    for name in captions:
        by_topic[topic_of(captions[name])].append(name)
    photos: dict[str, PhonePhoto] = {}
    events, days = [], set()
    for topic in sorted(by_topic):
        names = by_topic[topic]
        rng.shuffle(names)
        while names:
            size = min(len(names), rng.randint(3, 20))
            members, names = names[:size], names[size:]
            town, region, country = rng.choice(TOWNS)
            start, gap = _event_start(rng, topic, days), rng.choice([30, 60, 120, 300, 600])
            event = f"e{len(events):03d}-{topic}"
            times, t = [], start
            for _ in members:
                times.append(t)
                t += timedelta(seconds=max(5.0, min(20 * 60.0, rng.lognormvariate(0, 0.7) * gap)))
            events.append((event, town, times))
            for name, taken in zip(members, times):
                lat, lon = coords[town]
                gps = (lat + rng.uniform(-1, 1) / 111.0, lon + rng.uniform(-1, 1) / 111.0)
                target = dated_copy(flickr_dir / "images" / name, out_dir / name, taken, gps)
                rest = list(captions[name])
                if sidecar_caption is not None:
                    caption = rest.pop(sidecar_caption % len(rest))
                    (out_dir / f"{name}.xmp").write_text(XMP_TEMPLATE.format(caption=escape(caption)), encoding="utf-8")
                photos[name] = PhonePhoto(str(target), event, taken.isoformat(), town, region, country, "flickr",
                                          topic=topic, queries=rest)
    places = {t: (r, c) for t, r, c in TOWNS}
    identities = json.loads((FACES / "identities.json").read_text())["identities"]
    for person, name in zip(sorted(identities), PEOPLE_NAMES):
        event, town, times = rng.choice([e for e in events if len(e[2]) >= 4])
        for portrait in rng.sample(identities[person], min(len(identities[person]), rng.randint(2, 4))):
            taken = rng.choice(times) + timedelta(seconds=rng.uniform(5, 60))
            lat, lon = coords[town]
            target = dated_copy(FACES / "images" / portrait, out_dir / f"face-{person}-{portrait}", taken, (lat, lon))
            photos[target.name] = PhonePhoto(str(target), event, taken.isoformat(), town, *places[town], "face",
                                             person=name)
    for sample in sorted(EXIF_PHOTOS.glob("*.jpg")):  # their own EXIF; the Arezzo walk is one event
        target = out_dir / f"exif-{sample.name}"
        shutil.copyfile(sample, target)
        target.chmod(0o644)
        photos[target.name] = PhonePhoto(str(target), "exif", "", None, None, None, "exif")
    sources = sorted(EXIF_PHOTOS.glob("DSCN*.jpg"))
    for b in range(bursts):
        event, town, times = rng.choice(events)
        t = rng.choice(times) + timedelta(seconds=3)
        lat, lon = coords[town]
        frames, sharp = rng.randint(3, 5), 0
        for f in range(frames):
            target = burst_frame(sources[b % len(sources)], out_dir / f"burst{b:02d}-{f}.jpg", t, (lat, lon),
                                 crop=rng.uniform(0.01, 0.03), exposure=rng.uniform(0.92, 1.08),
                                 shift=(rng.random(), rng.random()), blur=0.0 if f == sharp else rng.uniform(1.0, 2.0))
            photos[target.name] = PhonePhoto(str(target), event, t.isoformat(), town, *places[town], "burst",
                                             burst=f"b{b:02d}")
            t += timedelta(seconds=rng.uniform(0.5, 2.0))
    return photos


def name_people(store, photos: dict[str, PhonePhoto]) -> dict[str, str]:
    """Name each face cluster after the person most of its photos show, as a person would
    (``recall people name``); returns cluster id -> name."""
    from collections import Counter

    from tools.understand.people import PeopleBook

    book, named = PeopleBook(store), {}
    for person in book.list():
        votes = Counter(photos[Path(p).name].person for p in person.photos
                        if Path(p).name in photos and photos[Path(p).name].person)
        if votes:
            name, n = votes.most_common(1)[0]
            if n * 2 > len(person.photos) and name not in named.values():
                book.name(person.id, name)
                named[person.id] = name
    return named


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, default=DEFAULT_FLICKR, help="the flickr8k-test folder")
    parser.add_argument("--count", type=int, default=None)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--phone", action="store_true", help="the phone-like library (dated copies, events)")
    parser.add_argument("--no-sidecars", action="store_true", help="phone library: no captions in sidecars")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    if args.phone:
        photos = build_phone_library(args.out, args.images, args.count, None if args.no_sidecars else 0, args.seed)
        (args.out / "truth.json").write_text(json.dumps({n: asdict(p) for n, p in photos.items()}, indent=1))
        print(f"wrote {len(photos)} photos in {len({p.event for p in photos.values()})} events into {args.out} "
              f"(truth in {args.out / 'truth.json'})")
        return
    queries = build_library(args.out, args.images, args.count)
    print(f"linked {len(queries)} photos into {args.out}, one caption each in an XMP sidecar")


if __name__ == "__main__":
    main()
