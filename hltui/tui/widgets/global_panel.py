"""Market-wide figures: open interest from the exchange, positioning (total long and
short notional, global L/S, position counts) from the positioning source."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import RenderResult
from textual.widget import Widget

from hltui.process.positioning import preferred_source
from hltui.tui import format as fmt


def positioning_globals(values: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """(source, its global figures): the engine files each positioning source's globals
    under `source_<name>`; the flat dict holds the exchange's own."""
    name = preferred_source({k[len("source_"):]: v for k, v in values.items()
                             if k.startswith("source_")})
    if name is not None:
        return name, values[f"source_{name}"]
    if fmt.num(values.get("long_notional_usd")) is not None:
        return None, values
    return None, {}


class GlobalPanel(Widget):
    DEFAULT_CSS = "GlobalPanel { height: auto; }"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._globals: dict[str, Any] = {}
        self._assets = 0
        self.border_title = "Global"

    def update_globals(self, values: dict[str, Any], assets: int) -> None:
        self._globals, self._assets = dict(values), assets
        source, _ = positioning_globals(self._globals)
        self.border_subtitle = f"positioning: {source}" if source else ""
        self.refresh(layout=True)

    def render(self) -> RenderResult:
        g = self._globals
        _, p = positioning_globals(g)
        table = Table.grid(expand=True, padding=(0, 1))
        table.add_column(style="dim", no_wrap=True)
        table.add_column(justify="right", no_wrap=True)
        table.add_column(style="dim", no_wrap=True)
        table.add_column(justify="right", no_wrap=True)
        ls = fmt.num(p.get("global_ls_ratio"))
        if ls is None:
            lo, sh = fmt.num(p.get("long_notional_usd")), fmt.num(p.get("short_notional_usd"))
            ls = lo / sh if lo is not None and sh else None
        oi = g.get("open_interest_usd", g.get("total_notional_usd"))
        table.add_row("open int.", fmt.usd(oi), "assets",
                      fmt.count(g.get("assets", self._assets or None)))
        table.add_row("long", Text(fmt.usd(p.get("long_notional_usd")), style="green"),
                      "short", Text(fmt.usd(p.get("short_notional_usd")), style="red"))
        table.add_row("L/S", Text(fmt.ratio(ls), style=fmt.sign_style(
            None if ls is None else ls - 1)), "coverage",
            fmt.pct(p.get("coverage"), 1, signed=False))
        table.add_row("long pos", fmt.count(p.get("long_positions")),
                      "short pos", fmt.count(p.get("short_positions")))
        return table
