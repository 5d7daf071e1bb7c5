"""What the chat app does, without the app: one resident process's index, models, agent and session.

The Textual app (``recall.chat.app``) calls these methods from worker threads and shows what
they return; nothing here knows about a screen, so it is tested directly too. A turn runs on a
copy of the dialogue state, which becomes the session only when the turn finishes without being
cancelled or superseded: Esc, or a new message, throws a turn away whole. Turns are taken one
at a time (the LLM is not re-entrant); a turn that was superseded stops before its LLM call.
"""
from __future__ import annotations

import datetime as _dt
import threading
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel

from agent.dialogue import Agent, AgentReply, rules_planner
from agent.plan import PlanContext
from agent.state import (DialogueState, adopt_legacy_sessions, load_state, save_state, session_lock,
                         session_path)
from tools.private import write_private
from tools.settings import Settings


class TurnCancelled(Exception):
    """The turn was cancelled (Esc) or superseded by a newer message."""


class CancelToken:
    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise TurnCancelled()


class Signal(BaseModel):
    name: str  # as the hint and the help say it
    on: bool
    how: str = ""  # the one line that turns it on
    short: str = ""  # as the status bar says it (the name when empty)
    gives: str = ""  # what it adds to a search, for the help

    @property
    def label(self) -> str:
        return self.short or self.name


# Model key -> (name, short name) of each signal the status bar and the help list, in their order.
SIGNALS = {"clip": ("visual", ""), "text": ("meaning", ""), "faces": ("faces", ""), "objects": ("objects", ""),
           "scenes": ("scenes", ""), "ocr": ("text in photos", "text"), "colour": ("colour", ""),
           "caption": ("captions", ""), "speech": ("voice", "")}
WORDS = Signal(name="words", on=True, gives="the words you say, matched to captions and keywords people wrote")


class LibraryFacts(BaseModel):
    photos: int = 0
    people: int = 0
    signals: list[Signal] = []
    read_only: bool = False
    notice: str | None = None


class TurnResult(BaseModel):
    turn_id: int
    text: str
    reply: AgentReply
    refined: bool = False  # the LLM's reading replaced the rules' one


