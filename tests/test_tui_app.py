"""The dashboard end to end: `App.run_test` with the simulated exchange over real HTTP
on localhost (`--demo` runtime) and a real embedded store in tmp.

Cycles are driven by the `r` key against a manual clock (the interval is an hour), so
every test sees the same seeded market and the same timestamps.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from hltui.config import Settings, load_settings
from hltui.engine.build import build_runtime
from hltui.engine.events import CycleDone, EventSink
from hltui.store.factory import make_store
from hltui.tui.app import HltuiApp
from hltui.tui.screens.detail import AssetDetailScreen
from hltui.tui.widgets.collector_banner import CollectorBanner
from hltui.tui.widgets.header_bar import HeaderBar
from hltui.tui.widgets.history_chart import HistoryChart
from hltui.tui.widgets.liquidation_bars import LiquidationBars
from hltui.tui.widgets.positioning_panel import PositioningPanel
from hltui.tui.widgets.sparklines import SparklineRow, SparklinesPanel

# Yesterday 00:00 UTC: a fixed time of day (stable screens) that stores still accept
# (they refuse points older than the raw retention, as InfluxDB does).
T0 = (time.time() // 86400 - 1) * 86400


class ManualClock:
    """The app's and the simulator's clock; tests move it between cycles."""

    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


async def until(pilot, predicate: Callable[[], bool], what: str, timeout: float = 30) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


def header_text(app: HltuiApp) -> str:
    header = app.dashboard.query_one(HeaderBar)
    return "\n".join(line.text for line in header.render_lines(header.region.reset_offset))


@pytest.fixture
def settings(clean_env: Path) -> Settings:
    return load_settings(interval=3600, sources="hyperliquid")


def make_app(settings: Settings, clock: ManualClock, **kw) -> HltuiApp:
    return HltuiApp(settings, demo=True, clock=clock, seed=7, watch_terminal=False, **kw)


async def next_cycle(app: HltuiApp, pilot, clock: ManualClock, step: float = 600) -> int:
    """Advance the clock and press `r`; wait for that cycle to finish."""
    before = app.model.cycle
    clock.t += step
    await pilot.press("r")
    await until(pilot, lambda: app.model.cycle > before and not app.model.cycle_running
                and app.model.last_cycle is not None
                and app.model.last_cycle.cycle == app.model.cycle, "the next cycle")
    return app.model.cycle


async def first_cycle(app: HltuiApp, pilot) -> None:
    await until(pilot, lambda: app.model.last_cycle is not None
                and app.dashboard.table.row_count > 0, "the first cycle")


async def test_rows_for_every_asset_and_demo_label(settings):
    clock = ManualClock()
    app = make_app(settings, clock)
    async with app.run_test(size=(160, 48)) as pilot:
        await first_cycle(app, pilot)
        stored = {r["asset"] for r in await app.runtime.store.latest_positions()
                  if r.get("source") == "hyperliquid"}
        table = app.dashboard.table
        assert len(stored) > 200
        assert set(table.order) == stored  # every asset the store holds, nothing else
        assert table.row_count == len(stored)
        head = header_text(app)
        assert "DEMO" in head and "simulated data" in head
        assert str(app.runtime.settings.data_dir) in head  # the store actually in use
        odd = [a for a in stored if not a.isalnum()]
        assert odd, "the simulator's awkward names are part of the test"
        for asset in odd:
            assert table.cell_text(asset, "asset") == asset
        await pilot.press("q")
    assert app.return_value == 0


async def test_pause_stops_cycles_and_resume_restarts_them(clean_env):
    settings = load_settings(interval=0.2, sources="hyperliquid")
    app = make_app(settings, ManualClock())
    async with app.run_test(size=(120, 40)) as pilot:
        await first_cycle(app, pilot)
        await pilot.press("p")
        await until(pilot, lambda: app.model.paused and not app.model.cycle_running, "pause")
        await pilot.pause(0.3)
        assert "PAUSED" in header_text(app)
        paused_at = app.model.cycle
        await pilot.pause(1.2)  # six intervals: no new cycle may start
        assert app.model.cycle == paused_at
        await pilot.press("p")
        await until(pilot, lambda: app.model.cycle >= paused_at + 2, "cycles after resume")
        await pilot.pause(0.3)
        assert "PAUSED" not in header_text(app)
        await pilot.press("q")


async def test_compress_key_runs_compression_and_reports_it(clean_env):
    # automatic compression only after the first cycle: `c` is the one measured here
    settings = load_settings(interval=3600, compression_interval="1000d",
                             sources="hyperliquid")
    clock = ManualClock(T0 - 30 * 3600)  # old enough for the hourly tier
    app = make_app(settings, clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await first_cycle(app, pilot)
        await until(pilot, lambda: app.model.last_compression is not None, "auto compression")
        for _ in range(3):
            await next_cycle(app, pilot, clock, step=1800)
        clock.t = T0
        app.model.last_compression = None
        await pilot.press("c")
        await until(pilot, lambda: app.model.last_compression is not None, "compression")
        done = app.model.last_compression
        assert done.error is None and done.windows >= 1 and done.points > 0
        await pilot.pause(0.3)
        toasts = [n.message for n in app._notifications]
        assert any("Compression done" in t and f"{done.points:,} points" in t for t in toasts)
        health = app.dashboard.query_one("#health")
        text = "\n".join(s.text for s in health.render_lines(health.region.reset_offset))
        assert f"compressed {done.windows} h" in text
        await pilot.press("q")


async def test_navigation_detail_from_store_and_back(settings):
    clock = ManualClock()
    app = make_app(settings, clock)
    async with app.run_test(size=(160, 48)) as pilot:
        await first_cycle(app, pilot)
        for _ in range(3):
            await next_cycle(app, pilot, clock)
        table = app.dashboard.table
        first, second = table.order[0], table.order[1]
        assert table.selected_asset == first
        await pilot.press("]")
        assert table.selected_asset == second
        # the sparklines are read back from the store for the asset under the cursor
        panel = app.dashboard.query_one(SparklinesPanel)
        await until(pilot, lambda: panel.loaded is not None and panel.loaded[0] == second,
                    "the sparklines")
        args = dict(panel.query_args)
        assert args.pop("positioning_source") is None  # hyperliquid only: no L/S source
        assert args["now_ms"] == int(clock() * 1000)
        history = await app.runtime.store.asset_history(**args)
        price_row = panel.query_one("#spark-mark_price", SparklineRow)
        assert len(history.times_ms) >= 2 and price_row.values == history.values["mark_price"]
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, AssetDetailScreen)
                    and app.screen.loaded is not None, "the detail screen")
        detail = app.screen
        assert detail.asset == second
        stored = await app.runtime.store.asset_history(second, 24, max_points=400,
                                                       source="hyperliquid",
                                                       now_ms=int(clock() * 1000))
        assert detail.loaded.series.times_ms == stored.times_ms  # read from the store
        assert len(stored.times_ms) == 4
        charts = {c.field: c.points for c in detail.query(HistoryChart)}
        assert charts["mark_price"] == 4 and charts["open_interest_usd"] == 4
        await next_cycle(app, pilot, clock)  # new points: the open detail re-reads them
        await until(pilot, lambda: detail.loaded is not None
                    and len(detail.loaded.series.times_ms) == 5, "the detail refresh")
        await pilot.press("2")  # 7 d: a new load, the old data is cleared first
        assert detail.loaded is None or detail.loaded.hours == 168
        await until(pilot, lambda: detail.loaded is not None and detail.loaded.hours == 168,
                    "the 7 d range")
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is app.dashboard, "the dashboard")
        assert table.selected_asset == second
        await pilot.press("q")


async def test_detail_liquidation_map_and_positioning_from_the_store(clean_env):
    """With the sampled positioning source (on the wall clock: it paces its scans)."""
    settings = load_settings(interval=3600, sources="hyperliquid,sampled")
    app = HltuiApp(settings, demo=True, seed=7, watch_terminal=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await first_cycle(app, pilot)
        table = app.dashboard.table
        assert table.cell_text("BTC", "ls") != "–"  # positioning reached the table
        table.select_asset("BTC")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, AssetDetailScreen)
                    and app.screen.loaded is not None, "the detail screen")
        detail = app.screen
        store = app.runtime.store
        assert detail.loaded.ls_source == "sampled"  # L/S from the source the table uses
        ls = await store.asset_history("BTC", 24, max_points=400, source="sampled",
                                       now_ms=detail.loaded.now_ms)
        assert detail.loaded.ls_series.values["ls_ratio"] == ls.values["ls_ratio"]
        levels = await store.liquidation_map("BTC")
        assert levels and detail.loaded.levels == levels
        bars = detail.query_one(LiquidationBars)
        assert bars.source == "sampled"
        text = "\n".join(s.text for s in bars.render_lines(bars.region.reset_offset))
        assert "mark" in text and "longs" in text and "$" in text
        stored = [r for r in await store.latest_positions()
                  if r["asset"] == "BTC" and r["source"] == "sampled"]
        panel = detail.query_one(PositioningPanel)
        assert set(panel.by_source) == {"sampled"}
        assert panel.by_source["sampled"]["long_notional_usd"] == stored[0]["long_notional_usd"]
        await pilot.press("q")


async def test_fast_range_switching_never_shows_a_stale_range(settings):
    clock = ManualClock()
    app = make_app(settings, clock)
    hours = {"1": 24.0, "2": 168.0, "3": 2160.0}
    async with app.run_test(size=(120, 40)) as pilot:
        await first_cycle(app, pilot)
        await next_cycle(app, pilot, clock)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, AssetDetailScreen), "detail")
        detail = app.screen
        checked = 0
        for i, key in enumerate("32131231232"):
            await pilot.press(key)
            await pilot.pause(0.002 * (i % 4))  # some loads finish, most are cut short
            if detail.loaded is not None:
                checked += 1
                assert detail.loaded.hours == hours[detail.range_key]
                assert detail.loaded.asset == detail.asset
        await until(pilot, lambda: detail.loaded is not None, "the last range")
        assert detail.loaded.hours == hours["2"] and detail.range_key == "2"
        fresh = await app.runtime.store.asset_history(detail.asset, 168, max_points=400,
                                                      source="hyperliquid",
                                                      now_ms=int(clock() * 1000))
        assert detail.loaded.series.times_ms == fresh.times_ms
        await pilot.press("q")


async def test_command_palette_runs_the_same_actions(settings):
    app = make_app(settings, ManualClock())
    async with app.run_test(size=(60, 18)) as pilot:  # below the supported size: no crash
        await first_cycle(app, pilot)
        await pilot.press("ctrl+p")
        await pilot.pause(0.2)
        for ch in "pause":
            await pilot.press(ch)
        await pilot.pause(0.5)
        await pilot.press("enter")
        await until(pilot, lambda: app.model.paused, "pause from the palette")
        await pilot.press("ctrl+p")
        await pilot.pause(0.2)
        for ch in "sort by fund/h":
            await pilot.press("space" if ch == " " else "slash" if ch == "/" else ch)
        await pilot.pause(0.5)
        await pilot.press("enter")
        await until(pilot, lambda: app.dashboard.table.sort_key == "fund", "sort from palette")
        await pilot.press("question_mark")
        await pilot.pause(0.2)
        assert type(app.screen).__name__ == "HelpScreen"
        await pilot.press("escape")
        await pilot.press("q")


async def test_filter_narrows_and_escape_restores(settings):
    app = make_app(settings, ManualClock())
    async with app.run_test(size=(80, 24)) as pilot:  # the smallest supported size
        await first_cycle(app, pilot)
        table = app.dashboard.table
        total = table.row_count
        await pilot.press("slash", "b", "t")
        await pilot.pause()
        assert table.order and all("bt" in a.casefold() for a in table.order)
        assert table.row_count < total
        await pilot.press("enter")  # keep the filter, back to the table
        assert table.has_focus and table.filter_text == "bt"
        title = str(table.border_title)  # on the table's border: visible at any width
        assert "filter" in title and "'bt'" in title and f"/{total}" in title
        await pilot.press("slash")
        await pilot.press("escape")
        await pilot.pause()
        assert table.row_count == total and table.has_focus
        await pilot.press("q")


async def test_quit_flushes_before_exit(settings):
    clock = ManualClock()
    app = make_app(settings, clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await first_cycle(app, pilot)
        await next_cycle(app, pilot, clock)
        runtime = app.runtime
        shown = app.dashboard.table.row_count
        await pilot.press("q")
        await until(pilot, lambda: not app.is_running or app.flushed, "exit")
    assert app.flushed and app.runtime is None and app.return_value == 0
    # a fresh store sees the last cycle of every asset
    store = make_store(runtime.settings)
    await store.open()
    try:
        rows = [r for r in await store.latest_positions() if r.get("source") == "hyperliquid"]
    finally:
        await store.close()
    assert len(rows) == shown
    assert {r["time_ms"] for r in rows} == {int(clock() * 1000)}


async def test_quit_while_the_runtime_is_still_starting(settings):
    """A store that takes forever to answer must not hold `q` hostage."""
    started = asyncio.Event()

    async def slow_factory(sink: EventSink):
        started.set()
        await asyncio.Event().wait()  # never returns: cancelled by quit

    app = make_app(settings, ManualClock(), runtime_factory=slow_factory)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, started.is_set, "the start")
        assert "starting" in header_text(app)
        await pilot.press("q")
        await until(pilot, lambda: not app.is_running, "the exit", timeout=10)
    assert app.return_value == 0


async def test_a_collector_that_raises_keeps_the_app_up_and_restarts(settings):
    """The sink raising inside the collector's cycle is a real failure path of run()."""
    clock = ManualClock()
    calls = {"n": 0}

    async def factory(sink: EventSink):
        calls["n"] += 1
        first_runtime = calls["n"] == 1

        def exploding(event) -> None:
            sink(event)
            if first_runtime and isinstance(event, CycleDone) and event.cycle == 2:
                raise RuntimeError("sink exploded [bold]not markup[/bold]")

        return await build_runtime(settings, exploding, demo=True, clock=clock, seed=7)

    app = make_app(settings, clock, runtime_factory=factory)
    async with app.run_test(size=(120, 40)) as pilot:
        await first_cycle(app, pilot)
        clock.t += 600
        await pilot.press("r")
        await until(pilot, lambda: app.model.collector_state == "failed", "the failure")
        await pilot.pause(0.3)
        assert app.is_running and app.screen is app.dashboard
        banner = app.dashboard.query_one(CollectorBanner)
        assert banner.display and "RuntimeError: sink exploded [bold]not markup[/bold]" in str(
            banner.render())
        assert "R to restart" in str(banner.render())
        assert app.dashboard.table.row_count > 200  # the data shown so far stays
        await pilot.press("p")  # keys still work; they say the collector is down
        await pilot.press("R")
        await until(pilot, lambda: app.model.collector_state == "running"
                    and app.model.last_cycle is not None and calls["n"] == 2, "the restart")
        await pilot.pause(0.3)
        assert not banner.display
        await pilot.press("q")
    assert app.flushed
