"""What `recall status` counts in an index.

On the embedded index opened read-only (tools/index/sqlite_read.py) the counts are sqlite
aggregates: no NumPy import, no filter columns loaded, no record built, so a cold `recall
status` stays well under half a second at any size. Through Chroma (a server, or the writer's
client) the same facts come from reading every record, as before.
"""
from __future__ import annotations

from collections import Counter

from tools.index.records import PhotoRecord, SkippedFile

PRESENCE = {"with_gps": "lat", "with_place": "place", "with_user_text": "user_text"}
DEFAULT_DATE_SOURCE = PhotoRecord.model_fields["date_source"].default


def _fast(collection) -> bool:
    return hasattr(collection, "key_counts")


def record_count(collection) -> int:
    return collection.size() if _fast(collection) else collection.count()


def _understood(marks: Counter) -> dict[str, int]:
    """{"faces": n, ...} from analysis marks such as "faces-1" or "caption-failed-1"."""
    out: Counter = Counter()
    for mark, n in marks.items():
        out[str(mark).rsplit("-", 1)[0]] += n
    return dict(out)


def photo_counts(store) -> dict:
    """photos, dates (by source), with_gps, with_place, with_user_text, understood (by pass)."""
    photos = store.photos
    if _fast(photos):
        total = photos.size()
        dates = Counter({str(k): n for k, n in photos.value_counts("date_source").items()})
        missing = total - sum(dates.values())  # records written before the field existed
        if missing > 0:
            dates[DEFAULT_DATE_SOURCE] += missing
        present = photos.key_counts(list(PRESENCE.values()))
        return {"photos": total, "dates": dict(dates),
                **{name: present.get(key, 0) for name, key in PRESENCE.items()},
                "understood": _understood(Counter(photos.value_counts("analyzed", array=True)))}
    records = list(store.iter_photos())
    return {"photos": len(records), "dates": dict(Counter(p.date_source for p in records)),
            "with_gps": sum(p.lat is not None for p in records),
            "with_place": sum(p.place is not None for p in records),
            "with_user_text": sum(bool(p.user_text) for p in records),
            "understood": _understood(Counter(mark for p in records for mark in p.analyzed))}


def skipped_files(store) -> list[SkippedFile]:
    if _fast(store.skipped):
        found = [SkippedFile.from_metadata(meta) for meta in store.skipped.all_metadatas()]
    else:
        found = list(store.skipped_table().values())
    return sorted(found, key=lambda s: s.path)
