"""A collection's filterable metadata as NumPy columns, so a ``where`` filter is a few array masks.

Why: evaluating a Chroma ``where`` in Python on every record (tools/index/where.py ``matches``)
and reading every record's metadata from sqlite first cost ~0.1 s per query at 20k photos and
seconds at 100k, far more than the nearest-neighbour product itself. These columns hold, per
record (in sqlite's row order), each filter field's number (NaN where it is not one), string
(a code into the field's vocabulary, -1 where it is not one) and list items (strings, as row /
code pairs); ``where.mask`` evaluates a filter on them with the same semantics as ``matches``,
and gives up (None) on what it cannot do exactly (a field not held here, a boolean value), so
the caller falls back to ``matches``.

The writer saves them beside the vector matrices (tools/index/vector_files.py) at the same
stamp; a reader that finds them stale or missing builds them from the sqlite read-only (a scan
of the filter fields only: ~1 s at 100k) and keeps them in its own cache folder.
"""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tools.lazy import lazy_module

from tools.index.records import FILTER_FIELDS
from tools.private import save_private_arrays

np = lazy_module("numpy")

# The photos collection holds many more fields; these are the ones its filters use.
PHOTO_FIELDS = FILTER_FIELDS + ("indexed_at", "date_source")
FORMAT = 1


class Field:
    """One metadata key over all rows."""

    __slots__ = ("number", "code", "vocab", "list_rows", "list_codes", "other", "_lookup")

    def __init__(self, number, code, vocab: list[str], list_rows, list_codes, other):
        self.number = number  # float64, NaN: not a number (missing, a string, a list)
        self.code = code  # int32 into vocab, -1: not a string
        self.vocab = vocab
        self.list_rows = list_rows  # int32: the row of each list item
        self.list_codes = list_codes  # int32 into vocab
        self.other = other  # bool: a value neither a number, a string nor a list of strings
        self._lookup: dict[str, int] | None = None

    def code_of(self, value: str) -> int:
        if self._lookup is None:
            self._lookup = {v: i for i, v in enumerate(self.vocab)}
        return self._lookup.get(value, -2)  # -2 matches no row (-1 is "not a string")

    @property
    def is_list(self):
        out = np.zeros(len(self.number), bool)
        out[self.list_rows] = True
        return out

    @property
    def present(self):
        return ~np.isnan(self.number) | (self.code >= 0) | self.is_list | self.other


class Columns:
    """Filter fields of one collection at one stamp; ``rowids`` (sqlite ``embeddings.id``, ascending)
    and ``ids`` in the same order."""

    def __init__(self, ids, rowids, fields: dict[str, Field], stamp: int, keys: tuple[str, ...] | None = None):
        self.keys = keys  # the keys read (None: every key)
        self.ids = ids  # numpy bytes array (S) of the record ids
        self.rowids = rowids
        self.fields = fields
        self.stamp = stamp
        self._row: dict[str, int] | None = None
        self._id_list: list[str] | None = None

    def __len__(self) -> int:
        return len(self.rowids)

    def covers(self, key: str) -> bool:
        """Was ``key`` read (so a key with no field is one no record has)?"""
        return self.keys is None or key in self.keys

    @property
    def id_list(self) -> list[str]:
        if self._id_list is None:
            self._id_list = [i.decode("utf-8", "surrogateescape") for i in self.ids.tolist()]
        return self._id_list

    def rows_of(self, ids) -> list[int]:
        """Rows of the given ids that are here, in row order."""
        if self._row is None:
            self._row = {id_: i for i, id_ in enumerate(self.id_list)}
        return sorted({self._row[i] for i in ids if i in self._row})

    def rows_of_rowids(self, rowids):
        """Rows for sqlite rowids (those that are here)."""
        rowids = np.asarray(rowids, dtype=np.int64)
        at = np.searchsorted(self.rowids, rowids)
        at = np.minimum(at, max(len(self.rowids) - 1, 0))
        return np.unique(at[self.rowids[at] == rowids]) if len(self.rowids) else np.zeros(0, np.int64)


def keys_for(name: str) -> tuple[str, ...] | None:
    """The keys held for a collection: the photos' filter fields; every key of the others (vector
    collections carry only filter fields)."""
    return PHOTO_FIELDS if name == "photos" else None


# ---- from the sqlite ----------------------------------------------------------------------------
def _seq(value) -> int:
    return int.from_bytes(value, "big") if isinstance(value, bytes) else int(value or 0)


