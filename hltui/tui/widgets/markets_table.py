"""The markets table: one row per asset, updated in place, sorted and filtered.

A Line-API widget rather than a DataTable: a refresh only swaps the text of changed
cells and repaints the visible lines, each line a handful of pre-styled segments.
(DataTable re-renders every visible cell through Rich after any change: ~80 ms for a
160x48 terminal here, against a few ms for this.) The asset column stays fixed while
the others scroll sideways, and the cursor follows its asset, on the same screen
line, when the sort order moves it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from hltui.tui import format as fmt
from hltui.tui.messages import AssetChosen, AssetHighlighted

GAP = 1  # blank cells before every column (and one after the last)


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    key: str
    label: str
    width: int
    render: Callable[[dict[str, Any]], str]
    style: Callable[[dict[str, Any]], str] = lambda row: ""
    sort_value: Callable[[dict[str, Any]], float | None] | None = None
    descending: bool = True  # natural direction when first chosen


def _signed(key: str) -> Callable[[dict[str, Any]], str]:
    return lambda row: fmt.sign_style(row.get(key))


def _ls_style(row: dict[str, Any]) -> str:
    v = row.get("ls")
    return "dim" if v is None else fmt.sign_style(v - 1.0)


def _traders(row: dict[str, Any]) -> str:
    lo, sh = row.get("long_tr"), row.get("short_tr")
    if lo is None and sh is None:
        return fmt.DASH
    return f"{fmt.count(lo)}/{fmt.count(sh)}"


def _trader_total(row: dict[str, Any]) -> float | None:
    lo, sh = row.get("long_tr"), row.get("short_tr")
    if lo is None and sh is None:
        return None
    return (lo or 0) + (sh or 0)


# most telling first: at 80 columns everything up to Long/Short is on screen
COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec("asset", "Asset", 10, lambda r: "", descending=False),
    ColumnSpec("mark", "Mark", 10, lambda r: fmt.price(r.get("mark"))),
    ColumnSpec("chg", "24h", 7, lambda r: fmt.pct_compact(r.get("chg")), _signed("chg")),
    ColumnSpec("fund", "Fund/h", 9, lambda r: fmt.funding_hourly(r.get("fund")), _signed("fund")),
    ColumnSpec("fund_ann", "Fund/yr", 7, lambda r: fmt.funding_annual(r.get("fund")),
               _signed("fund")),
    ColumnSpec("oi", "OI", 8, lambda r: fmt.usd(r.get("oi"))),
    ColumnSpec("ls", "L/S", 5, lambda r: fmt.ratio(r.get("ls")), _ls_style),
    ColumnSpec("traders", "Long/Short", 11, _traders, sort_value=_trader_total),
    ColumnSpec("vol", "Vol 24h", 8, lambda r: fmt.usd(r.get("vol"))),
    ColumnSpec("pred", "Pred/h", 9, lambda r: fmt.funding_hourly(r.get("pred")), _signed("pred")),
    ColumnSpec("cov", "Cov", 5, lambda r: fmt.pct(r.get("cov"), 0, signed=False)),
)
COLUMN_BY_KEY = {c.key: c for c in COLUMNS}
FIXED = COLUMNS[0].width + GAP
SCROLLED_WIDTH = sum(c.width + GAP for c in COLUMNS[1:]) + GAP


def sort_value(column: ColumnSpec, asset: str, row: dict[str, Any]) -> Any:
    if column.key == "asset":
        return asset.casefold()
    return column.sort_value(row) if column.sort_value else row.get(column.key)


def ordered(rows: dict[str, dict[str, Any]], column: ColumnSpec, reverse: bool) -> list[str]:
    """Assets in display order; missing values always sink to the bottom."""
    present, missing = [], []
    for asset, row in rows.items():
        v = sort_value(column, asset, row)
        (missing if v is None else present).append((v, asset.casefold(), asset))
    present.sort(reverse=reverse)
    missing.sort()
    return [a for _, _, a in present] + [a for _, _, a in missing]


def fit_left(text: str, width: int) -> str:
    """Left-aligned in exactly `width` cells (wide characters counted), `…` if cut."""
    if cell_len(text) > width:
        return set_cell_size(text, width - 1) + "…"
    return set_cell_size(text, width)


def fit_right(text: str, width: int) -> str:
    """Right-aligned in `width` cells; an over-long value keeps its front and shows `…`."""
    if len(text) > width:
        return text[:width - 1] + "…"
    return text.rjust(width)


class MarketsTable(ScrollView, can_focus=True):
    """Rows keyed by asset name; `sync(rows)` applies a model refresh."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "markets--header", "markets--header-sorted", "markets--cursor", "markets--even-row",
        "markets--fixed",
    }
    DEFAULT_CSS = """
    MarketsTable {
        background: $surface;
        color: $foreground;
        & > .markets--header { text-style: bold; background: $panel; color: $foreground; }
        & > .markets--header-sorted { text-style: bold; background: $panel; color: $accent; }
        & > .markets--cursor { background: $block-cursor-blurred-background;
                               color: $block-cursor-blurred-foreground; }
        &:focus > .markets--cursor { background: $block-cursor-background;
                                     color: $block-cursor-foreground; text-style: bold; }
        & > .markets--even-row { background: $surface-lighten-1 50%; }
        & > .markets--fixed { text-style: bold; }
    }
    """
    BINDINGS = [
        Binding("up,left,[", "cursor(-1)", "Prev asset", show=False),
        Binding("down,right,]", "cursor(1)", "Next asset", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "edge(0)", "First", show=False),
        Binding("end", "edge(1)", "Last", show=False),
        Binding("shift+left,less_than_sign", "columns(-1)", "Columns left", show=False),
        Binding("shift+right,greater_than_sign", "columns(1)", "Columns right", show=False),
        Binding("enter", "choose", "Detail"),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sort_key = "oi"
        self.sort_reverse = True
        self.filter_text = ""
        self.cursor_row = 0
        self._rows: dict[str, dict[str, Any]] = {}
        self._cells: dict[str, list[tuple[str, str]]] = {}  # asset -> (text, style) per column
        self._order: list[str] = []
        self._index: dict[str, int] = {}
        self._last_highlight: str | None = None
        self._styles: dict[tuple[Style, str], Style] = {}

    # public API -----------------------------------------------------------------
    @property
    def row_count(self) -> int:
        return len(self._order)

    @property
    def selected_asset(self) -> str | None:
        if 0 <= self.cursor_row < len(self._order):
            return self._order[self.cursor_row]
        return None

    @property
    def order(self) -> list[str]:
        """Assets as shown, top to bottom."""
        return list(self._order)

    def cell_text(self, asset: str, key: str) -> str:
        """What the cell shows (tests, and the detail title)."""
        if key == "asset":
            return asset if asset in self._cells else ""
        i = [c.key for c in COLUMNS[1:]].index(key)
        return self._cells[asset][i][0]

    def sync(self, rows: dict[str, dict[str, Any]]) -> None:
        """Bring the table in line with `rows`: swap changed cell texts, re-sort, repaint."""
        self._rows = rows
        anchor = self.selected_asset
        anchor_line = self.cursor_row - round(self.scroll_y)
        wanted = self._visible(rows)
        cells = self._cells
        for asset in [a for a in cells if a not in wanted]:
            del cells[asset]
        specs = COLUMNS[1:]
        for asset, row in wanted.items():
            cells[asset] = [(c.render(row), c.style(row)) for c in specs]
        order = ordered(wanted, COLUMN_BY_KEY[self.sort_key], self.sort_reverse)
        self._order = order
        self._index = {a: i for i, a in enumerate(order)}
        self.virtual_size = Size(FIXED + SCROLLED_WIDTH, len(order) + 1)
        if anchor is not None and anchor in self._index:
            index = self._index[anchor]
            # keep the selected asset on the same screen line
            self.scroll_to(y=max(0, index - anchor_line), animate=False, immediate=True)
            self.cursor_row = index
        self.cursor_row = max(0, min(self.cursor_row, len(order) - 1))
        self._keep_cursor_visible()
        self._update_titles(len(rows))
        self.refresh()
        self._post_highlight()

    def set_sort(self, key: str, reverse: bool | None = None) -> None:
        """Sort by column `key`; choosing the current column again flips the direction."""
        col = COLUMN_BY_KEY[key]
        if reverse is None:
            reverse = (not self.sort_reverse) if key == self.sort_key else col.descending
        self.sort_key, self.sort_reverse = key, reverse
        self.sync(self._rows)

    def cycle_sort(self) -> str:
        keys = [c.key for c in COLUMNS]
        nxt = keys[(keys.index(self.sort_key) + 1) % len(keys)]
        self.set_sort(nxt, COLUMN_BY_KEY[nxt].descending)
        return COLUMN_BY_KEY[nxt].label

    def set_filter(self, text: str) -> None:
        self.filter_text = text.strip()
        self.sync(self._rows)

    def select_asset(self, asset: str) -> bool:
        """Put the cursor on `asset` (scrolling it into view); False if not shown."""
        if asset not in self._index:
            return False
        self.move_cursor(self._index[asset])
        return True

    def move_cursor(self, row: int) -> None:
        self.cursor_row = max(0, min(row, len(self._order) - 1))
        self._keep_cursor_visible()
        self.refresh()
        self._post_highlight()

    def _update_titles(self, total: int) -> None:
        """Count, filter and sort on the border: visible at any terminal width."""
        title = Text.assemble(("Markets ", "bold"), f"{len(self._order)}")
        if self.filter_text:
            title.append(f"/{total} ")
            title.append("filter ", style="dim")
            title.append(repr(self.filter_text), style="bold cyan")
        self.border_title = title
        col = COLUMN_BY_KEY[self.sort_key]
        self.border_subtitle = f"sort {col.label} {'▼' if self.sort_reverse else '▲'} (s)"

    # actions --------------------------------------------------------------------
    def action_cursor(self, step: int) -> None:
        self.move_cursor(self.cursor_row + step)

    def action_page(self, direction: int) -> None:
        self.move_cursor(self.cursor_row + direction * max(1, self._body_height() - 1))

    def action_edge(self, end: int) -> None:
        self.move_cursor(len(self._order) - 1 if end else 0)

    def action_columns(self, direction: int) -> None:
        """Scroll sideways by about one column (the asset column stays put)."""
        self.scroll_to(x=max(0, round(self.scroll_x) + direction * 10), animate=False)

    def action_choose(self) -> None:
        asset = self.selected_asset
        if asset is not None:
            self.post_message(AssetChosen(asset))

    # rendering ------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y == 0:
            return self._header_strip(width)
        index = round(self.scroll_y) + y - 1
        if index >= len(self._order):
            return Strip.blank(width, self.rich_style)
        asset = self._order[index]
        if index == self.cursor_row:
            base = self.rich_style + self.get_component_rich_style("markets--cursor")
        elif index % 2:
            base = self.rich_style + self.get_component_rich_style("markets--even-row")
        else:
            base = self.rich_style
        fixed = [Segment(" " * GAP + fit_left(asset, COLUMNS[0].width),
                         base + self.get_component_rich_style("markets--fixed", partial=True))]
        gap = " " * GAP
        rest = [Segment(f"{gap}{fit_right(text, col.width)}", self._style(base, style))
                for col, (text, style) in zip(COLUMNS[1:], self._cells[asset], strict=True)]
        rest.append(Segment(gap, base))
        return self._join_strip(fixed, rest, width, base)

    def _header_strip(self, width: int) -> Strip:
        head = self.rich_style + self.get_component_rich_style("markets--header")
        sorted_style = self.rich_style + self.get_component_rich_style("markets--header-sorted")
        gap = " " * GAP
        segments = []
        for col in COLUMNS:
            label = col.label
            style = head
            if col.key == self.sort_key:
                label += "▼" if self.sort_reverse else "▲"
                style = sorted_style
            text = fit_left(label, col.width) if col.key == "asset" else label.rjust(col.width)
            segments.append(Segment(f"{gap}{text}", style))
        segments.append(Segment(gap, head))
        return self._join_strip(segments[:1], segments[1:], width, head)

    def _join_strip(self, fixed: list[Segment], rest: list[Segment], width: int,
                 base: Style) -> Strip:
        scroll_x = round(self.scroll_x)
        tail = Strip(rest, SCROLLED_WIDTH).crop(scroll_x, scroll_x + max(0, width - FIXED))
        return Strip([*fixed, *tail], None).adjust_cell_length(width, base)

    def _style(self, base: Style, name: str) -> Style:
        key = (base, name)
        style = self._styles.get(key)
        if style is None:
            if len(self._styles) > 512:
                self._styles.clear()
            style = self._styles[key] = base + Style.parse(name) if name else base
        return style

    # internals ------------------------------------------------------------------
    def _body_height(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def _keep_cursor_visible(self) -> None:
        top, body = round(self.scroll_y), self._body_height()
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False, immediate=True)
        elif self.cursor_row >= top + body:
            self.scroll_to(y=self.cursor_row - body + 1, animate=False, immediate=True)

    def _visible(self, rows: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        needle = self.filter_text.casefold()
        if not needle:
            return rows
        return {a: r for a, r in rows.items() if needle in a.casefold()}

    def _post_highlight(self) -> None:
        asset = self.selected_asset
        if asset is not None and asset != self._last_highlight:
            self._last_highlight = asset
            self.post_message(AssetHighlighted(asset))

    def on_resize(self, _event: events.Resize) -> None:
        self._keep_cursor_visible()

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        x, y = offset.x, offset.y
        if y == 0:
            self._header_click(x)
            return
        index = round(self.scroll_y) + y - 1
        if 0 <= index < len(self._order):
            self.move_cursor(index)
            if event.chain >= 2:
                self.action_choose()

    def _header_click(self, x: int) -> None:
        if x < FIXED:
            self.set_sort("asset")
            return
        pos = x - FIXED + round(self.scroll_x)
        for col in COLUMNS[1:]:
            pos -= col.width + GAP
            if pos < 0:
                self.set_sort(col.key)
                return
