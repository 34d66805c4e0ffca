"""Asset drill-down: stored history charts, liquidation map, positioning by source.

Everything here is read from the store in one exclusive worker; the range or asset
a load was started for is checked before showing its result, so switching fast
never shows another range's data.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Static

from hltui.store.base import Series, Store
from hltui.tui import format as fmt
from hltui.tui.messages import ModelUpdated
from hltui.tui.model import MARKET_SOURCE, DashboardModel, positioning_source
from hltui.tui.widgets.history_chart import CHARTS, HistoryChart
from hltui.tui.widgets.liquidation_bars import LiquidationBars
from hltui.tui.widgets.positioning_panel import PositioningPanel

RANGES: dict[str, tuple[str, float]] = {"1": ("24h", 24.0), "2": ("7d", 168.0),
                                        "3": ("90d", 2160.0)}
MAX_POINTS = 400


@dataclass(slots=True)
class DetailData:
    asset: str
    hours: float
    series: Series  # market fields, from the exchange
    ls_series: Series  # L/S from the positioning source the table uses
    ls_source: str | None
    levels: list[dict[str, Any]]
    positions: list[dict[str, Any]]
    load_ms: float
    now_ms: int  # the end of the window read


class AssetDetailScreen(Screen[str]):
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("1", "range('1')", "24h"),
        Binding("2", "range('2')", "7d"),
        Binding("3", "range('3')", "90d"),
        Binding("left,[", "step(-1)", "Prev asset"),
        Binding("right,]", "step(1)", "Next asset"),
    ]

    def __init__(self, asset: str, model: DashboardModel, store: Callable[[], Store | None],
                 neighbour: Callable[[str, int], str | None],
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(id="detail")
        self.asset, self.model, self._store, self._neighbour = asset, model, store, neighbour
        self.clock = clock
        self.range_key = "1"
        self.loaded: DetailData | None = None  # what is on screen (tests read this)

    @property
    def hours(self) -> float:
        return RANGES[self.range_key][1]

    def compose(self) -> ComposeResult:
        yield Static(id="detail-title")
        with Grid(id="charts"):
            for field in CHARTS:
                yield HistoryChart(field)
        with Horizontal(id="detail-bottom"):
            yield LiquidationBars(id="liquidations")
            yield PositioningPanel(id="positioning")
        yield Footer()

    def on_mount(self) -> None:
        self._data_version = self.model.versions.data
        self.start_load()

    def on_model_updated(self, _message: ModelUpdated) -> None:
        """A cycle wrote new points: re-read quietly (same asset and range, not stale)."""
        if self.model.versions.data != self._data_version and self.loaded is not None:
            self._data_version = self.model.versions.data
            self.load(self.asset, self.hours)

    # actions -------------------------------------------------------------------
    def action_back(self) -> None:
        self.dismiss(self.asset)

    def action_range(self, key: str) -> None:
        if key in RANGES and key != self.range_key:
            self.range_key = key
            self.start_load()

    def action_step(self, step: int) -> None:
        nxt = self._neighbour(self.asset, step)
        if nxt is not None and nxt != self.asset:
            self.asset = nxt
            self.start_load()

    # loading -------------------------------------------------------------------
    def start_load(self) -> None:
        """Blank the old data first: a range/asset switch never shows stale charts."""
        self.loaded = None
        for chart in self.query(HistoryChart):
            chart.clear()
        self.query_one("#charts").loading = True
        self.query_one("#detail-bottom").loading = True
        self._render_title(loading=True)
        self.load(self.asset, self.hours)

    @work(exclusive=True, group="detail", exit_on_error=False)
    async def load(self, asset: str, hours: float) -> None:
        store = self._store()
        if store is None:
            self._show_error("store not open yet")
            return
        started = time.perf_counter()
        try:
            now_ms = int(self.clock() * 1000)
            series = await store.asset_history(asset, hours, max_points=MAX_POINTS,
                                               source=MARKET_SOURCE, now_ms=now_ms)
            pos_source = positioning_source(self.model.assets.get(asset, {}))
            ls = await store.asset_history(asset, hours, max_points=MAX_POINTS,
                                           source=pos_source, now_ms=now_ms) \
                if pos_source else Series([], {})
            levels = await store.liquidation_map(asset)
            positions = [r for r in await store.latest_positions() if r.get("asset") == asset]
        except Exception as exc:  # shown on screen; the dashboard keeps running
            if (asset, hours) == (self.asset, self.hours):
                self._show_error(f"{type(exc).__name__}: {exc}")
            return
        if (asset, hours) != (self.asset, self.hours):
            return  # superseded while reading
        self.show(DetailData(asset, hours, series, ls, pos_source, levels, positions,
                             (time.perf_counter() - started) * 1000, now_ms))

    def show(self, data: DetailData) -> None:
        now_ms = int(self.clock() * 1000)
        for chart in self.query(HistoryChart):
            src = data.ls_series if chart.field == "ls_ratio" else data.series
            chart.show(src.times_ms, src.values.get(chart.field, []), now_ms, data.hours,
                       source=data.ls_source if chart.field == "ls_ratio" else None)
        mark = (self.model.rows.get(data.asset) or {}).get("mark")
        if mark is None:
            marks = [v for v in data.series.values.get("mark_price", []) if v is not None]
            mark = marks[-1] if marks else None
        self.query_one(LiquidationBars).update_map(data.levels, mark)
        self.query_one(PositioningPanel).update_rows(data.positions, now_ms)
        self.query_one("#charts").loading = False
        self.query_one("#detail-bottom").loading = False
        self.loaded = data
        self._render_title()

    def _show_error(self, message: str) -> None:
        self.query_one("#charts").loading = False
        self.query_one("#detail-bottom").loading = False
        self._render_title(error=message)

    def _render_title(self, *, loading: bool = False, error: str | None = None) -> None:
        row = self.model.rows.get(self.asset) or {}
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(f" {self.asset} ", style="bold reverse")
        t.append(f"  {fmt.price(row.get('mark'))} ")
        t.append(fmt.pct(row.get("chg")), style=fmt.sign_style(row.get("chg")))
        t.append("  funding ", style="dim")
        t.append(fmt.funding_annual(row.get("fund")), style=fmt.sign_style(row.get("fund")))
        t.append("/yr  ", style="dim")
        for key, (label, _hours) in RANGES.items():
            style = "bold reverse" if key == self.range_key else "dim"
            t.append(f" {key} {label} ", style=style)
        if self.range_key == "3":
            t.append(" hourly, compressed tier", style="dim")
        if loading:
            t.append("  loading…", style="cyan")
        elif error:
            t.append(f"  {error}", style="bold red")
        elif self.loaded is not None:
            t.append(f"  {len(self.loaded.series.times_ms)} stored points", style="dim")
        self.query_one("#detail-title", Static).update(t)
