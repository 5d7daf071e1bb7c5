"""SVG snapshots of the chat app at 80x24 and 120x40: the main screen, the detail pane and help.

Thumbnails are Unicode half-blocks (the app's only renderer), so the pictures are the same on
every terminal. The library is drawn shapes with fixed EXIF dates and captions, at a fixed path,
so nothing in the picture changes from run to run. `pytest --snapshot-update` rewrites the SVGs
after a deliberate change; look at them before committing.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from recall.chat.photo_actions import PREVIEW_COLUMNS, PREVIEW_ROWS
from tests.chat_support import make_app, ready, say, settle, wait_for
from tests.photos import write_photo
from tests.test_agent_search import caption
from tests.test_chat import build_index

BASE = Path("/tmp/photo-recall-snapshots")  # fixed: the detail pane shows the photo's path
PHOTOS = [("circle", "red", "a red ball on the grass"), ("square", "blue", "a blue box by the door"),
          ("triangle", "green", "a green tent in the forest"), ("circle", "blue", "a blue balloon in the sky"),
          ("square", "red", "a red brick wall in the rain"), ("triangle", "red", "a red sail on the lake"),
          ("circle", "green", "a green apple on a red plate"), ("square", "green", "a green door, red handle")]
SIZES = [(80, 24), (120, 40)]


@pytest.fixture(scope="module")
def snapshot_index():
    shutil.rmtree(BASE, ignore_errors=True)
    for i, (shape, colour, words) in enumerate(PHOTOS):
        photo = write_photo(BASE / "lib" / f"{colour}-{shape}.jpg", shape, colour, seed=i, size=160,
                            taken=f"2021:07:{i + 1:02d} 12:00:00")
        caption(photo, words)
    build_index(BASE / "db", BASE, BASE / "lib")
    yield BASE / "db"
    shutil.rmtree(BASE, ignore_errors=True)


def app_for(db: Path):
    shutil.rmtree(BASE / "sessions", ignore_errors=True)
    shutil.rmtree(BASE / "cache", ignore_errors=True)
    return make_app(db, BASE, session="snapshot", new=True)


async def searched(pilot) -> None:
    app = pilot.app
    await ready(pilot, app)
    await say(pilot, app, "something red")
    await settle(pilot, app)


async def detailed(pilot) -> None:
    await searched(pilot)
    app = pilot.app
    await pilot.press("tab", "right", "enter")
    await wait_for(pilot, lambda: (app.selected.id, PREVIEW_COLUMNS, PREVIEW_ROWS) in app.pixels, what="the preview")
    await pilot.pause(0.3)


async def helped(pilot) -> None:
    await ready(pilot, pilot.app)
    await pilot.press("f1")
    await pilot.pause(0.3)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_main_screen(snap_compare, snapshot_index, size):
    assert snap_compare(app_for(snapshot_index), terminal_size=size, run_before=searched)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_detail_pane(snap_compare, snapshot_index, size):
    assert snap_compare(app_for(snapshot_index), terminal_size=size, run_before=detailed)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_help(snap_compare, snapshot_index, size):
    assert snap_compare(app_for(snapshot_index), terminal_size=size, run_before=helped)
