"""What the chat app does with the selected photo: details, thumbnails, feedback keys, open,
copy, name its people. A mixin of ``RecallApp`` (it uses the app's engine, chat and workers)."""
from __future__ import annotations

import shutil
import subprocess
import sys
from functools import partial
from pathlib import Path

from .screens.ask_text import AskText
from .thumbnails import ThumbnailError
from .widgets.detail import DetailPane
from .widgets.results import ResultsGrid

PREVIEW_COLUMNS, PREVIEW_ROWS = 36, 12


class PhotoActions:
    # ---- the selected photo ----------------------------------------------------------------------
    @property
    def selected(self):
        return self.query_one(ResultsGrid).current

    def _need_photo(self) -> object | None:
        photo = self.selected
        if photo is None:
            self.conversation.add("notice", "no photo is selected: say what you remember first")
        return photo

    def action_details(self) -> None:
        if self._need_photo() is None:
            return
        pane = self.query_one(DetailPane)
        if pane.display:
            self._close_detail()
            return
        pane.display = True
        self._fit_layout()
        self._show_detail()

    def _close_detail(self) -> None:
        self.query_one(DetailPane).display = False
        self._fit_layout()
        self.query_one(ResultsGrid).focus()

    def _show_detail(self) -> None:
        photo = self.selected
        if photo is None:
            return
        from tools.query.text_match import query_terms

        record = self.engine.record(photo.id)
        names = self.engine.people_names()
        plan = self.engine.history().plan
        scale = {k: max((p.why[k].score for p in self.reply.results if k in p.why), default=1.0)
                 for k in ("words",)} if self.reply else {}
        pane = self.query_one(DetailPane)
        pane.show(photo, record, plan, [names.get(p, p) for p in (record.people if record else [])], scale,
                  set(query_terms(plan.visual)))
        key = (photo.id, PREVIEW_COLUMNS, PREVIEW_ROWS)
        if key in self.pixels:
            pane.set_preview(self.pixels[key])
        else:
            pane.set_preview(None)
            self.run_worker(partial(self._decode, [(photo, "preview")]), thread=True, group="thumbs",
                            exit_on_error=False)

    def on_results_grid_selected(self, message: ResultsGrid.Selected) -> None:
        if self.query_one(DetailPane).display:
            self._show_detail()

    def on_results_grid_want_thumbnails(self, message: ResultsGrid.WantThumbnails) -> None:
        self.run_worker(partial(self._decode, [(card, "card") for card in message.cards]), thread=True,
                        group="thumbs", exit_on_error=False)

    def _decode(self, items: list) -> None:
        for item, kind in items:
            photo = item.photo if kind == "card" else item
            columns, rows = (item.columns, item.rows) if kind == "card" else (PREVIEW_COLUMNS, PREVIEW_ROWS)
            try:
                pixels = self.thumbnails.pixels(photo.id, photo.path, columns, rows, fill=kind == "card")
            except ThumbnailError as error:
                self.call_from_thread(self._thumbnail_failed, item, kind, str(error))
                continue
            except Exception as error:  # noqa: BLE001 - one photo's problem is that card's alone
                self.call_from_thread(self._thumbnail_failed, item, kind, f"no preview ({type(error).__name__})")
                continue
            self.pixels[(photo.id, columns, rows)] = pixels
            self.call_from_thread(self._thumbnail_ready, item, kind, pixels)

    def _thumbnail_ready(self, item, kind: str, pixels) -> None:
        if kind == "card":
            if item.is_mounted:
                item.set_thumbnail(pixels)
        elif self.selected is not None and self.selected.id == item.id:
            self.query_one(DetailPane).set_preview(pixels)

    def _thumbnail_failed(self, item, kind: str, why: str) -> None:
        if kind == "card":
            if item.is_mounted:
                item.set_problem(why)
        elif self.selected is not None and self.selected.id == item.id:
            self.query_one(DetailPane).set_preview_problem(why)

    # ---- feedback by key -------------------------------------------------------------------------
    def _feedback(self, words: str) -> None:
        photo = self._need_photo()
        if photo is not None:
            self.send(words.format(n=photo.number))

    def action_closer(self) -> None:
        self._feedback("#{n} is close")

    def action_not_it(self) -> None:
        self._feedback("not #{n}")

    def action_more_like(self) -> None:
        self._feedback("more like #{n}")

    def action_none_of_these(self) -> None:
        if self.reply is not None and self.reply.results:
            self.send("none of these")

    def action_open_photo(self) -> None:
        photo = self._need_photo()
        if photo is None:
            return
        opener = "open" if sys.platform == "darwin" else "xdg-open"
        if not shutil.which(opener) or not Path(photo.path).exists():
            why = "the photo is not there any more" if not Path(photo.path).exists() else f"no {opener} here"
            self.conversation.add("notice", f"cannot open #{photo.number}: {why} (y copies its path)")
            return
        subprocess.Popen([opener, photo.path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)

    def action_copy_path(self) -> None:
        photo = self._need_photo()
        if photo is not None:
            self.copy_to_clipboard(photo.path)  # OSC 52: the terminal's clipboard, over SSH too
            self.notify(f"copied the path of #{photo.number}", timeout=2)

    def action_name_faces(self) -> None:
        photo = self._need_photo()
        if photo is None:
            return
        record = self.engine.record(photo.id)
        if record is None or not record.people:
            self.conversation.add("notice", f"no faces were found in #{photo.number}"
                                  + ("" if record and "faces-1" in record.analyzed else
                                     " (faces come from `recall index` without --quick)"))
            return
        names = self.engine.people_names()
        self._ask_names(photo.number, list(record.people), names)

    def _ask_names(self, number: int, people: list[str], names: dict[str, str]) -> None:
        if not people:
            return
        who, rest = people[0], people[1:]
        current = names.get(who, who)
        label = "this person" if current == who else current

        def named(name: str | None) -> None:
            if name:
                self.run_worker(partial(self._save_name, who, name), thread=True, group="people", exit_on_error=False)
            self._ask_names(number, rest, names)

        self.push_screen(AskText(f"Who is {label} in #{number}? ({len(people)} to name)", placeholder="a name",
                                 value="" if current == who else current,
                                 hint="Naming someone who has a name already merges the two."), named)

    def _save_name(self, who: str, name: str) -> None:
        from tools.understand.people import PeopleError
        from tools.index.store import StoreError

        try:
            cluster = self.engine.name_person(who, name)
        except (PeopleError, StoreError) as error:
            self.call_from_thread(self.conversation.add, "notice", str(error))
            return
        except Exception as error:  # noqa: BLE001
            self.call_from_thread(self._failed, "naming failed", error)
            return
        self.call_from_thread(self.conversation.add, "system", f"{cluster.id} is now {cluster.name}")
        self.call_from_thread(self._refresh_facts)
