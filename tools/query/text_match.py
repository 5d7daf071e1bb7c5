"""Word matching over the text people wrote for their photos (Okapi BM25).

The store's full-text index finds the documents that contain each query word; BM25 is then
computed here over those documents, so nothing has to hold the whole corpus in memory.
"""
from __future__ import annotations

import math
import re
from collections import Counter

K1, B = 1.2, 0.75
MAX_QUERY_TERMS = 16

STOPWORDS = frozenset("""
a an and are as at be by for from has have he her his in is it its of on or she that the their
them they this to was were with i me my we our you your photo picture image pic one some there
""".split())

_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def stem(word: str) -> str:
    """Just enough stemming for captions: plurals and possessives ("dogs", "dog's" -> "dog")."""
    if word.endswith("'s"):
        word = word[:-2]
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def tokenize(text: str) -> list[str]:
    return [stem(w) for w in _WORD.findall(text.lower()) if w not in STOPWORDS]


def query_terms(text: str) -> list[str]:
    return list(dict.fromkeys(tokenize(text)))[:MAX_QUERY_TERMS]


def bm25_scores(terms: list[str], docs: dict[str, str], corpus_size: int,
                doc_freq: dict[str, int]) -> dict[str, float]:
    """BM25 of each document in ``docs`` (id -> text) for ``terms``."""
    tokenized = {id_: tokenize(text) for id_, text in docs.items()}
    if not tokenized:
        return {}
    avg_len = sum(len(t) for t in tokenized.values()) / len(tokenized) or 1.0
    scores: dict[str, float] = {}
    for id_, tokens in tokenized.items():
        counts = Counter(tokens)
        score = 0.0
        for term in terms:
            tf = counts.get(term, 0)
            if not tf:
                continue
            df = doc_freq.get(term, 0)
            idf = math.log(1 + (corpus_size - df + 0.5) / (df + 0.5))
            score += idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * len(tokens) / avg_len))
        if score > 0:
            scores[id_] = score
    return scores
