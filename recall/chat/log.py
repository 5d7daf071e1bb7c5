"""The chat app's log: what went wrong, with its traceback, in a private file (never on screen)."""
from __future__ import annotations

import logging
from pathlib import Path

from tools.private import private_dir


def open_log(data_dir: Path) -> tuple[logging.Logger, Path]:
    folder = private_dir(Path(data_dir) / "logs")
    path = folder / "chat.log"
    logger = logging.getLogger("recall.chat")
    logger.setLevel(logging.INFO)
    logger.propagate = False  # never to the terminal the app is drawing on
    if not any(getattr(h, "baseFilename", None) == str(path) for h in logger.handlers):
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
        path.chmod(0o600)
    return logger, path
