"""The index: ChromaDB collections, embedded (PersistentClient) or a server (HttpClient).

Collections:
- ``photos``: one record per photo (id = content hash), all metadata; the document is the
  photo's searchable text (the person's captions, then model captions, text in the photo, tags). It carries a constant one-dimensional embedding because Chroma stores vectors
  with every record; the real vectors live in their own collections so that each model has its
  own space and a model can be added or changed without touching the rest.
- ``clip-<model>-<dim>``, ``text-<model>-<dim>``: one vector per photo, cosine space, with the
  filterable fields copied on so that filtered nearest-neighbour queries run inside Chroma.
- ``skipped``: files that could not be indexed, with the reason (shown by ``recall status``).
- ``meta``: small facts about the index, e.g. the last run.
A photo's record in ``photos`` is written after its vectors: a photo is done when it is there.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

from tools.lazy import lazy_module

from tools.index import ann as ann_file
from tools.index import columns as columns_file
from tools.index import folder as index_files
from tools.index import vector_files
from tools.index.folder import DiskFull
from tools.locks import LockBusy, file_lock, held_elsewhere
from tools.private import private_dir
from tools.index.records import PhotoRecord, SkippedFile, path_from_metadata
from tools.index.summary import record_count
from tools.settings import Settings

# numpy/PIL on first use (tools/lazy.py): `recall status` and `recall people` need neither
np = lazy_module("numpy")

PLACEHOLDER = [1.0]
PAGE = 5000
# Collections whose vectors are searched or read back (the rest hold a placeholder vector).
VECTOR_PREFIXES = ("clip-", "text-", "faces", "people")


class StoreError(RuntimeError):
    pass


class IndexBusy(StoreError):
    """Another process is writing to this index."""


class IndexFull(StoreError):
    """The disk holding the index is full; the message says how full."""


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-._")[:200] or "model"


def vector_collection_name(kind: str, model_name: str, dim: int) -> str:
    return f"{kind}-{_slug(model_name)}-{dim}"


def _path_id(path: str) -> str:
    return hashlib.blake2b(path.encode("utf-8", "surrogateescape"), digest_size=16).hexdigest()


def _connect(settings: Settings, mode: str, create: bool):
    """(client, notice): the notice says when a read-only or full index is read from a copy."""
    if mode == "search" and not settings.chroma_url:
        return _open_to_search(settings)
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)  # nothing leaves the machine
    if settings.chroma_url:
        url = urlparse(settings.chroma_url if "://" in settings.chroma_url else f"http://{settings.chroma_url}")
        if not url.hostname:
            raise StoreError(f"bad Chroma URL {settings.chroma_url!r}")
        port = url.port or (443 if url.scheme == "https" else 8000)
        try:
            client = chromadb.HttpClient(host=url.hostname, port=port, ssl=url.scheme == "https",
                                         settings=chroma_settings)
            client.heartbeat()
        except Exception as exc:  # noqa: BLE001 - any connection failure reads the same to a user
            raise StoreError(f"cannot reach the Chroma server at {settings.chroma_url}: {exc}") from None
        return client, None
    db = Path(settings.db)
    if mode == "read":
        if not index_files.index_exists(db):
            raise StoreError(f"there is no index at {db}: `recall index PATH` makes one "
                             "(or --db / RECALL_DB names another)")
        path, notice = db, None
        if not index_files.writable_in_place(db, settings.min_free_mb << 20):
            path, notice = _copy_to_read(settings), f"the index at {db} cannot be written (read-only or a full disk): reading a private copy"
        try:
            return chromadb.PersistentClient(path=str(path), settings=chroma_settings), notice
        except Exception as exc:  # noqa: BLE001
            if path == db and index_files.is_write_failure(exc):  # the checks above missed it
                copy = _copy_to_read(settings)
                return chromadb.PersistentClient(path=str(copy), settings=chroma_settings), (
                    f"the index at {db} cannot be written (read-only or a full disk): reading a private copy")
            raise StoreError(f"cannot open the index at {db}: {exc}") from None
    if not create and not index_files.index_exists(db):
        raise StoreError(f"there is no index at {db}: `recall index PATH` makes one "
                         "(or --db / RECALL_DB names another)")
    try:
        private_dir(db, tighten_tree=True)  # face embeddings are biometric data: owner only
    except OSError as exc:
        raise StoreError(f"cannot create the index folder {db}: {exc.strerror or exc}") from None
    if index_files.index_exists(db) and not index_files.writable_in_place(db, 0):
        raise StoreError(f"the index at {db} is read-only: searching works, indexing and edits do not")
    try:
        index_files.check_free_space(db, settings.min_free_mb << 20)
    except DiskFull as full:
        raise IndexFull(str(full)) from None
    try:
        # Two processes opening one new index both run Chroma's schema migrations, and one failed
        # with "table collections already exists". A lock of its own, held only while the client
        # opens (the writer lock is held for whole index runs): the second opens what the first made.
        with file_lock(settings.lock_path.with_name(settings.lock_path.name + ".open"), "opening the index",
                       wait_s=120):
            return chromadb.PersistentClient(path=str(db), settings=chroma_settings), None
    except LockBusy as busy:
        raise IndexBusy(str(busy)) from None
    except Exception as exc:  # noqa: BLE001
        if index_files.is_write_failure(exc):
            raise IndexFull(str(DiskFull(db, index_files.free_bytes(db), settings.min_free_mb << 20))) from None
        raise StoreError(f"cannot open the index at {db}: {exc}") from None


def _open_to_search(settings: Settings):
    """The index read without Chroma and without writing a byte of it (tools/index/sqlite_read.py);
    where its sqlite cannot be read that way, Chroma on a private copy (also no write)."""
    from tools.index.sqlite_read import ReadOnlyClient, UnreadableIndex

    db = Path(settings.db)
    if not index_files.index_exists(db):
        raise StoreError(f"there is no index at {db}: `recall index PATH` makes one "
                         "(or --db / RECALL_DB names another)")
    try:
        return ReadOnlyClient(db, immutable=index_files.on_read_only_filesystem(db),
                              vectors_for=lambda collection: _search_vectors(settings, collection),
                              columns_for=lambda collection: _search_columns(settings, collection),
                              ann_for=lambda collection, vectors: _search_ann(settings, collection, vectors),
                              derived_folder=lambda: _derived_folder(settings),
                              published_folder=_reader_folders(settings)[0]), None
    except UnreadableIndex:
        return _chroma_on_copy(settings), None


def _chroma_on_copy(settings: Settings):
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    copy = _copy_to_read(settings)
    try:
        return chromadb.PersistentClient(path=str(copy), settings=ChromaSettings(anonymized_telemetry=False))
    except Exception as exc:  # noqa: BLE001
        raise StoreError(f"cannot open the index at {settings.db}: {exc}") from None


def _search_vectors(settings: Settings, collection):
    """A collection's vector matrix at the index's current state: the writer's, beside the index;
    else this reader's own in the cache folder; else built there from a private copy of the index."""
    stamp = collection.stamp()
    mine = Path(settings.cache_dir) / "vectors" / settings.index_key
    folders = (Path(settings.db) / vector_files.FOLDER, mine)
    for folder in folders:
        found = vector_files.load(folder, collection.name, stamp)
        if found is not None:
            return found
    if held_elsewhere(settings.lock_path):
        # An index run is writing (the understanding pass changes filter fields, not vectors):
        # the last saved vectors serve, for the photos still there; a copy taken mid-write could
        # be torn. Photos added since are found by words until the run saves its vectors.
        saved = [f for f in (vector_files.load(folder, collection.name, None) for folder in folders) if f]
        if saved:
            return max(saved, key=lambda f: f.stamp)
    client = _chroma_on_copy(settings)
    ids, rows = [], []
    try:
        source = client.get_collection(collection.name)
    except Exception:  # noqa: BLE001 - no such collection in the copy: nothing to search
        source = None
    offset = 0
    while source is not None:
        page = source.get(include=["embeddings"], limit=PAGE, offset=offset)
        if not page["ids"]:
            break
        ids += page["ids"]
        rows += [np.asarray(v, dtype=np.float32) for v in page["embeddings"]]
        offset += len(page["ids"])
    matrix = np.stack(rows) if rows else np.zeros((0, 0), np.float32)
    try:
        vector_files.save(mine, collection.name, stamp, ids, matrix)
    except OSError:
        pass  # a full cache disk: this search uses the matrix in memory, the next builds it again
    return vector_files.VectorFile(ids, matrix, stamp)


