"""The markets table: one row per asset, updated in place, sorted and filtered.

Refreshing never rebuilds the table: only cells whose text changed are updated,
rows are added/removed only when the asset set or the filter changes, and the
cursor follows its asset (same screen line) when the sort order moves it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.binding import Binding
from textual.coordinate import Coordinate
from textual.widgets import DataTable
from textual.widgets.data_table import RowDoesNotExist, RowKey

from hltui.tui import format as fmt
from hltui.tui.messages import AssetChosen, AssetHighlighted


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    key: str
    label: str
    width: int
    render: Callable[[dict[str, Any]], str]
    style: Callable[[dict[str, Any]], str] = lambda row: ""
    sort_value: Callable[[dict[str, Any]], float | None] | None = None
    descending: bool = True  # natural direction when first chosen


def _get(key: str) -> Callable[[dict[str, Any]], Any]:
    return lambda row: row.get(key)


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


COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec("asset", "Asset", 10, lambda r: "", descending=False),
    ColumnSpec("mark", "Mark", 11, lambda r: fmt.price(r.get("mark"))),
    ColumnSpec("chg", "24h", 8, lambda r: fmt.pct(r.get("chg")), _signed("chg")),
    ColumnSpec("fund", "Fund/h", 9, lambda r: fmt.funding_hourly(r.get("fund")), _signed("fund")),
    ColumnSpec("fund_ann", "Fund/yr", 8, lambda r: fmt.funding_annual(r.get("fund")),
               _signed("fund")),
    ColumnSpec("pred", "Pred/h", 9, lambda r: fmt.funding_hourly(r.get("pred")), _signed("pred")),
    ColumnSpec("oi", "OI", 8, lambda r: fmt.usd(r.get("oi"))),
    ColumnSpec("vol", "Vol 24h", 8, lambda r: fmt.usd(r.get("vol"))),
    ColumnSpec("ls", "L/S", 5, lambda r: fmt.ratio(r.get("ls")), _ls_style),
    ColumnSpec("traders", "Long/Short", 11, _traders, sort_value=_trader_total),
    ColumnSpec("cov", "Cov", 5, lambda r: fmt.pct(r.get("cov"), 0, signed=False)),
)
COLUMN_BY_KEY = {c.key: c for c in COLUMNS}


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


class MarketsTable(DataTable):
    """DataTable keyed by asset name; `sync(rows)` applies a model refresh."""

    BINDINGS = [
        Binding("left,[", "prev_asset", "Prev asset", show=False),
        Binding("right,]", "next_asset", "Next asset", show=False),
        Binding("shift+left", "scroll_left", "Scroll left", show=False),
        Binding("shift+right", "scroll_right", "Scroll right", show=False),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, fixed_columns=1, **kwargs)
        self.sort_key = "oi"
        self.sort_reverse = True
        self.filter_text = ""
        self._rows: dict[str, dict[str, Any]] = {}
        self._shown: dict[str, list[str]] = {}  # asset -> rendered text per column
        self._order: list[str] = []
        self._last_highlight: str | None = None

    def on_mount(self) -> None:
        for col in COLUMNS:
            self.add_column(self._label(col), key=col.key, width=col.width)

    # public API -----------------------------------------------------------------
    @property
    def selected_asset(self) -> str | None:
        if not self.is_valid_row_index(self.cursor_row):
            return None
        key = self.coordinate_to_cell_key(Coordinate(self.cursor_row, 0)).row_key
        return key.value

    @property
    def order(self) -> list[str]:
        """Assets as shown, top to bottom."""
        return list(self._order)

    def sync(self, rows: dict[str, dict[str, Any]]) -> None:
        """Bring the table in line with `rows`: add/remove/update cells, re-sort."""
        self._rows = rows
        anchor = self.selected_asset
        anchor_line = self.cursor_row - int(self.scroll_y)
        wanted = self._visible(rows)
        for asset in [a for a in self._shown if a not in wanted]:
            self.remove_row(asset)
            del self._shown[asset]
        for asset in wanted:
            texts = [col.render(rows[asset]) for col in COLUMNS[1:]]
            old = self._shown.get(asset)
            if old is None:
                self._shown[asset] = texts
                self.add_row(Text(asset, no_wrap=True, overflow="ellipsis"),
                             *(self._cell(c, rows[asset], t) for c, t in zip(COLUMNS[1:], texts,
                                                                           strict=True)),
                             key=asset)
                continue
            for i, (col, text) in enumerate(zip(COLUMNS[1:], texts, strict=True)):
                if old[i] != text:
                    old[i] = text
                    self.update_cell(asset, col.key, self._cell(col, rows[asset], text))
        self._apply_order(wanted, anchor, anchor_line)

    def set_sort(self, key: str, reverse: bool | None = None) -> None:
        """Sort by column `key`; choosing the current column again flips the direction."""
        col = COLUMN_BY_KEY[key]
        if reverse is None:
            reverse = (not self.sort_reverse) if key == self.sort_key else col.descending
        self.sort_key, self.sort_reverse = key, reverse
        for c in COLUMNS:
            self.columns[c.key].label = self._label(c)  # type: ignore[index]
        self._order = []  # force a re-sort
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
        try:
            index = self.get_row_index(asset)
        except RowDoesNotExist:
            return False
        self.move_cursor(row=index, animate=False)
        return True

    # actions --------------------------------------------------------------------
    def action_prev_asset(self) -> None:
        self.action_cursor_up()

    def action_next_asset(self) -> None:
        self.action_cursor_down()

    # internals ------------------------------------------------------------------
    def _label(self, col: ColumnSpec) -> Text:
        if col.key != self.sort_key:
            return Text(col.label)
        return Text(col.label + ("▼" if self.sort_reverse else "▲"), style="bold")

    def _visible(self, rows: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        needle = self.filter_text.casefold()
        if not needle:
            return rows
        return {a: r for a, r in rows.items() if needle in a.casefold()}

    @staticmethod
    def _cell(col: ColumnSpec, row: dict[str, Any], text: str) -> Text:
        return Text(text, style=col.style(row), justify="right", no_wrap=True)

    def _apply_order(self, wanted: dict[str, dict[str, Any]], anchor: str | None,
                     anchor_line: int) -> None:
        order = ordered(wanted, COLUMN_BY_KEY[self.sort_key], self.sort_reverse)
        if order != self._order:
            rank = {a: i for i, a in enumerate(order)}
            self.sort("asset", key=lambda cell: rank[cell.plain])
            self._order = order
            if anchor is not None and anchor in rank:
                index = rank[anchor]
                # keep the selected asset on the same screen line
                self.scroll_to(y=max(0, index - anchor_line), animate=False, immediate=True)
                self.move_cursor(row=index, animate=False, scroll=False)
        self._post_highlight()

    def _post_highlight(self) -> None:
        asset = self.selected_asset
        if asset is not None and asset != self._last_highlight:
            self._last_highlight = asset
            self.post_message(AssetHighlighted(asset))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._post_highlight()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if isinstance(event.row_key, RowKey) and event.row_key.value is not None:
            self.post_message(AssetChosen(event.row_key.value))

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        if event.column_key.value in COLUMN_BY_KEY:
            self.set_sort(event.column_key.value)
