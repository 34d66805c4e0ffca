"""Market-wide positioning: total notional, global L/S ratio, position counts."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import RenderResult
from textual.widget import Widget

from hltui.tui import format as fmt


class GlobalPanel(Widget):
    DEFAULT_CSS = "GlobalPanel { height: auto; }"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._globals: dict[str, Any] = {}
        self._assets = 0
        self.border_title = "Global"

    def update_globals(self, values: dict[str, Any], assets: int) -> None:
        self._globals, self._assets = dict(values), assets
        self.refresh(layout=True)

    def render(self) -> RenderResult:
        g = self._globals
        table = Table.grid(expand=True, padding=(0, 1))
        table.add_column(style="dim", no_wrap=True)
        table.add_column(justify="right", no_wrap=True)
        table.add_column(style="dim", no_wrap=True)
        table.add_column(justify="right", no_wrap=True)
        ls = fmt.num(g.get("global_ls_ratio"))
        if ls is None:
            lo, sh = fmt.num(g.get("long_notional_usd")), fmt.num(g.get("short_notional_usd"))
            ls = lo / sh if lo is not None and sh else None
        table.add_row("notional", fmt.usd(g.get("total_notional_usd")),
                      "L/S", Text(fmt.ratio(ls), style=fmt.sign_style(None if ls is None
                                                                      else ls - 1)))
        table.add_row("long", Text(fmt.usd(g.get("long_notional_usd")), style="green"),
                      "short", Text(fmt.usd(g.get("short_notional_usd")), style="red"))
        table.add_row("long pos", fmt.count(g.get("long_positions")),
                      "short pos", fmt.count(g.get("short_positions")))
        table.add_row("assets", fmt.count(g.get("assets", self._assets or None)), "", "")
        return table
