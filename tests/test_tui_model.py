"""The dashboard model: engine events in, table rows and health out (no Textual)."""

from __future__ import annotations

import math

from hltui.engine.events import (
    BreakerChanged,
    CollectorFailed,
    CompressionDone,
    CompressionProgress,
    CycleDone,
    CycleStarted,
    LogRecord,
    PausedChanged,
    SnapshotReady,
    StatsUpdated,
)
from hltui.tui import format as fmt
from hltui.tui.model import DashboardModel, EventFeed, market_row


class Clock:
    def __init__(self, t: float = 1_700_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_market_row_reads_contract_fields_and_derives_the_rest():
    row = market_row({
        "mark_price": 100.0, "prev_day_price": 80.0, "funding_rate": 0.0000125,
        "predicted_funding_rate": -0.00002, "open_interest": 3.0, "volume_24h_usd": 5e6,
        "source_hyperdash": {"long_notional_usd": 150.0, "short_notional_usd": 100.0,
                             "long_traders": 7, "short_traders": 3},
    })
    assert row["chg"] == 100.0 / 80.0 - 1
    assert row["oi"] == 300.0  # coins x mark when the USD figure is missing
    assert math.isclose(row["fund_ann"], 0.0000125 * 24 * 365)
    assert row["pred"] == -0.00002
    assert row["ls"] == 1.5 and row["long_tr"] == 7 and row["short_tr"] == 3
    assert math.isclose(row["cov"], 250.0 / 300.0)


def test_market_row_tolerates_garbage():
    row = market_row({"mark_price": "nan", "funding_rate": None, "open_interest_usd": "x",
                      "ls_ratio": float("inf"), "source_bad": "not a dict"})
    assert all(v is None for v in row.values())
    assert fmt.price(row["mark"]) == fmt.DASH


def test_feed_drains_in_order_and_is_bounded():
    feed = EventFeed(maxlen=3)
    for i in range(5):
        feed(CycleStarted(i))
    assert [e.cycle for e in feed.drain()] == [2, 3, 4]  # type: ignore[union-attr]
    assert feed.drain() == []


def test_model_versions_move_only_for_what_changed():
    m = DashboardModel(clock=Clock())
    v0 = (m.versions.markets, m.versions.header, m.versions.health)
    m.apply(LogRecord("info", "hello"))
    assert (m.versions.markets, m.versions.header, m.versions.health) == v0
    m.apply(SnapshotReady(1, {"BTC": {"mark_price": 1.0}}, {"assets": 1}))
    assert m.versions.markets == v0[0] + 1 and m.rows["BTC"]["mark"] == 1.0
    m.apply(SnapshotReady(2, {"ETH": {"mark_price": 2.0}}, {}))
    assert set(m.rows) == {"BTC", "ETH"}  # a partial snapshot keeps the other assets


def test_log_is_bounded_and_handed_out_once():
    m = DashboardModel(clock=Clock(), log_lines=100)
    m.apply_all(LogRecord("info", f"line {i}") for i in range(250))
    assert len(m.log) == 100 and m.log[0].message == "line 150"
    batch = m.take_log()
    assert len(batch) == 100 and batch[-1].message == "line 249"
    assert m.take_log() == []


def test_breaker_countdown_counts_down_on_the_clock():
    clock = Clock()
    m = DashboardModel(clock=clock)
    m.apply(BreakerChanged("hyperdash", "open", 5, 30.0, "403"))
    assert m.breaker_countdown("hyperdash") == 30.0
    clock.t += 12
    assert m.breaker_countdown("hyperdash") == 18.0
    clock.t += 100
    assert m.breaker_countdown("hyperdash") == 0.0
    m.apply(StatsUpdated({"hyperdash": 0.5}, {}, 1, 2, 3, 0, 0, 0, 0,
                         {"hyperdash": BreakerChanged("hyperdash", "half-open", 5, None)}))
    assert m.breaker_countdown("hyperdash") is None
    assert m.breakers["hyperdash"].state == "half-open"


def test_pause_compression_and_failure_become_state_and_notices():
    m = DashboardModel(clock=Clock())
    m.apply(PausedChanged(True))
    assert m.paused
    m.apply(CompressionProgress(2, 5))
    assert m.compression_running
    m.compression_requested = True
    m.apply(CompressionDone(5, 1234, 850.0))
    assert not m.compression_running and m.last_compression.points == 1234  # type: ignore[union-attr]
    m.apply(CollectorFailed("RuntimeError: boom"))
    assert m.collector_state == "failed" and m.collector_error == "RuntimeError: boom"
    notices = [n.message for n in m.take_notices()]
    assert any("1,234 points" in n for n in notices)
    assert any("boom" in n for n in notices)
    m.apply(CycleDone(3, 10, 1, 11, 11, 0, 500.0))
    assert m.cycle == 3 and m.last_cycle_at == m.clock()


def test_formatting_edges():
    assert fmt.price(0.0015650) == "0.0015650"
    assert fmt.price(97020.0) == "97,020"
    assert fmt.usd(1.46e9) == "$1.5B" and fmt.usd(-2_000) == "-$2.0K"
    assert fmt.funding_annual(0.0000125) == "+10.9%"
    assert fmt.funding_hourly(-0.0000125) == "-0.0013%"
    assert fmt.sign_style(-1) == "red" and fmt.sign_style(0) == "dim"
    assert fmt.millis(65_000) == "1m05s"
    assert [fmt.pct_compact(x) for x in (0.014, -0.1361, 1.2345)] == ["+1.40%", "-13.6%", "+123%"]
    assert fmt.funding_annual(0.0015) == "+1314%"  # a meme coin's funding fits its column
    assert fmt.ratio(190.2) == "190" and fmt.ratio(38.93) == "38.9"


def test_points_written_falls_back_to_the_cycles_sum():
    m = DashboardModel(clock=Clock())
    m.apply(CycleDone(1, 10, 0, 11, 11, 0, 5.0))
    m.apply(CycleDone(2, 10, 0, 11, 9, 2, 5.0))
    m.apply(StatsUpdated({}, {}, 1, 2, 0, 0, 0, 0, 0))  # a writer without counters
    assert m.points_written == 20
    m.apply(StatsUpdated({}, {}, 1, 2, 1234, 0, 0, 0, 0))
    assert m.points_written == 1234
