"""Durable writer against a real influxd that goes away and comes back."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import pytest

from hltui.config import Settings
from hltui.engine.breaker import CircuitBreaker
from hltui.engine.events import LogRecord
from hltui.process.records import ASSET_METRICS, Point
from hltui.store.durable import DurableWriter
from hltui.store.influx import InfluxStore
from hltui.store.spool import Spool
from tests.helpers.influxd import Influxd

_dbs = itertools.count()


def points(t0_ms: int, n_assets: int = 5, cycle: int = 0) -> list[Point]:
    names = ["BTC", "kPEPE", "@107", "a,b=c d", "ÉTH"][:n_assets]
    return [Point(ASSET_METRICS, {"asset": a, "source": "hyperliquid"},
                  {"mark_price": 100.0 + cycle, "long_traders": 3}, t0_ms + cycle * 1000)
            for a in names]


class Rig:
    def __init__(self, server: Influxd, data: Path, threshold: int = 3) -> None:
        self.server = server
        self.db = f"durable_{next(_dbs)}"
        self.settings = Settings(influx_url=server.url, influx_database=self.db, data_dir=data,
                                 influx_timeout=2.0)
        self.store = InfluxStore(self.settings)
        self.events: list = []
        self.breaker = CircuitBreaker("store", threshold, reset=0.2,
                                      on_change=self.events.append)
        self.spool = Spool(data / "spool", 1 << 24)
        self.writer = DurableWriter(self.store, self.spool, self.breaker, self.events.append)

    def rows(self) -> list[dict]:
        return self.server.rows(
            f'SELECT "mark_price" FROM "raw"."{ASSET_METRICS}" GROUP BY *', self.db)

    async def close(self) -> None:
        self.writer.close()
        await self.store.close()


@pytest.fixture
async def rig(up: Influxd, tmp_path: Path, clean_env):
    r = Rig(up, tmp_path / "data")
    await r.store.open()
    yield r
    await r.close()


async def test_writes_straight_through_when_the_store_answers(rig: Rig):
    out = await rig.writer.write(points(int(time.time() * 1000) - 60_000))
    assert (out.written, out.spooled, out.lost) == (5, 0, 0)
    assert len(rig.rows()) == 5
    assert rig.spool.empty and rig.writer.counters().written == 5


async def test_outage_spools_then_replays_first_exactly_once_in_order(rig: Rig):
    t0 = int(time.time() * 1000) - 60_000
    await rig.writer.write(points(t0, cycle=0))
    rig.server.stop()
    for c in (1, 2, 3, 4):
        out = await rig.writer.write(points(t0, cycle=c))
        assert (out.written, out.spooled) == (0, 5)
        assert out.errors and "spool" in out.errors[0]
    assert rig.breaker.state == "open"  # threshold 3: the 4th write never reached the store
    assert rig.spool.pending_lines == 20 and rig.spool.bytes > 0
    rig.server.start()
    time.sleep(0.25)  # past the breaker's reset: the next write probes
    out = await rig.writer.write(points(t0, cycle=5))
    assert (out.written, out.spooled) == (5, 0)
    c = rig.writer.counters()
    assert (c.written, c.spooled, c.replayed, c.dropped) == (10, 20, 20, 0)
    assert rig.spool.empty and rig.spool.bytes == 0
    rows = rig.rows()
    assert len(rows) == 30  # 6 cycles x 5 assets, each exactly once
    for asset in {r["asset"] for r in rows}:
        mine = [r for r in rows if r["asset"] == asset]
        assert [r["time"] for r in mine] == [t0 + i * 1000 for i in range(6)]
        assert [r["mark_price"] for r in mine] == [100.0 + i for i in range(6)]
    states = [e.state for e in rig.events if hasattr(e, "state")]
    assert states == ["open", "half-open", "closed"]
    assert any(isinstance(e, LogRecord) and "spool replayed" in e.message for e in rig.events)


async def test_spooled_points_survive_a_restart_of_the_writer(up: Influxd, tmp_path, clean_env):
    data = tmp_path / "data"
    first = Rig(up, data)
    await first.store.open()
    up.stop()
    t0 = int(time.time() * 1000) - 30_000
    await first.writer.write(points(t0, cycle=0))
    await first.writer.write(points(t0, cycle=1))
    out = await first.writer.flush()  # the final replay attempt fails: kept on disk
    assert out.lost == 0 and first.spool.pending_lines == 10
    await first.close()
    up.start()
    second = Rig(up, data)
    second.db = first.db
    second.settings = first.settings
    second.store = InfluxStore(first.settings)
    second.writer = DurableWriter(second.store, second.spool, second.breaker, second.events.append)
    await second.store.open()
    assert any("earlier run" in e.message for e in second.events if isinstance(e, LogRecord))
    await second.writer.flush()
    assert second.spool.empty
    assert len(second.rows()) == 10
    await second.close()


async def test_partial_write_goes_to_the_dead_letter_file_with_the_reason(rig: Rig):
    t0 = int(time.time() * 1000) - 120_000
    await rig.writer.write(points(t0))
    bad = [Point(ASSET_METRICS, {"asset": "BTC", "source": "hyperliquid"},
                 {"mark_price": "not a number"}, t0 + 5000)]
    out = await rig.writer.write(points(t0, cycle=1) + bad)
    assert out.written == 5 and out.rejected == 1 and out.spooled == 0
    dead = (rig.settings.data_dir / "deadletter.lp").read_text()
    assert "field type conflict" in dead and "not a number" in dead
    assert dead.startswith("# ")
    assert rig.writer.counters().dead_lettered == 1
    assert len(rig.rows()) == 10
    # refused lines are never retried: the next write does not send them again
    out = await rig.writer.write(points(t0, cycle=2))
    assert out.rejected == 0 and rig.writer.counters().dead_lettered == 1


async def test_points_that_cannot_be_serialized_are_dead_lettered_while_spooling(rig: Rig):
    rig.server.stop()
    t0 = int(time.time() * 1000)
    bad = Point(ASSET_METRICS, {"asset": "trailing\\", "source": "hyperliquid"},
                {"mark_price": 1.0}, t0)
    out = await rig.writer.write([*points(t0), bad])
    assert out.spooled == 5 and out.rejected == 1
    assert "backslash" in (rig.settings.data_dir / "deadletter.lp").read_text()


async def test_replay_re_marks_compressed_windows(up: Influxd, tmp_path, clean_env):
    """Points spooled during an outage land in hours already compressed: the replay marks
    them dirty and the next compression aggregates them again."""
    hour = 3_600_000
    now = (int(time.time() * 1000) // hour) * hour + 30 * 60_000
    r = Rig(up, tmp_path / "data")
    r.settings = r.settings.model_copy(update={"compression_min_age": 3600.0})
    r.store = InfluxStore(r.settings)
    r.writer = DurableWriter(r.store, r.spool, r.breaker, r.events.append)
    await r.store.open()
    try:
        late_hour = now - 3 * hour - 30 * 60_000  # a whole hour, well past the minimum age
        await r.writer.write(points(late_hour, n_assets=1))
        first = await r.store.compress(now)
        assert first.windows >= 1 and r.store.state.watermark_ms > late_hour + hour
        up.stop()
        out = await r.writer.write(points(late_hour + 60_000, n_assets=1, cycle=9))
        assert out.spooled == 1
        up.start()
        r.breaker.probe_now()
        await r.writer.flush()
        assert r.spool.empty
        assert late_hour in r.store.state.dirty  # re-marked by the replay
        again = await r.store.compress(now)
        assert again.windows == 1
        rows = up.rows(f'SELECT * FROM "compressed"."{ASSET_METRICS}" WHERE time = '
                       f"{late_hour}ms", r.db)
        assert len(rows) == 1 and rows[0]["mark_price_high"] == 109.0  # includes the replayed
    finally:
        await r.close()


async def test_full_spool_drops_the_oldest_counts_and_reports_in_red(up: Influxd, tmp_path,
                                                                      clean_env):
    data = tmp_path / "data"
    r = Rig(up, data)
    r.spool.close()
    logs: list[tuple[str, str]] = []
    r.spool = Spool(data / "spool", 4096, segment_bytes=1024,
                    log=lambda level, msg: logs.append((level, msg)))
    r.writer = DurableWriter(r.store, r.spool, r.breaker, r.events.append)
    await r.store.open()
    up.stop()
    t0 = int(time.time() * 1000) - 60_000
    lost = 0
    try:
        for c in range(30):
            out = await r.writer.write(points(t0, cycle=c))
            assert out.spooled == 5
            lost += out.lost
        c = r.writer.counters()
        assert c.dropped == lost > 0 and c.spooled == 150
        assert r.spool.bytes <= 4096
        assert any(level == "error" and "spool full" in msg for level, msg in logs)
        up.start()
        r.breaker.probe_now()
        await r.writer.flush()
        rows = r.rows()
        assert len(rows) == 150 - lost
        assert max(row["time"] for row in rows) == t0 + 29 * 1000  # the newest were kept
    finally:
        await r.close()
