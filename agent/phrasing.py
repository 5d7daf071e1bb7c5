"""Clarifying questions in the person's context, worded by the local LLM and checked in code.

``agent.questions`` decides WHAT to ask (the attribute whose answer best splits the candidates,
and its options); the LLM only words it around what the person is looking for ("Was the dog on
the beach in Italy or in Finland?"). A wording is kept only when it is one short question that
still names every option, so the person's answer can be matched to one; else the template
stands. One bounded completion (MAX_TOKENS), never an exception.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

from agent.questions import Question

PROMPTS = Path(__file__).resolve().parents[1] / "prompts"
MAX_TOKENS = 40
MAX_CHARS = 160

# (question, what the person is looking for) -> the words to ask it with
Phraser = Callable[[Question, str], str]


@lru_cache(maxsize=1)
def system_prompt() -> str:
    return (PROMPTS / "question_system.md").read_text(encoding="utf-8").strip()


def _message(looking_for: str, question: str, answers: list[str]) -> str:
    return f"Looking for: {looking_for.strip()[:200]}\nQuestion: {question}\nAnswers: {', '.join(answers)}"


@lru_cache(maxsize=1)
def few_shot_messages() -> tuple[dict, ...]:
    examples = json.loads((PROMPTS / "question_examples.json").read_text(encoding="utf-8"))
    out: list[dict] = []
    for ex in examples:
        out.append({"role": "user", "content": _message(ex["looking_for"], ex["question"], ex["answers"])})
        out.append({"role": "assistant", "content": ex["wording"]})
    return tuple(out)


def acceptable(text: str, question: Question) -> bool:
    """One question, short, naming every option (yes/no options need not be said)."""
    if not text or "\n" in text or len(text) > MAX_CHARS or not text.endswith("?") or text.count("?") > 1:
        return False
    said = text.casefold()
    named = [o for o in question.options if o.casefold() not in ("yes", "no")]
    return all(o.casefold() in said for o in named)


def make_llm_phraser(llm: Any) -> Phraser:
    def phrase(question: Question, looking_for: str) -> str:
        if not looking_for.strip():
            return question.text
        message = _message(looking_for, question.text, question.options)
        try:
            text = llm.complete_text(system_prompt(), [*few_shot_messages(), {"role": "user", "content": message}],
                                     max_tokens=MAX_TOKENS)
        except Exception:  # noqa: BLE001 - the template is a fine question too
            return question.text
        text = " ".join(text.strip().strip('"').split())
        return text if acceptable(text, question) else question.text

    return phrase
