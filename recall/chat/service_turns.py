"""A chat turn answered by the index's running `recall serve`: the chat shares its models.

When a service runs for this index (started by an earlier `recall search` or `recall ask`, or by
`recall serve`), its models, local LLM and open index are loaded already: the chat sends each
turn there as `recall ask TEXT --json --stream --session NAME` instead of loading a second copy,
and is ready at once. The service writes into pipes of this process, never into the app's
terminal: the rules' reply first (a line marked "quick"), then the LLM's. The service keeps the
session as `recall ask` does; the engine (recall/chat/engine.py) puts it back when a turn is
cancelled. When no service answers (none runs, or it went away), the engine runs the turn here.
"""
from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable

from agent.dialogue import AgentReply

READ_LIMIT_S = 600.0  # a reader still waiting this long after the command ended has lost its pipe


class ServiceTurnError(RuntimeError):
    """The service ran the turn and it failed (its one-line error)."""


def ask_args(text: str, session: str, shown: int, fresh: bool, no_llm: bool, index_args: list[str]) -> list[str]:
    # A leading space keeps words such as "-1 is wrong" or "--help" the text, not options.
    said = f" {text}" if text.startswith("-") else text
    return ["ask", said, "--json", "--stream", "--session", session, "-k", str(shown),
            *(["--new"] if fresh else []), *(["--no-llm"] if no_llm else []), *index_args]


def service_turn(args: list[str], on_quick: Callable[[AgentReply], None] | None = None) -> AgentReply | None:
    """The final reply of ``args`` (from :func:`ask_args`) run by the service, ``on_quick`` called
    with the rules' reply as it arrives; None when no service answered (nothing ran)."""
    from recall.service.client import run_in_service

    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe()
    nothing = os.open(os.devnull, os.O_RDONLY)
    replies: list[dict] = []
    errors: list[str] = []

    def read_replies() -> None:
        with open(out_read, encoding="utf-8", errors="replace") as lines:
            for line in lines:
                try:
                    value = json.loads(line)
                except ValueError:
                    continue
                if value.get("quick"):
                    if on_quick is not None:
                        try:
                            on_quick(AgentReply.model_validate(value))
                        except Exception:  # noqa: BLE001 - a cancelled turn stops listening, not reading
                            pass
                else:
                    replies.append(value)

    def read_errors() -> None:
        with open(err_read, encoding="utf-8", errors="replace") as text:
            errors.extend(line.strip() for line in text if line.strip())

    readers = [threading.Thread(target=read_replies, daemon=True), threading.Thread(target=read_errors, daemon=True)]
    for reader in readers:
        reader.start()
    try:
        rc = run_in_service(args, nothing, out_write, err_write)
    finally:
        for fd in (out_write, err_write, nothing):  # the service closed its copies: the readers end
            os.close(fd)
    for reader in readers:
        reader.join(READ_LIMIT_S)
    if rc is None:
        return None
    if rc != 0 or not replies:
        raise ServiceTurnError(_error_line(errors) or f"the service's turn ended with exit code {rc}")
    return AgentReply.model_validate(replies[-1])


def _error_line(lines: list[str]) -> str | None:
    for line in reversed(lines):
        if line.lower().startswith("error:"):
            return line.split(":", 1)[1].strip()
    return lines[-1] if lines else None
