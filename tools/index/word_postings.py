"""The words signal from postings built once per index state, instead of per query.

Why: at 100k photos, asking the full-text index for each query word and tokenizing every match
in Python (twice) took 100-760 ms a search. These postings are built once from the collection's
documents at its stamp, by the writer's export beside the other search files (or, for an index an
older version wrote, by the first reader, in its own cache folder), kept in the reader's memory
and rebuilt when the stamp moves. They give the same BM25 as
tools/query/text_match.py's ``bm25_scores`` over the same candidates, score for score and in the
same order, and the same as ``words_from_store`` in tools/query/search.py:

* a document is a candidate for a query term when it holds the term as a word (tokenized as
  text_match tokenizes: lowercased, stemmed), anywhere in the document;
* a term's document frequency counts its candidates that pass the filter;
* term frequencies and lengths come from the whole tokenized document, the average length is over
  the candidates of all the query's terms, and ties keep the first matching term's order, then
  storage order.
"""
from __future__ import annotations

import contextlib
import json
import math
from collections import Counter
from pathlib import Path

import numpy as np

from tools.private import save_private_arrays
from tools.query.text_match import B, K1, tokenize

FORMAT = 2  # 2: a word anywhere and in any case counts (1 held Chroma's case-sensitive prefilter)
_EMPTY = np.zeros(0, np.int64)


def _csr(lists: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    offsets = np.zeros(len(lists) + 1, np.int64)
    offsets[1:] = np.cumsum([len(x) for x in lists])
    flat = np.fromiter((v for x in lists for v in x), np.int64, int(offsets[-1]))
    return offsets, flat


class WordPostings:
    """Per-term candidate rows and term counts of one collection's documents at one stamp, rows in
    the order of the collection's filter columns (``Columns.id_list``)."""

    def __init__(self, ids: list[str], stamp: int, vocabulary: list[str], lengths: np.ndarray,
                 occur_offsets: np.ndarray, occur_rows: np.ndarray, occur_counts: np.ndarray):
        self.ids, self.stamp, self.vocabulary = ids, stamp, vocabulary
        self.term = {t: i for i, t in enumerate(vocabulary)}
        self.lengths = np.asarray(lengths, np.int64)
        self._float_lengths = self.lengths.astype(np.float64)
        self.occur_offsets, self.occur_rows, self.occur_counts = occur_offsets, occur_rows, occur_counts

    @classmethod
    def build(cls, ids: list[str], documents: list[str | None], stamp: int) -> "WordPostings":
        lengths = np.zeros(len(documents), np.int64)
        term: dict[str, int] = {}
        occur_rows: list[list[int]] = []
        occur_counts: list[list[int]] = []
        for row, document in enumerate(documents):
            if not document:
                continue
            tokens = tokenize(document)
            lengths[row] = len(tokens)
            counts = Counter(tokens)
            for word, count in counts.items():
                i = term.get(word)
                if i is None:
                    i = term[word] = len(term)
                    occur_rows.append([])
                    occur_counts.append([])
                occur_rows[i].append(row)
                occur_counts[i].append(count)
        occur_offsets, occur_flat = _csr(occur_rows)
        counts_flat = np.fromiter((c for x in occur_counts for c in x), np.int64, int(occur_offsets[-1]))
        return cls(ids, stamp, list(term), lengths, occur_offsets, occur_flat, counts_flat)

    def __len__(self) -> int:
        return len(self.ids)

    def _occurs(self, word: str) -> tuple[np.ndarray, np.ndarray]:
        i = self.term.get(word)
        if i is None:
            return _EMPTY, _EMPTY
        lo, hi = self.occur_offsets[i], self.occur_offsets[i + 1]
        return self.occur_rows[lo:hi], self.occur_counts[lo:hi]

    def ranked(self, terms: list[str], allowed: np.ndarray | None, corpus_size: int,
               limit: int) -> list[tuple[str, float]]:
        """The best ``limit`` (id, BM25) for ``terms`` over the rows ``allowed`` (a mask; None: all)."""
        n = len(self.ids)
        in_union = np.zeros(n, bool)
        first = np.zeros(n, np.int64)
        doc_freq: list[int] = []
        for j, word in enumerate(terms):
            rows, _ = self._occurs(word)
            if allowed is not None:
                rows = rows[allowed[rows]]
            doc_freq.append(len(rows))
            first[rows[~in_union[rows]]] = j
            in_union[rows] = True
        union = np.flatnonzero(in_union)
        if not len(union):
            return []
        avg_len = int(self.lengths[union].sum()) / len(union) or 1.0
        score = np.zeros(n, np.float64)
        for word, df in zip(terms, doc_freq):
            rows, counts = self._occurs(word)
            keep = in_union[rows]
            rows, tf = rows[keep], counts[keep].astype(np.float64)
            if not len(rows):
                continue
            idf = math.log(1 + (corpus_size - df + 0.5) / (df + 0.5))
            # the same operations in the same order as bm25_scores: the same floats
            score[rows] += idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * self._float_lengths[rows] / avg_len))
        union = union[score[union] > 0]
        order = union[np.lexsort((union, first[union], -score[union]))][:limit]
        return [(self.ids[r], float(score[r])) for r in order.tolist()]


