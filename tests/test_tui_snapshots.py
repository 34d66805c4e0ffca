"""SVG snapshots of the dashboard (80x24, 160x48) and the detail screen, from the
seeded simulated exchange and a real embedded store, with a fixed clock.

Durations measured by the engine (cycle ms, log lines saying "in 183 ms") are the
only values that vary between runs; the runtime factory normalizes them in the
events before they reach the app, so everything else on screen is what users see.
Update after an intended change: `pytest tests/test_tui_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from hltui.config import Settings, load_settings
from hltui.engine.build import build_runtime
from hltui.engine.events import (
    CompressionDone,
    CycleDone,
    EventSink,
    LogRecord,
    StatsUpdated,
)
from hltui.tui.app import HltuiApp
from hltui.tui.screens.detail import AssetDetailScreen
from hltui.tui.widgets.sparklines import SparklinesPanel
from tests.test_tui_app import ManualClock, until

T0 = (time.time() // 86400 - 1) * 86400  # yesterday 00:00 UTC (see test_tui_app)
CYCLES = 6
_MS = re.compile(r"\b\d+(\.\d+)? ?ms\b")


def steady(sink: EventSink, clock: ManualClock) -> EventSink:
    """Pin the engine's measured durations and log times; pass everything else on."""

    def forward(event) -> None:
        if isinstance(event, CycleDone | CompressionDone):
            event = dataclasses.replace(event, duration_ms=250.0)
        elif isinstance(event, StatsUpdated):
            event = dataclasses.replace(event, cycle_ms_p50=250.0, cycle_ms_p95=250.0)
        elif isinstance(event, LogRecord):
            event = dataclasses.replace(event, time=clock(), message=_MS.sub("250 ms",
                                                                            event.message))
        sink(event)

    return forward


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def seeded_app(settings: Settings) -> tuple[HltuiApp, ManualClock]:
    clock = ManualClock(T0)

    async def factory(sink: EventSink):
        return await build_runtime(settings, steady(sink, clock), demo=True, clock=clock,
                                   seed=7)

    app = HltuiApp(settings, demo=True, clock=clock, seed=7, runtime_factory=factory,
                   watch_terminal=False)
    return app, clock


async def run_cycles(app: HltuiApp, pilot, clock: ManualClock) -> None:
    await until(pilot, lambda: app.model.last_cycle is not None
                and app.model.last_compression is not None, "the first cycle")
    for _ in range(CYCLES - 1):
        clock.t += 3600
        before = app.model.cycle
        app.collector.request_cycle()
        await until(pilot, lambda b=before: app.model.last_cycle is not None
                    and app.model.last_cycle.cycle > b, "a cycle")
    await pilot.pause(0.4)  # one refresh tick
    panel = app.dashboard.query_one(SparklinesPanel)
    await until(pilot, lambda: panel.loaded == (app.dashboard.table.selected_asset, CYCLES),
                "sparklines read back from the store")
    app.clear_notifications()
    await pilot.pause(0.3)


@pytest.fixture
def settings(clean_env: Path, utc, request: pytest.FixtureRequest):
    """A fixed data directory: its path is on screen (the header names the store)."""
    data = Path(tempfile.gettempdir()) / "hltui-snapshot" / re.sub(r"\W", "_", request.node.name)
    shutil.rmtree(data, ignore_errors=True)
    # compression runs once, after the first cycle (then its interval is never reached):
    # an automatic run racing the clock steps below would change the log
    # hyperliquid only: the sampled source paces its account scans in real time, so
    # its figures depend on the machine's speed (its detail is tested in test_tui_app)
    yield load_settings(interval=3600, compression_interval="1000d", sources="hyperliquid",
                        data_dir=data)
    shutil.rmtree(data, ignore_errors=True)


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
def test_dashboard_snapshot(snap_compare, settings, size):
    app, clock = seeded_app(settings)

    async def run_before(pilot) -> None:
        await run_cycles(app, pilot, clock)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_detail_snapshot(snap_compare, settings):
    app, clock = seeded_app(settings)

    async def run_before(pilot) -> None:
        await run_cycles(app, pilot, clock)
        await pilot.press("down", "enter")
        await until(pilot, lambda: isinstance(app.screen, AssetDetailScreen)
                    and app.screen.loaded is not None, "the detail screen")
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=(160, 48), run_before=run_before)
