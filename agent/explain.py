"""One short line saying why a photo was found: each signal with its score, and the filters it met."""
from __future__ import annotations

from agent.plan import Plan
from tools.index.records import PhotoRecord
from tools.query.search import SearchResult
from tools.query.text_match import query_terms


def explain(result: SearchResult, record: PhotoRecord, plan: Plan) -> str:
    parts: list[str] = []
    why = result.why
    if "visual" in why:
        parts.append(f"looks like {plan.visual!r} (visual {why['visual'].score:.2f})")
    if "words" in why:
        found = set(query_terms(record.search_text()))
        words = [t for t in dict.fromkeys(query_terms(plan.visual)) if t in found]
        parts.append(f"caption words: {', '.join(words)}" if words else f"caption words ({why['words'].score:.2f})")
    if record.text_in_photo:
        # Text read in the photo is named with what it says: "the sign said OPEN" is the memory.
        read = set(query_terms(record.text_in_photo))
        if any(t in read for t in query_terms(plan.visual)):
            text = record.text_in_photo if len(record.text_in_photo) <= 60 else record.text_in_photo[:57] + "..."
            parts.append(f"text in the photo: {text}")
    if "meaning" in why:
        parts.append(f"caption means much the same (meaning {why['meaning'].score:.2f})")
    if "feedback" in why:
        parts.append(f"like the photos you picked (feedback {why['feedback'].score:.2f})")
    tags = [t for t in plan.required_tags if t in record.tags]
    if tags:
        parts.append(f"tagged {', '.join(tags)}")
    if record.taken_at:
        # A file's own date is when it was copied as often as when it was taken: say which it is.
        taken = (f"file dated {record.taken_at:%Y-%m-%d}" if record.date_source == "file"
                 else f"taken {record.taken_at:%Y-%m-%d}")
        if plan.date_range:
            # "that one but earlier" has no phrase of its own: its label says it ("before 2022-07-10")
            said = plan.date_phrase or plan.date_range.label
            if plan.date_range.start <= record.taken_at <= plan.date_range.end:
                taken += f", in your {said!r} range"
            else:  # a remembered date is searched a little wider (agent/rerank.py): say so
                taken += f", outside your {said!r} range"
        parts.append(taken)
    # The occasion is how people remember a photo first ("that evening in Berlin"); a label that is
    # only a day ("Thu 8 Jul 2021": no place known) says again what "taken" said.
    if record.event_label and ("," in record.event_label or result.burst_count > 1):
        parts.append(f"from: {record.event_label}" + (f" ({result.burst_count} frames, this the sharpest)"
                                                     if result.burst_count > 1 else ""))
    if record.place or record.city or record.country:
        where = ", ".join(p for p in (record.city, record.country) if p) or record.place
        parts.append(f"in {where}" + (f" (near {plan.place_phrase!r})" if plan.place and plan.place_phrase else ""))
    names = plan.people or []
    if names and plan.person_ids and all(p in record.people for p in plan.person_ids):
        parts.append(f"with {', '.join(names)}")
    return "; ".join(parts) or "matches your filters"
