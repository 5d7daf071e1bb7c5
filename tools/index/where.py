"""Chroma's ``where`` and ``where_document`` filters, evaluated in Python on one record.

The read-only index (tools/index/sqlite_read.py) answers the same filters the store sends to
Chroma, so every caller keeps one filter language. Semantics follow Chroma's: a comparison on a
field the record lacks is false; ``$contains`` on a list field is membership; ``$ne``, ``$nin``
and ``$not_contains`` are true for a missing field (as Chroma's own: tests/test_scale.py).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy


class FilterError(ValueError):
    pass


def _compare(op: str, value: Any, wanted: Any, present: bool) -> bool:
    if op in ("$ne", "$nin", "$not_contains"):
        if not present:
            return True
        if op == "$not_contains":
            return wanted not in value if isinstance(value, (list, tuple)) else True
        return value != wanted if op == "$ne" else value not in wanted
    if not present or value is None:
        return False
    if op == "$eq":
        return value == wanted
    if op == "$in":
        return value in wanted
    if op == "$contains":
        return wanted in value if isinstance(value, (list, tuple)) else False
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False  # Chroma orders numbers only
    if op == "$gt":
        return value > wanted
    if op == "$gte":
        return value >= wanted
    if op == "$lt":
        return value < wanted
    if op == "$lte":
        return value <= wanted
    raise FilterError(f"unknown filter operator {op}")


def matches(where: dict | None, meta: dict | None) -> bool:
    """Does a record's metadata pass a Chroma ``where`` filter?"""
    if not where:
        return True
    meta = meta or {}
    for key, condition in where.items():
        if key == "$and":
            if not all(matches(c, meta) for c in condition):
                return False
        elif key == "$or":
            if not any(matches(c, meta) for c in condition):
                return False
        elif isinstance(condition, dict):
            present = key in meta and meta[key] is not None
            if not all(_compare(op, meta.get(key), wanted, present) for op, wanted in condition.items()):
                return False
        elif not _compare("$eq", meta.get(key), condition, key in meta):
            return False
    return True


def document_matches(where_document: dict | None, document: str | None) -> bool:
    """``{"$contains": text}`` (case-sensitive substring, as Chroma's), ``$not_contains``, ``$and``/``$or``."""
    if not where_document:
        return True
    text = document or ""
    for key, condition in where_document.items():
        if key == "$contains":
            ok = condition in text
        elif key == "$not_contains":
            ok = condition not in text
        elif key == "$and":
            ok = all(document_matches(c, document) for c in condition)
        elif key == "$or":
            ok = any(document_matches(c, document) for c in condition)
        else:
            raise FilterError(f"unknown document filter {key}")
        if not ok:
            return False
    return True


# ---- the same filters on NumPy columns (tools/index/columns.py) ----------------------------------
class _Unsupported(Exception):
    """A filter the columns cannot answer exactly: the caller uses ``matches`` instead."""


def mask(where: dict | None, columns) -> "numpy.ndarray | None":
    """Rows of ``columns`` that pass ``where``, as a boolean array, with ``matches``'s semantics;
    None when the columns cannot answer it exactly (a field they do not hold, a boolean value)."""
    import numpy as np

    n = len(columns)
    if not where:
        return np.ones(n, bool)
    try:
        return _mask(where, columns, n)
    except _Unsupported:
        return None


def _mask(where: dict, columns, n: int):
    import numpy as np

    out = np.ones(n, bool)
    for key, condition in where.items():
        if key == "$and":
            for c in condition:
                out &= _mask(c, columns, n)
        elif key == "$or":
            anyone = np.zeros(n, bool)
            for c in condition:
                anyone |= _mask(c, columns, n)
            out &= anyone
        elif isinstance(condition, dict):
            for op, wanted in condition.items():
                out &= _field_mask(columns, key, op, wanted, n)
        else:
            out &= _field_mask(columns, key, "$eq", condition, n)
    return out


def _field_mask(columns, key: str, op: str, wanted, n: int):
    import numpy as np

    field = columns.fields.get(key)
    if field is None:
        if not columns.covers(key):
            raise _Unsupported(key)
        # a field no record has: missing everywhere
        return np.ones(n, bool) if op in ("$ne", "$nin", "$not_contains") else np.zeros(n, bool)
    if field.other.any():
        raise _Unsupported(key)

    def equal(value) -> np.ndarray:
        if isinstance(value, bool):
            raise _Unsupported(key)  # Python's True == 1: leave it to matches
        if isinstance(value, str):
            return field.code == field.code_of(value)
        if isinstance(value, (int, float)):
            return field.number == float(value)
        raise _Unsupported(key)

    if op in ("$eq", "$ne"):
        hit = equal(wanted)
        return hit if op == "$eq" else ~hit  # a missing field passes $ne
    if op in ("$in", "$nin"):
        hit = np.zeros(n, bool)
        for value in wanted:
            hit |= equal(value)
        return hit if op == "$in" else ~hit
    if op in ("$contains", "$not_contains"):
        hit = np.zeros(n, bool)
        if isinstance(wanted, str):
            hit[field.list_rows[field.list_codes == field.code_of(wanted)]] = True
        elif not isinstance(wanted, (int, float)) or isinstance(wanted, bool):
            raise _Unsupported(key)
        # a number is never an item of these lists (lists of numbers are not held here)
        return hit if op == "$contains" else ~hit
    if op in ("$gt", "$gte", "$lt", "$lte"):
        if isinstance(wanted, bool) or not isinstance(wanted, (int, float)):
            raise _Unsupported(key)
        with np.errstate(invalid="ignore"):
            value = field.number
            # NaN (missing, a string, a list) compares false, as matches does
            return {"$gt": value > wanted, "$gte": value >= wanted, "$lt": value < wanted,
                    "$lte": value <= wanted}[op]
    raise FilterError(f"unknown filter operator {op}")
