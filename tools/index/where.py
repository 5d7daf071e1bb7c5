"""Chroma's ``where`` and ``where_document`` filters, evaluated in Python on one record.

The read-only index (tools/index/sqlite_read.py) answers the same filters the store sends to
Chroma, so every caller keeps one filter language. Semantics follow Chroma's: a comparison on a
field the record lacks is false; ``$contains`` on a list field is membership; ``$ne`` and
``$nin`` are true for a missing field (Chroma matches them the same way).
"""
from __future__ import annotations

from typing import Any


class FilterError(ValueError):
    pass


def _compare(op: str, value: Any, wanted: Any, present: bool) -> bool:
    if op in ("$ne", "$nin"):
        if not present:
            return True
        return value != wanted if op == "$ne" else value not in wanted
    if not present or value is None:
        return False
    if op == "$eq":
        return value == wanted
    if op == "$in":
        return value in wanted
    if op == "$contains":
        return wanted in value if isinstance(value, (list, tuple)) else False
    if op == "$not_contains":
        return wanted not in value if isinstance(value, (list, tuple)) else True
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