def build(sql: sqlite3.Connection, segment: str | None, stamp: int, keys: tuple[str, ...] | None,
          previous: Columns | None = None) -> Columns:
    """Read the filter fields of one metadata segment (``keys``; None: every key but the document).

    With ``previous`` (the same collection's columns at an older stamp) only the records written
    since are read: Chroma gives every record the sequence number of its last write, so a record
    whose number is at most the previous stamp is as it was then (deleted ones are simply gone)."""
    if segment is None:
        return Columns(np.zeros(0, "S1"), np.zeros(0, np.int64), {}, stamp, keys)
    key_clause = f" AND key IN ({','.join('?' * len(keys))})" if keys is not None else ""
    sql.execute("BEGIN")  # one snapshot for every read
    try:
        rows = sql.execute("SELECT id, embedding_id, seq_id FROM embeddings WHERE segment_id = ? ORDER BY id",
                           (segment,)).fetchall()
        rowids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
        kept_old = np.full(len(rows), -1, np.int64)  # the previous row of each row that is unchanged
        if previous is not None and previous.keys == keys and previous.stamp <= stamp and len(previous):
            seqs = np.fromiter((_seq(r[2]) for r in rows), np.int64, len(rows))
            at, ok = _rows(previous.rowids, rowids)
            same = ok & (seqs <= previous.stamp)
            kept_old[same] = at[same]
        fresh = np.flatnonzero(kept_old < 0)
        if len(fresh) > len(rows) // 3:
            # most records: by rowid range (the primary key (id, key) walks it in order), ~2x faster
            # than by id; rows of other collections in the range are dropped below
            first, last = (rows[0][0], rows[-1][0]) if rows else (0, -1)
            params = [first, last] + (list(keys) if keys is not None else [])
            scalars = sql.execute(
                "SELECT id, key, string_value, int_value, float_value, bool_value FROM embedding_metadata "
                "WHERE id BETWEEN ? AND ? AND key != 'chroma:document'" + key_clause, params).fetchall()
            arrays = sql.execute(
                "SELECT id, key, string_value, int_value, float_value, bool_value FROM embedding_metadata_array "
                "WHERE id BETWEEN ? AND ?" + key_clause + " ORDER BY rowid", params).fetchall()
            if len(fresh) < len(rows):
                wanted = set(rowids[fresh].tolist())
                scalars = [r for r in scalars if r[0] in wanted]
                arrays = [r for r in arrays if r[0] in wanted]
        else:
            scalars, arrays = [], []
            wanted = rowids[fresh].tolist()
            for start in range(0, len(wanted), 900):
                chunk = wanted[start:start + 900]
                params = chunk + (list(keys) if keys is not None else [])
                marks = ",".join("?" * len(chunk))
                scalars += sql.execute(
                    "SELECT id, key, string_value, int_value, float_value, bool_value FROM embedding_metadata "
                    f"WHERE id IN ({marks}) AND key != 'chroma:document'" + key_clause, params).fetchall()
                arrays += sql.execute(
                    "SELECT id, key, string_value, int_value, float_value, bool_value FROM embedding_metadata_array "
                    f"WHERE id IN ({marks})" + key_clause + " ORDER BY rowid", params).fetchall()
    finally:
        sql.execute("COMMIT")
    ids = np.array([r[1].encode("utf-8", "surrogateescape") for r in rows], dtype="S") if rows else np.zeros(0, "S1")
    n = len(rows)
    by_key: dict[str, list] = {key: [[], []] for key in (previous.fields if previous is not None else ())}
    for row in scalars:
        by_key.setdefault(row[1], [[], []])[0].append(row)
    for row in arrays:
        by_key.setdefault(row[1], [[], []])[1].append(row)
    unchanged = np.flatnonzero(kept_old >= 0)
    old_to_new = np.full(len(previous) if previous is not None else 0, -1, np.int64)
    old_to_new[kept_old[unchanged]] = unchanged
    fields = {}
    for key, (plain, items) in by_key.items():
        number = np.full(n, np.nan)
        code = np.full(n, -1, np.int32)
        other = np.zeros(n, bool)
        old = previous.fields.get(key) if previous is not None else None
        vocab: dict[str, int] = {v: i for i, v in enumerate(old.vocab)} if old is not None else {}
        list_rows = [np.zeros(0, np.int32)]
        list_codes = [np.zeros(0, np.int32)]
        if old is not None and len(unchanged):
            number[unchanged] = old.number[kept_old[unchanged]]
            code[unchanged] = old.code[kept_old[unchanged]]
            other[unchanged] = old.other[kept_old[unchanged]]
            moved = old_to_new[old.list_rows] if len(old.list_rows) else np.zeros(0, np.int64)
            list_rows.append(moved[moved >= 0].astype(np.int32))
            list_codes.append(old.list_codes[moved >= 0])
        if plain:
            at, ok = _rows(rowids, [r[0] for r in plain])
            kept = [r for r, good in zip(plain, ok.tolist()) if good]
            at = at[ok]
            strings = np.array([r[2] is not None for r in kept], bool)
            code[at[strings]] = [vocab.setdefault(r[2], len(vocab)) for r in kept if r[2] is not None]
            numbers = np.array([r[2] is None and (r[3] is not None or r[4] is not None) for r in kept], bool)
            number[at[numbers]] = [float(r[3] if r[3] is not None else r[4]) for r, good in zip(kept, numbers) if good]
            # booleans: where.mask leaves a field holding one to where.matches
            other[at[~strings & ~numbers]] = True
        if items:
            at, ok = _rows(rowids, [r[0] for r in items])
            kept = [r for r, good in zip(items, ok.tolist()) if good]
            at = at[ok]
            strings = np.array([r[2] is not None for r in kept], bool)
            other[at[~strings]] = True  # a list of numbers or booleans: left to where.matches
            list_rows.append(at[strings].astype(np.int32))
            list_codes.append(np.asarray([vocab.setdefault(r[2], len(vocab)) for r in kept if r[2] is not None], np.int32))
        fields[key] = Field(number, code, list(vocab), np.concatenate(list_rows).astype(np.int32),
                            np.concatenate(list_codes).astype(np.int32), other)
    return Columns(ids, rowids, fields, stamp, keys)


