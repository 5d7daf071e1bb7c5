"""A synthetic photo library at scale: records with realistic metadata and clustered vectors.

Used by evals/scale.py and tests/test_scale.py. Nothing here is a photo: it is what the index
holds about photos, written through the product's store (``PhotoStore.upsert_photos`` /
``upsert_vectors`` inside ``writing()``), so the store, its saved matrices and the read path are
the real ones.

What it looks like (seeded, deterministic):
- dates: ten years (2016-2025), photos shot in events (a day, a few to a few hundred photos);
  each year holds ~10% of the photos;
- places: a home city (~35%), a few regular places, many trips; ~12% of photos have no GPS;
- people: ~400 person ids, Zipf-like: the most frequent ("p0") is in ~10% of photos; faces 0-6;
- cameras: a handful, changing over the years; an event id per event;
- vectors: CLIP-like (512-d) and MiniLM-like (384-d), unit norm, clustered: a shared mean
  direction (real CLIP image vectors sit in a narrow cone), an event centre and a theme centre
  per event, plus per-photo noise; ~60% of photos have a caption vector.
"""
from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

CLIP_DIM, TEXT_DIM = 512, 384
CLIP_MODEL, TEXT_MODEL = "synthetic-clip", "synthetic-minilm"
YEARS = (2016, 2026)  # [first, last) year
THEMES = 300

# (city, region, country, country_code, lat, lon, share of located photos)
CITIES = [
    ("Berlin", "Berlin", "Germany", "DE", 52.52, 13.405, 0.35),
    ("Potsdam", "Brandenburg", "Germany", "DE", 52.39, 13.065, 0.06),
    ("Hamburg", "Hamburg", "Germany", "DE", 53.55, 9.993, 0.05),
    ("Munich", "Bavaria", "Germany", "DE", 48.137, 11.575, 0.04),
    ("Rome", "Lazio", "Italy", "IT", 41.903, 12.496, 0.10),
    ("Arezzo", "Tuscany", "Italy", "IT", 43.463, 11.878, 0.03),
    ("Florence", "Tuscany", "Italy", "IT", 43.77, 11.25, 0.04),
    ("Paris", "Ile-de-France", "France", "FR", 48.857, 2.352, 0.05),
    ("Lisbon", "Lisbon", "Portugal", "PT", 38.722, -9.139, 0.03),
    ("Barcelona", "Catalonia", "Spain", "ES", 41.385, 2.173, 0.04),
    ("London", "England", "United Kingdom", "GB", 51.507, -0.128, 0.04),
    ("New York City", "New York", "United States", "US", 40.713, -74.006, 0.03),
    ("Tokyo", "Tokyo", "Japan", "JP", 35.68, 139.69, 0.02),
]
CAMERAS = ["Apple iPhone 8", "Apple iPhone 12", "Google Pixel 7", "NIKON COOLPIX P6000", "Canon EOS 80D",
           "FUJIFILM X100V"]
WORDS = ("beach dog cat birthday cake mountain lake snow city street night concert friends family "
         "dinner park bike train bridge church museum market garden sunset river boat kids school "
         "wedding party forest hike car road festival rain window coffee book table").split()


@dataclass
class Library:
    """The records (PhotoRecord) and their vectors; ``has_text[i]``: photo i has a caption vector."""
    records: list
    clip: np.ndarray
    text: np.ndarray
    has_text: np.ndarray


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def photo_id(i: int, seed: int) -> str:
    return hashlib.blake2b(f"{seed}:{i}".encode(), digest_size=16).hexdigest()


def build_library(n: int, seed: int = 7) -> Library:
    from tools.index.records import PhotoRecord

    rng = np.random.default_rng(seed)
    # events: sizes from a heavy-tailed distribution, each on a day spread uniformly over the years
    sizes: list[int] = []
    while sum(sizes) < n:
        sizes.append(int(min(400, max(1, rng.lognormal(2.3, 1.1)))))
    sizes[-1] -= sum(sizes) - n
    start = datetime(YEARS[0], 1, 1)
    span_days = (datetime(YEARS[1], 1, 1) - start).days
    city_share = np.array([c[6] for c in CITIES])
    city_share /= city_share.sum()
    people_weights = 1.0 / np.arange(1, 401) ** 1.1
    people_weights /= people_weights.sum()
    mean_clip = _unit(rng.standard_normal(CLIP_DIM))
    mean_text = _unit(rng.standard_normal(TEXT_DIM))
    theme_clip = _unit(rng.standard_normal((THEMES, CLIP_DIM)))
    theme_text = _unit(rng.standard_normal((THEMES, TEXT_DIM)))
    records, clip_rows, text_rows, has_text = [], [], [], []
    i = 0
    for event, size in enumerate(sizes):
        day = start + timedelta(days=int(rng.integers(0, span_days)), hours=int(rng.integers(7, 20)))
        located = rng.random() > 0.12
        city = CITIES[int(rng.choice(len(CITIES), p=city_share))]
        camera = CAMERAS[min(len(CAMERAS) - 1, int((day.year - YEARS[0]) / 2 + rng.integers(0, 2)))]
        theme = int(rng.integers(0, THEMES))
        centre_clip = _unit(mean_clip * 1.2 + theme_clip[theme] + 0.6 * _unit(rng.standard_normal(CLIP_DIM)))
        centre_text = _unit(mean_text * 1.0 + theme_text[theme] + 0.6 * _unit(rng.standard_normal(TEXT_DIM)))
        regulars = list(rng.choice(400, size=int(rng.integers(0, 4)), replace=False, p=people_weights))
        words = list(rng.choice(WORDS, size=3, replace=False))
        for j in range(size):
            taken = day + timedelta(seconds=int(j * rng.integers(5, 120)))
            faces = int(min(6, rng.poisson(0.9)))
            people = sorted({f"p{int(p)}" for p in regulars[:faces]}
                            | {f"p{int(p)}" for p in rng.choice(400, size=max(0, faces - len(regulars)), p=people_weights)})
            lat = lon = None
            if located:
                lat = city[4] + float(rng.normal(0, 0.05))
                lon = city[5] + float(rng.normal(0, 0.07))
            caption = rng.random() < 0.6
            text = f"{words[0]} with {words[1]} near the {words[2]}" if caption else ""
            records.append(PhotoRecord(
                id=photo_id(i, seed), path=f"/home/someone/Pictures/{day.year}/{day:%Y-%m-%d}/IMG_{i:07d}.jpg",
                size=int(rng.integers(800_000, 6_000_000)), mtime_ns=int(taken.timestamp() * 1e9),
                width=4032, height=3024, taken_at=taken, utc_offset_minutes=60, date_source="exif",
                camera=camera, camera_make=camera.split()[0], camera_model=" ".join(camera.split()[1:]),
                lat=lat, lon=lon, city=city[0] if located else None, region=city[1] if located else None,
                country=city[2] if located else None, country_code=city[3] if located else None,
                place=f"{city[0]}, {city[1]}, {city[2]}" if located else None,
                user_text=text, tags=list(rng.choice(WORDS, size=2, replace=False)) + (["group"] if faces > 2 else []),
                faces=faces, people=people, analyzed=["faces-1", "objects-1"],
                event_id=f"ev-{seed}-{event:06d}", event_label=f"{city[0]}, {day:%a %d %b %Y}",
                indexed_at=1_700_000_000))
            clip_rows.append(centre_clip + 0.55 * _unit(rng.standard_normal(CLIP_DIM)))
            text_rows.append(centre_text + 0.45 * _unit(rng.standard_normal(TEXT_DIM)))
            has_text.append(caption)
            i += 1
    return Library(records, _unit(np.stack(clip_rows)), _unit(np.stack(text_rows)), np.array(has_text))


