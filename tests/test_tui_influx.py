"""The dashboard against a real influxd (1.6.7 from the session fixture): the same
collector-in-the-app path as the embedded tests, with InfluxDB as the store."""

from __future__ import annotations

from pathlib import Path

import pytest

from hltui.config import load_settings
from hltui.store.factory import make_store
from hltui.tui.screens.detail import AssetDetailScreen
from hltui.tui.widgets.history_chart import HistoryChart
from tests.test_tui_app import ManualClock, first_cycle, header_text, make_app, next_cycle, until

pytestmark = pytest.mark.influx


async def test_dashboard_on_influxdb(clean_env: Path, influxd, influx_db: str):
    settings = load_settings(interval=3600, sources="hyperliquid", influx_url=influxd.url,
                             influx_database=influx_db)
    clock = ManualClock()
    app = make_app(settings, clock)
    async with app.run_test(size=(160, 48)) as pilot:
        await first_cycle(app, pilot)
        await next_cycle(app, pilot, clock)
        store = app.runtime.store
        assert "InfluxDB" in header_text(app) and influxd.url in header_text(app)
        stored = {r["asset"] for r in await store.latest_positions()
                  if r.get("source") == "hyperliquid"}
        table = app.dashboard.table
        assert len(stored) > 200 and set(table.order) == stored
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, AssetDetailScreen)
                    and app.screen.loaded is not None, "the detail screen")
        assert app.screen.asset == table.order[0]
        assert {c.field: c.points for c in app.screen.query(HistoryChart)}["mark_price"] == 2
        await pilot.press("escape")
        shown = table.row_count
        runtime = app.runtime
        await pilot.press("q")
    assert app.flushed and app.return_value == 0
    fresh = make_store(runtime.settings)
    await fresh.open()
    try:
        rows = [r for r in await fresh.latest_positions() if r.get("source") == "hyperliquid"]
    finally:
        await fresh.close()
    assert len(rows) == shown and {r["time_ms"] for r in rows} == {int(clock() * 1000)}