def _reader_folders(settings: Settings) -> tuple[Path, Path]:
    """Where search files are: the writer's, beside the index; this reader's own, in the cache."""
    return Path(settings.db) / vector_files.FOLDER, Path(settings.cache_dir) / "vectors" / settings.index_key


def _search_columns(settings: Settings, collection):
    """A collection's filter columns at its stamp: the writer's, else this reader's, else built
    from the sqlite (read-only) and kept in the cache folder."""
    stamp = collection.stamp()
    folders = _reader_folders(settings)
    for folder in folders:
        found = columns_file.load(folder, collection.name, stamp)
        if found is not None:
            return found
    built = collection.client.build_columns(collection, previous=columns_file.latest(folders[1], collection.name)
                                            or columns_file.latest(folders[0], collection.name))
    # Kept for the collections the writer saves too (the small ones are read in a moment), and
    # not while an index run writes: they would be stale within seconds (one snapshot of the
    # sqlite, so consistent for this search).
    exported = collection.name == "photos" or collection.name.startswith(VECTOR_PREFIXES)
    if exported and built.stamp == collection.stamp() and not held_elsewhere(settings.lock_path):
        try:
            columns_file.save(folders[1], collection.name, built)
        except OSError:
            pass  # a full cache disk: this search uses them in memory
    return built


