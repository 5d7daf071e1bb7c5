"""Search at scale: filtered queries through the read path are exactly brute force's top-k; the
filter columns answer every ``where`` as tools/index/where.py ``matches`` does; the cell
shortlist of unfiltered queries keeps recall@10 >= 0.99; search files go stale with a write and
are rebuilt (by the writer beside the index, by a reader in its own cache, never in the index).

A synthetic library (evals/scale_library.py: dates over ten years, places, people, clustered
vectors) of 6,000 photos written through the real store into a real Chroma index, once for the
module; the cells are built from 2,000 rows here (their size floor, ann.MIN_ROWS, is 50,000).
"""
from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from evals import scale_library as L

N = 6000


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from tools.index import ann
    from tools.index.store import PhotoStore

    folder = tmp_path_factory.mktemp("scale")
    library = L.build_library(N, seed=5)
    saved, ann.MIN_ROWS = ann.MIN_ROWS, 2000
    try:
        store = PhotoStore(L.settings_for(folder), mode="write")
        L.insert(store, library, batch=1000)
        yield folder, library, store
    finally:
        ann.MIN_ROWS = saved


def brute(matrix: np.ndarray, rows: np.ndarray, q: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    s = matrix[rows] @ q
    order = np.argsort(-s, kind="stable")[:n]
    return rows[order], s[order]


def assert_exact_top_k(got: list[tuple[str, float]], ids: np.ndarray, matrix: np.ndarray, rows: np.ndarray,
                       q: np.ndarray, n: int, label) -> None:
    """``got`` is brute force's top n: the same scores, each the photo's own exact score; only
    photos whose scores tie within float rounding may trade places."""
    want, scores = brute(matrix, rows, q, n)
    assert [s for _, s in got] == pytest.approx(scores.tolist(), abs=1e-5), label
    own = dict(zip(ids[rows].tolist(), (matrix[rows] @ q).tolist()))
    assert all(abs(own[i] - s) < 1e-5 for i, s in got), label  # every result passes the filter, exact score
    differ = [k for k, (i, _) in enumerate(got) if i != ids[want[k]]]
    assert all(abs(scores[k] - scores[k - 1]) < 1e-5 or abs(scores[k] - scores[min(k + 1, len(scores) - 1)]) < 1e-5
               for k in differ), (label, differ)


def product_filters(library) -> dict[str, dict]:
    """The product's own where for date, place, person filters and their combinations."""
    from tools.places.place_models import PlaceFilter
    from tools.query.search import SearchQuery, _where

    rome = PlaceFilter(kind="city", label="Rome, Italy", country_code="IT", lat=41.903, lon=12.496, radius_km=25.0)
    italy = PlaceFilter(kind="country", label="Italy", country_code="IT")
    tuscany = PlaceFilter(kind="region", label="Tuscany, Italy", country_code="IT", region="Tuscany")
    people: dict[str, int] = {}
    for r in library.records:
        for p in r.people:
            people[p] = people.get(p, 0) + 1
    top = sorted(people, key=lambda p: -people[p])
    queries = {
        "year": SearchQuery(date_from=datetime(2020, 1, 1), date_to=datetime(2020, 12, 31, 23, 59, 59)),
        "month": SearchQuery(date_from=datetime(2018, 6, 1), date_to=datetime(2018, 6, 30, 23, 59, 59)),
        "from": SearchQuery(date_from=datetime(2024, 3, 1)),
        "circle": SearchQuery(place=rome),
        "country": SearchQuery(place=italy),
        "region": SearchQuery(place=tuscany),
        "person": SearchQuery(people=[top[0]]),
        "two people, all": SearchQuery(people=top[:2]),
        "two people, any": SearchQuery(people=[top[1], top[5]], people_mode="any"),
        "only them": SearchQuery(people=[top[0]], people_mode="only"),
        "faces 3+": SearchQuery(faces=(3, True)),
        "year and person": SearchQuery(date_from=datetime(2019, 1, 1), date_to=datetime(2021, 12, 31), people=[top[0]]),
        "circle, person, years": SearchQuery(place=rome, people=[top[2]], date_from=datetime(2017, 1, 1)),
        "event": SearchQuery(event=library.records[N // 2].event_id),
    }
    return {name: _where(query, []) for name, query in queries.items()}


def test_filtered_queries_give_exactly_brute_forces_top_k(built):
    from tools.index.store import PhotoStore
    from tools.index.where import matches

    folder, library, _ = built
    reader = PhotoStore(L.settings_for(folder), mode="search")
    ids = np.array([r.id for r in library.records])
    metas = [r.filter_metadata() for r in library.records]
    has_text = np.flatnonzero(library.has_text)
    spaces = [("clip", L.CLIP_MODEL, L.CLIP_DIM, library.clip, np.arange(N)),
              ("text", L.TEXT_MODEL, L.TEXT_DIM, library.text, has_text)]
    queries = list(L.query_vectors(library, 4, seed=3))
    checked = 0
    for name, where in product_filters(library).items():
        passing = np.flatnonzero([matches(where, m) for m in metas])
        assert 0 < len(passing) < N, name  # every filter keeps some photos and drops some
        for kind, model, dim, matrix, present in spaces:
            collection = reader.vectors(kind, model, dim)
            rows = np.intersect1d(passing, present)
            for qc, qt in queries:
                q = qc if kind == "clip" else qt
                got = reader.query_vectors(collection, q, 200, where)
                assert_exact_top_k(got, ids, matrix, rows, q, 200, (name, kind))
                checked += 1
    assert checked == 14 * 2 * 4


def test_filter_columns_answer_every_where_as_matches_does(built):
    """Random filters over every field and operator (and fields no record has, and values of the
    wrong type) against the reference evaluator, on the index's own saved columns."""
    from tools.index import columns as columns_file
    from tools.index.where import mask, matches
    from tools.index.store import PhotoStore

    folder, library, _ = built
    reader = PhotoStore(L.settings_for(folder), mode="search")
    photos = reader.client.get_collection("photos")
    saved = columns_file.load(folder / "db" / "recall-vectors", "photos", photos.stamp())
    assert saved is not None  # the writer saved them beside the matrices
    all_ids, metas, _ = photos._records()
    assert saved.id_list == all_ids
    rng = np.random.default_rng(11)
    values = {"taken_ts": [1.45e9, 1.5e9, 1.6e9, 1.7e9], "lat": [41.9, 45.0, 52.5], "lon": [2.0, 12.5],
              "faces": [0, 1, 2, 3, 2.0], "city": ["Rome", "Berlin", "Nowhere", 3],
              "country_code": ["IT", "DE", "US"], "people": ["p0", "p1", "p7", "p399", 5],
              "camera": L.CAMERAS[:3], "event_id": [library.records[9].event_id, "ev-none"],
              "indexed_at": [1_700_000_000, 0], "date_source": ["exif", "file"], "region": ["Tuscany", "Lazio"],
              "no_such_field": ["a", 1]}
    ops = ["$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$contains", "$not_contains", None]

    def clause(depth: int = 0) -> dict:
        if depth < 2 and rng.random() < 0.3:
            return {str(rng.choice(["$and", "$or"])): [clause(depth + 1) for _ in range(int(rng.integers(1, 4)))]}
        key = str(rng.choice(list(values)))
        pick = values[key][int(rng.integers(0, len(values[key])))]
        op = ops[int(rng.integers(0, len(ops)))]
        if op is None:
            return {key: pick}
        if op in ("$in", "$nin"):
            return {key: {op: [pick, values[key][0]]}}
        return {key: {op: pick}}

    answered = 0
    for _ in range(200):
        where = clause()
        expected = np.array([matches(where, m) for m in metas])
        got = mask(where, saved)
        if got is None:  # a field they do not hold, a string ordered: the read path uses matches itself
            found = set(reader.photos.get(where=where, include=[])["ids"])
            assert found == {i for i, ok in zip(all_ids, expected) if ok}, where
            continue
        assert (got == expected).all(), where
        answered += 1
    assert answered > 100
    # and the read path's answer (masks, or matches where they cannot say) is Chroma's
    _, _, chroma = built
    for where in ({"no_such_field": {"$ne": "a"}}, {"$or": [{"faces": {"$gte": 4}}, {"city": "Lisbon"}]},
                  {"people": {"$not_contains": "p0"}}):
        assert sorted(reader.photos.get(where=where, include=[])["ids"]) == \
            sorted(chroma.photos.get(where=where, include=[])["ids"]), where


def test_unfiltered_queries_through_the_cells_keep_recall(built):
    from tools.index.store import PhotoStore

    folder, library, _ = built
    reader = PhotoStore(L.settings_for(folder), mode="search")
    collection = reader.vectors("clip", L.CLIP_MODEL, L.CLIP_DIM)
    ids = np.array([r.id for r in library.records])
    recalls = []
    for qc, _ in L.query_vectors(library, 60, seed=8):
        got = reader.query_vectors(collection, qc, 200, None)
        assert reader.client.ann(collection, reader.client.vectors(collection)) is not None  # the cells were used
        want, scores = brute(library.clip, np.arange(N), qc, 10)
        recalls.append(len(set(i for i, _ in got[:10]) & set(ids[want])) / 10)
        assert got[0][1] == pytest.approx(float(library.clip[np.flatnonzero(ids == got[0][0])[0]] @ qc), abs=1e-5)
    assert np.mean(recalls) >= 0.99, np.mean(recalls)


def test_a_write_makes_the_search_files_stale_and_they_are_rebuilt(built, tmp_path):
    """Through writing(): the writer's end rebuilds them (only what changed is read); outside it
    (no export): a reader builds its own columns in its cache folder and the index is untouched."""
    import shutil

    from tools.index import columns as columns_file
    from tools.index.store import PhotoStore

    folder, library, _ = built
    shutil.copytree(folder / "db", tmp_path / "db")
    settings = L.settings_for(tmp_path)
    writer = PhotoStore(settings, mode="write")
    clip = writer.vectors("clip", L.CLIP_MODEL, L.CLIP_DIM)
    moved = [r.model_copy(update={"people": ["p-new"], "faces": 1}) for r in library.records[10:40]]
    gone = library.records[50].id
    with writer.writing("test: a small index run"):
        writer.upsert_vectors(clip, moved, -library.clip[10:40])  # new vectors too
        writer.upsert_photos(moved)
        writer.update_filter_fields(moved)
        writer.delete_photos([gone])
    reader = PhotoStore(settings, mode="search")
    collection = reader.vectors("clip", L.CLIP_MODEL, L.CLIP_DIM)
    got = reader.query_vectors(collection, -library.clip[20], 50, {"people": {"$contains": "p-new"}})
    assert sorted(i for i, _ in got) == sorted(r.id for r in moved)
    assert got[0] == (moved[10].id, pytest.approx(1.0, abs=1e-5))
    assert gone not in {i for i, _ in reader.query_vectors(collection, library.clip[50], 5, None)}
    vectors_folder = tmp_path / "db" / "recall-vectors"
    name = collection.name
    rebuilt = columns_file.load(vectors_folder, name, collection.stamp())
    full = columns_file.build(reader.client.sql, collection._segment, collection.stamp(), None)
    assert rebuilt is not None and rebuilt.id_list == full.id_list
    for where in ({"people": {"$contains": "p-new"}}, {"faces": 1}, {"city": "Rome"}, {"taken_ts": {"$gte": 1.6e9}}):
        from tools.index.where import mask
        assert (mask(where, rebuilt) == mask(where, full)).all()
    assert len(list(vectors_folder.glob(f"{name}-*.columns.npz"))) == 1  # the stale one went

    # a write outside writing(): nothing saved; the reader builds its own, in its cache
    back = library.records[10].model_copy(update={"people": ["p-back"]})
    writer.upsert_photos([back])
    writer.update_filter_fields([back])
    listing = sorted(p.name for p in vectors_folder.iterdir())
    reader = PhotoStore(settings, mode="search")
    collection = reader.vectors("clip", L.CLIP_MODEL, L.CLIP_DIM)
    got = reader.query_vectors(collection, library.clip[0], 5, {"people": {"$contains": "p-back"}})
    assert [i for i, _ in got] == [back.id]
    assert sorted(p.name for p in vectors_folder.iterdir()) == listing
    assert list((tmp_path / "cache" / "vectors").rglob(f"{name}-*.columns.npz"))
