"""Health stats: rolling success rates, percentiles, events, collector_stats points."""

from __future__ import annotations

import pytest

from hltui.engine.breaker import CircuitBreaker
from hltui.engine.stats import FLOAT_FIELDS, INT_FIELDS, HealthStats, WriterCounters, percentile
from hltui.process.records import COLLECTOR_STATS
from hltui.sources.base import ServerError


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def test_success_rate_last_hour_and_since_start():
    clock = Clock()
    st = HealthStats(clock=clock)
    st.record_job("hyperliquid", ok=0, failed=10)
    clock.now += 1800
    st.record_job("hyperliquid", ok=30, failed=0)
    st.record_job("hyperdash", ok=9, failed=1)
    assert st.success_rate_hour("hyperliquid") == pytest.approx(0.75)
    clock.now += 1900  # the failing sample leaves the hour
    assert st.success_rate_hour("hyperliquid") == pytest.approx(1.0)
    assert st.success_rate_total("hyperliquid") == pytest.approx(0.75)
    assert st.success_rate_hour("unknown") is None
    ev = st.to_event()
    assert ev.success_rate_hour == {"hyperliquid": 1.0, "hyperdash": 0.9}
    assert ev.success_rate_total["hyperliquid"] == pytest.approx(0.75)


def test_cycle_percentiles():
    st = HealthStats()
    for ms in range(1, 101):
        st.record_cycle(float(ms))
    ev = st.to_event()
    assert (ev.cycle_ms_p50, ev.cycle_ms_p95) == (50.0, 95.0)
    assert percentile([], 50) == 0.0
    assert percentile([7], 95) == 7.0


async def test_event_carries_writer_counters_and_breaker_states():
    st = HealthStats()
    br = CircuitBreaker("store", threshold=1, reset=30)
    st.track(br)

    async def down():
        raise ServerError("x", 500)

    with pytest.raises(ServerError):
        await br.call(down)
    st.update_writer(WriterCounters(written=10, spooled=5, replayed=3, dropped=1,
                                    dead_lettered=2, spool_bytes=4096))
    ev = st.to_event()
    assert (ev.points_written, ev.points_spooled, ev.points_replayed, ev.points_dropped,
            ev.spool_bytes) == (10, 5, 3, 1, 4096)
    assert ev.breakers["store"].state == "open"
    assert ev.breakers["store"].next_probe_in == pytest.approx(30, abs=1)


def test_collector_stats_points_have_fixed_field_types():
    st = HealthStats(clock=Clock())
    st.track(CircuitBreaker("hyperliquid"))
    for cycle in range(3):
        st.start_cycle()
        st.record_job("hyperliquid", ok=229, failed=1, duration_ms=120,
                      points_written=230 if cycle != 1 else 0,
                      spooled=0 if cycle != 1 else 230)
        st.record_job("sampled", ok=0, failed=0, duration_ms=5)
        st.record_cycle(130 + cycle)
        st.update_writer(WriterCounters(written=230 * cycle, replayed=7 * cycle,
                                        spool_bytes=100 * cycle))
        pts = st.points(1_700_000_000_000 + cycle)
        by = {p.tags["source"]: p for p in pts}
        assert set(by) == {"hyperliquid", "sampled", "collector"}
        assert all(p.measurement == COLLECTOR_STATS for p in pts)
        for p in pts:
            for k, v in p.fields.items():
                if k in FLOAT_FIELDS:
                    assert type(v) is float, k
                else:
                    assert k in INT_FIELDS and type(v) is int, k
        hl = by["hyperliquid"].fields
        assert hl["ok"] == 229 and hl["failed"] == 1
        assert hl["success_rate"] == pytest.approx(229 / 230)
        assert hl["points_written"] + hl["spooled"] == 230
        assert "success_rate" not in by["sampled"].fields  # no items: no rate, never None
        col = by["collector"].fields
        assert col["replayed"] == (7 if cycle else 0)  # per cycle, not cumulative
        assert col["spool_bytes"] == 100 * cycle
        assert col["cycle_ms"] == float(130 + cycle)