def _derived_folder(settings: Settings) -> Path | None:
    """Where a reader keeps what it builds from the documents (the words postings): its own cache,
    not while an index run writes (they would be stale within seconds)."""
    return None if held_elsewhere(settings.lock_path) else Path(settings.cache_dir) / "words" / settings.index_key


def _search_ann(settings: Settings, collection, vectors):
    """The writer's approximate index for an unfiltered query, when it is at the matrix's stamp."""
    if len(vectors.ids) < ann_file.MIN_ROWS:
        return None
    return ann_file.load(_reader_folders(settings)[0], collection.name, vectors.stamp, len(vectors.ids))


def export_vectors(store: "PhotoStore") -> None:
    """After a write: save each vector collection whose stamp moved as a matrix beside the index,
    so that searches read vectors without opening Chroma (tools/index/vector_files.py), and the
    photos' filter columns and word postings."""
    from tools.index import word_postings  # NumPy: not for `recall status`, which imports this module
    from tools.index.sqlite_read import connect

    db = Path(store.settings.db)
    folder = db / vector_files.FOLDER
    sql = connect(db / index_files.DB_FILE)
    try:
        segments = dict(sql.execute("SELECT c.name, s.id FROM collections c JOIN segments s "
                                    "ON s.collection = c.id WHERE s.scope = 'METADATA'").fetchall())

        def stamp(name: str) -> int:
            row = sql.execute("SELECT seq_id FROM max_seq_id WHERE segment_id = ?", (segments[name],)).fetchone()
            value = row[0] if row else 0
            return int.from_bytes(value, "big") if isinstance(value, bytes) else int(value or 0)

        for name in sorted(segments):
            searched = name.startswith(VECTOR_PREFIXES)
            if not searched and name != "photos":
                continue
            before = stamp(name)
            columns = columns_file.load(folder, name, before)
            if columns is None:
                columns = columns_file.build(sql, segments[name], before, columns_file.keys_for(name),
                                             previous=columns_file.latest(folder, name))
                if stamp(name) != before:
                    continue  # written meanwhile (another thread): the next export catches up
                columns_file.save(folder, name, columns)
            if not searched:
                word_postings.publish(folder, name, sql, segments[name], columns,
                                      still_current=lambda: stamp(name) == before)
                continue
            vectors = vector_files.load(folder, name, before)
            previous_stamp, kept = None, None
            if vectors is None:
                previous = vector_files.load(folder, name, None)
                made = _current_matrix(store, sql, segments[name], name, columns, previous)
                if made is None or stamp(name) != before:
                    continue
                matrix, kept = made
                previous_stamp = previous.stamp if previous is not None else None
                vector_files.save(folder, name, before, columns.id_list, matrix)
                vectors = vector_files.load(folder, name, before)
            if vectors is not None and len(vectors.ids) >= ann_file.MIN_ROWS:
                ann_file.refresh(folder, name, vectors, previous_stamp, kept)
    finally:
        sql.close()


