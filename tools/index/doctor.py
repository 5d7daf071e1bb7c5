"""``recall doctor``: check that the index adds up, mend what can be mended, say what cannot.

An index can be left uneven by an interrupted run, by an older version, or by a disk that
filled up: vectors of photos that are gone, photos missing a vector, filter fields on vector
records out of step with their photo, faces without a person, counts that do not add up. Each
check here reads the index, fixes what it finds when it can (nothing is ever deleted that a
photo still needs), and reports the rest with the command that fixes it.
"""
from __future__ import annotations

from pydantic import BaseModel

from tools.understand.analysis import PEOPLE_CHECKED, done_marks
from tools.models.registry import Models
from tools.understand.people import PeopleBook
from tools.index.records import PhotoRecord
from tools.index.store import PhotoStore


class Finding(BaseModel):
    check: str
    count: int = 0  # problems found
    detail: str = ""
    repaired: bool = False


class DoctorReport(BaseModel):
    photos: int = 0
    findings: list[Finding] = []
    advice: list[str] = []

    @property
    def repaired(self) -> int:
        return sum(f.count for f in self.findings if f.repaired)

    @property
    def unrepaired(self) -> int:
        return sum(f.count for f in self.findings if f.count and not f.repaired)


def check_index(store: PhotoStore, models: Models) -> DoctorReport:
    with store.writing("recall doctor"), store.commit_lock:
        records = {r.id: r for r in store.iter_photos()}
        report = DoctorReport(photos=len(records))
        _vectors(store, models, records, report)
        _people(store, report)
        _skipped(store, records, report)
        store.refresh_library_facts()
        return report


def _vectors(store: PhotoStore, models: Models, records: dict[str, PhotoRecord], report: DoctorReport) -> None:
    for name in store.vector_collections():
        collection = store.client.get_collection(name)
        stored = collection.get(include=["metadatas"])
        orphans = [i for i in stored["ids"] if i not in records]
        if orphans:
            collection.delete(ids=orphans)
        report.findings.append(Finding(check=f"{name}: vectors of photos no longer indexed", count=len(orphans),
                                       detail="deleted", repaired=True))
        stale = [records[i] for i, meta in zip(stored["ids"], stored["metadatas"])
                 if i in records and _differs(records[i].filter_metadata(), meta)]
        if stale:
            collection.update(ids=[r.id for r in stale], metadatas=[r.filter_metadata() for r in stale])
        report.findings.append(Finding(check=f"{name}: filter fields out of step with their photo",
                                       count=len(stale), detail="updated", repaired=True))
    text_model = models.text()
    if text_model is not None:
        collection = store.vectors("text", text_model.name, text_model.dim)
        have = store.all_ids(collection)
        missing = [r for r in records.values() if r.meaning_text() and r.id not in have]
        if missing:
            store.upsert_vectors(collection, missing, text_model.embed([r.meaning_text() for r in missing]))
        report.findings.append(Finding(check="captions without a meaning vector", count=len(missing),
                                       detail="embedded", repaired=True))
    if models.clip_available():
        clip_names = [n for n in store.vector_collections() if n.startswith("clip-")]
        have = set().union(*(store.all_ids(store.client.get_collection(n)) for n in clip_names)) if clip_names else set()
        missing = [r for r in records.values() if r.id not in have]
        report.findings.append(Finding(check="photos without a CLIP vector", count=len(missing),
                                       detail="need their pixels read again"))
        if missing:
            report.advice.append("run `recall index` on your photo folders: it adds the missing CLIP vectors")


def _differs(wanted: dict, stored: dict | None) -> bool:
    stored = stored or {}
    return any(stored.get(k) != v for k, v in wanted.items() if v is not None) or any(
        stored.get(k) is not None for k, v in wanted.items() if v is None)


def _people(store: PhotoStore, report: DoctorReport) -> None:
    fixed = PeopleBook(store).repair(done_marks("faces")[0])
    for what, count in fixed.items():
        report.findings.append(Finding(check=f"people: {what}", count=count, detail="mended", repaired=True))
    store.set_meta("people_checked", PEOPLE_CHECKED)


def _skipped(store: PhotoStore, records: dict[str, PhotoRecord], report: DoctorReport) -> None:
    indexed = {r.path for r in records.values()}
    stale = [p for p in store.skipped_table() if p in indexed]
    store.forget_skipped(stale)
    report.findings.append(Finding(check="files listed as skipped that are indexed", count=len(stale),
                                   detail="forgotten", repaired=True))
