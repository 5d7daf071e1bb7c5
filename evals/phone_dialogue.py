"""``evals/dialogue.py --library phone``: the dialogue on the phone-like library (evals/library.py).

Two libraries, built from one seed: ``captions`` (caption 0 of each Flickr photo in an XMP
sidecar; faces found, no CLIP, no other pixel models) and ``pixels`` (no sidecars, no CLIP; the
understanding pass: faces, objects, scenes, colour, OCR). After indexing, each face cluster is
named after the person most of its photos show (as ``recall people name`` would).

Targets are Flickr photos (a seeded sample). The simulated user opens with the target's first
non-sidecar caption plus a rough when and where (evals/phone_user.py: sometimes a season or a
year off, sometimes only the region or country, sometimes nothing), then goes on as on Flickr
(evals/dialogue.py: feedback from caption similarity, more caption words every other turn) and
answers questions truthfully from the target's record. Every target runs twice, with questions
and without (``Agent(ask=False)``: feedback alone). The agent's "now" is fixed (NOW) so "two or
three years ago" means the same years on every run.

Also reported, on the same index: event purity and completeness against the synthetic events
and burst pair precision / recall (evals/moments.py's measures). Indexes are cached under
CACHE, keyed by the library's seed and size and the code and prompts that build an index.
"""
from __future__ import annotations

import hashlib
import json
import random
import shutil
import time
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

from evals.common import ROOT, Phase, TextProgress, log
from evals.library import PhonePhoto, build_phone_library, name_people
from evals.phone_user import metadata_answer, opening

NOW = datetime(2026, 9, 1, 12, 0)
CACHE = Path("/tmp/recall-phone-dialogue")


def cache_key(backbone: str, args) -> str:
    """The code and data an index depends on: what reads, understands and stores photos (tools/
    less the query side), prompts/, the library builders, the options."""
    digest = hashlib.sha1(f"{backbone}:{args.phone_count}:{args.phone_seed}:{args.images.resolve()}".encode())
    code = [p for p in (ROOT / "tools").rglob("*.py") if "query" not in p.relative_to(ROOT / "tools").parts]
    files = sorted([*code, *(ROOT / "prompts").rglob("*"), ROOT / "evals" / "library.py",
                    ROOT / "evals" / "dated_copies.py"])
    for path in files:
        if path.is_file():
            digest.update(path.relative_to(ROOT).as_posix().encode())
            digest.update(path.read_bytes())
    return f"{backbone}-{digest.hexdigest()[:16]}"


def settings_for(backbone: str, db: Path, args):
    from tools.settings import load_settings

    if backbone == "captions":
        return load_settings(db=db, models_dir=args.models_dir, clip_model="no-clip-on-purpose", analyze_faces=True,
                             analyze_objects=False, analyze_captions=False, analyze_colour=False,
                             analyze_scenes=False, analyze_ocr=False)
    return load_settings(db=db, models_dir=db.parent / "no-models", clip_model="no-clip-on-purpose",
                         analyze_captions=False)


def indexed_library(backbone: str, args, out: dict) -> tuple[object, dict[str, PhonePhoto]]:
    """(settings, file name -> truth) of an indexed phone library, built or from the cache."""
    from tools.index.indexer import Indexer
    from tools.index.store import PhotoStore
    from tools.models.registry import Models
    from tools.understand.analysis import Analyzer

    root = CACHE / cache_key(backbone, args)
    settings = settings_for(backbone, root / "db", args)
    truth_file = root / "truth.json"
    if truth_file.exists():
        log(f"[phone-{backbone}] reusing the index in {root}")
        out["index"][f"phone-{backbone}"] = {"cached": str(root), **json.loads((root / "index.json").read_text())}
        return settings, {n: PhonePhoto(**p) for n, p in json.loads(truth_file.read_text()).items()}
    shutil.rmtree(root, ignore_errors=True)
    started = time.perf_counter()
    photos = build_phone_library(root / "library", args.images, count=args.phone_count,
                                 sidecar_caption=0 if backbone == "captions" else None, seed=args.phone_seed)
    store, models = PhotoStore(settings), Models(settings)
    log(f"[phone-{backbone}] indexing {len(photos)} photos")
    with Phase(f"phone-{backbone}: index", out["phases"]):
        report = Indexer(settings, store, models, TextProgress("index", args.progress_every)).run([root / "library"])
    with Phase(f"phone-{backbone}: understand", out["phases"]):
        done = Analyzer(settings, store, models, TextProgress("understand", args.progress_every)).run()
    named = name_people(store, photos)
    facts = {"photos": report.new, "index_seconds": round(report.seconds, 1),
             "understanding_seconds": round(done.seconds, 1), "build_seconds": round(time.perf_counter() - started, 1),
             "people_named": len(named), "labels": done.labels, "objects": done.objects, "texts": done.texts}
    (root / "index.json").write_text(json.dumps(facts))
    truth_file.write_text(json.dumps({n: asdict(p) for n, p in photos.items()}))
    out["index"][f"phone-{backbone}"] = facts
    return settings, photos