def _current_matrix(store: "PhotoStore", sql, segment: str, name: str, columns, previous):
    """The collection's vectors in the columns' (storage) order: the rows written since the
    previous matrix read from Chroma, the rest taken from it (Chroma numbers every record's last
    write, as columns_file.build uses), so a write of a few photos reads a few vectors. With,
    for each row, its row in ``previous`` when taken from it (else -1); None when rows went
    missing meanwhile."""
    ids = columns.id_list
    if not ids:
        return np.zeros((0, 0), np.float32), np.zeros(0, np.int64)
    take_old = np.full(len(ids), -1, np.int64)
    if previous is not None and len(previous.ids):
        seq = dict((e, columns_file._seq(q)) for e, q in sql.execute(
            "SELECT embedding_id, seq_id FROM embeddings WHERE segment_id = ?", (segment,)))
        for i, id_ in enumerate(ids):
            at = previous.row.get(id_)
            if at is not None and seq.get(id_, previous.stamp + 1) <= previous.stamp:
                take_old[i] = at
    missing = np.flatnonzero(take_old < 0)
    collection = store.client.get_collection(name)
    fresh: dict[str, np.ndarray] = {}
    wanted = [ids[i] for i in missing]
    for start in range(0, len(wanted), PAGE):
        page = collection.get(ids=wanted[start:start + PAGE], include=["embeddings"])
        fresh.update((i, np.asarray(v, dtype=np.float32)) for i, v in zip(page["ids"], page["embeddings"]))
    dim = previous.matrix.shape[1] if previous is not None and len(previous.ids) else len(next(iter(fresh.values())))
    matrix = np.empty((len(ids), dim), np.float32)
    kept = np.flatnonzero(take_old >= 0)
    if len(kept):
        matrix[kept] = previous.matrix[take_old[kept]]
    if len(fresh) < len(missing):
        return None  # deleted meanwhile: the caller sees the stamp moved
    for i in missing.tolist():
        matrix[i] = fresh[ids[i]]
    return matrix, take_old


def _copy_to_read(settings: Settings) -> Path:
    try:
        return index_files.read_copy(settings.db, settings.cache_dir)
    except OSError as exc:
        raise StoreError(str(exc)) from None


