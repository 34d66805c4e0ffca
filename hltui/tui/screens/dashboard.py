"""The dashboard: markets, funding, global and health panels, sparklines, log."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer

from hltui.store.base import Store
from hltui.tui.messages import AssetChosen, AssetHighlighted, FilterChanged, ModelUpdated
from hltui.tui.model import DashboardModel, Versions, positioning_source
from hltui.tui.widgets.collector_banner import CollectorBanner
from hltui.tui.widgets.filter_input import FilterInput
from hltui.tui.widgets.funding_table import FundingTable
from hltui.tui.widgets.global_panel import GlobalPanel
from hltui.tui.widgets.header_bar import HeaderBar
from hltui.tui.widgets.health_panel import HealthPanel
from hltui.tui.widgets.log_pane import LogPane
from hltui.tui.widgets.markets_table import COLUMN_BY_KEY, MarketsTable
from hltui.tui.widgets.sparklines import SparklinesPanel

if TYPE_CHECKING:
    from hltui.tui.screens.detail import AssetDetailScreen

VIEWS = ("markets", "panels", "log")


class DashboardScreen(Screen):
    """Widgets re-read the model on `ModelUpdated` (≤ 4 Hz), only what changed."""

    # the table needs ~106 columns: side panels from 120, wider ones from 180
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-normal"), (180, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (36, "-tall")]
    BINDINGS = [
        Binding("enter", "open_detail", "Detail", show=True, priority=False),
        Binding("slash", "filter", "Filter"),
        Binding("s", "sort", "Sort"),
        Binding("S", "reverse_sort", "Reverse sort", show=False),
        Binding("v", "cycle_view", "View", show=True),
    ]

    def __init__(self, model: DashboardModel, store: Callable[[], Store | None],
                 store_label: str, sources: tuple[str, ...], demo: bool) -> None:
        super().__init__(id="dashboard")
        self.model = model
        self._store = store
        self._store_label, self._sources, self._demo = store_label, sources, demo
        self._seen = Versions(-1, -1, -1, -1, -1)
        self._spark_timer = None
        self.view = "markets"

    def compose(self) -> ComposeResult:
        yield HeaderBar(self._store_label, self._sources, self._demo, id="header")
        yield CollectorBanner(id="banner")
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield MarketsTable(id="markets")
                yield FilterInput()
                yield SparklinesPanel(self._store, self.model.clock, self.positioning_of,
                                      lambda asset: self.model.assets.get(asset, {}),
                                      id="sparklines")
            with Vertical(id="side"):
                yield FundingTable(id="funding")
                yield GlobalPanel(id="global")
                yield HealthPanel(self._sources, id="health")
        yield LogPane(id="log")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#log", LogPane).can_focus = False
        table = self.query_one(MarketsTable)
        table.focus()
        table.sync({})
        self.refresh_from_model()

    @property
    def table(self) -> MarketsTable:
        return self.query_one(MarketsTable)

    # model → widgets -------------------------------------------------------------
    @on(ModelUpdated)
    def _on_model_updated(self, _message: ModelUpdated) -> None:
        self.refresh_from_model()

    def refresh_from_model(self, *, force_timed: bool = False) -> None:
        m, seen = self.model, self._seen
        v = m.versions
        if v.markets != seen.markets:
            self.table.sync(m.rows)
            self.query_one(FundingTable).update_rows(m.rows)
            seen.markets = v.markets
        if v.globals != seen.globals:
            self.query_one(GlobalPanel).update_globals(m.globals, len(m.rows))
            seen.globals = v.globals
        if v.header != seen.header or force_timed:
            self.query_one(HeaderBar).update_header(m)
            self.query_one(CollectorBanner).show_error(
                m.collector_error if m.collector_state == "failed" else None)
            seen.header = v.header
        if v.health != seen.health or force_timed:
            self.query_one(HealthPanel).update_health(m)
            seen.health = v.health
        if v.data != seen.data:
            seen.data = v.data
            self.query_one(SparklinesPanel).show_asset(self.table.selected_asset)
        self.query_one(LogPane).write_batch(m.take_log())

    def positioning_of(self, asset: str) -> str | None:
        return positioning_source(self.model.assets.get(asset, {}))

    def set_store_label(self, label: str, sources: tuple[str, ...] | None = None) -> None:
        """Called once the runtime exists: --demo may have changed the store and sources."""
        header = self.query_one(HeaderBar)
        header.store_label = label
        if sources:
            header.sources = sources
        header.refresh()

    def on_screen_resume(self) -> None:
        self.refresh_from_model(force_timed=True)

    # table events -----------------------------------------------------------------
    @on(AssetHighlighted)
    def _on_highlight(self, message: AssetHighlighted) -> None:
        # debounce: flicking through rows only reads the store for where the cursor rests
        if self._spark_timer is not None:
            self._spark_timer.stop()
        panel = self.query_one(SparklinesPanel)
        self._spark_timer = self.set_timer(0.15, lambda: panel.show_asset(message.asset))

    @on(AssetChosen)
    def _on_chosen(self, message: AssetChosen) -> None:
        self.open_detail(message.asset)

    @on(FilterChanged)
    def _on_filter(self, message: FilterChanged) -> None:
        self.table.set_filter(message.text)
        if not self.query_one(FilterInput).has_class("-open"):
            self.table.focus()

    # actions ----------------------------------------------------------------------
    def action_open_detail(self) -> None:
        asset = self.table.selected_asset
        if asset is not None:
            self.open_detail(asset)

    def open_detail(self, asset: str) -> None:
        from hltui.tui.screens.detail import AssetDetailScreen

        screen: AssetDetailScreen = AssetDetailScreen(
            asset, self.model, self._store, self.neighbour, clock=self.model.clock)
        self.app.push_screen(screen, self._back_from_detail)

    def _back_from_detail(self, asset: str | None) -> None:
        if asset:
            self.table.select_asset(asset)
        self.table.focus()

    def neighbour(self, asset: str, step: int) -> str | None:
        """The asset `step` rows away from `asset` in the table's current order."""
        order = self.table.order
        if not order:
            return None
        i = order.index(asset) if asset in order else 0
        return order[(i + step) % len(order)]

    def action_filter(self) -> None:
        self.query_one(FilterInput).open()

    def action_sort(self) -> None:
        self.table.cycle_sort()

    def action_reverse_sort(self) -> None:
        self.table.set_sort(self.table.sort_key, not self.table.sort_reverse)

    def sort_by(self, key: str) -> None:
        self.table.set_sort(key, COLUMN_BY_KEY[key].descending)

    def action_cycle_view(self) -> None:
        """Compact terminals: show the markets, the side panels or the log full-size."""
        self.view = VIEWS[(VIEWS.index(self.view) + 1) % len(VIEWS)]
        for name in VIEWS:
            self.set_class(self.view == name, f"-view-{name}")
        self.app.notify(f"view: {self.view}", timeout=1.5)
