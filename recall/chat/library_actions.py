"""Index runs from inside the chat: new photos become searchable as their batches commit.
A mixin of ``RecallApp``."""
from __future__ import annotations

from functools import partial
from pathlib import Path


class LibraryActions:
    # ---- the library -----------------------------------------------------------------------------
    def action_update_index(self) -> None:
        last = self.engine.store.get_meta("last_index") or {}
        roots = [Path(r) for r in last.get("roots", [])]
        if not roots:
            self.conversation.add("notice", "no folder has been indexed yet: run `recall index PATH` once, or "
                                  "start with `recall chat --index PATH`")
            return
        self._start_index(roots)

    def _start_index(self, paths: list[Path]) -> None:
        if self.indexing:
            self.conversation.add("notice", "an index run is going already")
            return
        self.indexing = True
        self.conversation.add("system", "indexing " + ", ".join(str(p) for p in paths) + " in the background")
        self.run_worker(partial(self._index, paths), thread=True, group="index", exit_on_error=False)

    def _index(self, paths: list[Path]) -> None:
        app = self

        class Progress:
            def start(self, phase: str, total: int) -> None:
                app.call_from_thread(app.status.index_started, phase, total)

            def advance(self, count: int = 1) -> None:
                app.call_from_thread(app.status.index_advanced, count)
                app.call_from_thread(app._refresh_facts)

        try:
            report, _ = self.engine.index(paths, Progress())
        except Exception as error:  # noqa: BLE001 - a busy, full or read-only index is a notice
            self.call_from_thread(self._index_done, None, error)
            return
        self.call_from_thread(self._index_done, report, None)

    def _index_done(self, report, error) -> None:
        self.indexing = False
        self.status.index_done()
        if error is not None:
            from tools.index.store import StoreError

            if isinstance(error, StoreError):
                self.conversation.add("notice", str(error))
            else:
                self._failed("the index run failed", error)
            return
        self.conversation.add("system", f"indexed {report.new} new photos ({report.unchanged} unchanged, "
                                        f"{report.skipped} skipped)")
        self._refresh_facts()

    def _refresh_facts(self) -> None:
        try:
            self.facts = self.engine.facts()  # what F1 lists, as the index run left it
            self.status.show_library(self.facts, self.engine.session)
        except Exception as error:  # noqa: BLE001 - a server that went away: say so, stay up
            self._failed("reading the index failed", error)
