"""A small modal that asks for one line (a name for a face, an audio file's path)."""
from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from ...safe_text import visible


class AskText(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "cancel")]

    def __init__(self, title: str, placeholder: str = "", value: str = "", hint: str = ""):
        super().__init__()
        self.title_text, self.placeholder, self.value, self.hint = title, placeholder, value, hint

    def compose(self):
        with Vertical(id="ask-box"):
            yield Static(Text(visible(self.title_text), style="bold"))
            yield Input(value=self.value, placeholder=self.placeholder, id="ask-input")
            yield Static(Text(visible(self.hint) + "\nEnter: OK   Esc: cancel", style="dim"))

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)
