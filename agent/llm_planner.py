"""The local LLM turns what the person said into one typed tool call, checked and resolved in code.

The LLM answers with one of ``tools.query.toolbox``'s calls, decoded under ``tool_call_schema()``:
``search_photos`` for a description, ``similar_to`` / ``photo_details`` / ``same_event`` (the rest
of its occasion) for a photo on screen, ``list_people``.  For a search it only EXTRACTS: which words describe the picture, which phrase
says when, which says where, which names are people, what is excluded.  Everything that needs
knowledge or arithmetic is done here, as ``agent.plan.rule_plan`` does it:

* date phrases are resolved by ``tools.dates.date_phrases.resolve_date_phrase`` against ``now``;
* place phrases by ``tools.places.geo.resolve_place`` (a lowercase phrase must be "strong": a country,
  a region or a city of the person's own library, so "the beach" is not the US town Beach);
* people are kept only when they are known names; other person words ("my friend") go to
  ``visual``;
* the text is first tidied of spoken fillers and self-corrections (``agent.spoken.tidy_spoken``),
  so the LLM copies phrases from what the person meant;
* a date or place phrase that is not in the person's text (a hallucination: the 0.5B model
  likes to write "2025-06-01") is replaced by what ``rule_plan`` found.  Where the LLM found
  no date / place / known name, ``rule_plan``'s is used too: the rules are precise on those.

``llm_action`` never raises and never waits for more than two bounded completions: an answer
that is not valid JSON for the schema (cut short, wrong types, a photo number not on screen) is
retried once with the validation error appended; a second failure, or no LLM at all, gives the
rules' action (as ``agent.plan.rule_action`` makes it).
"""
from __future__ import annotations

import json
import re
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from agent.plan import (Action, Plan, PlanContext, _strong, clean_visual, known_places_from, rule_plan,
                        rule_tool_call)
from agent.spoken import tidy_spoken
from tools.places import geo
from tools.dates.date_phrases import resolve_date_phrase
from tools.query.toolbox import SearchPhotos, parse_tool_call, tool_call_schema, tools_help

PROMPTS = Path(__file__).resolve().parents[1] / "prompts"
MAX_TOKENS = 128  # a full answer for a long sentence is ~60-90 tokens
MAX_TEXT_CHARS = 500
PATHS = ("llm", "llm-retry", "rules-fallback")
_PLACE_LEAD = re.compile(r"^(?:(?:in|at|near|around|close to|somewhere near|somewhere in|outside)\s+)+", re.I)
_DATE_LEAD = re.compile(r"^(?:(?:in|on|during|at|around|over|from)\s+)+", re.I)


@lru_cache(maxsize=1)
def system_prompt() -> str:
    template = (PROMPTS / "planner_system.md").read_text(encoding="utf-8").strip()
    return template.replace("{tools}", tools_help())


@lru_cache(maxsize=1)
def few_shot_messages() -> tuple[dict, ...]:
    """The examples as user/assistant turns (each call in the schema's field order)."""
    examples = json.loads((PROMPTS / "planner_examples.json").read_text(encoding="utf-8"))
    out: list[dict] = []
    for ex in examples:
        call = parse_tool_call(ex["call"])
        out.append({"role": "user", "content": _user_message(ex["user"], ex.get("shown", 0))})
        out.append({"role": "assistant", "content": json.dumps(call.model_dump(), ensure_ascii=False)})
    return tuple(out)


def _user_message(text: str, shown: int) -> str:
    """The person's words, after what is on screen (the numbers a call may name)."""
    screen = f"[photos #1-#{shown} on screen]" if shown else "[no photos on screen]"
    return f"{screen} {text}"


def _in_text(phrase: str | None, text: str) -> bool:
    return bool(phrase) and phrase.casefold() in text.casefold()


def _remove(visual: str, phrase: str | None) -> str:
    if not phrase:
        return visual
    return re.sub(rf"(?<![\w']){re.escape(phrase)}(?![\w'])", " ", visual, flags=re.IGNORECASE)


def _resolve_place(phrase: str, text: str, known: list[geo.Place]) -> geo.PlaceFilter | None:
    """The place phrase (without "in"/"near") resolved; lowercase in the text only when strong."""
    core = _PLACE_LEAD.sub("", phrase).strip()
    if not core or core.casefold() in ("the", "home", "here", "there"):
        return None
    found = geo.resolve_place(core, known)
    if found is None:
        return None
    at = text.casefold().find(core.casefold())
    as_written = text[at:at + len(core)] if at >= 0 else core
    lowercase = not any(w[:1].isupper() for w in as_written.split())
    first_word = at == 0 and len(as_written.split()) == 1  # every sentence starts capitalised ("Beach party")
    if (lowercase or first_word) and not _strong(found, known):
        return None
    return found


