"""Running the real chat app headless (Textual's pilot) on a real index, for the chat tests."""
from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from recall.chat.app import RecallApp
from recall.chat.engine import ChatEngine
from recall.chat.widgets.conversation import ChatMessage
from recall.chat.widgets.results import ResultsGrid
from tools.settings import load_settings


def chat_settings(db: Path, base: Path, **overrides):
    return load_settings(db=db, sessions_dir=base / "sessions", cache_dir=base / "cache", data_dir=base / "data",
                         models_dir=overrides.pop("models_dir", base / "no-models"), **overrides)


def make_app(db: Path, base: Path, session: str = "chat", no_llm: bool = True, new: bool = False,
             index_paths: list[Path] | None = None, **overrides) -> RecallApp:
    engine = ChatEngine(chat_settings(db, base, **overrides), session=session, no_llm=no_llm, new=new)
    return RecallApp(engine, index_paths=index_paths, log_dir=base / "data")


async def wait_for(pilot, condition, timeout: float = 60.0, what: str = "the condition") -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        await pilot.pause(0.02)
    return time.monotonic() - started


async def ready(pilot, app: RecallApp) -> None:
    await wait_for(pilot, lambda: app.search_ready, what="the index to open")


async def say(pilot, app: RecallApp, text: str) -> None:
    """Type ``text`` into the input and press Enter, as a person does."""
    app.query_one("#prompt").focus()
    await pilot.pause()
    await pilot.press(*[{" ": "space"}.get(c, c) for c in text], "enter")


def plain(widget, width: int = 100) -> str:
    """What a Static shows, as plain text (a Rich table included)."""
    from rich.console import Console
    from textual.content import Content

    content = widget.content
    if isinstance(content, Content):
        return content.plain
    console = Console(width=width, record=True, file=open(os.devnull, "w"))
    console.print(content)
    return console.export_text()


def cards(app: RecallApp) -> list[str]:
    return [c.photo.id for c in app.query_one(ResultsGrid).cards]


def messages(app: RecallApp, kind: str | None = None) -> list[str]:
    """What the chat column shows, oldest first (start-up hints left out), of one kind or all."""
    return [m.plain for m in app.query(ChatMessage) if m.kind != "hint" and (kind is None or m.kind == kind)]


async def settle(pilot, app: RecallApp, timeout: float = 60.0) -> None:
    """Until no turn runs and every visible card has its thumbnail."""
    await wait_for(pilot, lambda: not app.busy, timeout, "the turn to finish")
    def missing() -> list:
        grid = app.query_one(ResultsGrid)
        return [c.photo.number for c in grid.cards if not c.has_thumbnail and c.region.overlaps(grid.region)]

    try:
        await wait_for(pilot, lambda: not missing(), timeout, "the thumbnails")
    except AssertionError:
        raise AssertionError(f"cards without a thumbnail: {missing()}") from None
    await pilot.pause(0.1)


def run(app: RecallApp, script, size: tuple[int, int] = (120, 40)):
    async def main():
        async with app.run_test(size=size) as pilot:
            return await script(pilot)

    return asyncio.run(main())
