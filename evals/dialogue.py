"""Multi-turn search with a simulated user on Flickr8k-test: Hits@10 after each turn.

Backbones, as in evals/retrieval.py. ``captions`` (always): every photo of a temporary copy of
the library gets ONE of its five human captions (caption 0) in an XMP sidecar; the library is
indexed without CLIP, faces, objects or generated captions. The simulated user never says that
sidecar caption: what the user says overlaps it only by meaning (and by chance words).
``clip`` (when CLIP weights are in the models folder; none can be had offline): no sidecars, the
user's words meet the pixels only. ``pixels``: no sidecars, no CLIP, the understanding pass on
(faces, objects, scenes, colour, OCR; no Florence-2 captions): the words meet the pixel tags and
the text read in the photos.

For each target photo (a seeded sample) the simulated user does exactly this:

* turn 0: opens with the target's first non-sidecar caption, verbatim.
  Hit = the target is among the 10 photos shown.
* turns 1..5 (while the target has not been shown):
  (a) if the agent asked a question, the user answers it, and only that, truthfully from the
      target's own record (``store.get_photos([target_id])``): "country"/"city"/"year" -> the
      target's value if it is one of the options, else "neither"; "tag:X" -> "yes"/"no" (what
      the target's captions say, for a label evals/tags.py can confirm from captions, since the
      user sees the photo, not its tags; else X in the target's tags); "faces" -> the target's bucket (nobody / one person / several people) if it
      is an option, else "neither"; "person:..." -> "yes"/"no".
  (b) otherwise gives feedback like a person who sees the target: each photo's "look" is the
      normalised mean MiniLM embedding of its 5 Flickr captions (load_captions, by file name); the
      shown photo most similar to the target -> "#N is close"; shown photos whose similarity is
      below ``--reject-below`` (at most ``--max-reject``, the least similar first) -> "not a, b, c".
      Said as "#N is close, not a, b".
  (c) on turns 1, 3 and 5 (every other turn; deferred to the next turn when that turn was an
      answer) the user adds the content words of the next unused non-sidecar caption (captions 2,
      3, 4 of the file order after the opening one), as " but it was <words>" after the feedback
      (so agent.feedback.parse_feedback reads it as ``extra_visual``). Content words = lower-case
      alphabetic words minus stop words and minus the words the feedback parser treats as commands
      (not/no/none/neither/older/later/...): a caption like "an older man" would otherwise be read
      as "earlier than that". When the agent showed nothing at all (e.g. a caption's "on Broadway"
      became a place filter, and the Flickr photos have no GPS), the user has nothing to react to
      and says the next caption's words at once, whatever the turn; with none left, says "".
* the dialogue stops at the first turn whose shown 10 hold the target (a success at that turn).

Reported per planner: Hits@10 after turns 0..5 (cumulative), mean turns to success (among
successes; turn 0 = 0), median / p95 latency of ``Agent.turn`` (everything: feedback, planning,
search, re-ranking, question, explanations), questions asked, planner paths. The rules planner
always runs; the LLM planner (``agent.llm_planner.make_llm_planner``, as recall/cli.py's _planner
makes it) runs when a GGUF is found, on the first ``--llm-targets`` targets of the same sample (the
rules figures on that same subset are reported beside it). A benchmark, not a test: it prints a
table and writes evals/reports/dialogue.json.

    .venv/bin/python -m evals.dialogue --count 1000 --targets 100
    .venv/bin/python -m evals.dialogue --count 200 --targets 20 --planner both --llm-targets 10

``--library phone`` runs the dialogue on the phone-like library instead (evals/phone_dialogue.py:
dated, located copies in events, named people, bursts; the user also says roughly when and where,
evals/phone_user.py; every target with questions and without; writes evals/reports/dialogue-phone.json):

    .venv/bin/python -m evals.dialogue --library phone --backbone captions --targets 120
    .venv/bin/python -m evals.dialogue --library phone --backbone pixels --phone-count 300 --targets 100
"""
from __future__ import annotations

