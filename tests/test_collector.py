"""The collector in-process against the simulated exchange (real HTTP) and a real influxd:
each kind of bad payload is a counted, clearly worded error and the next cycle recovers."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from hltui.config import load_settings
from hltui.engine.build import build_runtime
from hltui.engine.events import CycleDone, Event, LogRecord, PausedChanged, SnapshotReady
from hltui.sim.server import SimExchange
from tests.helpers.influxd import Influxd


@pytest.fixture
def events() -> list[Event]:
    return []


@pytest.fixture
async def runtime(sim: SimExchange, influxd: Influxd, influx_db: str, tmp_path: Path,
                  events: list[Event], clean_env: Path):
    settings = load_settings(hyperliquid_url=sim.url, influx_url=influxd.url,
                             influx_database=influx_db, data_dir=tmp_path, interval=0,
                             retry_attempts=1)
    rt = await build_runtime(settings, events.append)
    yield rt
    await rt.aclose()


@pytest.mark.parametrize(
    ("fault", "params", "needle"),
    [
        ("misaligned", {}, "index-aligned"),
        ("malformed", {}, "non-JSON"),
        ("html", {"status": 200}, "HTML page"),
        ("wrong_types", {"mode": "objects"}, "ctxs is dict"),
    ],
)
async def test_bad_market_payload_is_a_counted_error_then_recovers(
    runtime, sim: SimExchange, events: list[Event], fault: str, params: dict,
    needle: str,
) -> None:
    sim.faults.set(fault, count=1, type="metaAndAssetCtxs", **params)
    bad = await runtime.collector.run_once()
    assert bad.points == 0 and bad.assets_failed == 1
    assert any(needle in e.message and e.source == "hyperliquid" for e in bad.errors), bad.errors
    good = await runtime.collector.run_once()
    assert good.assets_failed == 0 and good.points_written == good.points > 200
    logs = [e.message for e in events if isinstance(e, LogRecord)]
    assert any(needle in m for m in logs)


async def test_bad_asset_fails_alone(runtime, sim: SimExchange, influxd: Influxd,
                                     influx_db: str) -> None:
    sim.faults.set("bad_asset", asset="ETH", field="markPx", value="NaN")
    for _ in range(2):
        done = await runtime.collector.run_once()
        assert done.assets_failed == 1
        assert [e.item for e in done.errors] == ["ETH"]
        assert "markPx" in done.errors[0].message
    stored = influxd.rows('SELECT count("mark_price") FROM "asset_metrics" GROUP BY "asset"',
                          influx_db)
    assert all(r["count"] == 2 for r in stored)
    assert "ETH" not in {r["asset"] for r in stored}
    assert len(stored) == done.assets_ok


async def test_predicted_funding_failure_keeps_market_data(
    runtime, sim: SimExchange, events: list[Event]
) -> None:
    sim.faults.set("html", count=1, type="predictedFundings")
    done = await runtime.collector.run_once()
    assert done.points_written > 200
    assert [e.item for e in done.errors] == ["predictedFundings"]
    snap = [e for e in events if isinstance(e, SnapshotReady)][-1]
    btc = snap.assets["BTC"]
    assert btc["mark_price"] > 0 and "predicted_funding_rate" not in btc
    done = await runtime.collector.run_once()
    snap = [e for e in events if isinstance(e, SnapshotReady)][-1]
    assert "predicted_funding_rate" in snap.assets["BTC"]


async def test_pause_resume_and_cycles(runtime, events: list[Event]) -> None:
    collector = runtime.collector
    collector.pause()
    task = asyncio.create_task(collector.run(cycles=2))
    await asyncio.sleep(0.3)
    assert collector.cycle == 0  # paused: no cycle started
    collector.resume()
    status = await asyncio.wait_for(task, 30)
    assert status == 0 and collector.cycle == 2
    assert [e.paused for e in events if isinstance(e, PausedChanged)] == [True, False]
    assert len([e for e in events if isinstance(e, CycleDone)]) == 2


async def test_request_cycle_runs_while_paused_and_stop_ends_loop(runtime) -> None:
    collector = runtime.collector
    collector.settings = collector.settings.model_copy(update={"interval": 3600})
    collector.pause()
    task = asyncio.create_task(collector.run())
    await asyncio.sleep(0.1)
    collector.request_cycle()
    for _ in range(100):
        if collector.cycle == 1:
            break
        await asyncio.sleep(0.05)
    assert collector.cycle == 1
    collector.stop()
    assert await asyncio.wait_for(task, 10) == 0


async def test_embedded_store_health_counts_written_points(
    sim: SimExchange, tmp_path: Path, clean_env: Path
) -> None:
    from hltui.engine.events import StatsUpdated

    events: list[Event] = []
    settings = load_settings(hyperliquid_url=sim.url, data_dir=tmp_path, interval=0)
    rt = await build_runtime(settings, events.append)
    try:
        done = await rt.collector.run_once()
    finally:
        await rt.aclose()
    stats = [e for e in events if isinstance(e, StatsUpdated)][-1]
    assert stats.points_written == done.points_written > 200
