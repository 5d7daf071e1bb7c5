"""The understanding pass: faces, objects, scenes, text, colour and captions, after photos are searchable.

These models are slow on a CPU (faces ~0.3 s, objects ~0.3 s, a Florence-2 caption seconds per
photo), so they run as a second pass with its own progress bar: search works as soon as the
first pass has stored embeddings and improves as this one goes. Like the first pass it commits
in small batches and marks each photo with what was done (``analyzed``: "faces-1",
"caption-failed-1", ...), so it can be interrupted at any point and resumed, and a model added
later only processes what it has not seen. A photo on which a model fails or times out is marked
failed for that model and the run goes on.

Each signal has its own version, so changing one (a new model, new thresholds, an edit of
prompts/imagenet_words.txt, whose hash is part of the scenes version) redoes only that signal;
its old tags are replaced, not merged with the new ones.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from PIL import Image, ImageOps
from pydantic import BaseModel

from tools.understand import tags as tag_rules
from tools.index.indexer import Progress, _NoProgress, process_in_batches
from tools.models.registry import Models
from tools.models.scenes import words_fingerprint
from tools.understand.moments import EventBook
from tools.understand.people import PeopleBook
from tools.index.records import PhotoRecord, SkippedFile
from tools.settings import Settings
from tools.index.store import PhotoStore

# Bump a version when its model or logic changes: photos done with an older one are redone.
VERSIONS = {"faces": 1, "objects": 1, "caption": 1, "colour": 1, "scenes": f"1.{words_fingerprint()}", "ocr": 1}
# The tag source each signal writes, for the signals whose re-run replaces their earlier tags.
REPLACES_SOURCE = {"colour": "colour", "scenes": "scenes"}
PEOPLE_CHECKED = "repair-1"  # meta mark: the people bookkeeping was checked after the last change
DECODE_MAX_SIDE = 1024
BATCH = 8


def done_marks(key: str) -> tuple[str, str]:
    return f"{key}-{VERSIONS[key]}", f"{key}-failed-{VERSIONS[key]}"


def needs(record: PhotoRecord, key: str) -> bool:
    return not any(mark in record.analyzed for mark in done_marks(key))


class AnalysisReport(BaseModel):
    photos: int = 0
    faces: int = 0
    objects: int = 0
    captions: int = 0
    labels: int = 0  # colour and scene tags added
    texts: int = 0  # photos in which text was read
    seconds_per_signal: dict[str, float] = {}  # summed time in each signal's model, for speed figures
    failed: list[SkippedFile] = []
    off: dict[str, str] = {}  # analyzer -> why it did not run
    events_refreshed: int = 0  # event summaries (people, tags) redone for the photos understood
    repaired: dict[str, int] = {}  # people bookkeeping mended at the end, e.g. {"person counts": 1}
    seconds: float = 0.0
    interrupted: bool = False


@dataclass
class _Result:
    record: PhotoRecord
    faces: list | None = None
    objects: list | None = None
    caption: object | None = None
    colour: list | None = None
    scenes: list | None = None
    text: object | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)


def analyze_photo(record: PhotoRecord, adapters: dict) -> _Result:
    """One photo through the signals it still needs: decoded once, each model's failure its own."""
    result = _Result(record)
    keys = [k for k in adapters if needs(record, k)]
    try:
        with Image.open(record.path) as image:
            image.draft("RGB", (DECODE_MAX_SIDE, DECODE_MAX_SIDE))  # detection needs no more
            image = ImageOps.exif_transpose(image).convert("RGB")
    except Exception as error:  # noqa: BLE001 - a file changed or vanished since pass one
        for key in keys:
            result.failures[key] = f"cannot read the photo: {error}"
        return result
    for key in keys:
        started = time.perf_counter()
        try:
            if key == "faces":
                # Boxes in full-photo coordinates, whatever size the draft decode gave.
                full_size = (record.width, record.height) if record.width else None
                result.faces = adapters[key].analyze(image, original_size=full_size)
            elif key == "objects":
                result.objects = adapters[key].detect(image)
            elif key == "caption":
                result.caption = adapters[key].describe(image)
            elif key == "colour":
                result.colour = adapters[key].colour_labels(image)
            elif key == "scenes":
                result.scenes = adapters[key].classify(image)
            elif key == "ocr":
                result.text = adapters[key].read(image)
        except Exception as error:  # noqa: BLE001 - one photo's failure is that photo's alone
            result.failures[key] = f"{key} failed: {str(error).splitlines()[0][:200] if str(error) else type(error).__name__}"
        result.seconds[key] = time.perf_counter() - started
    return result