import argparse
import random
import re
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # `python evals/dialogue.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evals.common import (busy_machine_warning, default_report, finish_report, log, machine_facts, median,
                          percentile, Phase, rounded, table, temp_dir, TextProgress)
from evals.library import DEFAULT_FLICKR, build_library, load_captions
from evals.phone_user import record_value

CACHE_MODELS = Path("~/.cache/photo-recall/models").expanduser()  # where a GGUF is also looked for
MAX_TURNS = 5  # turns after the opening one
INFO_TURNS = (1, 3, 5)
SIDECAR_CAPTION = 0
STOP_WORDS = set("""a an the and or of in on at to with from by for into onto over under near is are was were be
been being it its this that these those there their his her he she they them some one two three four five
six several while as up down out off very has have had who which what while""".split())
# Words agent.feedback.parse_feedback treats as commands (reject-all, date shifts, rejections, "but").
COMMAND_WORDS = set("""not no nope never reject none neither nothing wrong bad earlier later older newer before
after recent but only except""".split())
NOTE = ("captions backbone: each photo's sidecar holds ONE human caption (caption 0); the simulated user "
        "never says it, so the user's words overlap the indexed text only by meaning (MiniLM) and by chance "
        "words (BM25). CLIP is absent (no weights offline), so nothing is matched on pixels. The Flickr photos "
        "have no GPS or dates, and faces/objects/captioning are off, so the agent has little to ask about. pixels backbone: no sidecars, no CLIP; "
        "the words meet the pixel tags (objects, scenes, colour, faces) and text read in the photos; the agent "
        "asks only about tags sure enough (prompts/tag_precision.txt) and the user answers tag questions from "
        "the target's captions where evals/tags.py can confirm the label.")

PHONE_NOTE = ("phone library (evals/library.py build_phone_library): dated, located copies of the Flickr8k-test "
              "photos in synthetic events by caption topic, portraits of named people, camera samples and bursts. "
              "captions: caption 0 in a sidecar, faces found, no CLIP; pixels: no sidecars, no CLIP, faces/objects/"
              "scenes/colour/OCR. The user's opening adds a rough, sometimes wrong, when and where "
              "(evals/phone_user.py); 'no questions' runs the same targets with Agent(ask=False).")

# ---- the simulated user ------------------------------------------------------------------------
def content_words(caption: str) -> str:
    words = re.findall(r"[a-z]+", caption.lower())
    return " ".join(w for w in words if w not in STOP_WORDS and w not in COMMAND_WORDS)


def answer(question, record, captions: list[str] | None = None) -> str:
    """A truthful answer: from what the photo shows (its captions) where they can tell, else from
    the target's own record."""
    from evals.tags import CONFIRMING, confirmed

    attribute, options = question.attribute, [o.casefold() for o in question.options]
    if attribute.startswith("tag:"):
        if captions and attribute[4:] in CONFIRMING:
            return "yes" if confirmed(attribute[4:], [c.lower() for c in captions]) else "no"
        return "yes" if record is not None and attribute[4:] in record.tags else "no"
    if attribute.startswith("person:"):
        return "yes" if record is not None and attribute[7:] in record.people else "no"
    if attribute == "event":  # the occasion's label as the agent said it; a person knows which it was
        ids = question.option_ids
        known = record is not None and record.event_id in ids
        return question.options[ids.index(record.event_id)] if known else "neither"
    value = record_value(attribute, record)
    if value and value.casefold() in options:
        return value
    return "neither"


class Looks:
    """What a person sees: a photo's look = normalised mean MiniLM embedding of its 5 captions."""

    def __init__(self, text_model, captions: dict[str, list[str]]):
        import numpy as np

        names = list(captions)
        self.captions = captions
        flat = [c for n in names for c in captions[n]]
        vectors = np.asarray(text_model.embed(flat), dtype=np.float32)
        self.vectors, at = {}, 0
        for name in names:
            v = vectors[at: at + len(captions[name])].mean(axis=0)
            at += len(captions[name])
            self.vectors[name] = v / (float(np.linalg.norm(v)) or 1.0)

    def similarity(self, a: str, b: str) -> float:
        """0 for a photo without captions (a portrait or camera sample of the phone library):
        nothing like a Flickr scene, so the user rejects it."""
        if a not in self.vectors or b not in self.vectors:
            return 0.0
        return float(self.vectors[a] @ self.vectors[b])


