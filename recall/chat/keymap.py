"""Every key of the chat app in one table: the app's bindings and the help screen read it."""
from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding


@dataclass(frozen=True)
class Key:
    keys: str  # Textual key names, comma-separated
    action: str
    description: str
    where: str  # "anywhere", "results", "question"
    show: bool = False  # in the footer
    short: str = ""  # the footer's word for it


KEYS: list[Key] = [
    Key("enter", "", "send what you typed (a memory, an answer, \"#3 is close but at night\")", "input"),
    Key("up,down", "", "earlier and later things you typed", "input"),
    Key("tab", "", "move between the input, the results and the question's choices", "anywhere"),
    Key("escape", "app.escape", "cancel the running turn; close the details", "anywhere", True, "cancel"),
    Key("f1", "app.help", "this help", "anywhere", True, "help"),
    Key("question_mark", "app.help", "this help (when not typing)", "results"),
    Key("ctrl+n", "app.new_chat", "start a new chat (the last one stays saved)", "anywhere", True, "new chat"),
    Key("ctrl+o", "app.attach_audio", "say it instead: transcribe an audio file", "anywhere", True, "audio"),
    Key("ctrl+r", "app.record", "push to talk: record from the microphone, Ctrl+R again to stop", "anywhere"),
    Key("ctrl+g", "app.update_index", "index new photos in the folders indexed before", "anywhere"),
    Key("ctrl+t", "app.toggle_dark", "dark or light theme", "anywhere"),
    Key("ctrl+p", "app.command_palette", "every action, by name", "anywhere"),
    Key("ctrl+q", "app.quit", "quit", "anywhere", True, "quit"),
    Key("left,right,up,down", "", "select a photo", "results"),
    Key("enter", "app.details", "details of the selected photo", "results", True, "details"),
    Key("plus,equals_sign", "app.closer", "closer: this one is near it", "results", True, "closer"),
    Key("minus", "app.not_it", "not it", "results", True, "not it"),
    Key("m", "app.more_like", "more like this", "results", True, "more like"),
    Key("x", "app.none_of_these", "none of these", "results", True, "none"),
    Key("o", "app.open_photo", "open in the system viewer", "results"),
    Key("y", "app.copy_path", "copy the path (works over SSH)", "results"),
    Key("n", "app.name_faces", "name the people in it", "results"),
    Key("1,2,3,4,5,6,7,8,9", "", "pick that answer to the question", "question"),
]


def bindings(where: str) -> list[Binding]:
    return [Binding(k.keys, k.action, k.short or k.description.split(":")[0], show=k.show)
            for k in KEYS if k.where == where and k.action]
