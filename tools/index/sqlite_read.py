"""An embedded Chroma index read without Chroma: its sqlite opened read-only, vectors from files.

Why: opening Chroma's PersistentClient rewrites chroma.sqlite3 and the HNSW files even to read,
so a search modified the person's index, and importing and opening Chroma cost ~0.6 s of a
cold ``recall search``. This reads the same tables Chroma's own reads use (``embeddings``,
``embedding_metadata``, ``embedding_metadata_array``: its sqlite metadata segment, which Chroma
keeps up to date on every write) through a ``mode=ro`` connection, and the vectors from the
matrix files in tools/index/vector_files.py. It answers the calls the store makes of a Chroma
collection (``count``, ``get``, ``query``) with Chroma's result shapes; a write raises.

Nearest-neighbour queries are exact (all rows that pass the filter, one matrix product), which
for a filtered query is also what Chroma's HNSW cannot promise.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from tools.lazy import lazy_module

from tools.index import vector_files
from tools.index.where import document_matches, matches

# numpy/PIL on first use (tools/lazy.py): `recall status` and `recall people` need neither
np = lazy_module("numpy")

DOCUMENT_KEY = "chroma:document"


class ReadOnlyIndexError(RuntimeError):
    """A write was asked of an index opened to search."""


class UnreadableIndex(RuntimeError):
    """This index's sqlite is not one we can read this way (another Chroma layout, a lock)."""


def connect(db_file: Path, immutable: bool = False) -> sqlite3.Connection:
    """A read-only connection; ``immutable`` for a file on a read-only filesystem, where sqlite
    cannot even take its shared lock."""
    uri = f"file:{quote(str(Path(db_file).resolve()))}?mode=ro" + ("&immutable=1" if immutable else "")
    connection = sqlite3.connect(uri, uri=True, timeout=10.0, check_same_thread=False)
    connection.execute("PRAGMA query_only = ON")
    return connection


def _value(row: tuple):
    string, integer, real, boolean = row
    if string is not None:
        return string
    if integer is not None:
        return int(integer)
    if real is not None:
        return float(real)
    if boolean is not None:
        return bool(boolean)
    return None


class ReadOnlyCollection:
    def __init__(self, client: "ReadOnlyClient", name: str, segment: str | None):
        self.client = client
        self.name = name
        self._segment = segment  # None: the collection does not exist (nothing in it)
        self._cache: tuple[int, list[str], list[dict | None], list[str | None]] | None = None

    # ---- what is in it ----------------------------------------------------------------------
    def stamp(self) -> int:
        return self.client.stamp(self._segment) if self._segment else 0

    def _records(self) -> tuple[list[str], list[dict | None], list[str | None]]:
        """ids, metadatas, documents in Chroma's storage order, read again when the index changed."""
        if self._segment is None:
            return [], [], []
        stamp = self.stamp()
        if self._cache is None or self._cache[0] != stamp:
            sql = self.client.sql
            rows = sql.execute("SELECT id, embedding_id FROM embeddings WHERE segment_id = ? ORDER BY id",
                               (self._segment,)).fetchall()
            position = {rowid: i for i, (rowid, _) in enumerate(rows)}
            metas: list[dict | None] = [None] * len(rows)
            docs: list[str | None] = [None] * len(rows)
            for rowid, key, *value in sql.execute(
                    "SELECT m.id, m.key, m.string_value, m.int_value, m.float_value, m.bool_value "
                    "FROM embedding_metadata m JOIN embeddings e ON e.id = m.id WHERE e.segment_id = ?",
                    (self._segment,)):
                i = position.get(rowid)
                if i is None:
                    continue
                if key == DOCUMENT_KEY:
                    docs[i] = value[0]
                else:
                    if metas[i] is None:
                        metas[i] = {}
                    metas[i][key] = _value(tuple(value))
            for rowid, key, *value in sql.execute(
                    "SELECT a.id, a.key, a.string_value, a.int_value, a.float_value, a.bool_value "
                    "FROM embedding_metadata_array a JOIN embeddings e ON e.id = a.id WHERE e.segment_id = ? "
                    "ORDER BY a.rowid", (self._segment,)):
                i = position.get(rowid)
                if i is None:
                    continue
                if metas[i] is None:
                    metas[i] = {}
                current = metas[i].get(key)
                if not isinstance(current, list):
                    current = metas[i][key] = []
                current.append(_value(tuple(value)))
            self._cache = (stamp, [embedding_id for _, embedding_id in rows], metas, docs)
        return self._cache[1], self._cache[2], self._cache[3]

    def count(self) -> int:
        if self._segment is None:
            return 0
        return int(self.client.sql.execute("SELECT count(*) FROM embeddings WHERE segment_id = ?",
                                           (self._segment,)).fetchone()[0])

    def _selected(self, ids, where, where_document) -> list[int]:
        all_ids, metas, docs = self._records()
        if ids is not None:
            wanted = set([ids] if isinstance(ids, str) else ids)
            rows = [i for i, id_ in enumerate(all_ids) if id_ in wanted]
        else:
            rows = range(len(all_ids))
        return [i for i in rows if matches(where, metas[i]) and document_matches(where_document, docs[i])]

    def get(self, ids=None, where: dict | None = None, limit: int | None = None, offset: int | None = None,
            where_document: dict | None = None, include=("metadatas", "documents")) -> dict:
        all_ids, metas, docs = self._records()
        rows = self._selected(ids, where, where_document)
        if "embeddings" in include:
            vectors = self.client.vectors(self)
            rows = [i for i in rows if all_ids[i] in vectors.row]  # a saved matrix older than the index
        start = offset or 0
        rows = rows[start:start + limit] if limit is not None else rows[start:]
        out: dict = {"ids": [all_ids[i] for i in rows], "embeddings": None, "metadatas": None,
                     "documents": None, "include": list(include)}
        if "metadatas" in include:
            out["metadatas"] = [metas[i] for i in rows]
        if "documents" in include:
            out["documents"] = [docs[i] for i in rows]
        if "embeddings" in include:
            out["embeddings"] = np.stack([vectors.matrix[vectors.row[all_ids[i]]] for i in rows]).astype(np.float32) \
                if rows else np.zeros((0, vectors.matrix.shape[1] if vectors.matrix.ndim == 2 else 0), np.float32)
        return out

    def query(self, query_embeddings, n_results: int = 10, where: dict | None = None,
              where_document: dict | None = None, include=("distances",)) -> dict:
        """Exact cosine distances (1 - cosine similarity), nearest first, as Chroma's cosine space."""
        all_ids, _, _ = self._records()
        vectors = self.client.vectors(self)
        rows = [vectors.row[all_ids[i]] for i in self._selected(None, where, where_document)
                if all_ids[i] in vectors.row]
        out: dict = {"ids": [], "distances": []}
        for embedding in query_embeddings:
            query = np.asarray(embedding, dtype=np.float32)
            query = query / max(float(np.linalg.norm(query)), 1e-12)
            if not rows:
                out["ids"].append([])
                out["distances"].append([])
                continue
            chosen = np.asarray(rows)
            similarity = vectors.unit[chosen] @ query
            n = min(n_results, len(chosen))
            top = np.argpartition(-similarity, n - 1)[:n] if n < len(chosen) else np.arange(len(chosen))
            top = top[np.argsort(-similarity[top], kind="stable")]
            out["ids"].append([vectors.ids[chosen[i]] for i in top])
            out["distances"].append([float(1.0 - similarity[i]) for i in top])
        return out

    # ---- writes: never, through this ----------------------------------------------------------
    def _refuse(self, *args, **kwargs):
        raise ReadOnlyIndexError(f"the index was opened to search: {self.name} cannot be changed here")

    add = upsert = update = delete = modify = _refuse