def feedback_text(target: str, shown, looks: Looks, reject_below: float, max_reject: int) -> tuple[str, dict]:
    sims = [(looks.similarity(target, Path(p.path).name), p.number) for p in shown]
    if not sims:
        return "", {}
    best_sim, best = max(sims)
    rejected = sorted((s, n) for s, n in sims if s < reject_below and n != best)[:max_reject]
    text = f"#{best} is close"
    if rejected:
        text += ", not " + ", ".join(str(n) for _, n in rejected)
    return text, {"closest_similarity": best_sim, "rejected": len(rejected)}


# ---- one dialogue -------------------------------------------------------------------------------
def candidates(agent, state) -> list[str]:
    """The agent's candidates for the dialogue's plan now, best first, without the step-back of
    photos shown already (which would push every earlier photo down whatever the answer said)."""
    from agent.rerank import CANDIDATES, search_with_feedback

    found = search_with_feedback(agent.searcher, state.plan, state, k=CANDIDATES, seen=set())
    if not found and state.plan.visual:  # as Agent._relax_empty: the words matched nothing there
        found = search_with_feedback(agent.searcher, state.plan.model_copy(update={"visual": ""}), state,
                                     k=CANDIDATES, seen=set())
    return [r.id for r in found]


def answer_effect(agent, state, target_id: str | None, before: list[str], was_candidate: bool) -> dict:
    """What an answer did. ``was``: the target was among the candidates when the question was
    asked (an answer cannot lose what was never there); ``kept``: it still is; ``removed``: wrong
    photos of the list the question was asked about that are no longer in the top 10."""
    ranked = candidates(agent, state)
    removed = sum(1 for i in before if i != target_id and i not in ranked[:10])
    return {"was": was_candidate, "kept": target_id in ranked, "removed": removed,
            "target_rank": ranked.index(target_id) + 1 if target_id in ranked else None}


def run_dialogue(agent, store, target_name: str, target_id: str | None, queries: list[str], looks: Looks,
                 args, collect: dict, opening: str | None = None, answer_of=None) -> dict:
    """``opening``: the first message (default: the first query); ``answer_of(question, record)``:
    an answer from metadata, or None to answer with :func:`answer`."""
    from agent.state import DialogueState

    state = DialogueState()
    record = store.get_photos([target_id]).get(target_id) if target_id else None
    infos = [content_words(c) for c in queries[1:]]
    infos = [w for w in infos if w]
    due = False
    text = opening or queries[0]
    log_turns = []
    asked = None  # (question, the ids it was asked about, target a candidate then) while its answer is given
    for turn in range(MAX_TURNS + 1):
        started = time.perf_counter()
        quick_at: list[float] = []
        reply = agent.turn(state, text, on_quick=lambda _: quick_at.append(time.perf_counter() - started))
        collect["latencies"].append(time.perf_counter() - started)
        collect["first_results"].append(quick_at[0] if quick_at else collect["latencies"][-1])
        collect["planners"][reply.planner] = collect["planners"].get(reply.planner, 0) + 1
        shown_names = [Path(p.path).name for p in reply.results]
        hit = target_name in shown_names[:10]
        plan = state.plan
        log_turns.append({"turn": turn, "said": text, "planner": reply.planner, "shown": len(shown_names),
                          "plan_place": plan.place.label if plan.place else None,
                          "plan_dates": plan.date_range.label if plan.date_range else None,
                          "question": reply.question.attribute if reply.question else None,
                          "rank": shown_names.index(target_name) + 1 if hit else None})
        if asked is not None:  # this turn carried the answer to the last question
            effect = answer_effect(agent, state, target_id, asked[1], asked[2])
            effect.update(attribute=asked[0].attribute, answer=text, hit=hit)
            collect["answers"].append(effect)
            log_turns[-1]["answer_effect"] = effect
            asked = None
        if hit:
            return {"success_turn": turn, "turns": log_turns}
        if turn == MAX_TURNS:
            break
        nxt = turn + 1
        due = due or nxt in INFO_TURNS
        if reply.question is not None:
            collect["questions"][reply.question.attribute] = collect["questions"].get(reply.question.attribute, 0) + 1
            said = answer_of(reply.question, record) if answer_of else None
            text = said or answer(reply.question, record, looks.captions.get(target_name))
            asked = (reply.question, [p.id for p in reply.results], target_id in candidates(agent, state))
            continue  # (c) is deferred to the next turn
        if not reply.results:
            collect["empty_turns"] += 1
            due = True  # nothing to react to: the user says the next caption's words at once
        text, facts = feedback_text(target_name, reply.results, looks, args.reject_below, args.max_reject)
        if facts:
            collect["closest_similarity"].append(facts["closest_similarity"])
            collect["rejected_per_turn"].append(facts["rejected"])
        if due and infos:
            words = infos.pop(0)
            text = f"{text} but it was {words}" if text else f"it was {words}"
            due = False
    return {"success_turn": None, "turns": log_turns}


