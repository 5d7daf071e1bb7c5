"""`recall chat`: the terminal app people talk to.

One process: the index, the models and the LLM load once, in a worker, while the input line is
usable at once (what is typed before the LLM is ready is planned by the rules, and planned again
by the LLM once it is). Every slow thing (a turn, a thumbnail, an index run, a transcription) is
a worker thread; the screen is only ever touched from the app's own thread. Results of a turn
that was cancelled (Esc) or superseded (a newer message) are dropped, never shown.
"""
from __future__ import annotations

import gc
import threading
import traceback
from functools import partial
from pathlib import Path

from textual.app import App, SystemCommand
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Static

from ..safe_text import one_line
from .engine import CancelToken, ChatEngine, TurnCancelled, TurnResult
from .keymap import bindings
from .library_actions import LibraryActions
from .log import open_log
from .photo_actions import PhotoActions
from .screens.help import HelpScreen
from .thumbnails import ThumbnailCache
from .voice_actions import VoiceActions
from .widgets.conversation import Choices, Conversation
from .widgets.detail import DetailPane
from .widgets.prompt import PromptInput
from .widgets.results import ResultsGrid
from .widgets.status_bar import StatusBar

MIN_SIZE = (60, 16)  # below this the layout cannot show a photo and a line of chat
WIDE = 110  # from this width the details sit beside the results instead of over them


