"""An embedded Chroma index read without Chroma: its sqlite opened read-only, vectors from files.

Why: opening Chroma's PersistentClient rewrites chroma.sqlite3 and the HNSW files even to read,
so a search modified the person's index, and importing and opening Chroma cost ~0.6 s of a
cold ``recall search``. This reads the same tables Chroma's own reads use (``embeddings``,
``embedding_metadata``, ``embedding_metadata_array``: its sqlite metadata segment, which Chroma
keeps up to date on every write) through a ``mode=ro`` connection, and the vectors from the
matrix files in tools/index/vector_files.py. It answers the calls the store makes of a Chroma
collection (``count``, ``get``, ``query``) with Chroma's result shapes; a write raises.

Filters are NumPy masks on the filter columns the writer saves beside the matrices
(tools/index/columns.py; ``where.matches`` answers what masks cannot), document filters start
from Chroma's own trigram full-text index, and only the records asked for are read from sqlite.
Filtered nearest-neighbour queries are exact (the rows that pass, one product), which Chroma's
HNSW does not promise (recall 0.98 for a year at 100k: README, "At scale"); an unfiltered one on
a large collection ranks the rows of its nearest k-means cells exactly (tools/index/ann.py).
"""
from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from tools.lazy import lazy_module

from tools.index import columns as columns_file
from tools.index import vector_files
from tools.index.where import document_matches, mask as where_mask, matches

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


def _required_terms(where_document: dict) -> list[str]:
    """Substrings every passing document holds ($contains, alone or in $and), or [] when unsure."""
    terms: list[str] = []
    for key, condition in where_document.items():
        if key == "$contains" and isinstance(condition, str):
            terms.append(condition)
        elif key == "$and" and isinstance(condition, list):
            for part in condition:
                terms += _required_terms(part) if isinstance(part, dict) else []
    return terms


def _read_rows(sql: sqlite3.Connection, rowids: list[int], with_metadata: bool):
    """{rowid: metadata} and {rowid: document} for these rows, as _records() reads them."""
    metas: dict[int, dict] = {}
    docs: dict[int, str] = {}
    for start in range(0, len(rowids), 900):
        chunk = rowids[start:start + 900]
        marks = ",".join("?" * len(chunk))
        key_clause = "" if with_metadata else "AND key = 'chroma:document' "
        for rowid, key, *value in sql.execute(
                "SELECT id, key, string_value, int_value, float_value, bool_value FROM embedding_metadata "
                f"WHERE id IN ({marks}) {key_clause}", chunk):
            if key == DOCUMENT_KEY:
                docs[rowid] = value[0]
            else:
                metas.setdefault(rowid, {})[key] = _value(tuple(value))
        if not with_metadata:
            continue
        for rowid, key, *value in sql.execute(
                "SELECT id, key, string_value, int_value, float_value, bool_value FROM embedding_metadata_array "
                f"WHERE id IN ({marks}) ORDER BY rowid", chunk):
            meta = metas.setdefault(rowid, {})
            current = meta.get(key)
            if not isinstance(current, list):
                current = meta[key] = []
            current.append(_value(tuple(value)))
    return metas, docs


