"""The line above the footer: the library, which signals are on (and how to turn the others on),
the LLM's state, and a background index run's progress.

The signals are listed one by one (✓on ✗off) where the line has room; where it has not (80
columns), the ones that are on are counted and the ones that are off are still named, since those
are what F1 says how to turn on. The session name goes first when room runs short."""
from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual.containers import Horizontal
from textual.widgets import ProgressBar, Static

from ...safe_text import visible


def _mark(signal) -> Text:
    return Text(("✓" if signal.on else "✗") + signal.label, style="green" if signal.on else "yellow")


def signal_forms(signals) -> list[Text]:
    """The signals said in ever fewer cells: each one; the ones on counted; all of them counted."""
    each = Text(" ").join(_mark(s) for s in signals)
    on, off = [s for s in signals if s.on], [s for s in signals if not s.on]
    counted = Text(" ").join([Text(f"✓{len(on)} signals" if off else f"✓all {len(on)} signals on", style="green"),
                              *(_mark(s) for s in off)])
    forms = [each, counted]
    if off:
        forms.append(Text.assemble((f"✓{len(on)}", "green"), " ", (f"✗{len(off)}", "yellow"), " signals (F1)"))
    return forms


def library_lines(facts, session: str) -> list[Text]:
    """The library line in the order it is tried: the first that fits the width is shown."""
    lines = []
    for signals in signal_forms(facts.signals):
        for with_session in (True, False):
            line = Text(f"{facts.photos:,} photos · {facts.people} people · ")
            line.append_text(signals)
            if facts.read_only:
                line.append(" · read-only", style="yellow")
            if with_session:
                line.append(f" · session {visible(session)}", style="dim")
            lines.append(line)
    return lines


def fitting(lines: list[Text], width: int) -> Text:
    return next((line for line in lines if cell_len(line.plain) <= width), lines[-1])


class LibraryLine(Static):
    """The library's line, said as fully as its width allows (again whenever the width changes)."""

    lines: list[Text] = []

    def show(self, lines: list[Text]) -> None:
        self.lines = lines
        self._fit(self.content_size.width)

    def on_resize(self, event) -> None:
        self._fit(event.size.width)

    def _fit(self, width: int) -> None:
        if self.lines:
            self.update(fitting(self.lines, width) if width else self.lines[0], layout=False)


class StatusBar(Horizontal):
    def compose(self):
        yield LibraryLine("opening the index...", id="library")
        yield ProgressBar(id="index-progress", show_eta=True)
        yield Static("", id="llm")

    def on_mount(self) -> None:
        self.query_one(ProgressBar).display = False

    def show_library(self, facts, session: str) -> None:
        self.query_one("#library", LibraryLine).show(library_lines(facts, session))

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