def summarise(outcomes: list[dict], collect: dict) -> dict:
    n = len(outcomes)
    successes = [o["success_turn"] for o in outcomes if o["success_turn"] is not None]
    hits = {f"turn {t}": round(100 * sum(1 for s in successes if s <= t) / n, 2) if n else None
            for t in range(MAX_TURNS + 1)}
    lat = collect["latencies"]
    return {
        "targets": n,
        "hits_at_10_pct_by_turn": hits,
        "successes": len(successes),
        "mean_turns_to_success": rounded(sum(successes) / len(successes), 3) if successes else None,
        "success_turn_counts": {str(t): successes.count(t) for t in range(MAX_TURNS + 1)},
        "turns_run": len(lat),
        "turn_latency_ms": {"median": rounded(1000 * median(lat), 1) if lat else None,
                            "p95": rounded(1000 * percentile(lat, 95), 1) if lat else None,
                            "max": rounded(1000 * max(lat), 1) if lat else None},
        # With an LLM planner the rules' results come first (Agent.turn's on_quick), then the LLM's.
        "first_results_latency_ms": {"median": rounded(1000 * median(collect["first_results"]), 1) if lat else None,
                                     "p95": rounded(1000 * percentile(collect["first_results"], 95), 1)
                                     if lat else None},
        "questions_asked": collect["questions"],
        "questions_total": sum(collect["questions"].values()),
        "answers": answers_summary(collect.get("answers", [])),
        "turns_with_nothing_shown": collect["empty_turns"],
        "dialogues_with_place_filter": sum(1 for o in outcomes if any(t["plan_place"] for t in o["turns"])),
        "dialogues_with_date_filter": sum(1 for o in outcomes if any(t["plan_dates"] for t in o["turns"])),
        "planner_paths": collect["planners"],
        "closest_shown_similarity_median": rounded(median(collect["closest_similarity"]), 3),
        "rejections_per_feedback_turn_mean": rounded(sum(collect["rejected_per_turn"])
                                                     / len(collect["rejected_per_turn"]), 2)
        if collect["rejected_per_turn"] else None,
    }


def answers_summary(effects: list[dict]) -> dict:
    """How often an answer removed wrong candidates while keeping the target, per attribute kind;
    ``..._when_candidate``: over the answers given while the target was a candidate at all."""
    def pct(part: int, whole: int):
        return round(100 * part / whole, 1) if whole else None

    def figures(items: list[dict]) -> dict:
        n = len(items)
        there = [e for e in items if e.get("was", True)]
        return {"answers": n,
                "removed_wrong_kept_target_pct": pct(sum(1 for e in items if e["kept"] and e["removed"]), n),
                "target_lost_pct": pct(sum(1 for e in items if not e["kept"]), n),
                "target_was_candidate_pct": pct(len(there), n),
                "kept_when_candidate_pct": pct(sum(1 for e in there if e["kept"]), len(there)),
                "removed_wrong_kept_target_when_candidate_pct":
                    pct(sum(1 for e in there if e["kept"] and e["removed"]), len(there)),
                "found_by_answer_pct": pct(sum(1 for e in items if e["kept"] and not e.get("was", True)), n),
                "removed_mean": round(sum(e["removed"] for e in items) / n, 2) if n else None,
                "found_at_once_pct": pct(sum(1 for e in items if e["hit"]), n)}

    kinds: dict[str, list[dict]] = {}
    for effect in effects:
        kinds.setdefault(effect["attribute"].split(":")[0], []).append(effect)
    return {"all": figures(effects), **{k: figures(v) for k, v in sorted(kinds.items())}}