class ReadOnlyClient:
    """Chroma's client calls the store makes, answered from the sqlite file read-only."""

    def __init__(self, db: Path, immutable: bool, vectors_for: Callable[[ReadOnlyCollection], "vector_files.VectorFile"]):
        self.db = Path(db)
        try:
            self.sql = connect(self.db / "chroma.sqlite3", immutable=immutable)
            rows = self.sql.execute(
                "SELECT c.name, s.id FROM collections c JOIN segments s ON s.collection = c.id "
                "WHERE s.scope = 'METADATA'").fetchall()
            self.sql.execute("SELECT id, embedding_id FROM embeddings LIMIT 1").fetchall()
            self.sql.execute("SELECT id, key, string_value, int_value, float_value, bool_value "
                             "FROM embedding_metadata_array LIMIT 1").fetchall()
            self.sql.execute("SELECT segment_id, seq_id FROM max_seq_id LIMIT 1").fetchall()
        except sqlite3.Error as error:
            raise UnreadableIndex(str(error)) from None
        self._segments = dict(rows)
        self._vectors_for = vectors_for
        self._collections: dict[str, ReadOnlyCollection] = {}
        self._vectors: dict[str, vector_files.VectorFile] = {}

    def stamp(self, segment: str) -> int:
        row = self.sql.execute("SELECT seq_id FROM max_seq_id WHERE segment_id = ?", (segment,)).fetchone()
        value = row[0] if row else 0
        return int.from_bytes(value, "big") if isinstance(value, bytes) else int(value or 0)

    def get_collection(self, name: str, **_) -> ReadOnlyCollection:
        if name not in self._collections:
            self._collections[name] = ReadOnlyCollection(self, name, self._segments.get(name))
        return self._collections[name]

    # Reading never creates: a collection that does not exist reads as empty.
    get_or_create_collection = get_collection

    def list_collections(self) -> list[str]:
        return sorted(self._segments)

    def vectors(self, collection: ReadOnlyCollection) -> vector_files.VectorFile:
        stamp = collection.stamp()
        found = self._vectors.get(collection.name)
        if found is None or found.stamp != stamp:
            found = self._vectors[collection.name] = self._vectors_for(collection)
        return found

    def heartbeat(self) -> int:
        return 1
