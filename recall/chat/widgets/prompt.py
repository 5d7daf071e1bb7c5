"""The input line, with the history of what was typed (Up / Down), as a shell has."""
from __future__ import annotations

from textual.widgets import Input

MAX_HISTORY = 200


class PromptInput(Input):
    def on_mount(self) -> None:
        self.history: list[str] = []
        self._back = 0  # 0: the line being typed; n: the n-th entry from the end
        self._draft = ""

    def remember(self, text: str) -> None:
        if text and (not self.history or self.history[-1] != text):
            self.history = (self.history + [text])[-MAX_HISTORY:]
        self._back = 0

    def _key_up(self) -> None:
        if self._back < len(self.history):
            if self._back == 0:
                self._draft = self.value
            self._back += 1
            self.value = self.history[-self._back]
            self.cursor_position = len(self.value)

    def _key_down(self) -> None:
        if self._back > 0:
            self._back -= 1
            self.value = self.history[-self._back] if self._back else self._draft
            self.cursor_position = len(self.value)

    def on_key(self, event) -> None:
        if event.key == "up":
            event.stop()
            event.prevent_default()
            self._key_up()
        elif event.key == "down":
            event.stop()
            event.prevent_default()
            self._key_down()
