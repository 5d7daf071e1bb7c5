"""The line above the footer: the library, which signals are on (and how to turn the others on),
the LLM's state, and a background index run's progress."""
from __future__ import annotations

from rich.text import Text
from textual.containers import Horizontal
from textual.widgets import ProgressBar, Static

from ...safe_text import visible


class StatusBar(Horizontal):
    def compose(self):
        yield Static("opening the index...", id="library")
        yield ProgressBar(id="index-progress", show_eta=True)
        yield Static("", id="llm")

    def on_mount(self) -> None:
        self.query_one(ProgressBar).display = False

    def show_library(self, facts, session: str) -> None:
        line = Text(f"{facts.photos:,} photos · {facts.people} people · ")
        for signal in facts.signals:
            line.append(("✓" if signal.on else "✗") + signal.name + " ", style="green" if signal.on else "yellow")
        line.append(f"· session {visible(session)}", style="dim")
        if facts.read_only:
            line.append(" · read-only", style="yellow")
        self.query_one("#library", Static).update(line)

    def show_llm(self, text: str, busy: bool = False) -> None:
        self.query_one("#llm", Static).update(Text(visible(text), style="italic dim" if busy else "dim"))

    def index_started(self, phase: str, total: int) -> None:
        bar = self.query_one(ProgressBar)
        bar.display = True
        bar.update(total=total, progress=0)
        bar.tooltip = phase

    def index_advanced(self, count: int) -> None:
        self.query_one(ProgressBar).advance(count)

    def index_done(self) -> None:
        self.query_one(ProgressBar).display = False