def run_planner(name: str, planner, store, searcher, targets, ids, library, looks, args, sink: dict,
                agent_options: dict | None = None, openings: dict | None = None, answer_of=None) -> dict:
    """``agent_options``: more Agent arguments (now, ask); ``openings``: target path -> first message."""
    from agent.dialogue import Agent

    agent = Agent(store, searcher, planner=planner, shown=10, **(agent_options or {}))
    collect = {"latencies": [], "first_results": [], "planners": {}, "questions": {}, "closest_similarity": [], "rejected_per_turn": [],
               "empty_turns": 0, "answers": []}
    outcomes = []
    progress = TextProgress(name, args.progress_every)
    progress.start("dialogues", len(targets))
    with Phase(f"{name}: dialogues", sink):
        for path in targets:
            name_ = Path(path).name
            outcome = run_dialogue(agent, store, name_, ids.get(name_), library[path], looks, args, collect,
                                   opening=(openings or {}).get(path), answer_of=answer_of)
            outcome["target"] = name_
            outcomes.append(outcome)
            progress.advance()
    return {"summary": summarise(outcomes, collect), "dialogues": outcomes}


def llm_planner(settings, models_dir: Path, preferred: str | None, threads: int | None = None):
    """(planner, model name, None) or (None, None, reason)."""
    from tools.models.llm import LLMUnavailable, LocalLLM, find_llm, idle_threads

    path = None
    for folder in dict.fromkeys([Path(models_dir), CACHE_MODELS]):
        path = find_llm(folder, preferred)
        if path is not None:
            break
    if path is None:
        return None, None, f"no GGUF under {models_dir}/llm or {CACHE_MODELS}/llm"
    try:
        from agent.llm_planner import make_llm_planner
    except Exception as error:  # noqa: BLE001 - the module may be missing or incomplete
        return None, None, f"agent.llm_planner could not be imported: {type(error).__name__}: {error}"
    try:
        llm = LocalLLM(path, threads=idle_threads(threads or settings.llm_threads))
    except (LLMUnavailable, ImportError) as error:
        return None, None, f"LLM unavailable: {error}"
    return make_llm_planner(llm), path.name, None


def understand_library(backbone: str, settings, store, models, args, out: dict, only: set[str] | None) -> None:
    """The understanding pass (``only``: those signals; None: all, or the rest of them)."""
    from tools.understand.analysis import Analyzer

    label = f"{backbone}: understand" + (f" {'+'.join(sorted(only))}" if only else "")
    with Phase(label, out["phases"]):
        done = Analyzer(settings, store, models, TextProgress("understand", args.progress_every)).run(only=only)
    seen = out["index"][backbone]
    seen.update(understanding_seconds=round(seen.get("understanding_seconds", 0) + done.seconds, 1), off=done.off,
                **{k: seen.get(k, 0) + getattr(done, k) for k in ("texts", "labels", "objects")})


