"""Search with what the conversation has learned: rejected photos out, liked photos pull.

Scoring of each candidate the search tool returned (its fused score ``f`` is in [0, 1]):

    score = (1 - FEEDBACK_WEIGHT) * f + FEEDBACK_WEIGHT * v      (only when CLIP and a liked photo exist)
          + TAG_BOOST * (required tags the photo has) - EXCLUDE_PENALTY * (excluded words in its tags)

``v`` is the cosine of the photo's CLIP vector with the Rocchio-moved vector
(``agent.feedback.rocchio``: towards the liked photos, away from the rejected ones). Here the
query's own term gets ``RERANK_ALPHA = 0``: the words already count through ``f``, and counting
them twice let the words outvote the photo the person pointed at (tiny-CLIP test: liking a red
circle for "a circle" left blue circles on top with alpha 1). ``v`` is the raw cosine, not
min-max normalised: min-max over candidates stretched by a few far-off photos squeezed the
differences that matter between near ones. Equal weights: a liked photo is strong evidence of
what the person means, but the words and filters they gave still count.
"""
from __future__ import annotations

import numpy as np

from agent.feedback import rocchio
from agent.plan import Plan, plan_to_query
from agent.state import DialogueState
from tools.search import SearchResult, Searcher, SignalScore

CANDIDATES = 200
FEEDBACK_WEIGHT = 0.5
RERANK_ALPHA = 0.0
TAG_BOOST = 0.1
EXCLUDE_PENALTY = 0.2


def _feedback_vectors(searcher: Searcher, plan: Plan, state: DialogueState,
                      ids: list[str]) -> dict[str, float] | None:
    """Candidate id -> cosine with the moved query, or None when CLIP or liked photos are missing."""
    if not state.liked or not searcher.models.clip_available():
        return None
    clip = searcher.models.clip()
    if clip is None:
        return None
    collection = searcher.store.vectors("clip", clip.name, clip.dim)
    liked = searcher.store.get_vectors(collection, state.liked)
    if not liked:
        return None
    rejected = searcher.store.get_vectors(collection, state.rejected)
    # The query term only when it has weight (see RERANK_ALPHA) and there are words.
    query = (clip.embed_texts([plan.visual])[0] if plan.visual and RERANK_ALPHA
             else np.zeros(clip.dim, dtype=np.float32))
    moved = rocchio(np.asarray(query, dtype=np.float32), list(liked.values()), list(rejected.values()),
                    alpha=RERANK_ALPHA)
    vectors = searcher.store.get_vectors(collection, ids)
    return {i: float(np.dot(moved, v / (np.linalg.norm(v) or 1.0))) for i, v in vectors.items()}


def search_with_feedback(searcher: Searcher, plan: Plan, state: DialogueState, k: int = 20) -> list[SearchResult]:
    query = plan_to_query(plan, k=CANDIDATES)
    if not query.text and not query.has_filters():
        return []
    results = [r for r in searcher.search(query).results if r.id not in set(state.rejected)]
    if not results:
        return []
    records = searcher.store.get_photos([r.id for r in results])
    cosines = _feedback_vectors(searcher, plan, state, [r.id for r in results])
    scored: list[tuple[float, float | None, SearchResult]] = []
    for result in results:
        score = result.score
        visual = None
        if cosines is not None and result.id in cosines:
            visual = cosines[result.id]
            score = (1 - FEEDBACK_WEIGHT) * score + FEEDBACK_WEIGHT * visual
        tags = {t.lower() for t in (records[result.id].tags if result.id in records else [])}
        score += TAG_BOOST * sum(t.lower() in tags for t in plan.required_tags)
        score -= EXCLUDE_PENALTY * sum(w.lower() in tags for w in plan.exclude)
        scored.append((score, visual, result))
    scored.sort(key=lambda item: -item[0])
    out = []
    for rank, (score, visual, result) in enumerate(scored[:k], start=1):
        why = dict(result.why)
        if visual is not None or plan.required_tags or plan.exclude:
            why["feedback"] = SignalScore(score=round(visual if visual is not None else score, 4), rank=rank)
        out.append(result.model_copy(update={"score": round(score, 4), "why": why}))
    return out
