"""The words signal on the read path (postings built once per index state, tools/index/
word_postings.py) and on the Chroma path (the writer's store: its full-text index asked term by
term) rank exactly as a plain reference does: a document counts for a query word when it holds
it as a word, in any case, anywhere; BM25 over those documents. The reference is kept here, slow
and plain, and both product paths are compared with it on a real Chroma index.
"""
from __future__ import annotations

import math
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

from evals import scale_library as L
from tools.index.records import PhotoRecord, wall_clock_ts
from tools.index.store import PhotoStore
from tools.query.search import CANDIDATES, Searcher
from tools.query.text_match import B, K1, query_terms, tokenize

TEXTS = [
    "Dogs running on the beach", "my dog's ball", "a dog and a dog and a dog", "the dog",
    "concatenate the catalogue", "a cat on the sofa", "CAT in capitals", "cats and puppies",
    "café au lait à Paris", "Café de Flore", "naïve art, Zürich", "東京 tower at night",
    "the and of", "", "dogs dogs dogs dogs dogs dogs dogs dogs dogs cats",
    # a document whose 17th distinct word is "zebra" (an older words signal looked at 16 only)
    "uno two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen zebra",
    "zebra crossing", "puppy love", "dog-eared book about cats_and_dogs",
]
QUERIES = ["dog", "dogs", "dog's", "Dogs on the beach", "cat", "cats sofa", "the and of", "café",
           "Café", "zürich", "東京", "zebra", "puppies", "puppy dog cat", "concatenate", "cat dog zebra café sofa",
           "beach", "nothing-here", "a", "forest river"]


def reference_words(store, text: str, where) -> list[tuple[str, float]]:
    """Every document read and checked in Python."""
    everything = store.photos.get(where=where, include=["documents"])
    terms = query_terms(text)
    docs: dict[str, str] = {}
    doc_freq: dict[str, int] = {}
    for term in terms:
        matching = {i: d for i, d in zip(everything["ids"], everything["documents"])
                    if d and term in set(tokenize(d))}
        doc_freq[term] = len(matching)
        docs.update(matching)
    tokenized = {i: tokenize(d) for i, d in docs.items()}
    if not tokenized:
        return []
    corpus = max(store.count(), 1)
    avg_len = sum(len(t) for t in tokenized.values()) / len(tokenized) or 1.0
    scores = {}
    for i, tokens in tokenized.items():
        counts, score = Counter(tokens), 0.0
        for term in terms:
            tf = counts.get(term, 0)
            if tf:
                df = doc_freq[term]
                idf = math.log(1 + (corpus - df + 0.5) / (df + 0.5))
                score += idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * len(tokens) / avg_len))
        if score > 0:
            scores[i] = score
    return sorted(scores.items(), key=lambda item: -item[1])[:CANDIDATES]


def _record(i: int, text: str) -> PhotoRecord:
    return PhotoRecord(id=f"w{i:05d}", path=f"/photos/w{i:05d}.jpg", size=1, mtime_ns=1,
                       taken_at=datetime(2015 + i % 8, 1 + i % 12, 1), user_text=text)


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    from tools.settings import load_settings

    folder = tmp_path_factory.mktemp("words")
    settings = load_settings(db=folder / "db", cache_dir=folder / "cache", models_dir=folder / "no-models",
                             data_dir=folder / "data")
    library = L.build_library(1500, seed=3)  # captions from a small vocabulary: common words
    records = [_record(i, t) for i, t in enumerate(TEXTS * 3)]
    writer = PhotoStore(settings, mode="write")
    with writer.writing("words test"):
        writer.upsert_photos(records + library.records)
    return settings, writer


FILTERS = [None, {"taken_ts": {"$gte": wall_clock_ts(datetime(2019, 1, 1))}},
           {"$and": [{"taken_ts": {"$gte": wall_clock_ts(datetime(2016, 1, 1))}},
                     {"taken_ts": {"$lt": wall_clock_ts(datetime(2021, 1, 1))}}]}]


@pytest.mark.parametrize("where", FILTERS)
def test_postings_rank_as_the_old_algorithm(stores, where):
    settings, writer = stores
    reader = PhotoStore(settings, mode="search")
    fast, chroma = Searcher(reader, None), Searcher(writer, None)
    for text in QUERIES + [f"{a} {b}" for a, b in zip(L.WORDS[::2], L.WORDS[1::2])][:6]:
        expected = reference_words(reader, text, where)
        got = fast._words(text, where)
        assert got == expected, text  # the same ids, order and floats
        assert chroma._words(text, where) == expected, text  # the Chroma path: its $contains asked per case
    # the cases the brief names, spelled out
    ids = dict(fast._words("cat", None))
    assert "w00004" not in ids and "w00005" in ids  # "concatenate" does not hold the word "cat"
    assert "w00006" in ids  # "CAT in capitals": a sign read by OCR is written so
    assert "w00000" in dict(fast._words("dog", None))  # "Dogs running ...": a caption's first word
    assert fast._words("the and of", None) == []  # stopwords only
    assert "w00015" in dict(fast._words("zebra", None))  # a word past the 16th counts


def _word_files(folder) -> list[str]:
    return sorted(p.name for p in Path(folder).rglob("*.words.npz"))


def test_postings_published_by_each_index_run_and_built_by_a_reader_when_missing(stores):
    """The writer's export saves the postings beside the other search files, so no reader builds
    them; an index without them (an older version wrote it) gets them built in the reader's cache."""
    from tools.index import vector_files

    settings, writer = stores
    published = Path(settings.db) / vector_files.FOLDER
    reader = PhotoStore(settings, mode="search")
    reader.photos.documents = None  # reading the documents would fail: the writer's file is loaded
    searcher = Searcher(reader, None)
    assert searcher._words("aardvark", None) == []
    before = _word_files(published)
    assert len(before) == 1 and not _word_files(settings.cache_dir)
    with writer.writing("words test: more"):
        writer.upsert_photos([_record(90000, "an aardvark at the zoo"), _record(4, "concatenate cat")])
    after = _word_files(published)
    assert len(after) == 1 and after != before  # this state's, and the stale file went
    got = searcher._words("aardvark cat", None)
    assert "w90000" in dict(got) and "w00004" in dict(got)
    assert got == reference_words(PhotoStore(settings, mode="search"), "aardvark cat", None)
    assert not _word_files(settings.cache_dir)
    # without the writer's file: the first reader builds the postings and keeps them in its cache
    for name in after:
        (published / name).unlink()
    built = Searcher(PhotoStore(settings, mode="search"), None)._words("aardvark cat", None)
    assert built == got and len(_word_files(settings.cache_dir)) == 1 and not _word_files(published)
    fresh = PhotoStore(settings, mode="search")
    fresh.photos.documents = None
    assert Searcher(fresh, None)._words("aardvark cat", None) == got