def run_backbone(backbone: str, settings, folder: Path, sidecar_caption: int | None, args, out: dict,
                 understand: bool = False) -> None:
    """Index a copy of the library for one backbone and run the planners' dialogues on it
    (``understand``: with the understanding pass, as the pixels backbone wants)."""
    from tools.index.indexer import Indexer
    from tools.models.registry import Models
    from tools.query.search import SearchQuery, Searcher
    from tools.index.store import PhotoStore

    library = build_library(folder, args.images, count=args.count, sidecar_caption=sidecar_caption)
    store, models = PhotoStore(settings), Models(settings)
    log(f"[{backbone}] indexing {len(library)} photos from {folder}")
    with Phase(f"{backbone}: index", out["phases"]):
        report = Indexer(settings, store, models, TextProgress("index", args.progress_every)).run([folder])
    out["index"][backbone] = {"photos": report.new, "seconds": round(report.seconds, 1), "clip": report.clip}
    first = {"faces", "objects"} if understand and args.faces_objects_first else None
    if understand:
        understand_library(backbone, settings, store, models, args, out, only=first)
    ids = {Path(r.path).name: r.id for r in store.iter_photos()}
    text_model = models.text()
    if text_model is None:
        raise SystemExit(f"no MiniLM text embedder: {models.problems}")
    with Phase(f"{backbone}: looks", out["phases"]):
        all_captions = load_captions(args.images)
        looks = Looks(text_model, {Path(p).name: all_captions[Path(p).name] for p in library})
    searcher = Searcher(store, models)
    searcher.search(SearchQuery(text="warm up the models", k=10))

    paths = sorted(library)
    targets = random.Random(args.seed).sample(paths, min(args.targets, len(paths)))
    out["library_size"], out["targets"] = len(library), len(targets)
    results = out["planners"]
    if first:  # today's figure before the scene, colour and OCR signals, then the same dialogues after them
        from agent.dialogue import rules_planner

        name = f"{backbone} (faces+objects)/rules"
        results[name] = run_planner(name, rules_planner, store, searcher, targets, ids, library, looks, args,
                                    out["phases"])
        understand_library(backbone, settings, store, models, args, out, only=None)
    if args.planner in ("rules", "both"):
        from agent.dialogue import rules_planner

        results[f"{backbone}/rules"] = run_planner(f"{backbone}/rules", rules_planner, store, searcher, targets, ids,
                                                   library, looks, args, out["phases"])
        if args.without_floors and understand:
            # The same dialogues with every tag trusted (an empty precision table): what the
            # floors in prompts/tag_precision.txt change.
            from tools.understand import tag_quality

            kept = tag_quality.load_table
            tag_quality.load_table = lambda path=None: {}
            try:
                results[f"{backbone}/rules, no tag floors"] = run_planner(
                    f"{backbone}/rules, no tag floors", rules_planner, store, searcher, targets, ids, library, looks,
                    args, out["phases"])
            finally:
                tag_quality.load_table = kept
    if args.planner in ("llm", "both"):
        planner, model, reason = llm_planner(settings, args.models_dir, args.llm_model, args.llm_threads)
        if planner is None:
            log(f"LLM planner skipped: {reason}")
            results[f"{backbone}/llm"] = {"skipped": True, "reason": reason}
            return
        subset = targets[: args.llm_targets] if args.llm_targets else targets
        result = run_planner(f"{backbone}/llm", planner, store, searcher, subset, ids, library, looks, args,
                             out["phases"])
        result["model"] = model
        results[f"{backbone}/llm"] = result
        rules = results.get(f"{backbone}/rules")
        if rules and len(subset) < len(targets):  # rules on the same subset, for comparison
            picked = {Path(p).name for p in subset}
            same = [d for d in rules["dialogues"] if d["target"] in picked]
            rules["summary_on_llm_subset"] = {
                "targets": len(same),
                "hits_at_10_pct_by_turn": {
                    f"turn {t}": round(100 * sum(1 for d in same if d["success_turn"] is not None
                                                 and d["success_turn"] <= t) / len(same), 2)
                    for t in range(MAX_TURNS + 1)}}