_NEGATION = r"\b(?:not|no|without|except|never)\b(?:\W+\w+){0,3}?\W+"  # then the excluded words
_STOP = {"the", "a", "an", "and", "or", "with", "in", "at", "on", "of", "our", "my", "we", "us", "me", "i", "where",
         "was", "to", "for", "by", "from", "some", "her", "his", "their", "its", "it", "this", "that", "when", "think"}


def _words(text: str) -> set[str]:
    return set(re.findall(r"[\w']+", text.casefold()))


def _leftover(text: str, date_phrase: str | None, place_phrase: str | None, people: list[str],
              exclude: list[str]) -> str:
    """The text without the understood phrases (and their prepositions), as rule_plan makes visual."""
    out = text
    if date_phrase:
        out = re.sub(rf"(?:\b(?:in|during|on|from|at|around|over)\s+)?(?<![\w']){re.escape(date_phrase)}(?![\w'])",
                     " ", out, flags=re.IGNORECASE)
    if place_phrase:
        out = re.sub(rf"(?:\b(?:in|at|near|around)\s+)?(?<![\w']){re.escape(place_phrase)}(?![\w'])", " ", out,
                     flags=re.IGNORECASE)
    for name in people:
        out = re.sub(rf"(?:\bwith\s+)?(?<![\w']){re.escape(name)}(?:'s)?(?![\w'])", " ", out, flags=re.IGNORECASE)
    for word in exclude:
        out = re.sub(rf"{_NEGATION}{re.escape(word)}(?![\w'])", " ", out, flags=re.IGNORECASE)
    return clean_visual(out)


def _finish(ex: SearchPhotos, text: str, now: datetime, known_names: list[str], known: list[geo.Place],
            rules: Plan, name_ids: dict[str, str] | None) -> Plan:
    """The LLM's extraction, checked against the text and resolved in code."""
    unknown = list(rules.unknown)
    visual = " ".join(ex.visual.split())

    # Date: the LLM's phrase if it is in the text and resolves; else the rules'.
    date_phrase = " ".join((ex.date_phrase or "").split()) or None
    date_range = None
    if _in_text(date_phrase, text):
        date_range = resolve_date_phrase(date_phrase, now)
        if date_range is None:
            bare = _DATE_LEAD.sub("", date_phrase)
            date_range = resolve_date_phrase(bare, now) if bare != date_phrase else None
    if date_range is None:
        date_phrase, date_range = rules.date_phrase, rules.date_range
    else:
        unknown = [u for u in unknown if not u.startswith("date ")]

    # Place: likewise, and a kind of place ("the beach") goes back to visual.
    place_phrase = " ".join((ex.place_phrase or "").split()) or None
    place = None
    if _in_text(place_phrase, text):
        place = _resolve_place(place_phrase, text, known)
        kind_of_place = _PLACE_LEAD.sub("", place_phrase)
        if place is None and not rules.place_phrase and kind_of_place.casefold() not in visual.casefold():
            visual = f"{visual} {kind_of_place}"
    if place is None:
        place_phrase, place = rules.place_phrase, rules.place
    else:
        unknown = [u for u in unknown if not u.startswith("place ")]

    # People: known names only (spelled as known); "my friend" and the like describe the picture.
    by_fold = {n.strip().casefold(): n for n in known_names if n and n.strip()}
    people: list[str] = []
    for name in ex.people:
        name = " ".join(name.split())
        known_name = by_fold.get(name.casefold())
        if known_name and _in_text(name, text):
            if known_name not in people:
                people.append(known_name)
        elif name and _in_text(name, text) and name.casefold() not in visual.casefold() and not name[:1].isupper():
            visual = f"{visual} {name}"
    for name in rules.people:
        if name not in people:
            people.append(name)
    for fold, name in by_fold.items():  # "Grandma Rose's cake": the rules skip possessives
        if name not in people and re.search(rf"(?<![\w']){re.escape(fold)}(?:'s)?(?![\w'])", text.casefold()):
            people.append(name)
            visual = re.sub(rf"(?<![\w']){re.escape(name)}(?:'s)?(?![\w'])", " ", visual, flags=re.IGNORECASE)

    # An exclusion must follow a negation in the text ("with the cat" excludes nothing).
    exclude: list[str] = []
    for word in ex.exclude:
        word = " ".join(word.split()).lower()
        if word and re.search(rf"{_NEGATION}{re.escape(word)}(?![\w'])", text, re.IGNORECASE):
            exclude.append(word)
        elif word and _in_text(word, text) and word not in visual.casefold():
            visual = f"{visual} {word}"
    for word in rules.exclude:
        if not any(word in w.split() for w in exclude):
            exclude.append(word)

    cores = [_PLACE_LEAD.sub("", place_phrase) if place_phrase else None,
             _DATE_LEAD.sub("", date_phrase) if date_phrase else None]
    negated = [f"{neg} {w}" for w in exclude for neg in ("not", "no", "without")]
    for phrase in (date_phrase, place_phrase, *cores, *people, *negated):
        visual = _remove(visual, phrase)
    visual = clean_visual(visual)
    # The 0.5B model drops words ("vineyard" from "a vineyard ... with rolling hills"): when its
    # visual misses a content word of what is left of the text, that leftover is the visual.
    left = _leftover(text, date_phrase, place_phrase, people, exclude)
    if not visual or any(w not in _words(visual) for w in _words(left) - _STOP):
        visual = left or rules.visual

    ids_by_name = {k.casefold(): v for k, v in (name_ids or {}).items()}
    person_ids = [ids_by_name[n.casefold()] for n in people if n.casefold() in ids_by_name]
    return Plan(visual=visual, date_phrase=date_phrase, place_phrase=place_phrase, people=people, exclude=exclude,
                required_tags=list(rules.required_tags), date_range=date_range, place=place,
                person_ids=person_ids, unknown=unknown)


