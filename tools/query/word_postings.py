"""The words signal from postings built once per index state, instead of per query.

Why: at 100k photos, asking the full-text index for each query word and tokenizing every match
in Python (twice) took 100-370 ms a search. These postings are built once from the collection's
documents at its stamp (kept in memory by the read path, rebuilt when the stamp moves, never
written into the index folder) and give the same BM25 as tools/query/text_match.py's
``bm25_scores`` over the same candidates, score for score and in the same order:

* a document is a candidate for a query term when the old store query would have returned it:
  it holds the term as a case-sensitive substring (Chroma's ``$contains``) and the term is among
  the first ``MAX_QUERY_TERMS`` distinct words of the document (``query_terms(document)``);
* a term's document frequency counts its candidates that pass the filter;
* term frequencies and lengths come from the whole tokenized document, the average length is over
  the candidates of all the query's terms, and ties keep the order the old dict had (first
  matching term, then storage order).
"""
from __future__ import annotations

import math
from collections import Counter

import numpy as np

from tools.query.text_match import B, K1, MAX_QUERY_TERMS, tokenize

_EMPTY = np.zeros(0, np.int64)


class WordPostings:
    """Per-term candidate rows and term counts of one collection's documents at one stamp."""

    def __init__(self, ids: list[str], documents: list[str | None], stamp: int):
        self.ids = ids
        self.stamp = stamp
        lengths = np.zeros(len(documents), np.int64)
        matches: dict[str, list[int]] = {}
        occurs: dict[str, tuple[list[int], list[int]]] = {}
        for row, document in enumerate(documents):
            if not document:
                continue
            tokens = tokenize(document)
            lengths[row] = len(tokens)
            counts = Counter(tokens)
            for term, count in counts.items():
                rows, tfs = occurs.setdefault(term, ([], []))
                rows.append(row)
                tfs.append(count)
            for term in list(counts)[:MAX_QUERY_TERMS]:  # Counter keeps first-seen order
                if term in document:
                    matches.setdefault(term, []).append(row)
        self.lengths = lengths.astype(np.float64)
        self._lengths_int = lengths
        self.matches = {t: np.asarray(r, np.int64) for t, r in matches.items()}
        self.occurs = {t: (np.asarray(r, np.int64), np.asarray(c, np.float64)) for t, (r, c) in occurs.items()}

    def __len__(self) -> int:
        return len(self.ids)

    def ranked(self, terms: list[str], allowed: np.ndarray | None, corpus_size: int,
               limit: int) -> list[tuple[str, float]]:
        """The best ``limit`` (id, BM25) for ``terms`` over the rows ``allowed`` (a mask; None: all)."""
        n = len(self.ids)
        in_union = np.zeros(n, bool)
        first = np.zeros(n, np.int64)
        doc_freq: list[int] = []
        for j, term in enumerate(terms):
            rows = self.matches.get(term, _EMPTY)
            if allowed is not None:
                rows = rows[allowed[rows]]
            doc_freq.append(len(rows))
            first[rows[~in_union[rows]]] = j
            in_union[rows] = True
        union = np.flatnonzero(in_union)
        if not len(union):
            return []
        avg_len = int(self._lengths_int[union].sum()) / len(union) or 1.0
        score = np.zeros(n, np.float64)
        for term, df in zip(terms, doc_freq):
            rows, tf = self.occurs.get(term, (_EMPTY, np.zeros(0)))
            keep = in_union[rows]
            rows, tf = rows[keep], tf[keep]
            if not len(rows):
                continue
            idf = math.log(1 + (corpus_size - df + 0.5) / (df + 0.5))
            # the same operations in the same order as bm25_scores: the same floats
            score[rows] += idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * self.lengths[rows] / avg_len))
        union = union[score[union] > 0]
        order = union[np.lexsort((union, first[union], -score[union]))][:limit]
        return [(self.ids[r], float(score[r])) for r in order.tolist()]


def for_collection(collection) -> WordPostings | None:
    """The postings of a collection read through tools/index/sqlite_read.py at its current stamp
    (built on first use, kept until the index changes), or None for a Chroma collection."""
    derived = getattr(collection, "derived", None)
    if derived is None:
        return None
    return derived("words", lambda ids, documents, stamp: WordPostings(ids, documents, stamp))
