"""The chat column: what the person said, what the agent answered, notices, and the question's choices."""
from __future__ import annotations

from rich.text import Text
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from ...safe_text import visible

STYLES = {"user": "bold", "agent": "", "notice": "yellow", "error": "red", "system": "dim", "hint": "dim italic"}
PREFIX = {"user": "you  ", "agent": "     ", "notice": "note ", "error": "oops ", "system": "     ", "hint": ""}


class ChatMessage(Static):
    def __init__(self, kind: str, text: str):
        line = Text(PREFIX[kind], style="dim")
        line.append(visible(text, keep_newlines=True), style=STYLES[kind])
        super().__init__(line, classes=f"message -{kind}")
        self.kind = kind
        self.plain = text


class Conversation(VerticalScroll):
    """Messages, newest at the bottom; the thinking line says what is running."""

    def compose(self):
        yield Static("", id="thinking")

    def add(self, kind: str, text: str) -> ChatMessage:
        message = ChatMessage(kind, text)
        self.mount(message, before=self.query_one("#thinking"))
        self.scroll_end(animate=False)
        return message

    def thinking(self, text: str | None) -> None:
        line = self.query_one("#thinking", Static)
        line.update(Text(f"     {text}", style="italic dim") if text else "")
        line.display = bool(text)
        self.scroll_end(animate=False)

    def clear_messages(self) -> None:
        for message in self.query(ChatMessage):
            message.remove()


class Choices(OptionList):
    """The options of the agent's question: a key 1-9, or arrows and Enter, picks one."""

    class Picked(Message):
        def __init__(self, answer: str):
            super().__init__()
            self.answer = answer

    def show_options(self, options: list[str]) -> None:
        self.clear_options()
        self.add_options([Option(Text(f"{i}  {visible(o)}"), id=str(i)) for i, o in enumerate(options, start=1)])
        self.answers = list(options)
        self.display = bool(options)
        if options:
            self.highlighted = 0

    def hide(self) -> None:
        self.answers = []
        self.clear_options()
        self.display = False

    def on_mount(self) -> None:
        self.answers: list[str] = []
        self.display = False

    def on_key(self, event) -> None:
        if event.character and event.character.isdigit() and 1 <= int(event.character) <= len(self.answers):
            event.stop()
            self.post_message(self.Picked(self.answers[int(event.character) - 1]))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.post_message(self.Picked(self.answers[event.option_index]))