class ChatEngine:
    def __init__(self, settings: Settings, session: str = "chat", no_llm: bool = False, new: bool = False,
                 service_args: list[str] | None = None):
        """``service_args``: the index options as `recall chat` was given them (--db ...), when a
        running `recall serve` of that index may answer the turns (recall/chat/service_turns.py);
        None: every turn runs here."""
        self.settings = settings
        self.service_args = service_args
        self.via_service = False  # the turns go to the index's running service
        self._service_notices: set[str] = set()
        self.session = session
        self.no_llm = no_llm
        self.store = self.models = self.searcher = None
        self.planner = rules_planner
        self.phraser = None
        self.llm_note: str | None = None
        self.llm_ready = threading.Event()
        self._fresh = new  # the next turn starts the session afresh (`--new`, or "new chat")
        self._turn_lock = threading.Lock()
        self._turn_ids = 0
        self._ids_lock = threading.Lock()
        self._rules_only_turn: tuple[DialogueState, str, int] | None = None  # for refining once the LLM is here
        self._speech = None

    # ---- start-up ------------------------------------------------------------------------------
    def open(self) -> LibraryFacts:
        """The index and the models the search needs (not the LLM): seconds, the first time."""
        from tools.models.registry import Models
        from tools.query.search import Searcher
        from tools.index.store import PhotoStore

        self.store = PhotoStore(self.settings, mode="read")
        self.models = Models(self.settings)
        self.searcher = Searcher(self.store, self.models)
        adopt_legacy_sessions(self.settings.legacy_sessions_path, self.settings.sessions_path, self.store.all_ids)
        if self.service_args is not None:
            from ..service.client import service_running

            self.via_service = service_running(self.service_args)
        return self.facts()

    def warm(self) -> None:
        """Load the sentence embedder now, so the first message does not wait for it."""
        if self.via_service:
            return  # the service's is loaded
        text_model = self.models.text()
        if text_model is not None:
            text_model.embed(["warm up"])

    def warm_places(self) -> None:
        """The gazetteer, built before a turn needs it (it was 2-3 s inside the first turn that
        named anything place-like)."""
        from tools.places import geo

        if not self.via_service:
            geo.preload()

    def load_llm(self) -> str | None:
        """Load the local LLM (seconds to load its weights); a note when there is none."""
        from ..local_llm import choose_planner

        if self.via_service:
            self.llm_ready.set()
            return None
        try:
            planner, phraser, note = choose_planner(self.settings, self.no_llm, load="now")
        except Exception as error:  # noqa: BLE001 - a model that fails to load leaves the rules
            planner, phraser, note = rules_planner, None, f"LLM off ({type(error).__name__}: {error}): planning with rules"
        if planner is not rules_planner:
            # One throwaway plan reads the prompt's fixed prefix into the model's cache now (and
            # saves it for the next start), so the person's first turn does not pay for it: it
            # took 16 s with the 1.5B on two cores, a turn after it 4 s. Turns meanwhile are
            # planned by the rules and refined after (no turn uses the LLM before llm_ready).
            try:
                planner("a photo of a dog on the beach", PlanContext(now=_dt.datetime.now()))
            except Exception:  # noqa: BLE001 - the real turns report their own failures
                pass
        self.planner, self.phraser, self.llm_note = planner, phraser, note
        self.llm_ready.set()
        return note

    @property
    def has_llm(self) -> bool:
        return self.planner is not rules_planner

    @property
    def llm_label(self) -> str:
        """What the status bar says of the planner."""
        if self.via_service:
            return "via recall serve"
        return "LLM: on" if self.has_llm else "rules (no LLM)"

    def facts(self) -> LibraryFacts:
        from tools.models.registry import ANALYZER_SWITCHES, model_statuses
        from tools.understand.people import PeopleBook

        signals = [WORDS]
        for status in model_statuses(self.settings):
            if status.key not in SIGNALS:
                continue
            name, short = SIGNALS[status.key]
            on, how = status.found, status.how_to_enable or ""
            switch = ANALYZER_SWITCHES.get(status.key)
            if switch and not getattr(self.settings, switch):  # the understanding pass skips it
                on, how = False, f"set RECALL_{switch.upper()}=true" + (f"; and {how}" if how else "")
            signals.append(Signal(name=name, short=short, on=on, how=how, gives=status.enables))
        return LibraryFacts(photos=self.store.count(), people=len(PeopleBook(self.store).clusters()),
                            signals=signals, read_only=bool(self.store.notice), notice=self.store.notice)

    # ---- the session -----------------------------------------------------------------------------
    def history(self) -> DialogueState:
        """The saved session as it is now (what the app shows on resume)."""
        if self._fresh:
            return DialogueState()
        state, _ = load_state(self.settings.sessions_path, self.session)
        return state

    def new_chat(self, name: str | None = None) -> str:
        self.session = name or f"chat-{_dt.datetime.now():%Y%m%d-%H%M%S}"
        self._fresh = True
        self._rules_only_turn = None
        return self.session

    def next_turn_id(self) -> int:
        with self._ids_lock:
            self._turn_ids += 1
            return self._turn_ids

    # ---- a turn ----------------------------------------------------------------------------------
    def turn(self, text: str, token: CancelToken, turn_id: int, shown: int = 10,
             on_quick: Callable[[TurnResult], None] | None = None) -> TurnResult:
        """One turn: the rules' reply to ``on_quick`` at once, then the LLM's (when loaded)."""
        gone = None
        if self.via_service:
            result = self._service_turn(text, token, turn_id, shown, on_quick)
            if result is not None:
                return result
            self.via_service = False  # it went away: turns run here from now, planned by the rules
            gone = "recall serve no longer answers: this chat plans its turns itself now, with rules"
        result = self._local_turn(text, token, turn_id, shown, on_quick)
        if gone:
            result.reply.notices.append(gone)
        return result

    def _local_turn(self, text: str, token: CancelToken, turn_id: int, shown: int,
                    on_quick: Callable[[TurnResult], None] | None) -> TurnResult:
        with self._turn_lock:
            token.check()
            with session_lock(self.settings.sessions_path, self.session):
                state = DialogueState() if self._fresh else load_state(self.settings.sessions_path, self.session)[0]
                before = state.model_copy(deep=True)
                planner = self.planner if self.llm_ready.is_set() else rules_planner
                agent = self._agent(planner, token, shown)

                def quick(reply: AgentReply) -> None:
                    token.check()
                    if on_quick is not None:
                        on_quick(TurnResult(turn_id=turn_id, text=text, reply=reply))

                reply = agent.turn(state, text, on_quick=quick)
                token.check()  # a cancelled turn leaves the session as it was
                save_state(state, self.settings.sessions_path, self.session)
                self._fresh = False
                self._rules_only_turn = None if planner is not rules_planner or self.no_llm else (before, text, shown)
                return TurnResult(turn_id=turn_id, text=text, reply=reply, refined=planner is not rules_planner)

    def _service_turn(self, text: str, token: CancelToken, turn_id: int, shown: int,
                      on_quick: Callable[[TurnResult], None] | None) -> TurnResult | None:
        """The turn as the index's service answers it (None: no service answered). The service
        keeps the session as `recall ask` does; a turn cancelled meanwhile puts the file back."""
        from .service_turns import ask_args, service_turn

        with self._turn_lock:
            token.check()
            path = session_path(self.settings.sessions_path, self.session)
            before = path.read_bytes() if path.is_file() else None

            def quick(reply: AgentReply) -> None:
                token.check()
                if on_quick is not None:
                    on_quick(TurnResult(turn_id=turn_id, text=text, reply=reply))

            reply = service_turn(ask_args(text, self.session, shown, self._fresh, self.no_llm, self.service_args),
                                 on_quick=quick)
            if reply is None:
                return None
            if token.cancelled:
                with session_lock(self.settings.sessions_path, self.session):
                    if before is None:
                        path.unlink(missing_ok=True)
                    else:
                        write_private(path, before)
                raise TurnCancelled()
            self._fresh = False
            # `recall ask` repeats its planner's note ("no local LLM: ...") every turn: once is enough here
            fresh_notices = [n for n in reply.notices if n not in self._service_notices]
            self._service_notices.update(fresh_notices)
            reply = reply.model_copy(update={"notices": fresh_notices})
            return TurnResult(turn_id=turn_id, text=text, reply=reply, refined=reply.planner != "rules")

    def refine_last(self, token: CancelToken, turn_id: int) -> TurnResult | None:
        """Once the LLM is loaded: the last turn, planned by the rules because the LLM was still
        loading, planned again by the LLM; None when there is nothing to refine."""
        if not self.has_llm or self._rules_only_turn is None:
            return None
        with self._turn_lock:
            if self._rules_only_turn is None:
                return None
            before, text, shown = self._rules_only_turn
            token.check()
            with session_lock(self.settings.sessions_path, self.session):
                state = before.model_copy(deep=True)
                reply = self._agent(self.planner, token, shown).turn(state, text)
                token.check()
                save_state(state, self.settings.sessions_path, self.session)
                self._rules_only_turn = None
                return TurnResult(turn_id=turn_id, text=text, reply=reply, refined=True)

    def _agent(self, planner, token: CancelToken, shown: int) -> Agent:
        def planned(text: str, ctx: PlanContext):
            token.check()  # a superseded turn stops before the slow part
            return planner(text, ctx)

        agent_planner = rules_planner if planner is rules_planner else planned
        return Agent(self.store, self.searcher, planner=agent_planner, shown=shown,
                     phraser=self.phraser if planner is not rules_planner else None)

    # ---- photos and people -----------------------------------------------------------------------
    def record(self, photo_id: str):
        return self.store.get_photos([photo_id]).get(photo_id)

    def people_names(self) -> dict[str, str]:
        from tools.understand.people import PeopleBook

        return {c.id: c.name or c.id for c in PeopleBook(self.store).clusters()}

    def name_person(self, who: str, name: str):
        """Name the person ``who`` (an id); a name in use merges the two, as `recall people name` does."""
        from tools.understand.people import PeopleBook, PeopleError

        if self.store.notice:
            raise PeopleError("this index is read-only here: names cannot be saved")
        return PeopleBook(self.store).name(who, name)

    # ---- a background index run -----------------------------------------------------------------
    def index(self, paths: list[Path], progress) -> tuple[object, object]:
        """An incremental index run into this app's own store; photos are searchable as their
        batches commit. Needs the index writable (``recall index`` can make a new one)."""
        from tools.understand.analysis import Analyzer
        from tools.index.indexer import Indexer
        from tools.index.store import StoreError

        if self.store.notice:
            raise StoreError("this index is read-only here: run `recall index` where it can be written")
        with self.store.writing("recall chat (index)"):
            report = Indexer(self.settings, self.store, self.models, progress).run(paths)
            analysis = Analyzer(self.settings, self.store, self.models, progress).run()
        return report, analysis

    def transcribe(self, path: Path):
        """The words of a recording (SpeechError, one line, when it has none); the model loads once."""
        from tools.models.speech import SpeechToText

        if self._speech is None:
            self._speech = SpeechToText(self.settings)
        return self._speech.transcribe(path)