# ---- files: beside the index (the writer's export) or in a reader's own cache folder --------------
def file_name(name: str, stamp: int) -> str:
    return f"{name}-{stamp}.words.npz"


def save(folder: Path, name: str, postings: WordPostings) -> None:
    """Atomically, owner-only; older word files of the collection go."""
    vocabulary = json.dumps(postings.vocabulary, ensure_ascii=False).encode("utf-8", "surrogateescape")
    arrays = {"format": np.array([FORMAT], np.int64), "stamp": np.array([postings.stamp], np.int64),
              "vocabulary": np.array(vocabulary, dtype="S"), "lengths": postings.lengths,
              "occur_offsets": postings.occur_offsets, "occur_rows": postings.occur_rows,
              "occur_counts": postings.occur_counts}
    save_private_arrays(folder, file_name(name, postings.stamp), arrays, stale=f"{name}-*.words.npz")


def load(folder: Path, name: str, ids: list[str], stamp: int) -> WordPostings | None:
    """The postings of ``name`` at exactly ``stamp`` for these rows, or None (missing, stale, unreadable)."""
    try:
        with np.load(Path(folder) / file_name(name, stamp), allow_pickle=False) as data:
            if int(data["format"][0]) != FORMAT or int(data["stamp"][0]) != int(stamp) or len(data["lengths"]) != len(ids):
                return None
            vocabulary = json.loads(data["vocabulary"].tobytes().decode("utf-8", "surrogateescape"))
            return WordPostings(ids, int(stamp), vocabulary, data["lengths"], data["occur_offsets"], data["occur_rows"], data["occur_counts"])
    except (OSError, ValueError, KeyError, json.JSONDecodeError):
        return None


def publish(folder: Path, name: str, sql, segment: str, columns, still_current) -> None:
    """The writer's export (tools/index/store.py): the postings of ``name`` at the columns' stamp
    beside the other search files, built once per write instead of by each reader's first text
    search (~1.3 s at 100k); kept only if ``still_current()`` after its documents were read."""
    from tools.index.sqlite_read import documents_in

    if load(folder, name, columns.id_list, columns.stamp) is not None:
        return
    built = WordPostings.build(columns.id_list, documents_in(sql, segment, columns), columns.stamp)
    if still_current():
        save(folder, name, built)


def _load_or_build(collection, columns) -> WordPostings:
    """The writer's postings at this stamp, else this reader's, else built (and kept in its cache)."""
    folder = collection.client.derived_folder()
    for source in (collection.client.published_folder, folder):
        found = load(source, collection.name, columns.id_list, columns.stamp) if source is not None else None
        if found is not None:
            return found
    built = WordPostings.build(columns.id_list, collection.documents(columns), columns.stamp)
    # kept only when the index did not move while its documents were read (one consistent state)
    if folder is not None and collection.stamp() == columns.stamp:
        with contextlib.suppress(OSError):
            save(folder, collection.name, built)
    return built


def for_collection(collection) -> WordPostings | None:
    """The postings of a collection read through tools/index/sqlite_read.py at its current stamp
    (loaded or built on first use, kept until the index changes), or None for a Chroma collection."""
    derived = getattr(collection, "derived", None)
    if derived is None:
        return None
    return derived("words", _load_or_build)