class RecallApp(PhotoActions, VoiceActions, LibraryActions, App):
    CSS_PATH = "recall.tcss"
    TITLE = "photo-recall"
    BINDINGS = bindings("anywhere")

    def __init__(self, engine: ChatEngine, index_paths: list[Path] | None = None, log_dir: Path | None = None,
                 shown: int = 10):
        super().__init__()
        self.engine = engine
        self.index_paths = list(index_paths or [])
        self.shown = shown
        self.logger, self.log_path = open_log(log_dir or engine.settings.data_dir)
        self.thumbnails = ThumbnailCache(engine.settings.cache_dir)
        self.pixels: dict[tuple[str, int, int], object] = {}  # (photo id, columns, rows) -> pixels
        self.errors: list[str] = []  # what went wrong, for the log and the tests
        self.search_ready = False
        self.queued: list[str] = []
        self.turn_id = 0
        self.token: CancelToken | None = None
        self.busy = False
        self.reply = None
        self.file_dates: dict[str, bool] = {}
        self.indexing = False
        self.facts = None  # what the index and the models offer (LibraryFacts), once open
        self._recording = None  # (stream, chunks) while push-to-talk records
        self._last_text, self._answered = None, False  # the last words sent, and whether they got a reply
        self._last_message = ""
        self._screen_up = False  # until the first frame, a bug ends the app (there is nothing to keep up)

    def compose(self):
        with Horizontal(id="main"):
            with Vertical(id="chat-column"):
                yield Conversation(id="conversation")
                yield Choices(id="choices")
                yield PromptInput(placeholder="What do you remember?", id="prompt")
            yield ResultsGrid(id="results")
            yield DetailPane(id="detail")
        yield Static("", id="too-small")
        yield StatusBar(id="status")
        yield Footer()

    # ---- start-up --------------------------------------------------------------------------------
    def on_mount(self) -> None:
        self.query_one(DetailPane).display = False
        self.query_one("#prompt").focus()
        self._fit_layout()
        self.conversation.thinking("opening the index...")
        self.call_after_refresh(setattr, self, "_screen_up", True)
        self.run_worker(self._start, thread=True, group="start", exit_on_error=False)

    def _start(self) -> None:
        try:
            facts = self.engine.open()
            self.call_from_thread(self._opened, facts)
            self.engine.warm()
        except Exception as error:  # noqa: BLE001 - the app stays up and says why
            self.call_from_thread(self._failed, "the index could not be opened", error, fatal=True)
            return
        self.call_from_thread(self._search_is_ready)
        if self.index_paths:
            self.call_from_thread(self._start_index, self.index_paths)
        try:
            self.engine.warm_places()
        except Exception as error:  # noqa: BLE001 - a turn that names a place will say what is wrong
            self.logger.warning("building the place index failed: %s", error)
        note = self.engine.load_llm()
        self.call_from_thread(self._llm_loaded, note)

    def _opened(self, facts) -> None:
        self.facts = facts
        self.status.show_library(facts, self.engine.session)
        if facts.notice:
            self.conversation.add("notice", facts.notice)
        off = [s.name for s in facts.signals if not s.on]
        if off:
            self.conversation.add("hint", f"off here: {', '.join(off)} (F1 says how to turn each on)")
        history = self.engine.history()
        for turn in history.turns:
            self.conversation.add("user", turn.user)
            if turn.agent:
                self.conversation.add("agent", turn.agent)
        if history.last_shown:
            self._show_saved(history.last_shown)
        if history.turns:
            self.conversation.add("system", f"(resumed session {self.engine.session})")

    def _search_is_ready(self) -> None:
        # What start-up built (torch, Chroma, the models: millions of objects) lives as long as the
        # app: out of the collector's sight, a full collection no longer stalls a frame for most
        # of a second (measured in evals/chat.py: 0.7 s in the refresh that showed results).
        gc.freeze()
        self.search_ready = True
        self.conversation.thinking(None)
        self.status.show_llm("loading the local LLM... search works already", busy=True)
        queued, self.queued = self.queued, []
        for text in queued[-1:]:  # what was typed last is what the person means now
            self._start_turn(text, echo=False)

    def _llm_loaded(self, note: str | None) -> None:
        # The LLM and the gazetteer are built now too: freeze them with the rest, and let full
        # collections come a hundred times less often (evals/chat.py: 0.3-0.5 s passes landed in
        # the frame that showed results in up to half the turns); an idle minute collects.
        gc.freeze()
        gc.set_threshold(700, 10, 1000)
        self.set_interval(60, self._collect_when_idle)
        self.status.show_llm(self.engine.llm_label)
        if note:
            self.conversation.add("notice", note)
        if self.engine.has_llm and not self.busy:
            turn_id, token = self._new_turn()
            self.run_worker(partial(self._refine, token, turn_id), thread=True, group="turn", exit_on_error=False)

    def _refine(self, token: CancelToken, turn_id: int) -> None:
        try:
            result = self.engine.refine_last(token, turn_id)
        except TurnCancelled:
            return
        except Exception as error:  # noqa: BLE001
            self.call_from_thread(self._failed, "refining with the LLM failed", error)
            return
        if result is not None:
            self.call_from_thread(self._show_final, result)

    # ---- turns -----------------------------------------------------------------------------------
    def _collect_when_idle(self) -> None:
        if not self.busy:
            gc.collect()

    def on_input_submitted(self, event: PromptInput.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        prompt = self.query_one(PromptInput)
        prompt.value = ""
        if text:
            prompt.remember(text)
            self.send(text)

    def send(self, text: str) -> None:
        if not self.search_ready:
            self.queued.append(text)
            self.conversation.add("user", text)
            self.conversation.thinking("opening the index... your words are kept")
            return
        self._start_turn(text)

    def _new_turn(self) -> tuple[int, CancelToken]:
        if self.token is not None:
            self.token.cancel()  # a newer message supersedes the running turn
        self.token = CancelToken()
        self.turn_id = self.engine.next_turn_id()
        return self.turn_id, self.token

    def _start_turn(self, text: str, echo: bool = True) -> None:
        turn_id, token = self._new_turn()
        self._last_text, self._answered = text, False
        if echo:
            self.conversation.add("user", text)
        self.query_one(Choices).hide()
        self.busy = True
        self.conversation.thinking("searching...")
        self.run_worker(partial(self._turn, text, token, turn_id), thread=True, group="turn", exit_on_error=False)

    def _turn(self, text: str, token: CancelToken, turn_id: int) -> None:
        def quick(result: TurnResult) -> None:
            # The LLM's threads take both cores: let the quick results reach the screen first
            # (its frame took 180-360 ms instead of 60-75 ms when they started together).
            painted = threading.Event()
            self.call_from_thread(self._show_quick, result, painted)
            painted.wait(0.3)

        try:
            result = self.engine.turn(text, token, turn_id, shown=self.shown, on_quick=quick)
        except TurnCancelled:
            return
        except Exception as error:  # noqa: BLE001 - a turn that fails is a notice, not a crash
            self.call_from_thread(self._failed, "that turn failed", error, turn_id=turn_id)
            return
        self.call_from_thread(self._show_final, result)

    def _current(self, result: TurnResult) -> bool:
        return result.turn_id == self.turn_id and self.token is not None and not self.token.cancelled

    def _show_quick(self, result: TurnResult, painted: threading.Event | None = None) -> None:
        if not self._current(result):
            if painted is not None:
                painted.set()
            return  # superseded or cancelled: never shown
        self._show_results(result.reply, refining=True)
        self.conversation.thinking("refining with the local LLM...")
        if painted is not None:
            self.call_after_refresh(painted.set)

    def _show_final(self, result: TurnResult) -> None:
        if not self._current(result):
            return
        self.busy = False
        self.conversation.thinking(None)
        self.status.show_llm(self.engine.llm_label)  # a service that went away: the chat answers itself now
        reply = result.reply
        before = [p.id for p in self.reply.results] if self.reply is not None else None
        if self._answered and result.text == self._last_text:  # the LLM's second reading of words answered
            if before == [p.id for p in reply.results]:
                self.query_one(ResultsGrid).set_refining(False)
                return  # it read them as the rules did: nothing new to say
            if reply.message == self._last_message:
                self.conversation.add("system", "(the local LLM's reading changed the list)")
            else:
                self.conversation.add("system", "the local LLM reads it differently:")
                self.conversation.add("agent", reply.message)
        else:
            self.conversation.add("agent", reply.message)
        self._answered, self._last_message = True, reply.message
        for notice in reply.notices:
            self.conversation.add("notice", notice)
        self._show_results(reply, refining=False)
        choices = self.query_one(Choices)
        if reply.question is not None and reply.question.options:
            choices.show_options(reply.question.options)
            choices.focus()
        else:
            choices.hide()

    def _show_results(self, reply, refining: bool) -> None:
        self.reply = reply
        records = self.engine.store.get_photos([p.id for p in reply.results])
        self.file_dates = {i: r.date_source == "file" for i, r in records.items()}
        title = (f"{len(reply.results)} photos" if reply.results else "nothing yet") + (
            "  (refining...)" if refining else "")
        grid = self.query_one(ResultsGrid)
        grid.show(reply.results, self.file_dates, title, self.pixels)
        grid.set_refining(refining)
        if self.query_one(DetailPane).display:
            self._show_detail()

    def _show_saved(self, ids: list[str]) -> None:
        from agent.dialogue import AgentReply, ShownPhoto

        records = self.engine.store.get_photos(ids)
        photos = [ShownPhoto(number=n, id=i, path=records[i].path, score=0.0, taken_at=records[i].taken_at_iso,
                             place=records[i].place, why={}, explanation="shown in this session before")
                  for n, i in enumerate(ids, start=1) if i in records]
        self._show_results(AgentReply(message="", results=photos), refining=False)

    def _failed(self, what: str, error: BaseException, turn_id: int | None = None, fatal: bool = False) -> None:
        self.logger.error("%s: %s\n%s", what, error, "".join(traceback.format_exception(error)))
        self.errors.append(f"{what}: {type(error).__name__}: {error}")
        if turn_id is not None and turn_id != self.turn_id:
            return
        self.busy = False
        self.conversation.thinking(None)
        self.query_one(ResultsGrid).set_refining(False)
        self.conversation.add("error", f"{what}: {one_line(error)} (details in {self.log_path})")
        if fatal:
            self.status.show_llm("")

    def action_escape(self) -> None:
        if self.busy and self.token is not None:
            self.token.cancel()
            self.busy = False
            self.conversation.thinking(None)
            self.query_one(ResultsGrid).set_refining(False)
            self.conversation.add("system", "cancelled: that turn changed nothing")
        elif self.query_one(DetailPane).display:
            self._close_detail()
        else:
            self.query_one("#prompt").focus()

    def on_choices_picked(self, message: Choices.Picked) -> None:
        self.query_one("#prompt").focus()
        self.send(message.answer)

    # ---- the rest --------------------------------------------------------------------------------
    def action_new_chat(self) -> None:
        if self.token is not None:
            self.token.cancel()
        self.busy = False
        name = self.engine.new_chat()
        self.conversation.clear_messages()
        self.conversation.thinking(None)
        self.query_one(Choices).hide()
        self.reply = None
        self.query_one(ResultsGrid).show([], {}, "No photos yet: say what you remember.", {})
        self._close_detail()
        self.conversation.add("system", f"new chat: session {name}")
        if self.search_ready:
            self._refresh_facts()
        self.query_one("#prompt").focus()

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.facts.signals if self.facts else []))

    def action_toggle_dark(self) -> None:
        self.theme = "textual-light" if self.theme == "textual-dark" else "textual-dark"

    def get_system_commands(self, screen):
        yield from super().get_system_commands(screen)
        for title, help_text, action in [
            ("New chat", "start a new chat; the last one stays saved", self.action_new_chat),
            ("Help: keys", "every key and what it does", self.action_help),
            ("Attach audio", "transcribe an audio file and search with it", self.action_attach_audio),
            ("Record", "push to talk, where a microphone exists", self.action_record),
            ("Update the index", "index new photos in the folders indexed before", self.action_update_index),
            ("Details", "details of the selected photo", self.action_details),
            ("Closer", "the selected photo is close", self.action_closer),
            ("Not it", "the selected photo is not it", self.action_not_it),
            ("More like this", "photos like the selected one", self.action_more_like),
            ("None of these", "none of the photos shown", self.action_none_of_these),
            ("Open photo", "in the system viewer", self.action_open_photo),
            ("Copy path", "of the selected photo (OSC 52)", self.action_copy_path),
            ("Name faces", "name the people in the selected photo", self.action_name_faces),
            ("Dark / light", "switch the theme", self.action_toggle_dark),
        ]:
            yield SystemCommand(title, help_text, action)

    def on_resize(self) -> None:
        self._fit_layout()

    def _fit_layout(self) -> None:
        width, height = self.size
        small = width < MIN_SIZE[0] or height < MIN_SIZE[1]
        self.query_one("#main").display = not small
        self.query_one("#status").display = not small
        too_small = self.query_one("#too-small", Static)
        too_small.display = small
        too_small.update(f"The terminal is too small ({width}x{height}).\nphoto-recall needs at least "
                         f"{MIN_SIZE[0]}x{MIN_SIZE[1]}: make the window larger.")
        detail_open = self.query_one(DetailPane).display
        self.set_class(width < WIDE, "-narrow")
        self.query_one(ResultsGrid).display = not (detail_open and width < WIDE)

    def _handle_exception(self, error: Exception) -> None:
        """A bug in the app is logged with its traceback, shown as one line, and the app stays up.
        (Before the screen exists there is nothing to stay up for: Textual's own exit then.)"""
        if not self._screen_up:
            super()._handle_exception(error)
            return
        try:
            self._failed("something went wrong", error)
        except Exception:  # noqa: BLE001
            super()._handle_exception(error)

    @property
    def conversation(self) -> Conversation:
        return self.query_one(Conversation)

    @property
    def status(self) -> StatusBar:
        return self.query_one(StatusBar)
