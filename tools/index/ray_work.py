"""`recall index --ray`: the per-photo model work on a Ray cluster; the store is written here.

What a photo costs (decoding it, its CLIP image vector, the understanding signals: faces,
objects, scenes, colour, text, captions) runs in model-holding Ray actors, one CPU each. This
process plans the run, commits and keeps the bookkeeping exactly as a local run: work goes out
as the batches a local run commits and comes back in their order, so records, ids, people and
resume points are a local run's (an interrupted run keeps every batch committed, the next one
does the rest). Faces are clustered into people here, batch by batch, as locally.

Ray is optional (``pip install photo-recall[scale]``) and imported only by ``connect``: a run
without ``--ray`` never loads it. A local Ray (no address) is bound to 127.0.0.1; the workers
read the photos by their path, so on a cluster every machine needs the library (and the models
folder) at the same path.
"""
from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from tools.settings import Settings

LOCAL = "local"  # `--ray` without an address: start a Ray on this machine for the run
IN_FLIGHT_PER_WORKER = 2  # a batch queued behind the one running: no worker waits for the driver


class RayError(RuntimeError):
    """Something about the Ray cluster the user can fix; shown as one line."""


@dataclass
class _Item:
    payload: object
    path: str
    here: bool  # the file exists for this process: a worker that lacks it is a setup problem


class PhotoWork:
    """A Ray actor's work: holds the models, decodes and runs them on one batch at a time."""

    def __init__(self, settings: Settings):
        from PIL import Image

        from tools.models.registry import Models

        self.settings = settings
        self.models = Models(settings)
        self.adapters: dict[str, object] = {}
        Image.MAX_IMAGE_PIXELS = settings.max_image_pixels

    def node(self) -> str:
        return socket.gethostname()

    def load_clip(self) -> str | None:
        """None when CLIP is ready on this worker, else why not."""
        return None if self.models.clip() is not None else self.models.problems.get("clip", "CLIP failed to load")

    def load_analyzers(self, keys: list[str]) -> dict[str, str | None]:
        """key -> None when its model loaded here, else why not."""
        out = {}
        for key in keys:
            self.adapters[key] = self.adapters.get(key) or self.models.load(key)
            out[key] = None if self.adapters[key] is not None else self.models.problems.get(key, "failed to load")
        return out

    def read_and_embed(self, items: list[_Item]):
        """The first pass's work on a batch: decode, metadata, CLIP vectors (as Indexer does)."""
        import numpy as np

        from tools.ingest.files import read_photo

        if (missing := _missing_here(items)) is not None:
            return missing
        clip = self.models.clip()
        reads = []
        for item in items:
            entry, photo_id, need_clip, with_metadata = item.payload
            preprocess = clip.preprocess if clip is not None and need_clip else None
            reads.append(read_photo(entry, photo_id, preprocess, max_pixels=self.settings.max_image_pixels,
                                    with_metadata=with_metadata))
        with_pixels = [read for read in reads if read.pixels is not None]
        if with_pixels:
            vectors = clip.embed_pixels(np.stack([read.pixels for read in with_pixels]))
            for read, vector in zip(with_pixels, vectors):
                read.pixels, read.vector = None, vector  # the vector travels back, not the pixels
        return reads

    def understand(self, items: list[_Item], keys: list[str]):
        """The understanding pass's work on a batch of records (as Analyzer does)."""
        from tools.understand.analysis import analyze_photo

        if (missing := _missing_here(items)) is not None:
            return missing
        adapters = {key: self.adapters[key] for key in keys}
        return [analyze_photo(item.payload, adapters) for item in items]


def _missing_here(items: list[_Item]) -> dict | None:
    for item in items:
        if item.here and not os.path.exists(item.path):
            return {"missing": item.path, "node": socket.gethostname()}
    return None


def _import_ray(local: bool):
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # Ray's usage reports: never
    if local:
        # Ray's mode for machines without a cluster (it is how it avoids firewall prompts on a
        # laptop): every server it starts binds 127.0.0.1 instead of all interfaces. Read by
        # Ray when it is imported, and inherited by the processes it starts.
        os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    try:
        import ray
    except ImportError:
        raise RayError("--ray needs Ray, an optional extra: pip install photo-recall[scale]") from None
    return ray