class Analyzer:
    def __init__(self, settings: Settings, store: PhotoStore, models: Models, progress: Progress | None = None,
                 cluster=None):
        """``cluster``: a tools.index.ray_work.RayCluster whose workers run the models (--ray)."""
        self.settings = settings
        self.store = store
        self.models = models
        self.progress = progress or _NoProgress()
        self.cluster = cluster
        self.people = PeopleBook(store)

    def run(self, only: set[str] | None = None, limit: int | None = None) -> AnalysisReport:
        with self.store.writing("recall index (understanding pass)"):
            return self._run(only, limit)

    def _run(self, only: set[str] | None, limit: int | None) -> AnalysisReport:
        started = time.perf_counter()
        report = AnalysisReport()
        wanted = [k for k in VERSIONS if only is None or k in only]
        enabled = self._enabled(wanted, report)
        todo = [r for r in self.store.iter_photos() if any(needs(r, k) for k in enabled)]
        todo.sort(key=lambda r: r.path)
        if limit is not None:
            todo = todo[:limit]
        try:
            if todo and enabled:
                self._process(todo, enabled, report)
        except KeyboardInterrupt:
            report.interrupted = True
            raise
        except Exception as error:
            full = self.store.as_full_disk(error)
            if full is not None:
                raise full from None
            raise
        finally:
            report.seconds = time.perf_counter() - started
        if todo and enabled:
            # Faces and objects found here are the people and top tags of these photos' events.
            report.events_refreshed = EventBook(self.store, self.settings).refresh(r.id for r in todo)
        if "faces" in enabled and (todo or self.store.get_meta("people_checked") != PEOPLE_CHECKED):
            # Mends what an interrupted (or, before the writer lock, a concurrent) run left
            # uneven: faces without a person, counts that do not add up. A run with work to do
            # clears the mark first, so one killed half-way is mended by the next.
            report.repaired = {k: v for k, v in self.people.repair(done_marks("faces")[0]).items() if v}
            self.store.set_meta("people_checked", PEOPLE_CHECKED)
        return report

    def _enabled(self, wanted: list[str], report: AnalysisReport) -> list[str]:
        enabled = []
        for key in wanted:
            available, why = self.models.available(key)
            if available:
                enabled.append(key)
            else:
                report.off[key] = why
        return enabled

    def _process(self, todo: list[PhotoRecord], enabled: list[str], report: AnalysisReport) -> None:
        self.progress.start("Understanding photos (faces, objects, scenes, text, colour, captions)", len(todo))
        self.store.set_meta("people_checked", None)
        if self.cluster is not None:
            # The models live in the workers; here only which signals run matters.
            problems = self.cluster.load_analyzers(enabled)
            report.off.update({key: why for key, why in problems.items() if why})
            adapters = {key: None for key, why in problems.items() if not why}
            for batch in self.cluster.understand(todo, BATCH, list(adapters)):
                self._commit(batch, adapters, report)
            return
        adapters = {key: self.models.load(key) for key in enabled}
        for key in list(adapters):
            if adapters[key] is None:
                report.off[key] = self.models.problems.get(key, "failed to load")
                del adapters[key]

        def analyze(record: PhotoRecord) -> _Result:
            return analyze_photo(record, adapters)

        process_in_batches(self.settings.decode_threads, analyze, todo, BATCH,
                           lambda batch: self._commit(batch, adapters, report))

    def _commit(self, batch: list[_Result], adapters: dict, report: AnalysisReport) -> None:
        self.store.check_space()
        with self.store.commit_lock:
            self._commit_batch(batch, adapters, report)

    def _commit_batch(self, batch: list[_Result], adapters: dict, report: AnalysisReport) -> None:
        for result in batch:
            if result.faces is not None:
                self.people.add_faces(result.record.id, result.faces)
        with_faces = [r.record.id for r in batch if r.faces is not None]
        people = self.people.cluster_new_faces(with_faces)

        records = []
        recaptioned = []
        for result in batch:
            record = result.record
            for key, seconds in result.seconds.items():
                report.seconds_per_signal[key] = round(report.seconds_per_signal.get(key, 0.0) + seconds, 4)
            replaced = {REPLACES_SOURCE[k] for k in REPLACES_SOURCE if getattr(result, k) is not None}
            new_tags = []
            if result.faces is not None:
                record.faces = len(result.faces)
                record.people = people.get(record.id, [])
                new_tags += tag_rules.face_tags(record.faces)
                report.faces += record.faces
            if result.objects is not None:
                new_tags += [tag_rules.Tag(name=o.label, source="objects", confidence=o.confidence)
                             for o in result.objects]
                report.objects += len(result.objects)
            if result.caption is not None:
                record.caption = result.caption.caption
                record.text_in_photo = result.caption.text_in_photo
                new_tags += [tag_rules.Tag(name=label, source="caption", confidence=0.8)
                             for label in result.caption.objects]
                recaptioned.append(record)
                report.captions += 1
            for source, labels in (("colour", result.colour), ("scenes", result.scenes)):
                new_tags += [tag_rules.Tag(name=label.name, source=source, confidence=label.confidence)
                             for label in labels or []]
                report.labels += len(labels or [])
            if result.text is not None:
                if self._read_text(record, result.text):
                    recaptioned.append(record)
                report.texts += bool(result.text.lines)
            if new_tags or replaced:
                merged = tag_rules.merge_tags(self._kept_tags(record, replaced), new_tags)
                record.tags_detail = tag_rules.tags_to_json(merged)
                record.tags = [t.name for t in merged]
            marks = [done_marks(k)[0] for k in adapters if needs(record, k) and k not in result.failures]
            marks += [done_marks(k)[1] for k in result.failures]
            record.analyzed = sorted(set(record.analyzed) | set(marks))
            for key, reason in result.failures.items():
                report.failed.append(SkippedFile(path=record.path, reason=reason))
            records.append(record)
        self._embed_meaning(recaptioned)
        self.store.upsert_photos(records)
        self.store.update_filter_fields(records)
        report.photos += len(batch)
        self.progress.advance(len(batch))

    @staticmethod
    def _read_text(record: PhotoRecord, found) -> bool:
        """Store what OCR read; True when the photo's text (and so its meaning text) changed."""
        text = found.text
        if not text and not needs(record, "caption"):
            return False  # Florence-2 read text that PP-OCR did not see: keep it
        changed = text != record.text_in_photo
        record.text_in_photo = text
        return changed

    @staticmethod
    def _kept_tags(record: PhotoRecord, replaced: set[str]) -> list:
        """The photo's tags less those of the signals that ran again, which their new ones replace."""
        tags = tag_rules.tags_from_json(record.tags_detail)
        kept = [t for t in tags if t.source not in replaced]
        if len(kept) == len(tags):
            return tags
        # merge_tags kept one tag per name, so a dropped "dim light" (colour) may have hidden the
        # EXIF one: the tags that come from the record alone are made again.
        return tag_rules.merge_tags(kept, tag_rules.metadata_tags(
            record, face_count=record.faces if not needs(record, "faces") else None, keywords=record.keywords))

    def _embed_meaning(self, records: list[PhotoRecord]) -> None:
        """Captions and text read in the photo change its meaning text: re-embed it."""
        records = [r for r in records if r.meaning_text()]
        if not records:
            return
        text_model = self.models.text()
        if text_model is None:
            return
        vectors = text_model.embed([r.meaning_text() for r in records])
        self.store.upsert_vectors(self.store.vectors("text", text_model.name, text_model.dim), records, vectors)