def query_vectors(library: Library, count: int, seed: int = 99) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(clip, text) query vectors near a random photo's, as a text query lands near its photos."""
    rng = np.random.default_rng(seed)
    for _ in range(count):
        i = int(rng.integers(0, len(library.records)))
        yield (_unit(library.clip[i] + 0.9 * _unit(rng.standard_normal(CLIP_DIM))),
               _unit(library.text[i] + 0.9 * _unit(rng.standard_normal(TEXT_DIM))))


def insert(store, library: Library, batch: int = 500, progress=None) -> None:
    """Through the indexer's write path: vectors first, then the photo record, in batches, inside
    one ``writing()`` (whose end saves the matrices for search)."""
    clip = store.vectors("clip", CLIP_MODEL, CLIP_DIM)
    text = store.vectors("text", TEXT_MODEL, TEXT_DIM)
    with store.writing("synthetic library"):
        for lo in range(0, len(library.records), batch):
            hi = min(lo + batch, len(library.records))
            records = library.records[lo:hi]
            store.upsert_vectors(clip, records, library.clip[lo:hi])
            keep = [k for k in range(lo, hi) if library.has_text[k]]
            store.upsert_vectors(text, [library.records[k] for k in keep], library.text[keep])
            store.upsert_photos(records)
            if progress is not None:
                progress(hi)


def year_range(year: int) -> tuple[datetime, datetime]:
    return datetime(year, 1, 1), datetime(year, 12, 31, 23, 59, 59)


def km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 12742.0 * math.asin(math.sqrt(a))


def build_index(folder, n: int, seed: int = 7, batch: int = 2000, log=print) -> dict:
    """A library of ``n`` written into a new index at ``folder``/db; the insert's figures (also
    kept in ``folder``/built.json, so a later run can reuse the index: building is the slow part)."""
    import json
    import subprocess
    import time
    from pathlib import Path

    from tools.index.store import PhotoStore

    folder = Path(folder)
    marker = folder / "built.json"
    if marker.exists():
        return json.loads(marker.read_text())
    started = time.perf_counter()
    library = build_library(n, seed)
    made = time.perf_counter() - started
    store = PhotoStore(settings_for(folder))
    started = time.perf_counter()
    marks: list[tuple[int, float]] = []

    def progress(done: int) -> None:
        marks.append((done, time.perf_counter() - started))
        if done % max(batch, n // 10) < batch:
            log(f"  [insert] {done:,}/{n:,} photos, {time.perf_counter() - started:.0f}s")

    insert(store, library, batch=batch, progress=progress)
    seconds = time.perf_counter() - started
    tail = [m for m in marks if m[0] >= 0.9 * n]
    out = {"photos": n, "seed": seed, "batch": batch, "generate_seconds": round(made, 1),
           "insert_seconds_with_export": round(seconds, 1),
           "insert_rate_photos_per_s": round(n / seconds, 1),
           "insert_rate_last_10pct_photos_per_s": round((tail[-1][0] - tail[0][0]) / max(1e-9, tail[-1][1] - tail[0][1]), 1)
           if len(tail) > 1 else None,
           "disk_bytes": int(subprocess.run(["du", "-sb", str(folder / "db")], capture_output=True, text=True)
                             .stdout.split()[0])}
    marker.write_text(json.dumps(out))
    return out


def settings_for(folder):
    from pathlib import Path

    from tools.settings import load_settings

    folder = Path(folder)
    return load_settings(db=folder / "db", cache_dir=folder / "cache", models_dir=folder / "no-models",
                         data_dir=folder / "data")
