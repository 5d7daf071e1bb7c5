"""What the service keeps between commands: the models, the opened index, the planner.

The CLI asks for them through ``open`` and ``planner`` (recall/cli.py, when it runs inside the
service) instead of making them. The index is opened again as soon as anything of it changes
on disk (its sqlite file and journal, the vector files' stamps, the writer lock): a `recall
index` run is seen by the next search. Models are kept per settings; a model folder that
changes (a `recall models pull`) makes them load again.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

INDEX_FILES = ("chroma.sqlite3", "chroma.sqlite3-wal", "write.lock")


def _stat(path: Path) -> tuple:
    try:
        st = os.stat(path)
    except OSError:
        return (str(path), None)
    return (str(path), st.st_size, st.st_mtime_ns, st.st_ino)


def index_stamp(settings) -> tuple | None:
    """What changes whenever the index does (None: a Chroma server, whose changes cannot be seen
    from here: it is opened for every command)."""
    if settings.chroma_url:
        return None
    db = Path(settings.db)
    parts = [_stat(db / name) for name in INDEX_FILES]
    vectors = db / "recall-vectors"
    parts.append(_stat(vectors))
    try:
        parts += [_stat(vectors / name) for name in sorted(os.listdir(vectors)) if name.endswith(".json")]
    except OSError:
        pass
    return tuple(parts)


def models_stamp(settings) -> tuple:
    folder = Path(settings.models_dir)
    return tuple(_stat(p) for p in (folder, folder / "clip", folder / "text", folder / "llm",
                                    folder / "clip" / settings.clip_model))


class Resident:
    def __init__(self):
        self._lock = threading.Lock()
        self._stores: dict[str, tuple] = {}
        self._models: dict[str, tuple] = {}
        self._planners: dict[tuple, tuple] = {}
        self._settings: dict[tuple, object] = {}

    def settings(self, load, **overrides):
        """``load(**overrides)``, made once per environment, working folder (relative paths) and
        overrides: reading and checking them takes a few ms a command."""
        key = (tuple(sorted(os.environ.items())), os.getcwd(), tuple(sorted((k, str(v)) for k, v in overrides.items())))
        with self._lock:
            if key not in self._settings:
                if len(self._settings) > 32:
                    self._settings.clear()
                self._settings[key] = load(**overrides)
            return self._settings[key]

    def open(self, settings):
        """(store, models) for ``settings``: the ones already open while the index is unchanged."""
        from tools.index.store import PhotoStore
        from tools.models.registry import Models

        key = settings.model_dump_json()
        with self._lock:
            stamp = index_stamp(settings)
            held = self._stores.get(key)
            if stamp is None or held is None or held[0] != stamp:
                store = PhotoStore(settings, mode="search", create=False)
                if stamp is not None:
                    self._stores[key] = (stamp, store)
            else:
                store = held[1]
            mstamp = models_stamp(settings)
            kept = self._models.get(key)
            if kept is None or kept[0] != mstamp:
                kept = (mstamp, Models(settings, queries_only=True))
                self._models[key] = kept
                self._planners = {k: v for k, v in self._planners.items() if k[0] != key}
            return store, kept[1]

    def planner(self, settings, no_llm: bool):
        """choose_planner's answer, made once: the local LLM stays loaded between turns."""
        from recall.local_llm import choose_planner

        key = (settings.model_dump_json(), no_llm)
        with self._lock:
            if key not in self._planners:
                self._planners[key] = choose_planner(settings, no_llm)
            return self._planners[key]

    def forget(self) -> None:
        with self._lock:
            self._stores.clear()
