"""`?` / F1: every key, what it does and where, from the one key table."""
from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ...safe_text import visible
from ..keymap import KEYS

WHERE = {"input": "typing", "anywhere": "anywhere", "results": "on a photo", "question": "on a question"}
SAYINGS = ['"my friend jumping at that dim concert last summer"', '"#3 is close but at night"',
           '"not 1 or 2"', '"the other one"', '"earlier than that"', '"details of #2"', '"who do you know?"']


def key_label(keys: str) -> str:
    names = {"plus": "+", "equals_sign": "=", "minus": "-", "escape": "Esc", "enter": "Enter", "up": "↑",
             "down": "↓", "left": "←", "right": "→", "tab": "Tab", "question_mark": "?"}
    if keys.startswith("1,2"):
        return "1-9"
    parts = []
    for key in keys.split(","):
        if key.startswith("ctrl+"):
            parts.append("Ctrl+" + key[5:].upper())
        else:
            parts.append(names.get(key, key.upper() if key.startswith("f") and key[1:].isdigit() else key))
    return " ".join(parts)


def signals_text(signals: list) -> Text:
    """Each signal, on (what it adds) or off (the one line that turns it on)."""
    said = Text("\nSignals here: ✓ on, what it adds; ✗ off, how to turn it on", style="bold")
    for signal in signals:
        said.append(f"\n  {'✓' if signal.on else '✗'} {signal.name}: ", style="bold green" if signal.on else "bold yellow")
        said.append(visible(signal.gives if signal.on else signal.how or "not available here"),
                    style="dim" if signal.on else "")
    return said


class HelpScreen(ModalScreen):
    BINDINGS = [Binding("escape,f1,question_mark,q", "dismiss", "close")]

    def __init__(self, signals: list | None = None):
        """``signals``: the chat engine's Signal list (all of them, on and off)."""
        super().__init__()
        self.signals = signals or []

    def compose(self):
        table = Table(show_header=True, header_style="bold", box=None, padding=(0, 1), expand=True)
        table.add_column("key", no_wrap=True)
        table.add_column("where", style="dim", no_wrap=True)
        table.add_column("does")
        for key in KEYS:
            table.add_row(key_label(key.keys), WHERE[key.where], key.description)
        said = Text("\nOr just say it: ", style="bold")
        said.append(", ".join(SAYINGS), style="italic")
        with VerticalScroll(id="help-box"):
            yield Static(Text("photo-recall: keys", style="bold"))
            yield Static(table)
            yield Static(said)
            if self.signals:
                yield Static(signals_text(self.signals))
            yield Static(Text("\nEsc closes this.", style="dim"))
