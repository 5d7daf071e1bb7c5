"""What a conversation has established so far, kept across turns and saved between runs.

A later turn refines the plan rather than replacing it: its date or place replaces the old one
(people correct these: "no, it was 2019"), its people and exclusions are added, and its visual
words are appended ("it was at night" adds "night"). Visual words that are also tags the
indexer assigns (night, indoor, ...) become required tags, which the re-ranker boosts.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from pydantic import BaseModel, ValidationError

from agent.plan import Plan
from agent.questions import Question

# Tags the indexer writes that a person also says in plain words; plural/adverb forms folded.
TAG_WORDS = {"night": "night", "indoor": "indoor", "indoors": "indoor", "inside": "indoor",
             "outdoor": "outdoor", "outdoors": "outdoor", "outside": "outdoor", "sunset": "sunset",
             "snow": "snow", "crowd": "crowd", "beach": "beach", "daytime": "day"}


class Turn(BaseModel):
    user: str
    agent: str = ""
    question: str | None = None
    shown: list[str] = []  # photo ids, in the order shown (feedback numbers refer to this)


class DialogueState(BaseModel):
    turns: list[Turn] = []
    plan: Plan = Plan()
    liked: list[str] = []
    rejected: list[str] = []
    answers: dict[str, str] = {}  # question attribute -> the person's answer
    pending: Question | None = None  # the question the last turn asked, if any

    def merge(self, new: Plan) -> Plan:
        """Fold one turn's plan into the conversation's plan (rules in the module docstring)."""
        old = self.plan
        visual = " ".join(w for w in (old.visual, new.visual) if w).strip()
        tags = list(old.required_tags)
        for word in re.findall(r"[a-z]+", new.visual.lower()):
            if word in TAG_WORDS and TAG_WORDS[word] not in tags:
                tags.append(TAG_WORDS[word])
        merged = old.model_copy(update={
            "visual": visual,
            "date_phrase": new.date_phrase or old.date_phrase,
            "date_range": new.date_range or old.date_range,
            "place_phrase": new.place_phrase or old.place_phrase,
            "place": new.place or old.place,
            "people": list(dict.fromkeys(old.people + new.people)),
            "person_ids": list(dict.fromkeys(old.person_ids + new.person_ids)),
            "exclude": list(dict.fromkeys(old.exclude + new.exclude)),
            "required_tags": list(dict.fromkeys(tags + new.required_tags)),
            "unknown": list(dict.fromkeys(old.unknown + new.unknown)),
        })
        self.plan = merged
        return merged

    def like(self, ids: list[str]) -> None:
        self.liked = list(dict.fromkeys(self.liked + ids))
        self.rejected = [i for i in self.rejected if i not in ids]

    def reject(self, ids: list[str]) -> None:
        self.rejected = list(dict.fromkeys(self.rejected + ids))
        self.liked = [i for i in self.liked if i not in ids]

    @property
    def last_shown(self) -> list[str]:
        return next((t.shown for t in reversed(self.turns) if t.shown), [])


def session_path(sessions_dir: Path, name: str) -> Path:
    """``sessions_dir/<name>.json`` with the name made safe (no slashes, no dot files)."""
    safe = re.sub(r"[^A-Za-z0-9_-]+", "-", name or "").strip("-")[:64] or "session"
    return Path(sessions_dir) / f"{safe}.json"


def save_state(state: DialogueState, sessions_dir: Path, name: str) -> Path:
    path = session_path(sessions_dir, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(state.model_dump_json(indent=1), encoding="utf-8")
    tmp.replace(path)  # a crash mid-write leaves the old session, not half a file
    return path


def load_state(sessions_dir: Path, name: str) -> tuple[DialogueState, str | None]:
    """The saved session, or a fresh one; the second value is a notice when the file was unusable."""
    path = session_path(sessions_dir, name)
    if not path.is_file():
        return DialogueState(), None
    try:
        return DialogueState.model_validate(json.loads(path.read_text(encoding="utf-8"))), None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, ValidationError, ValueError) as error:
        return DialogueState(), f"session {path.name} could not be read ({type(error).__name__}); starting fresh"