class PhotoStore:
    """The index, opened to ``search`` (reads only, never writes a byte of it, without Chroma:
    tools/index/sqlite_read.py), to ``read`` (Chroma; never creates one; a read-only or full one is
    read from a private copy; the chat app writes through it) or to ``write`` (creates it,
    owner-only; writes take ``writing()``)."""

    def __init__(self, settings: Settings, mode: Literal["search", "read", "write"] = "write", create: bool = True):
        self.settings = settings
        self.mode = mode
        self.location = settings.chroma_url or str(settings.db)
        self.client, self.notice = _connect(settings, mode, create)
        # Commits of one process's threads (the chat app indexes in a worker while a person
        # names a face) take turns; other processes are kept out by the file lock in writing().
        self.commit_lock = threading.RLock()
        self.photos = self._collection("photos")
        self.skipped = self._collection("skipped")
        self.meta = self._collection("meta")

    @contextlib.contextmanager
    def writing(self, purpose: str, wait_s: float = 0.0) -> Iterator[None]:
        """Hold this index's writer lock: no other process writes to it meanwhile."""
        def busy(holder: str) -> str:
            return (f"another recall process is writing to this index ({holder}): wait for it to "
                    "finish, or stop it, and run this again")

        if self.mode == "search":
            raise StoreError("this index was opened to search: it cannot be changed from here")
        try:
            with file_lock(self.settings.lock_path, purpose, wait_s=wait_s, busy=busy):
                yield
                self._export_vectors()
        except LockBusy as error:
            raise IndexBusy(str(error)) from None

    def _export_vectors(self) -> None:
        """Vector matrices for searching, after a write that finished (never on a nearly full disk:
        they are a copy, and a failed or interrupted run leaves them stale, which readers detect)."""
        if self.settings.chroma_url or self.notice or self.nearly_full():
            return
        with self.commit_lock:
            try:
                export_vectors(self)
            except Exception as error:  # noqa: BLE001 - searching falls back to building its own
                if self.as_full_disk(error) is None:
                    logging.getLogger(__name__).warning("vector files for search not saved: %s", error)

    def as_full_disk(self, error: BaseException) -> IndexFull | None:
        """An IndexFull for a write that failed because the disk filled up, else None."""
        if self.settings.chroma_url:
            return None
        free = index_files.free_bytes(self.settings.db)
        # Chroma words a full disk in many ways ("Error in compaction: Failed to apply logs..."):
        # any store error on a nearly full disk is taken for one.
        from_store = type(error).__module__.startswith("chromadb") and free < index_files.NEARLY_FULL
        if not (index_files.is_write_failure(error) or from_store):
            return None
        return IndexFull(str(DiskFull(self.settings.db, free, self.settings.min_free_mb << 20)))

    def nearly_full(self) -> bool:
        """Too little room for Chroma to be trusted with another write (or the configured floor)."""
        if self.settings.chroma_url:
            return False
        floor = max(index_files.NEARLY_FULL, self.settings.min_free_mb << 20)
        return index_files.free_bytes(self.settings.db) < floor

    def check_space(self) -> None:
        """Raise IndexFull before a write that a nearly full disk would fail (or hang)."""
        if self.settings.chroma_url:
            return  # a server's disk is its own business
        try:
            index_files.check_free_space(self.settings.db, self.settings.min_free_mb << 20)
        except DiskFull as full:
            raise IndexFull(str(full)) from None

    def _collection(self, name: str, cosine: bool = False):
        kwargs = {"configuration": {"hnsw": {"space": "cosine"}}} if cosine else {}
        return self.client.get_or_create_collection(name, embedding_function=None, **kwargs)

    def vectors(self, kind: str, model_name: str, dim: int):
        return self._collection(vector_collection_name(kind, model_name, dim), cosine=True)

    def vector_collections(self) -> dict[str, int]:
        """Name -> record count of every vector collection."""
        out = {}
        for collection in self.client.list_collections():
            name = collection if isinstance(collection, str) else collection.name
            if name.startswith(("clip-", "text-")):
                out[name] = record_count(self.client.get_collection(name))
        return out

    # ---- photos -----------------------------------------------------------------------------
    def count(self) -> int:
        return self.photos.count()

    def _pages(self, collection, include: list[str], where: dict | None = None) -> Iterator[dict]:
        offset = 0
        while True:
            page = collection.get(include=include, where=where, limit=PAGE, offset=offset)
            if not page["ids"]:
                return
            yield page
            offset += len(page["ids"])

    def file_table(self) -> dict[str, tuple[str, int, int]]:
        """path -> (id, size, mtime_ns) for every indexed photo: enough to skip unchanged files."""
        table = {}
        for page in self._pages(self.photos, ["metadatas"]):
            for id_, meta in zip(page["ids"], page["metadatas"]):
                table[path_from_metadata(meta)] = (id_, int(meta.get("size", -1)), int(meta.get("mtime_ns", -1)))
        return table

    def all_ids(self, collection=None) -> set[str]:
        ids: set[str] = set()
        for page in self._pages(collection or self.photos, []):
            ids.update(page["ids"])
        return ids

    def get_photos(self, ids: Iterable[str]) -> dict[str, PhotoRecord]:
        ids = list(dict.fromkeys(ids))
        out: dict[str, PhotoRecord] = {}
        for start in range(0, len(ids), PAGE):
            page = self.photos.get(ids=ids[start:start + PAGE], include=["metadatas"])
            for id_, meta in zip(page["ids"], page["metadatas"]):
                out[id_] = PhotoRecord.from_metadata(id_, meta)
        return out

    def iter_photos(self, where: dict | None = None) -> Iterator[PhotoRecord]:
        for page in self._pages(self.photos, ["metadatas"], where):
            for id_, meta in zip(page["ids"], page["metadatas"]):
                yield PhotoRecord.from_metadata(id_, meta)

    def upsert_photos(self, records: list[PhotoRecord]) -> None:
        if records:
            self.photos.upsert(ids=[r.id for r in records], embeddings=[PLACEHOLDER] * len(records),
                               metadatas=[r.to_metadata() for r in records],
                               documents=[r.search_text() for r in records])

    def update_filter_fields(self, records: list[PhotoRecord]) -> None:
        """Keep the copies of filterable fields on vector records in step with ``photos``."""
        by_id = {r.id: r for r in records}
        for name in self.vector_collections():
            collection = self.client.get_collection(name)
            present = collection.get(ids=list(by_id), include=[])["ids"]
            if present:
                collection.update(ids=present, metadatas=[by_id[i].filter_metadata() for i in present])

    def upsert_vectors(self, collection, records: list[PhotoRecord], vectors: np.ndarray) -> None:
        if records:
            collection.upsert(ids=[r.id for r in records], embeddings=vectors.tolist(),
                              metadatas=[r.filter_metadata() for r in records])

    def delete_photos(self, ids: list[str]) -> None:
        if not ids:
            return
        for name in self.vector_collections():
            self.client.get_collection(name).delete(ids=ids)
        self.photos.delete(ids=ids)

    def query_vectors(self, collection, vector: np.ndarray, n: int,
                      where: dict | None = None) -> list[tuple[str, float]]:
        """Nearest photos as (id, cosine similarity), best first."""
        available = collection.count()
        if available == 0 or n <= 0:
            return []
        result = collection.query(query_embeddings=[vector.tolist()], n_results=min(n, available),
                                  where=where, include=["distances"])
        return [(id_, 1.0 - float(dist)) for id_, dist in zip(result["ids"][0], result["distances"][0])]

    def get_vectors(self, collection, ids: list[str]) -> dict[str, np.ndarray]:
        out = {}
        for start in range(0, len(ids), PAGE):
            page = collection.get(ids=ids[start:start + PAGE], include=["embeddings"])
            for id_, vector in zip(page["ids"], page["embeddings"]):
                out[id_] = np.asarray(vector, dtype=np.float32)
        return out

    # ---- skipped files ----------------------------------------------------------------------
    def record_skipped(self, items: list[SkippedFile]) -> None:
        if items:
            self.skipped.upsert(ids=[_path_id(i.path) for i in items], embeddings=[PLACEHOLDER] * len(items),
                                metadatas=[i.to_metadata() for i in items])

    def skipped_table(self) -> dict[str, SkippedFile]:
        out = {}
        for page in self._pages(self.skipped, ["metadatas"]):
            for meta in page["metadatas"]:
                item = SkippedFile.from_metadata(meta)
                out[item.path] = item
        return out

    def forget_skipped(self, paths: Iterable[str]) -> None:
        ids = [_path_id(p) for p in paths]
        if ids:
            self.skipped.delete(ids=ids)

    def refresh_library_facts(self) -> None:
        """Remember the cameras and places in the library, for filters and place names."""
        cameras: set[str] = set()
        places: dict[tuple, dict] = {}
        for page in self._pages(self.photos, ["metadatas"]):
            for meta in page["metadatas"]:
                if meta.get("camera"):
                    cameras.add(meta["camera"])
                if meta.get("country_code"):
                    place = {"city": meta.get("city", ""), "region": meta.get("region", ""), "subregion": "",
                             "country_code": meta["country_code"], "country": meta.get("country", "")}
                    places[tuple(place.values())] = place
        self.set_meta("cameras", sorted(cameras))
        self.set_meta("places", list(places.values()))

    # ---- small facts ------------------------------------------------------------------------
    def set_meta(self, key: str, value: object) -> None:
        self.meta.upsert(ids=[key], embeddings=[PLACEHOLDER], documents=[json.dumps(value, default=str)])

    def get_meta(self, key: str, default: object = None) -> object:
        found = self.meta.get(ids=[key], include=["documents"])
        return json.loads(found["documents"][0]) if found["ids"] else default