# ---- main ---------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> dict:
    from tools.settings import load_settings

    defaults = load_settings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=None, help="photos in the library (default: all 1,000)")
    parser.add_argument("--targets", type=int, default=200, help="target photos (seeded sample)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--planner", choices=["rules", "llm", "both"], default="rules")
    parser.add_argument("--llm-targets", type=int, default=None,
                        help="targets for the LLM planner: the first N of the same sample (default: all)")
    parser.add_argument("--llm-model", default=None, help='GGUF file name or "0.5b"/"1.5b" (default: largest)')
    parser.add_argument("--llm-threads", type=int, default=None,
                        help="llama.cpp threads (default: the llm_threads setting, else the idle cores)")
    parser.add_argument("--reject-below", type=float, default=0.35,
                        help="a shown photo less similar than this to the target is rejected")
    parser.add_argument("--max-reject", type=int, default=3)
    parser.add_argument("--images", type=Path, default=DEFAULT_FLICKR, help="the flickr8k-test folder")
    parser.add_argument("--models-dir", type=Path, default=defaults.models_dir)
    parser.add_argument("--backbone", choices=["captions", "clip", "pixels", "all"], default="all",
                        help="captions: one caption per photo in a sidecar; clip: pixels only (when weights exist); "
                             "pixels: no sidecars, no CLIP, faces/objects/scenes/colour/OCR")
    parser.add_argument("--clip-model", default=defaults.clip_model, help="CLIP folder name under models/clip")
    parser.add_argument("--faces-objects-first", action="store_true",
                        help="pixels backbone: run the rules dialogues after faces and objects only (today's "
                             "figure), then after the scene, colour and OCR signals too, from one index")
    parser.add_argument("--without-floors", action="store_true",
                        help="pixels backbone: also run the rules dialogues with every tag trusted (no tag floors)")
    parser.add_argument("--library", choices=["flickr", "phone"], default="flickr",
                        help="phone: the phone-like library of evals/library.py (dated copies in events, "
                             "faces, bursts; evals/phone_dialogue.py), backbones captions and pixels")
    parser.add_argument("--phone-count", type=int, default=None,
                        help="phone library: Flickr photos in it (default: all 1,000)")
    parser.add_argument("--phone-seed", type=int, default=13, help="phone library: the seed that builds it")
    parser.add_argument("--pixel-targets", type=int, default=None,
                        help="phone library: targets on the pixels library (default: --targets)")
    parser.add_argument("--report", type=Path, default=None, help="default: evals/reports/dialogue[-phone].json")
    parser.add_argument("--progress-every", type=float, default=15.0)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)

    warning = busy_machine_warning()
    if warning:
        log(warning)
    command = " ".join([sys.executable, "-m", "evals.dialogue", *(sys.argv[1:] if argv is None else argv)])
    out: dict = {"benchmark": "dialogue", "command": command, "machine": machine_facts(),
                 "data": str(args.images.resolve()), "note": NOTE, "simulated_user": __doc__.split("\n\n")[2:4],
                 "params": {"max_turns": MAX_TURNS, "info_turns": INFO_TURNS, "reject_below": args.reject_below,
                            "max_reject": args.max_reject, "seed": args.seed, "sidecar_caption": SIDECAR_CAPTION},
                 "planners": {}, "index": {}, "phases": {}}
    started = time.perf_counter()
    if args.report is None:
        args.report = default_report("dialogue-phone" if args.library == "phone" else "dialogue")
    if args.library == "phone":
        from evals.phone_dialogue import NOW, run_phone

        out.update(note=PHONE_NOTE, now=NOW.isoformat(), simulated_user=__import__("evals.phone_user").phone_user.__doc__)
        out["params"].update(phone_count=args.phone_count, phone_seed=args.phone_seed)
        for backbone in ("captions", "pixels"):
            if args.backbone in (backbone, "all"):
                run_phone(backbone, args, out)
        return finish_report(out, started, args.report, print_summary)
    with temp_dir("recall-dialogue-", keep=args.keep) as tmp:
        if args.backbone in ("captions", "all"):
            settings = load_settings(db=tmp / "db-captions", models_dir=args.models_dir,
                                     clip_model="no-clip-on-purpose", analyze_faces=False, analyze_objects=False,
                                     analyze_captions=False)
            run_backbone("captions", settings, tmp / "library-captions", SIDECAR_CAPTION, args, out)
        if args.backbone in ("clip", "all"):
            from tools.models.registry import clip_status

            settings = load_settings(db=tmp / "db-clip", models_dir=args.models_dir, clip_model=args.clip_model,
                                     analyze_faces=False, analyze_objects=False, analyze_captions=False)
            status = clip_status(settings)
            if not status.found:
                out["planners"]["clip"] = {"skipped": True, "reason": f"no CLIP weights at {status.location}"}
            else:  # no sidecars: the words meet the pixels only
                run_backbone("clip", settings, tmp / "library-clip", None, args, out)
        if args.backbone in ("pixels", "all"):
            settings = load_settings(db=tmp / "db-pixels", models_dir=tmp / "no-models",
                                     clip_model="no-clip-on-purpose", analyze_captions=False)
            run_backbone("pixels", settings, tmp / "library-pixels", None, args, out, understand=True)
    return finish_report(out, started, args.report, print_summary)


