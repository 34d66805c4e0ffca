"""The collector with its resilience wiring: real influxd, simulated exchange over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest_asyncio

from hltui.config import Settings
from hltui.engine.build import build_runtime
from hltui.engine.events import BreakerChanged, CycleDone, StatsUpdated
from hltui.sim.server import SimExchange
from hltui.store.durable import DurableWriter
from tests.helpers.influxd import Influxd
from tests.helpers.sim_fixtures import DEFAULTS


@pytest_asyncio.fixture
async def sim() -> AsyncIterator[SimExchange]:
    """The simulated exchange (seed 7, 230 assets) over real HTTP, per test."""
    async with SimExchange(**DEFAULTS) as exchange:
        yield exchange


def settings(sim: SimExchange, influxd: Influxd, db: str, tmp_path, **kw) -> Settings:
    return Settings(influx_url=influxd.url, influx_database=db, data_dir=tmp_path / "data",
                    hyperliquid_url=sim.url, interval=0.05, **kw)


async def test_one_invalid_asset_every_cycle_fails_alone(sim, influxd, influx_db, tmp_path,
                                                         clean_env):
    bad = next(a.name for a in sim.market.assets[3:] if a.name.isalnum())
    sim.faults.set("bad_asset", asset=bad, field="markPx", value="NaN")  # every cycle
    events: list = []
    rt = await build_runtime(settings(sim, influxd, influx_db, tmp_path), events.append)
    try:
        assert isinstance(rt.collector.writer, DurableWriter)
        assert await rt.collector.run(3) == 0
    finally:
        await rt.aclose()
    done = [e for e in events if isinstance(e, CycleDone)]
    assert len(done) == 3
    for d in done:
        assert d.per_source["hyperliquid"]["failed"] == 1
        mine = [e for e in d.errors if e.source == "hyperliquid"]
        assert [(e.item, e.kind) for e in mine] == [(bad, "validation")]
        assert d.points_spooled == 0 and d.points_written == d.points
    rows = influxd.rows('SELECT "mark_price" FROM "raw"."asset_metrics" GROUP BY "asset"',
                        influx_db)
    stored = {r["asset"] for r in rows}
    assert bad not in stored
    per_time: dict[int, int] = {}
    for r in rows:
        per_time[r["time"]] = per_time.get(r["time"], 0) + 1
    ok_assets = done[0].per_source["hyperliquid"]["ok"]
    assert len(per_time) == 3 and set(per_time.values()) == {ok_assets}
    stats = influxd.rows('SELECT "ok", "failed", "success_rate" FROM "raw"."collector_stats" '
                         "WHERE \"source\" = 'hyperliquid'", influx_db)
    assert [(s["ok"], s["failed"]) for s in stats] == [(ok_assets, 1)] * 3
    assert all(0.99 < s["success_rate"] < 1 for s in stats)
    upd = [e for e in events if isinstance(e, StatsUpdated)]
    assert len(upd) == 3 and upd[-1].breakers["hyperliquid"].state == "closed"


async def test_source_breaker_opens_skips_the_job_and_recovers(sim, influxd, influx_db,
                                                               tmp_path, clean_env):
    sim.faults.set("http500")  # every /info request
    events: list = []
    st = settings(sim, influxd, influx_db, tmp_path, breaker_threshold=2, breaker_reset=0.5,
                  retry_attempts=1)
    rt = await build_runtime(st, events.append)
    col = rt.collector
    try:
        first = await col.run_once()  # two requests, two 500s: open
        assert col.breakers["hyperliquid"].state == "open"
        before = sum(sim.stats.requests.values())
        skipped = await col.run_once()
        assert sum(sim.stats.requests.values()) == before  # not called while open
        assert [e.kind for e in skipped.errors if e.source == "hyperliquid"] == ["breaker"]
        sim.faults.clear()
        await asyncio.sleep(0.55)
        back = await col.run_once()
        assert back.per_source["hyperliquid"]["ok"] > 200
    finally:
        await rt.aclose()
    assert first.points == 0 and back.points_written == back.points
    states = [e.state for e in events if isinstance(e, BreakerChanged)]
    assert states == ["open", "half-open", "closed"]


async def test_pause_holds_the_next_batch_and_resume_releases_it(sim, influxd, influx_db,
                                                                 tmp_path, clean_env):
    from hltui.engine.batch import run_batches

    rt = await build_runtime(settings(sim, influxd, influx_db, tmp_path), lambda e: None)
    col = rt.collector
    seen: list[str] = []

    async def per_asset(name: str) -> str:
        if name == "first":
            col.pause()
        seen.append(name)
        return name

    try:
        task = asyncio.create_task(run_batches(["first", "b", "c", "d"], per_asset,
                                               source="t", batch_size=2, max_concurrency=2,
                                               gate=col.gate))
        await asyncio.sleep(0.05)
        assert seen == ["first", "b"] and not task.done()
        col.resume()
        assert (await task).values == ["first", "b", "c", "d"]
    finally:
        await rt.aclose()
