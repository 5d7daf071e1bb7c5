"""The chat app driven headless for one typed turn and one spoken one; prints what it showed as JSON.

``python -m tests.support.no_network chat-pilot "words" --audio memo.wav`` runs it with every
non-loopback socket refused (the privacy test): the settings come from the environment
(RECALL_DB, RECALL_MODELS, ...), as `recall chat` takes them.
"""
from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

from recall.chat.app import RecallApp
from recall.chat.engine import ChatEngine
from tests.chat_support import ready, say, settle, wait_for
from tools.settings import load_settings


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="chat-pilot")
    parser.add_argument("text")
    parser.add_argument("--audio", type=Path)
    args = parser.parse_args(argv)
    engine = ChatEngine(load_settings(), session="pilot", new=True)
    app = RecallApp(engine)

    async def script():
        out = {}
        async with app.run_test(size=(120, 40)) as pilot:
            await ready(pilot, app)
            await wait_for(pilot, lambda: engine.llm_ready.is_set(), 300, "the LLM")
            await say(pilot, app, args.text)
            await settle(pilot, app, timeout=120)
            out["typed"] = [c.photo.path for c in app.query_one("#results").cards]
            out["llm"] = engine.has_llm
            if args.audio:
                await pilot.press("ctrl+o")
                await pilot.pause(0.2)
                await pilot.press(*[{" ": "space"}.get(c, c) for c in str(args.audio)], "enter")
                await wait_for(pilot, lambda: any(m.startswith("heard: ") for m in _messages(app)), 120, "the transcript")
                await wait_for(pilot, lambda: len([m for m in _messages(app, "user")]) >= 2, 30, "the spoken turn")
                await settle(pilot, app, timeout=120)
                out["heard"] = next(m for m in _messages(app) if m.startswith("heard: "))
                out["spoken"] = [c.photo.path for c in app.query_one("#results").cards]
        out["errors"] = app.errors
        return out

    print(json.dumps(asyncio.run(script())))


def _messages(app, kind: str | None = None) -> list[str]:
    from recall.chat.widgets.conversation import ChatMessage

    return [m.plain for m in app.query(ChatMessage) if kind is None or m.kind == kind]
