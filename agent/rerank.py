"""Search with what the conversation has learned: rejected photos out, liked photos pull.

Scoring of each candidate the search tool returned (its fused score ``f`` is in [0, 1]):

    score = (1 - FEEDBACK_WEIGHT) * f + FEEDBACK_WEIGHT * v      (only when a liked photo has a vector)
          + TAG_BOOST * (required tags the photo has; a weak pixel tag counts 0.5) - EXCLUDE_PENALTY * (excluded words in its tags)
          - FACES_MISS_PENALTY * (its faces are not what the person answered: nobody / one / several)
          - RULED_OUT_PENALTY * (its year, country, city, faces or event is an option answered "neither")
          - SEEN_PENALTY * (shown in an earlier turn)

``v`` is the cosine of the photo's vector with the Rocchio-moved vector (``agent.feedback.rocchio``:
towards the liked photos, away from the rejected ones), in CLIP space when CLIP exists, else in the
space of the sentence embeddings of the photos' captions (``tools.query.toolbox.looks_space``). The
nearest photos to the liked ones join the candidates (``f = 0`` for them), so "#3 is close" can
bring up a photo the words alone missed. Here the
query's own term gets ``RERANK_ALPHA = 0``: the words already count through ``f``, and counting
them twice let the words outvote the photo the person pointed at (tiny-CLIP test: liking a red
circle for "a circle" left blue circles on top with alpha 1). ``v`` is the raw cosine, not
min-max normalised: min-max over candidates stretched by a few far-off photos squeezed the
differences that matter between near ones. Equal weights: a liked photo is strong evidence of
what the person means, but the words and filters they gave still count.

A photo shown in an earlier turn that the person did not take as "it" is probably not it (a
liked one is "close", not "it"), so it steps back and unseen candidates come forward; it is not
dropped, since people do overlook things in a list of ten.

A remembered date is a memory, not a filter: people put a photo in the wrong season or year
("summer, two or three years ago" for an autumn four years ago). A date range of a month or
more (SOFT_DATE_MIN_DAYS: a month, a season, a year, "a few years ago") is searched widened by
DATE_SLACK_DAYS each side, and a photo outside the range said steps back by DATE_MISS_PENALTY,
half of it for the first days out and all of it a year out: the photos of the range said come
first, and when the person has turned those down the next season's or year's come forward. A
day or a week stays a filter (people who say "on Saturday" mean it), and so does "earlier / later
than that one", which is counted from a photo's date, not remembered.

Under filters (a date, a place, an event), the photos the words found are followed by the other
photos the filters let through (no word evidence, ``f = 0``): the words of a memory often miss
the one photo that fits (the semantic signal has a floor), and inside one town and year the
rest is few enough to rank by feedback. Not when the words found nothing at all there: then the
dialogue says so (``Agent._relax_empty``).
"""
from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np

from agent.feedback import rocchio
from agent.plan import Plan, plan_to_query
from agent.state import DialogueState
from tools.query.search import SearchResult, Searcher, SignalScore
from tools.query.toolbox import similar_to, vector_of
from tools.understand.tag_quality import tag_weight

CANDIDATES = 200
FEEDBACK_WEIGHT = 0.5
RERANK_ALPHA = 0.0
TAG_BOOST = 0.1
EXCLUDE_PENALTY = 0.2
SEEN_PENALTY = 0.5  # 0.3 and 0.5 tried on a held-out sample (seed 1): 0.5 ahead by 1-1.3 points at turns 1-2
NEIGHBOURS = 30  # nearest photos added per liked photo
MAX_LIKED_NEIGHBOURS = 3
SOFT_DATE_MIN_DAYS = 28
SHIFT_PHRASES = ("earlier", "later")  # DateRange.phrase of feedback.shifted_range
DATE_SLACK_DAYS = 366
DATE_MISS_PENALTY = 0.3
# "Who was in it: nobody, one person or several?" answered: a photo with another count of faces
# steps back, not out (a face turned away or far off is not found).
FACES_MISS_PENALTY = 0.2


def faces_bucket(faces: int) -> str:
    return "nobody" if faces == 0 else "one person" if faces == 1 else "several people"


# "Which year: 2022 or 2023?" "Neither.": photos of those years step back (a soft no: the person's
# "neither" can be as wrong as their "2022").
RULED_OUT_PENALTY = 0.3


def _ruled_out(plan: Plan, record) -> int:
    if not plan.ruled_out or record is None:
        return 0
    values = {"year": str(record.taken_at.year) if record.taken_at else None, "country": record.country,
              "city": record.city, "event": record.event_id,
              "faces": faces_bucket(record.faces) if "faces-1" in record.analyzed or record.faces else None}
    return sum(1 for item in plan.ruled_out
               if (v := values.get(item.split("=", 1)[0])) and v.casefold() == item.split("=", 1)[1].casefold())


def soft_dates(plan: Plan) -> bool:
    """Whether the plan's date is a memory to search around rather than a filter. "That one but
    earlier" is no memory: it is measured from a photo's own date (feedback.shifted_range)."""
    r = plan.date_range
    return (r is not None and r.phrase not in SHIFT_PHRASES
            and (r.end - r.start) >= timedelta(days=SOFT_DATE_MIN_DAYS))