class RayCluster:
    """A connection to Ray for one `recall index` run, with its model-holding workers."""

    def __init__(self, settings: Settings, address: str = LOCAL):
        """Checks that Ray is there; it starts (or is reached) when there is work, not before."""
        self.settings = settings
        self.address = address
        self.local = address == LOCAL
        self.ray = _import_ray(self.local)
        self._temp_dir: str | None = None
        self.workers: list = []
        self.nodes: list[str] = []

    def _start(self) -> None:
        if self.workers:
            return
        settings = self.settings
        self._connect(self.address)
        try:
            cpus = int(self.ray.cluster_resources().get("CPU", 1))
            count = max(1, min(settings.ray_workers or cpus, cpus))
            # One CPU each, one thread each: parallelism comes from the workers, not from torch.
            worker_settings = settings.model_copy(update={"torch_threads": 1, "decode_threads": 1})
            actor = self.ray.remote(num_cpus=1)(PhotoWork)
            self.workers = [actor.remote(worker_settings) for _ in range(count)]
            self.nodes = sorted(set(self._get([w.node.remote() for w in self.workers])))
        except BaseException:
            self.close()
            raise

    def _connect(self, address: str) -> None:
        options = dict(logging_level="ERROR", log_to_driver=False, include_dashboard=False)
        try:
            if self.local:
                # Ray's sockets and logs in a folder of this run's, owner-only (mkdtemp), short
                # enough for a Unix socket path; removed when the run ends.
                self._temp_dir = tempfile.mkdtemp(prefix="recall-ray-")
                self.ray.init(num_cpus=self.settings.ray_workers or os.cpu_count() or 1,
                              _temp_dir=self._temp_dir, **options)
            else:
                self.ray.init(address=address, **options)
        except Exception as error:  # noqa: BLE001 - any failure to start or reach Ray reads the same
            self.close()
            where = "start a local Ray" if self.local else f"reach the Ray cluster at {address}"
            raise RayError(f"cannot {where}: {str(error).splitlines()[0] if str(error) else type(error).__name__}") from None

    def close(self) -> None:
        try:
            if self.ray.is_initialized():
                self.ray.shutdown()  # a cluster's workers end with the driver; a local Ray stops
        finally:
            if self._temp_dir:
                shutil.rmtree(self._temp_dir, ignore_errors=True)
                self._temp_dir = None

    def __enter__(self) -> "RayCluster":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- loading models on every worker ------------------------------------------------------
    def load_clip(self) -> str | None:
        """None when every worker has CLIP, else why a worker has not."""
        self._start()
        problems = [p for p in self._get([w.load_clip.remote() for w in self.workers]) if p]
        return problems[0] if problems else None

    def load_analyzers(self, keys: list[str]) -> dict[str, str | None]:
        """key -> None where every worker loaded it, else why one did not (the signal is off)."""
        self._start()
        out: dict[str, str | None] = {key: None for key in keys}
        for loaded in self._get([w.load_analyzers.remote(keys) for w in self.workers]):
            for key, problem in loaded.items():
                out[key] = out[key] or problem
        return out

    # ---- the work ----------------------------------------------------------------------------
    def read_and_embed(self, jobs: list, batch_size: int) -> Iterator[list[tuple]]:
        """(job, PhotoRead) batches, in order; each read carries its CLIP vector, no pixels."""
        items = [_Item((job.entry, job.photo_id, job.need_clip, job.record is None), job.entry.path,
                       os.path.exists(job.entry.path)) for job in jobs]
        yield from self._batches(items, jobs, batch_size, "read_and_embed")

    def understand(self, records: list, batch_size: int, keys: list[str]) -> Iterator[list]:
        """Analyzer results, a batch at a time, in order."""
        items = [_Item(record, record.path, os.path.exists(record.path)) for record in records]
        for batch in self._batches(items, records, batch_size, "understand", keys):
            yield [result for _, result in batch]

    def _batches(self, items: list[_Item], originals: list, batch_size: int, method: str,
                 *args) -> Iterator[list[tuple]]:
        self._start()
        chunks = [(items[i:i + batch_size], originals[i:i + batch_size]) for i in range(0, len(items), batch_size)]
        for (_, originals_chunk), results in zip(chunks, self._ordered(method, [c for c, _ in chunks], args)):
            if isinstance(results, dict):  # a worker lacks a photo this machine has
                raise RayError(f"{results['missing']} is not on Ray node {results['node']}: every machine needs "
                               "the photos at the same path (a shared or synced folder)")
            yield list(zip(originals_chunk, results))

    def _ordered(self, method: str, chunks: Iterable[list[_Item]], args: tuple) -> Iterator:
        """Each chunk to a worker in turn, a few queued per worker; results in the chunks' order."""
        pending: deque = deque()
        for number, chunk in enumerate(chunks):
            worker = self.workers[number % len(self.workers)]
            pending.append(getattr(worker, method).remote(chunk, *args))
            if len(pending) >= IN_FLIGHT_PER_WORKER * len(self.workers):
                yield self._get(pending.popleft())
        while pending:
            yield self._get(pending.popleft())

    def _get(self, refs):
        try:
            return self.ray.get(refs)
        except (self.ray.exceptions.RayActorError, self.ray.exceptions.WorkerCrashedError) as error:
            raise RayError(f"a Ray worker stopped ({_first_line(error)}); everything committed is kept: "
                           "run the same command to resume") from None
        except self.ray.exceptions.RayTaskError as error:
            cause = getattr(error, "cause", None) or error
            raise RayError(f"a Ray worker failed: {type(cause).__name__}: {_first_line(cause)}") from None


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:300] if text else type(error).__name__