def moment_figures(store, photos: dict[str, PhonePhoto]) -> dict:
    """Event purity / completeness against the synthetic events (the camera samples, which keep
    their own dates, left out) and burst pair precision / recall."""
    from evals.moments import burst_pairs, purity_completeness

    records = {Path(r.path).name: r for r in store.iter_photos()}
    synthetic = {n: p for n, p in photos.items() if p.kind != "exif" and n in records}
    purity, completeness = purity_completeness({n: records[n].event_id for n in synthetic},
                                               {n: p.event for n, p in synthetic.items()})
    precision, recall, got, want = burst_pairs({n: records[n].burst_id for n in synthetic},
                                               {n: p.burst for n, p in synthetic.items() if p.burst})
    return {"photos": len(synthetic), "true_events": len({p.event for p in synthetic.values()}),
            "found_events": len({records[n].event_id for n in synthetic if records[n].event_id}),
            "purity": round(purity, 4), "completeness": round(completeness, 4),
            "burst_precision": round(precision, 4), "burst_recall": round(recall, 4),
            "burst_pairs_found": got, "burst_pairs_true": want,
            "people_in_records": sum(1 for r in records.values() if r.people)}


def by_memory(dialogues: list[dict], openings: dict[str, dict]) -> dict:
    """Hits@10 by turn 2 and at the end, split by what the opening's when/where said."""
    groups: dict[str, list[dict]] = {}
    for d in dialogues:
        facts = openings[d["target"]]
        when = facts["when"]
        key_when = "no when" if when is None else ("when wrong" if when["wrong"] else "when right")
        for key in (key_when, f"where: {facts['where'] or 'none'}"):
            groups.setdefault(key, []).append(d)

    def pct(items: list[dict], turn: int) -> float:
        return round(100 * sum(1 for d in items if d["success_turn"] is not None and d["success_turn"] <= turn)
                     / len(items), 1)

    return {k: {"targets": len(v), "hits_by_turn_2_pct": pct(v, 2), "hits_by_turn_5_pct": pct(v, 5)}
            for k, v in sorted(groups.items())}


def run_phone(backbone: str, args, out: dict) -> None:
    from evals.dialogue import Looks, run_planner
    from tools.index.store import PhotoStore
    from tools.models.registry import Models
    from tools.query.search import SearchQuery, Searcher
    from agent.dialogue import rules_planner

    settings, photos = indexed_library(backbone, args, out)
    store, models = PhotoStore(settings), Models(settings)
    out.setdefault("moments", {})[f"phone-{backbone}"] = moment_figures(store, photos)
    ids = {Path(r.path).name: r.id for r in store.iter_photos()}
    flickr = {n: p for n, p in photos.items() if p.kind == "flickr"}
    library = {p.path: p.queries for p in flickr.values()}
    from evals.library import load_captions

    captions = load_captions(args.images)
    text_model = models.text()
    if text_model is None:
        raise SystemExit(f"no MiniLM text embedder: {models.problems}")
    looks = Looks(text_model, {n: captions[n] for n in flickr})
    searcher = Searcher(store, models)
    searcher.search(SearchQuery(text="warm up the models", k=10))
    count = args.targets if backbone == "captions" else (args.pixel_targets or args.targets)
    targets = random.Random(args.seed).sample(sorted(library), min(count, len(library)))
    openings, facts = {}, {}
    for path in targets:
        photo = flickr[Path(path).name]
        rng = random.Random(f"{args.seed}:{Path(path).name}")
        openings[path], facts[Path(path).name] = opening(photo.queries[0], datetime.fromisoformat(photo.taken),
                                                         photo.town, photo.region, photo.country, NOW, rng)
    out.setdefault("phone_library", {})[f"phone-{backbone}"] = {
        "photos": len(photos), "flickr": len(flickr), "events": len({p.event for p in photos.values()}),
        "targets": len(targets), "openings": {Path(p).name: t for p, t in list(openings.items())[:5]}}

    def answer_of(question, record):
        return metadata_answer(question.attribute, question.options, record)

    runs = []
    if args.planner in ("rules", "both"):
        runs += [(f"phone-{backbone}/rules", rules_planner, True, targets),
                 (f"phone-{backbone}/rules, no questions", rules_planner, False, targets)]
    if args.planner in ("llm", "both"):
        from evals.dialogue import llm_planner

        planner, model, reason = llm_planner(settings, args.models_dir, args.llm_model, args.llm_threads)
        if planner is None:
            out["planners"][f"phone-{backbone}/llm"] = {"skipped": True, "reason": reason}
        else:
            runs.append((f"phone-{backbone}/llm ({model})", planner, True, targets[: args.llm_targets or len(targets)]))
    for name, planner, ask, chosen in runs:
        result = run_planner(name, planner, store, searcher, chosen, ids, library, looks, args, out["phases"],
                             agent_options={"now": NOW, "ask": ask}, openings=openings, answer_of=answer_of)
        for dialogue in result["dialogues"]:
            dialogue["memory"] = facts[dialogue["target"]]
        result["summary"]["by_memory"] = by_memory(result["dialogues"], facts)
        out["planners"][name] = result