def print_summary(out: dict) -> None:
    rows = []
    for name, result in out["planners"].items():
        if result.get("skipped"):
            continue
        s = result["summary"]
        rows.append([name, s["targets"], *s["hits_at_10_pct_by_turn"].values(), s["mean_turns_to_success"],
                     s["first_results_latency_ms"]["median"], s["turn_latency_ms"]["median"],
                     s["turn_latency_ms"]["p95"]])
        if result.get("summary_on_llm_subset"):
            sub = result["summary_on_llm_subset"]
            rows.append([f"{name} (LLM's targets)", sub["targets"], *sub["hits_at_10_pct_by_turn"].values(),
                         None, None, None, None])
    print()
    if rows:
        print(table(["planner", "targets", *(f"H@10 t{t} %" for t in range(MAX_TURNS + 1)), "mean turns",
                     "first results ms med", "turn ms med", "turn ms p95"], rows))
    for name, result in out["planners"].items():
        if result.get("skipped"):
            print(f"{name}: skipped ({result['reason']})")
            continue
        s = result["summary"]
        print(f"{name}: {s['successes']}/{s['targets']} found; questions asked {s['questions_asked'] or 'none'}; "
              f"planner paths {s['planner_paths']}; closest shown similarity median "
              f"{s['closest_shown_similarity_median']}; rejections per feedback turn {s['rejections_per_feedback_turn_mean']}")
    for name, result in out["planners"].items():
        answers = result.get("summary", {}).get("answers", {}).get("all")
        if answers and answers["answers"]:
            print(f"{name}: {answers['answers']} answers: removed wrong candidates and kept the target "
                  f"{answers['removed_wrong_kept_target_pct']}%, lost the target {answers['target_lost_pct']}%, "
                  f"found it at once {answers['found_at_once_pct']}%; the target was a candidate when asked "
                  f"{answers['target_was_candidate_pct']}%, and then kept {answers['kept_when_candidate_pct']}% "
                  f"(removed wrong ones too {answers['removed_wrong_kept_target_when_candidate_pct']}%); "
                  f"brought in by the answer {answers['found_by_answer_pct']}%")
        if result.get("summary", {}).get("by_memory"):
            print(f"{name}: by memory " + "; ".join(f"{k} {v['targets']}: {v['hits_by_turn_2_pct']}/{v['hits_by_turn_5_pct']}"
                                                   for k, v in result["summary"]["by_memory"].items()))
    for name, figures in out.get("moments", {}).items():
        print(f"{name} events: purity {figures['purity']}, completeness {figures['completeness']} "
              f"({figures['found_events']} found / {figures['true_events']} true); bursts precision "
              f"{figures['burst_precision']}, recall {figures['burst_recall']}")
    indexed = "; ".join(f"{b} in {i.get('seconds', i.get('index_seconds'))}s (clip: {i.get('clip')}"
                        + (f"; understanding {i['understanding_seconds']}s, {i['labels']} labels, "
                           f"{i['objects']} objects, text in {i['texts']}" if "understanding_seconds" in i else "")
                        + ")" for b, i in out["index"].items())
    print(f"library {out.get('library_size')} photos, indexed: {indexed}; "
          f"load average at start/end {out['machine']['load_average_1_5_15']} / {out['machine']['load_average_at_end']}; "
          f"total {out['total_seconds']}s")
    print(f"note: {out['note']}")


if __name__ == "__main__":
    main()
