"""The selected photo up close: a larger preview, what is known about it, and why it was found."""
from __future__ import annotations

import re

from rich.table import Table
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from tools.query.text_match import stem
from ...safe_text import visible
from ..thumbnails import HalfBlocks
from .results import score_bar

SIGNALS = [("visual", "visual"), ("meaning", "meaning"), ("words", "words"), ("feedback", "feedback")]
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def highlighted(text: str, terms: set[str]) -> Text:
    """``text`` with the words the query matched in bold (compared as the word search compares them)."""
    shown = Text(visible(text, keep_newlines=True))
    if terms:
        for match in _WORD.finditer(shown.plain):
            if stem(match.group(0).lower()) in terms:
                shown.stylize("bold reverse", match.start(), match.end())
    return shown


def why_rows(photo, record, plan, scale: dict[str, float]) -> list[tuple[str, float, str]]:
    """(signal, bar fill in [0, 1], what it says) for each signal that counted, then date and place fit."""
    rows = []
    for key, label in SIGNALS:
        value = photo.why.get(key)
        if value is not None:
            fill = value.score / scale[key] if scale.get(key) else value.score
            rows.append((label, fill, f"{value.score:.2f} (#{value.rank})"))
    if plan is not None and plan.date_range is not None:
        inside = record.taken_at is not None and plan.date_range.start <= record.taken_at <= plan.date_range.end
        rows.append(("date fit", 1.0 if inside else 0.0,
                     f"{'in' if inside else 'outside'} {plan.date_phrase or plan.date_range.label!r}"))
    if plan is not None and plan.place is not None:
        from tools.places import geo

        place = plan.place
        if place.lat is not None and record.lat is not None:
            km = geo.haversine_km(place.lat, place.lon, record.lat, record.lon)
            radius = place.radius_km or 25.0
            rows.append(("place fit", max(0.0, 1 - km / (4 * radius)), f"{km:.0f} km from {place.label}"))
        else:
            inside = bool(record.country_code) and record.country_code == place.country_code
            rows.append(("place fit", 1.0 if inside else 0.0, f"{'in' if inside else 'not in'} {place.label}"))
    return rows


def fact_rows(record, people: list[str], terms: set[str]) -> list[tuple[str, Text]]:
    """(label, value) for what the index knows about the photo, the matched words in bold."""
    rows = []
    if record.taken_at:
        taken = record.taken_at_iso[:16].replace("T", " ")
        rows.append(("date", Text(taken + (" (file date: no date in the photo)" if record.date_source == "file" else ""))))
    # The occasion it belongs to; a label that is only a day ("Thu 8 Jul 2021": no place known)
    # would say the date again (as agent/explain.py, which also leaves it out).
    occasion = record.event_label if record.event_label and "," in record.event_label else ""
    for label, value in (("from", occasion), ("place", record.place), ("camera", record.camera),
                         ("people", ", ".join(people))):
        if value:
            rows.append((label, Text(visible(value))))
    for label, value in (("your caption", record.user_text), ("caption", record.caption),
                         ("text in it", record.text_in_photo)):
        if value:
            rows.append((label, highlighted(value, terms)))
    if record.tags:
        rows.append(("tags", highlighted(", ".join(record.tags[:16]), terms)))
    return rows


class DetailPane(VerticalScroll):
    def compose(self):
        yield Static("", id="preview")
        yield Static("", id="detail-title")
        yield Static("", id="facts")
        yield Static("", id="why")
        yield Static("", id="explanation")

    def show(self, photo, record, plan, people: list[str], scale: dict[str, float], terms: set[str]) -> None:
        facts = Table.grid(padding=(0, 1))
        facts.add_column(style="dim", no_wrap=True)
        facts.add_column()
        title = Text(f"#{photo.number} ", style="bold")
        title.append(visible(record.path if record else photo.path))
        self.query_one("#detail-title", Static).update(title)
        for label, value in (fact_rows(record, people, terms) if record is not None else []):
            facts.add_row(label, value)
        self.query_one("#facts", Static).update(facts)

        why = Table.grid(padding=(0, 1))
        why.add_column(style="dim", no_wrap=True)
        why.add_column(no_wrap=True)
        why.add_column()
        for label, fill, said in (why_rows(photo, record, plan, scale) if record is not None else []):
            why.add_row(label, Text(score_bar(fill, 10), style="green"), Text(visible(said)))
        self.query_one("#why", Static).update(why)
        self.query_one("#explanation", Static).update(Text(visible(photo.explanation), style="italic"))

    def set_preview(self, pixels) -> None:
        self.query_one("#preview", Static).update(HalfBlocks(pixels) if pixels is not None else "")

    def set_preview_problem(self, why: str) -> None:
        self.query_one("#preview", Static).update(Text(visible(why), style="dim italic"))