def latest(folder: Path, name: str) -> Columns | None:
    """The newest saved columns of ``name`` at any stamp (to build the next ones from)."""
    for path in sorted(Path(folder).glob(f"{name}-*.columns.npz"), key=lambda p: p.stat().st_mtime, reverse=True):
        try:
            stamp = int(path.name[len(name) + 1:-len(".columns.npz")])
        except ValueError:
            continue
        found = load(folder, name, stamp)
        if found is not None:
            return found
    return None


def _rows(rowids, wanted: list[int]):
    """(row of each wanted rowid, whether it is one of ours)."""
    wanted = np.asarray(wanted, np.int64)
    at = np.searchsorted(rowids, wanted)
    at = np.minimum(at, max(len(rowids) - 1, 0))
    return at, (rowids[at] == wanted) if len(rowids) else np.zeros(len(wanted), bool)


# ---- files --------------------------------------------------------------------------------------
def file_name(name: str, stamp: int) -> str:
    return f"{name}-{stamp}.columns.npz"


def save(folder: Path, name: str, columns: Columns) -> None:
    """Atomically, owner-only; older column files of the collection go."""
    arrays = {"ids": columns.ids, "rowids": columns.rowids, "stamp": np.array([columns.stamp], np.int64),
              "format": np.array([FORMAT], np.int64),
              "keys": np.array(json.dumps(columns.keys).encode("utf-8", "surrogateescape"), dtype="S")}
    for i, (key, field) in enumerate(sorted(columns.fields.items())):
        arrays[f"{i}.key"] = np.array([key.encode("utf-8", "surrogateescape")], dtype="S")
        arrays[f"{i}.number"] = field.number
        arrays[f"{i}.code"] = field.code
        arrays[f"{i}.vocab"] = np.array(json.dumps(field.vocab).encode("utf-8", "surrogateescape"), dtype="S")
        arrays[f"{i}.list_rows"] = field.list_rows
        arrays[f"{i}.list_codes"] = field.list_codes
        arrays[f"{i}.other"] = field.other
    save_private_arrays(folder, file_name(name, columns.stamp), arrays, stale=f"{name}-*.columns.npz")


def load(folder: Path, name: str, stamp: int) -> Columns | None:
    """The columns of ``name`` at exactly ``stamp``, or None (missing, stale, unreadable)."""
    try:
        with np.load(Path(folder) / file_name(name, stamp), allow_pickle=False) as data:
            if int(data["format"][0]) != FORMAT or int(data["stamp"][0]) != int(stamp):
                return None
            fields = {}
            i = 0
            while f"{i}.key" in data:
                key = data[f"{i}.key"][0].decode("utf-8", "surrogateescape")
                fields[key] = Field(data[f"{i}.number"], data[f"{i}.code"],
                                    json.loads(data[f"{i}.vocab"].tobytes().decode("utf-8", "surrogateescape")),
                                    data[f"{i}.list_rows"], data[f"{i}.list_codes"], data[f"{i}.other"])
                i += 1
            keys = json.loads(data["keys"].tobytes().decode("utf-8", "surrogateescape"))
            return Columns(data["ids"], data["rowids"], fields, int(stamp), tuple(keys) if keys is not None else None)
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None
