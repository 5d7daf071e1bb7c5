"""The results: a grid of photo cards, numbered as feedback refers to them (#1..#N)."""
from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.containers import Grid, VerticalScroll
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Static

from ...safe_text import visible
from ..keymap import bindings
from ..thumbnails import HalfBlocks

# Card sizes (width in cells with the border, thumbnail columns and rows), largest first: the
# largest that fits three across is used, so a wide terminal shows photos one can recognise.
CARD_SIZES = [(26, 24, 8), (20, 18, 6)]
BAR_CELLS = 8
EIGHTHS = " ▏▎▍▌▋▊▉"


def score_bar(score: float, cells: int = BAR_CELLS) -> str:
    """A bar ``cells`` wide, filled in eighths of a cell (scores are fused into [0, 1])."""
    filled = round(max(0.0, min(1.0, score)) * cells * 8)
    full, part = divmod(filled, 8)
    return ("█" * full + (EIGHTHS[part] if part else "")).ljust(cells, "·")


def date_label(taken_at: str | None, file_date: bool) -> str:
    if not taken_at:
        return "no date"
    return f"{taken_at[:10]} file" if file_date else taken_at[:10]


class PhotoCard(Widget):
    """One result: its thumbnail, its number and score, and its date (file dates said as such)."""

    def __init__(self, photo, file_date: bool, size: tuple[int, int, int]):
        super().__init__(classes="card")
        self.photo = photo
        self.file_date = file_date
        self.width_cells, self.columns, self.rows = size
        self.styles.width = self.width_cells
        self.styles.height = self.rows + 4  # the thumbnail, two label lines, the border
        self.has_thumbnail = False
        self.requested = False  # its thumbnail is being decoded

    def compose(self):
        thumb = Static(Text("\n" * (self.rows // 2) + "…".center(self.columns), style="dim"), classes="thumb")
        thumb.styles.width, thumb.styles.height = self.columns, self.rows
        yield thumb
        label = Text(f"#{self.photo.number:<3}", style="bold")
        label.append(score_bar(self.photo.score), style="green")
        label.append("\n" + visible(date_label(self.photo.taken_at, self.file_date)), style="dim")
        label_widget = Static(label, classes="label")
        label_widget.styles.width = self.columns
        yield label_widget

    def on_resize(self) -> None:
        # Laid out at last: a card mounted after the grid's own layout pass asks for itself.
        grid = next((a for a in self.ancestors if isinstance(a, ResultsGrid)), None)
        if grid is not None:
            grid.call_after_refresh(grid._ask_for_thumbnails)

    def set_thumbnail(self, pixels) -> None:
        self.has_thumbnail = True
        self.query_one(".thumb", Static).update(HalfBlocks(pixels))

    def set_problem(self, why: str) -> None:
        self.has_thumbnail = True
        self.query_one(".thumb", Static).update(Text("\n" + visible(why), style="dim italic"))


class ResultsGrid(VerticalScroll, can_focus=True):
    BINDINGS = [Binding("left", "move(-1)", "previous", show=False), Binding("right", "move(1)", "next", show=False),
                Binding("up", "move_row(-1)", "up", show=False), Binding("down", "move_row(1)", "down", show=False),
                *bindings("results")]

    selected: reactive[int] = reactive(0)
    refining: reactive[bool] = reactive(False)

    class Selected(Message):
        def __init__(self, photo):
            super().__init__()
            self.photo = photo

    class WantThumbnails(Message):
        """Cards on screen without a thumbnail yet: only what is visible is decoded."""

        def __init__(self, cards: list[PhotoCard]):
            super().__init__()
            self.cards = cards

    def compose(self):
        yield Static("", id="results-title")
        yield Grid(id="cards")

    def on_mount(self) -> None:
        self.cards: list[PhotoCard] = []
        self.card_size = CARD_SIZES[-1]
        self._shown = None
        self._title("No photos yet: say what you remember.")

    # ---- content -------------------------------------------------------------------------------
    def show(self, photos: list, file_dates: dict[str, bool], title: str, thumbnails: dict) -> None:
        """Replace the cards; the selected photo stays selected when it is still here.
        ``thumbnails``: (photo id, columns, rows) -> pixels already decoded."""
        keep = self.cards[self.selected].photo.id if self.cards and self.selected < len(self.cards) else None
        self._shown = (photos, file_dates, title, thumbnails)
        self.card_size = self._card_size()
        grid = self.query_one("#cards", Grid)
        grid.remove_children()
        self.cards = [PhotoCard(p, file_dates.get(p.id, False), self.card_size) for p in photos]
        grid.mount_all(self.cards)
        for card in self.cards:
            pixels = thumbnails.get((card.photo.id, card.columns, card.rows))
            if pixels is not None:
                card.has_thumbnail = True
                self.call_after_refresh(card.set_thumbnail, pixels)
        ids = [p.id for p in photos]
        index = ids.index(keep) if keep in ids else min(self.selected, max(0, len(ids) - 1))
        self.set_reactive(ResultsGrid.selected, index)
        self._title(title)
        self.call_after_refresh(self._after_layout)

    def _card_size(self) -> tuple[int, int, int]:
        # The width as if a scrollbar were there: bigger cards must not make the scrollbar go
        # away, and so come back as smaller ones, and so on.
        width = self.size.width - 2 - self.styles.scrollbar_size_vertical
        return next((size for size in CARD_SIZES if width // size[0] >= 3), CARD_SIZES[-1])

    def _title(self, text: str) -> None:
        self.query_one("#results-title", Static).update(Text(visible(text), style="bold"))

    def set_refining(self, refining: bool, title: str | None = None) -> None:
        self.refining = refining
        self.set_class(refining, "-refining")
        if title is not None:
            self._title(title)

    @property
    def current(self):
        return self.cards[self.selected].photo if self.cards and self.selected < len(self.cards) else None

    # ---- layout and selection ------------------------------------------------------------------
    def on_resize(self) -> None:
        self.call_after_refresh(self._after_layout)

    def _after_layout(self) -> None:
        if self._shown is not None and self.cards and self._card_size() != self.card_size:
            self.show(*self._shown)  # the space changed (a detail pane, a resize): cards to fit
            return
        columns = max(1, self.scrollable_content_region.width // self.card_size[0])
        self.query_one("#cards", Grid).styles.grid_size_columns = columns
        self._mark_selected()
        self.call_after_refresh(self._ask_for_thumbnails)  # once the new column count is laid out

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        self.call_after_refresh(self._ask_for_thumbnails)

    def _ask_for_thumbnails(self) -> None:
        visible_region = self.region
        wanted = [c for c in self.cards if not c.has_thumbnail and not c.requested
                  and c.region.overlaps(visible_region)]
        for card in wanted:
            card.requested = True
        if wanted:
            self.post_message(self.WantThumbnails(wanted))

    def _columns(self) -> int:
        return max(1, self.query_one("#cards", Grid).styles.grid_size_columns or 1)

    def action_move(self, step: int) -> None:
        if self.cards:
            self.selected = max(0, min(len(self.cards) - 1, self.selected + step))

    def action_move_row(self, step: int) -> None:
        self.action_move(step * self._columns())

    def watch_selected(self) -> None:
        self._mark_selected()

    def _mark_selected(self) -> None:
        for index, card in enumerate(self.cards):
            card.set_class(index == self.selected, "-selected")
        if self.current is not None:
            self.scroll_to_widget(self.cards[self.selected], animate=False)
            self.post_message(self.Selected(self.current))