def documents_in(sql: sqlite3.Connection, segment: str | None, columns: "columns_file.Columns") -> list[str | None]:
    """Every record's document of a segment, in ``columns`` order: one query for the documents
    alone (reading every metadata field too is ~10x slower); a record written after the columns
    is left out."""
    docs: list[str | None] = [None] * len(columns)
    if segment is None:
        return docs
    found = sql.execute(
        "SELECT m.id, m.string_value FROM embedding_metadata m JOIN embeddings e ON e.id = m.id "
        "WHERE e.segment_id = ? AND m.key = ?", (segment, DOCUMENT_KEY)).fetchall()
    if not found or not len(columns):
        return docs
    rowids = np.asarray(columns.rowids, np.int64)
    wanted = np.fromiter((rowid for rowid, _ in found), np.int64, len(found))
    at = np.minimum(np.searchsorted(rowids, wanted), len(rowids) - 1)
    for i in np.flatnonzero(rowids[at] == wanted).tolist():
        docs[int(at[i])] = found[i][1]
    return docs


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
        # the columns at the current stamp have one row per record; sqlite's count(*) walks the
        # segment's index (~20 ms at 100k, on every query)
        return len(self.columns()) if self._segment is not None else 0

    def columns(self) -> "columns_file.Columns":
        return self.client.columns(self)

    # ---- counts from sqlite alone (`recall status`: no NumPy, no records built) ---------------
    def size(self) -> int:
        if self._segment is None:
            return 0
        return self.client.sql.execute("SELECT count(*) FROM embeddings WHERE segment_id = ?",
                                       (self._segment,)).fetchone()[0]

    def all_metadatas(self) -> list[dict]:
        """Every record's metadata (a small collection's: the skipped files)."""
        return [meta or {} for meta in self._records()[1]]

    def key_counts(self, keys: list[str]) -> dict[str, int]:
        """How many records hold each of these (scalar) metadata keys."""
        if self._segment is None or not keys:
            return {}
        return dict(self.client.sql.execute(
            "SELECT m.key, count(*) FROM embedding_metadata m JOIN embeddings e ON e.id = m.id "
            f"WHERE e.segment_id = ? AND m.key IN ({','.join('?' * len(keys))}) GROUP BY m.key",
            (self._segment, *keys)))

    def value_counts(self, key: str, array: bool = False) -> dict:
        """Each value of a metadata key and how many records hold it (``array``: each element of a
        list field, counted once per record that lists it)."""
        if self._segment is None:
            return {}
        table = "embedding_metadata_array" if array else "embedding_metadata"
        counts: dict = {}
        for *value, n in self.client.sql.execute(
                "SELECT m.string_value, m.int_value, m.float_value, m.bool_value, count(DISTINCT m.id) "
                f"FROM {table} m JOIN embeddings e ON e.id = m.id WHERE e.segment_id = ? AND m.key = ? "
                "GROUP BY m.string_value, m.int_value, m.float_value, m.bool_value", (self._segment, key)):
            key_value = _value(tuple(value))
            counts[key_value] = counts.get(key_value, 0) + n
        return counts

    def rows_where(self, where: dict | None) -> "np.ndarray | None":
        """A mask of the rows (in ``columns()`` order) that pass ``where``; None when there is none."""
        if not where:
            return None
        selected = np.zeros(len(self.columns()), bool)
        selected[self._selected(None, where, None)] = True
        return selected

    def derived(self, key: str, make: Callable[["ReadOnlyCollection", "columns_file.Columns"], object]):
        """``make(self, columns)``: a structure over every record at the current columns' stamp (the
        words postings), made once per index state and kept in this reader's memory; ``make`` may
        keep it in ``client.derived_folder()`` (this reader's cache, never the index folder)."""
        columns = self.columns()
        return self.client.derived(self, key, columns.stamp, lambda: make(self, columns))

    def documents(self, columns: "columns_file.Columns") -> list[str | None]:
        """Every record's document, in ``columns`` order (from the full record cache when loaded)."""
        if self._cache is not None and self._cache[0] == columns.stamp and len(self._cache[1]) == len(columns):
            return list(self._cache[3])
        return documents_in(self.client.sql, self._segment, columns)

    def _selected(self, ids, where, where_document) -> "np.ndarray":
        return self._select(ids, where, where_document)[0]

    def _select(self, ids, where, where_document) -> "tuple[np.ndarray, dict[int, str | None]]":
        """Rows (in storage order) that pass the filters, and the documents read on the way (by
        row): NumPy masks on the filter columns, the document filter on the full-text index's
        candidates; ``matches`` where the masks cannot say."""
        columns = self.columns()
        selected = where_mask(where, columns)
        if selected is None:
            all_ids, metas, _ = self._records()
            passing = [id_ for id_, meta in zip(all_ids, metas) if matches(where, meta)]
            selected = np.zeros(len(columns), bool)
            selected[columns.rows_of(passing)] = True
        if ids is not None:
            wanted = np.zeros(len(columns), bool)
            wanted[columns.rows_of([ids] if isinstance(ids, str) else ids)] = True
            selected &= wanted
        rows = np.flatnonzero(selected)
        read: dict[int, str | None] = {}
        if where_document:
            candidates = self._document_candidates(where_document)
            if candidates is not None:
                at, ok = columns_file._rows(columns.rowids, list(candidates))
                by_row = {int(r): candidates[rowid] for r, rowid, good in zip(at.tolist(), candidates, ok.tolist()) if good}
                rows = rows[np.fromiter((r in by_row for r in rows.tolist()), bool, len(rows))]
                docs = [by_row[r] for r in rows.tolist()]
            else:
                docs = self._fetch(rows, ("documents",))["documents"]
            keep = np.fromiter((document_matches(where_document, d) for d in docs), bool, len(rows))
            read = {r: d for r, d, good in zip(rows.tolist(), docs, keep.tolist()) if good}
            rows = rows[keep]
        return rows, read

    def _document_candidates(self, where_document: dict):
        """{sqlite rowid: document} of the records whose document may pass: a superset, from
        Chroma's trigram full-text index (LIKE there ignores ASCII case; the exact, case-sensitive
        test follows), or None (no index, or a filter that is not a conjunction of ``$contains``)."""
        terms = _required_terms(where_document)
        if not terms:
            return None
        term = max(terms, key=len)
        pattern = "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        try:
            return dict(self.client.sql.execute(
                "SELECT rowid, string_value FROM embedding_fulltext_search WHERE string_value LIKE ? ESCAPE '\\'",
                (pattern,)))
        except sqlite3.Error:
            return None

    def _fetch(self, rows, include) -> dict:
        """metadatas / documents of these rows: from the full cache when it is loaded (or most rows
        are asked for), else read for just these rows."""
        columns = self.columns()
        out: dict = {}
        if "metadatas" not in include and "documents" not in include:
            return out
        cached = self._cache is not None and self._cache[0] == columns.stamp
        if cached or len(rows) > max(2000, len(columns) // 4):
            all_ids, metas, docs = self._records()
            if len(all_ids) == len(columns):
                if "metadatas" in include:
                    out["metadatas"] = [metas[i] for i in rows]
                if "documents" in include:
                    out["documents"] = [docs[i] for i in rows]
                return out
        rowids = columns.rowids[np.asarray(rows, dtype=np.int64)].tolist()
        metas, docs = _read_rows(self.client.sql, rowids, "metadatas" in include)
        if "metadatas" in include:
            out["metadatas"] = [metas.get(r) for r in rowids]
        if "documents" in include:
            out["documents"] = [docs.get(r) for r in rowids]
        return out

    def get(self, ids=None, where: dict | None = None, limit: int | None = None, offset: int | None = None,
            where_document: dict | None = None, include=("metadatas", "documents")) -> dict:
        columns = self.columns()
        rows, read = self._select(ids, where, where_document)
        if "embeddings" in include:
            vectors = self.client.vectors(self)
            at = self.client.vector_rows(self, columns, vectors)[rows]
            rows, at = rows[at >= 0], at[at >= 0]  # a saved matrix older than the index
        start = offset or 0
        stop = start + limit if limit is not None else None
        rows = rows[start:stop]
        id_list = columns.id_list
        out: dict = {"ids": [id_list[i] for i in rows], "embeddings": None, "metadatas": None,
                     "documents": None, "include": list(include)}
        if read and "metadatas" not in include:
            out["documents"] = [read[r] for r in rows.tolist()] if "documents" in include else None
        else:
            out.update(self._fetch(rows, include))
        if "embeddings" in include:
            at = at[start:stop]
            out["embeddings"] = np.asarray(vectors.matrix[at], dtype=np.float32) if len(at) else \
                np.zeros((0, vectors.matrix.shape[1] if vectors.matrix.ndim == 2 else 0), np.float32)
        return out

    def query(self, query_embeddings, n_results: int = 10, where: dict | None = None,
              where_document: dict | None = None, include=("distances",)) -> dict:
        """Exact cosine distances (1 - cosine similarity), nearest first, as Chroma's cosine space;
        an unfiltered query on a large collection asks the approximate index (tools/index/ann.py)
        for a shortlist, then ranks it exactly."""
        columns = self.columns()
        vectors = self.client.vectors(self)
        mapping = self.client.vector_rows(self, columns, vectors)
        everything = not where and not where_document
        if everything:
            chosen = mapping[mapping >= 0]
        else:
            chosen = mapping[self._selected(None, where, where_document)]
            chosen = chosen[chosen >= 0]
        whole = everything and len(chosen) == len(vectors.ids)
        shortlist = self.client.ann(self, vectors) if whole else None
        out: dict = {"ids": [], "distances": []}
        for embedding in query_embeddings:
            query = np.asarray(embedding, dtype=np.float32)
            query = query / max(float(np.linalg.norm(query)), 1e-12)
            if not len(chosen):
                out["ids"].append([])
                out["distances"].append([])
                continue
            candidates = chosen
            if shortlist is not None and n_results < len(chosen):
                candidates = shortlist.search(query, n_results)
            if whole and candidates is chosen:
                similarity = vectors.similarity(query)  # no copy of the matrix
                candidates = np.arange(len(vectors.ids))
            else:
                similarity = vectors.similarity(query, candidates)
            n = min(n_results, len(candidates))
            top = np.argpartition(-similarity, n - 1)[:n] if n < len(candidates) else np.arange(len(candidates))
            top = top[np.argsort(-similarity[top], kind="stable")]
            out["ids"].append([vectors.ids[candidates[i]] for i in top])
            out["distances"].append([float(1.0 - similarity[i]) for i in top])
        return out

    # ---- writes: never, through this ----------------------------------------------------------
    def _refuse(self, *args, **kwargs):
        raise ReadOnlyIndexError(f"the index was opened to search: {self.name} cannot be changed here")

    add = upsert = update = delete = modify = _refuse


def _at_stamp(kept: dict, collection: ReadOnlyCollection, make: Callable[[ReadOnlyCollection], object]):
    """``kept[collection.name]`` while its ``stamp`` is the collection's, else ``make(collection)``
    kept in its place (the index changed since)."""
    found = kept.get(collection.name)
    if found is None or found.stamp != collection.stamp():
        found = kept[collection.name] = make(collection)
    return found


class ReadOnlyClient:
    """Chroma's client calls the store makes, answered from the sqlite file read-only.

    ``vectors_for`` gives a collection's vector matrix at its stamp; ``columns_for`` its filter
    columns (default: built from the sqlite); ``ann_for`` its approximate index, or None;
    ``derived_folder()`` where structures built from the documents may be kept now (the words
    postings), or None (nowhere: an index run is writing)."""

    def __init__(self, db: Path, immutable: bool, vectors_for: Callable[[ReadOnlyCollection], "vector_files.VectorFile"],
                 columns_for: Callable[[ReadOnlyCollection], "columns_file.Columns"] | None = None,
                 ann_for: Callable[[ReadOnlyCollection, "vector_files.VectorFile"], object] | None = None,
                 derived_folder: Callable[[], Path | None] | None = None, published_folder: Path | None = None):
        self.db = Path(db)
        self.derived_folder = derived_folder or (lambda: None)
        self.published_folder = published_folder  # the writer's search files (the words postings too)
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
        self._columns_for = columns_for or (lambda c: self.build_columns(c))
        self._ann_for = ann_for
        self._collections: dict[str, ReadOnlyCollection] = {}
        self._vectors: dict[str, vector_files.VectorFile] = {}
        self._columns: dict[str, columns_file.Columns] = {}
        self._rows: dict[str, tuple[int, int, np.ndarray]] = {}
        self._ann: dict[str, tuple[int, object]] = {}
        self._derived: dict[tuple[str, str], tuple[int, object]] = {}

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
        return _at_stamp(self._vectors, collection, self._vectors_for)

    def columns(self, collection: ReadOnlyCollection) -> columns_file.Columns:
        return _at_stamp(self._columns, collection, self._columns_for)

    def build_columns(self, collection: ReadOnlyCollection, previous=None) -> columns_file.Columns:
        return columns_file.build(self.sql, collection._segment, collection.stamp(),
                                  columns_file.keys_for(collection.name), previous=previous)

    def vector_rows(self, collection: ReadOnlyCollection, columns: columns_file.Columns,
                    vectors: vector_files.VectorFile) -> np.ndarray:
        """The vector matrix row of each column row (-1: no vector saved for it)."""
        found = self._rows.get(collection.name)
        if found is None or found[:2] != (columns.stamp, vectors.stamp) or len(found[2]) != len(columns):
            ids = columns.id_list
            if ids == vectors.ids:  # the writer saves both in storage order
                rows = np.arange(len(ids), dtype=np.int64)
            else:
                rows = np.fromiter((vectors.row.get(i, -1) for i in ids), np.int64, len(ids))
            found = self._rows[collection.name] = (columns.stamp, vectors.stamp, rows)
        return found[2]

    def ann(self, collection: ReadOnlyCollection, vectors: vector_files.VectorFile):
        """The collection's approximate index at the matrix's stamp, or None (small, stale, absent)."""
        if self._ann_for is None or vectors.stamp != collection.stamp():
            return None
        found = self._ann.get(collection.name)
        if found is None or found[0] != vectors.stamp:
            found = self._ann[collection.name] = (vectors.stamp, self._ann_for(collection, vectors))
        return found[1]

    def derived(self, collection: ReadOnlyCollection, key: str, stamp: int, build: Callable[[], object]):
        """A structure built from a collection at ``stamp`` (the words postings), built again when
        the stamp moves."""
        found = self._derived.get((collection.name, key))
        if found is None or found[0] != stamp:
            found = self._derived[(collection.name, key)] = (stamp, build())
        return found[1]

    def heartbeat(self) -> int:
        return 1