def llm_action(llm: Any, text: str, ctx: PlanContext, max_tokens: int = MAX_TOKENS) -> tuple[Action, str]:
    """What to do with one sentence, by the LLM, and which path decided it: "llm", "llm-retry"
    (the first answer was invalid, the second was not) or "rules-fallback".  Never raises."""
    # The LLM sees the words without fillers and with self-corrections applied (agent.plan's
    # tidy_spoken): the 0.5B model copies "Berlin" out of "Berlin, wait, Hamburg" as often as not.
    text = tidy_spoken(" ".join((text or "").split())[:MAX_TEXT_CHARS], ctx.now)
    known = known_places_from(ctx.places)
    rules_plan = _rules_plan(text, ctx)
    rules: Action = rule_tool_call(text, ctx.shown) or rules_plan  # as agent.plan.rule_action
    if llm is None or not text:
        return rules, "rules-fallback"
    try:
        system, schema = system_prompt(), tool_call_schema()
        messages = [*few_shot_messages(), {"role": "user", "content": _user_message(text, ctx.shown)}]
    except Exception:  # noqa: BLE001 - a missing prompt file must not stop a search
        return rules, "rules-fallback"
    max_tokens = max(1, min(int(max_tokens), 512))
    for attempt, path in enumerate(("llm", "llm-retry")):
        answer = ""
        try:
            out = llm.complete_json(system, messages, schema, max_tokens=max_tokens, temperature=0.0)
            answer = json.dumps(out, ensure_ascii=False)
            call = parse_tool_call(out)
            if isinstance(call, SearchPhotos):
                return _finish(call, text, ctx.now, list(ctx.names), known, rules_plan, ctx.name_ids), path
            if getattr(call, "photo", 0) > ctx.shown:
                raise ValueError(f"there is no photo #{call.photo} on screen ({ctx.shown} are shown)")
            return call, path
        except (ValidationError, ValueError) as exc:  # LLMOutputError is a ValueError
            answer = answer or getattr(exc, "text", "") or ""
            if attempt == 0:
                messages = [*messages, {"role": "assistant", "content": answer[:400] or "{"},
                            {"role": "user", "content": f"That answer is invalid: {str(exc)[:300]}. "
                                                        "Answer again with one complete JSON object."}]
        except Exception:  # noqa: BLE001 - LLMUnavailable, llama.cpp errors: the rules still work
            break
    return rules, "rules-fallback"


def llm_plan(llm: Any, text: str, ctx: PlanContext, max_tokens: int = MAX_TOKENS) -> tuple[Plan, str]:
    """``llm_action`` for a sentence meant as a search (the planner eval): a call of another tool
    counts as a miss and gives the rules' plan, path "llm-other-tool"."""
    action, path = llm_action(llm, text, ctx, max_tokens=max_tokens)
    if isinstance(action, Plan):
        return action, path
    return _rules_plan(" ".join((text or "").split())[:MAX_TEXT_CHARS], ctx), "llm-other-tool"


def _rules_plan(text: str, ctx: PlanContext) -> Plan:
    return rule_plan(text, ctx.now, ctx.names, ctx.places, name_ids=ctx.name_ids, events=ctx.events)


def make_llm_planner(llm: Any):
    """A planner for ``agent.dialogue.Agent``: (text, PlanContext) -> (action, path)."""

    def planner(text: str, ctx: PlanContext) -> tuple[Action, str]:
        return llm_action(llm, text, ctx)

    return planner
