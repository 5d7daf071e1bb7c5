"""What a conversation has established so far, kept across turns and saved between runs.

A later turn refines the plan rather than replacing it: its date or place replaces the old one
(people correct these: "no, it was 2019"; a place named but not found drops the old one rather
than keep it against their words), its people and exclusions are added, and its visual
words are appended ("it was at night" adds "night"). Visual words that are also tags the
indexer assigns (night, indoor, ...) become required tags, which the re-ranker boosts. The event
filter (set by the dialogue: "more from that day") stays until a new date or place comes: a
corrected when or where is no longer that occasion.

``discussed`` keeps the photos the person pointed at (by number, position or "that one"), so
words that point without a number can be resolved: "that one" is the last of them (or the
agent's own best guess, #1 of a reply that asked nothing), "the other one" the one before it.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

from pydantic import BaseModel, ValidationError

from agent.plan import Plan
from agent.questions import Question
from tools.locks import LockBusy, file_lock
from tools.private import private_dir, write_private

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
    discussed: list[str] = []  # photo ids the person pointed at, the latest last

    def merge(self, new: Plan) -> Plan:
        """Fold one turn's plan into the conversation's plan (rules in the module docstring)."""
        old = self.plan
        place_named = new.place is not None or bool(new.place_phrase)
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
            "place": new.place if place_named else old.place,
            "people": list(dict.fromkeys(old.people + new.people)),
            "person_ids": list(dict.fromkeys(old.person_ids + new.person_ids)),
            "exclude": list(dict.fromkeys(old.exclude + new.exclude)),
            "required_tags": list(dict.fromkeys(tags + new.required_tags)),
            "unknown": list(dict.fromkeys(old.unknown + new.unknown)),
        })
        if new.event or new.date_range or place_named:
            merged = merged.model_copy(update={"event": new.event, "event_label": new.event_label})
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

    def refer(self, ids: list[str]) -> None:
        """The person pointed at these photos; a photo pointed at again moves to the end."""
        ids = list(dict.fromkeys(ids))
        self.discussed = [i for i in self.discussed if i not in ids] + ids

    def that_one(self) -> str | None:
        """"that one": the photo last discussed, else the agent's best guess (#1 of the last
        reply, when it put one forward rather than asking), else None."""
        if self.discussed:
            return self.discussed[-1]
        last = next((t for t in reversed(self.turns) if t.shown), None)
        return last.shown[0] if last is not None and last.question is None else None

    def other_one(self) -> str | None:
        """"the other one": of the last two photos discussed, the one not discussed last; with
        fewer, the other of exactly two on screen; else None (the dialogue asks which)."""
        if len(self.discussed) >= 2:
            return self.discussed[-2]
        shown = self.last_shown
        current = self.that_one()
        if len(shown) == 2 and current in shown:
            return shown[1 - shown.index(current)]
        return None

    def anchor(self, referred: list[str]) -> str | None:
        """The photo "same place" / "same day" is about: the one this turn referred to, else the
        one last liked, else the one last discussed."""
        return referred[-1] if referred else (self.liked[-1] if self.liked else self.that_one())


MAX_SESSION_BYTES = 8 << 20  # a real session is a few KB; a bigger file is not one of ours


class SessionError(ValueError):
    """A session that cannot be used as asked, worded for the person."""


def session_path(sessions_dir: Path, name: str) -> Path:
    """``sessions_dir/<name>.json`` with the name made safe (no slashes, no dot files)."""
    safe = re.sub(r"[^A-Za-z0-9_-]+", "-", name or "").strip("-")[:64] or "session"
    return Path(sessions_dir) / f"{safe}.json"


@contextlib.contextmanager
def session_lock(sessions_dir: Path, name: str, wait_s: float = 300.0,
                 on_wait: Callable[[str], None] | None = None) -> Iterator[Path]:
    """Hold a session for one turn (load, answer, save): turns sent at once run one after another
    instead of each keeping only its own. Yields the session's path."""
    path = session_path(sessions_dir, name)
    if path.exists() and not path.is_file():
        raise SessionError(f"the session file {path} is not a file (a folder?): move it away or use another --session")
    private_dir(path.parent)

    def busy(holder: str) -> str:
        return f"session {path.stem!r} is busy with another turn ({holder}) for over {wait_s:.0f} s"

    try:
        with file_lock(path.with_suffix(".lock"), f"a turn of session {path.stem}", wait_s=wait_s,
                       busy=busy, on_wait=on_wait):
            yield path
    except LockBusy as error:
        raise SessionError(str(error)) from None


def save_state(state: DialogueState, sessions_dir: Path, name: str) -> Path:
    path = session_path(sessions_dir, name)
    private_dir(path.parent)  # the person's own words: owner only
    try:
        write_private(path, state.model_dump_json(indent=1).encode("utf-8", "replace"))
    except IsADirectoryError:
        raise SessionError(f"the session file {path} is not a file (a folder?): move it away or use another --session") from None
    return path


def load_state(sessions_dir: Path, name: str) -> tuple[DialogueState, str | None]:
    """The saved session, or a fresh one; the second value is a notice when the file was unusable."""
    path = session_path(sessions_dir, name)
    if not path.is_file():
        return DialogueState(), None
    try:
        if path.stat().st_size > MAX_SESSION_BYTES:
            raise ValueError("too large")
        return DialogueState.model_validate(json.loads(path.read_text(encoding="utf-8"))), None
    except (OSError, UnicodeDecodeError, ValueError, RecursionError, ValidationError) as error:
        # json.JSONDecodeError is a ValueError; a deeply nested file raises RecursionError.
        return DialogueState(), f"session {path.name} could not be read ({type(error).__name__}); starting fresh"


def adopt_legacy_sessions(legacy_dir: Path | None, sessions_dir: Path, indexed_ids: Callable[[], set[str]]) -> int:
    """Move the sessions of this index from where they used to live (one folder shared by every
    index next to them) into this index's own folder; sessions whose photos are not in this index
    stay for theirs. Runs once per index (a marker file remembers it). Returns how many moved."""
    marker = Path(sessions_dir) / ".adopted"
    if legacy_dir is None or marker.exists() or not Path(legacy_dir).is_dir():
        return 0
    candidates = [p for p in Path(legacy_dir).glob("*.json") if p.is_file()]
    moved = 0
    if candidates:
        known = indexed_ids()
        private_dir(sessions_dir)
        for old in candidates:
            state, problem = load_state(old.parent, old.stem)
            shown = {i for turn in state.turns for i in turn.shown}
            target = Path(sessions_dir) / old.name
            if problem is None and shown and shown <= known and not target.exists():
                os.replace(old, target)
                os.chmod(target, 0o600)
                moved += 1
    private_dir(sessions_dir)
    marker.touch()
    return moved