def date_miss(plan: Plan, taken: datetime | None) -> float:
    """How far outside the remembered range a photo was taken, as a penalty (0 inside it)."""
    if not soft_dates(plan) or taken is None:
        return 0.0
    r = plan.date_range
    if r.start <= taken <= r.end:
        return 0.0
    days = (r.start - taken).days if taken < r.start else (taken - r.end).days
    return DATE_MISS_PENALTY * (0.5 + 0.5 * min(1.0, days / 365.0))


def _query(plan: Plan):
    query = plan_to_query(plan, k=CANDIDATES)
    if soft_dates(plan):
        slack = timedelta(days=DATE_SLACK_DAYS)
        query = query.model_copy(update={"date_from": plan.date_range.start - slack,
                                         "date_to": plan.date_range.end + slack})
    return query


def _with_the_rest(searcher: Searcher, query, results: list[SearchResult], rejected: set[str]) -> list[SearchResult]:
    """The word hits, then the other photos the filters let through (module docstring)."""
    if not results or not query.text or not query.has_filters() or len(results) >= CANDIDATES:
        return results
    have = {r.id for r in results} | rejected
    rest = searcher.search(query.model_copy(update={"text": ""})).results
    return results + [r.model_copy(update={"score": 0.0, "why": {}}) for r in rest if r.id not in have]


def _feedback_cosines(searcher: Searcher, state: DialogueState, ids: list[str]) -> dict[str, float] | None:
    """Candidate id -> cosine with the moved query, or None without liked photos or vectors.

    The space is CLIP when it exists, else the sentence embeddings of the photos' captions
    (``tools.query.toolbox.looks_space``): "#3 is close" then means "captioned like #3"."""
    if not state.liked:
        return None
    vectors = vector_of(searcher, list(dict.fromkeys(state.liked + state.rejected + ids)))
    if vectors is None:
        return None
    liked = [vectors[i] for i in state.liked if i in vectors]
    if not liked:
        return None
    rejected = [vectors[i] for i in state.rejected if i in vectors]
    # RERANK_ALPHA = 0: the query's own term is zero, so the words are not counted twice.
    moved = rocchio(np.zeros_like(liked[0]), liked, rejected, alpha=RERANK_ALPHA)
    return {i: float(np.dot(moved, vectors[i] / (np.linalg.norm(vectors[i]) or 1.0))) for i in ids if i in vectors}


def _with_neighbours(searcher: Searcher, state: DialogueState, results: list[SearchResult],
                     has_filters: bool) -> list[SearchResult]:
    """The candidates plus the nearest photos to the latest liked ones, which the words alone may
    have missed. Not under filters: the neighbours ignore dates and places."""
    if not state.liked or has_filters:
        return results
    seen = {r.id for r in results} | set(state.rejected)
    extra: list[SearchResult] = []
    for liked in state.liked[-MAX_LIKED_NEIGHBOURS:]:
        for result in similar_to(searcher, liked, k=NEIGHBOURS, skip=tuple(seen)):
            seen.add(result.id)
            extra.append(result.model_copy(update={"score": 0.0, "why": {}}))  # no word evidence of its own
    return results + extra


def search_with_feedback(searcher: Searcher, plan: Plan, state: DialogueState, k: int = 20,
                         seen: set[str] | None = None) -> list[SearchResult]:
    """``seen``: the photos to step back (default: all shown so far)."""
    query = _query(plan)
    if not query.text and not query.has_filters():
        return []
    rejected = set(state.rejected)
    results = [r for r in searcher.search(query).results if r.id not in rejected]
    results = _with_the_rest(searcher, query, results, rejected)
    results = _with_neighbours(searcher, state, results, query.has_filters())
    if not results:
        return []
    records = searcher.store.get_photos([r.id for r in results])
    if seen is None:
        seen = {i for turn in state.turns for i in turn.shown}
    cosines = _feedback_cosines(searcher, state, [r.id for r in results])
    scored: list[tuple[float, float | None, SearchResult]] = []
    for result in results:
        score = result.score
        visual = None
        if cosines is not None and result.id in cosines:
            visual = cosines[result.id]
            score = (1 - FEEDBACK_WEIGHT) * score + FEEDBACK_WEIGHT * visual
        record = records.get(result.id)
        tags = {t.lower() for t in (record.tags if record else [])}
        # A weak pixel tag (below its measured floor, tools/understand/tag_quality.py) still
        # counts, at a lower weight than a sure one.
        score += TAG_BOOST * sum((tag_weight(record.tags_detail, t) or 1.0) if t.lower() in tags else 0.0
                                 for t in plan.required_tags)
        score -= EXCLUDE_PENALTY * sum(w.lower() in tags for w in plan.exclude)
        score -= SEEN_PENALTY * (result.id in seen)
        score -= date_miss(plan, record.taken_at if record else None)
        score -= RULED_OUT_PENALTY * _ruled_out(plan, record)
        if plan.faces and record is not None and ("faces-1" in record.analyzed or record.faces):
            score -= FACES_MISS_PENALTY * (faces_bucket(record.faces) != plan.faces)
        scored.append((score, visual, result))
    scored.sort(key=lambda item: -item[0])
    out = []
    for rank, (score, visual, result) in enumerate(scored[:k], start=1):
        why = dict(result.why)
        if visual is not None:  # tag boosts are explained as tags, not as feedback
            why["feedback"] = SignalScore(score=round(visual, 4), rank=rank)
        out.append(result.model_copy(update={"score": round(score, 4), "why": why}))
    return out
