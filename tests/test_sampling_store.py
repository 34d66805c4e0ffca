"""Source `sampled` through the collector into a real influxd, against the simulated
exchange over real HTTP: stored aggregates and liquidation levels equal the exact sums
of the exchange's known positions; over 10 simulated minutes the weight budget is never
exceeded (counted at the exchange) while market data arrives every cycle.

Time compression (10-minute test): the exchange's rate-limit window is 1 s instead of
60 s (60x) with its limit unchanged (1200), the client's budget keeps 50% of 1200 per
window, and the collector's interval is one window, so one window is one simulated
minute and request weights are the real ones. The exchange runs in its own thread, and
the client's window (and the interval) are 25% (250 ms) longer than the exchange's, so
request-latency jitter on this shared, loaded machine (a stalled thread delays a request
by 100 ms or more; 60x compressed, that is 6+ simulated seconds) cannot put two spends
one client window apart into one exchange window.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from hltui.config import Settings, load_settings
from hltui.engine.collector import Collector
from hltui.engine.events import CycleDone, Event
from hltui.process.buckets import bucket_width
from hltui.sim.ratelimit import max_weight_in_window
from hltui.sim.server import SimExchange, SimExchangeThread
from hltui.sources.budget import WeightBudget
from hltui.sources.http import InfoClient
from hltui.sources.hyperliquid import HyperliquidJob
from hltui.sources.sampling import SampledJob
from hltui.store.factory import make_store
from tests.helpers.influxd import Influxd
from tests.test_sampling_job import N_GHOSTS, assert_matches, truth

pytestmark = pytest.mark.influx

WINDOW = 1.0
MARGIN = 0.25


def _settings(sim: SimExchange | SimExchangeThread, influxd: Influxd, db: str, tmp: Path,
              **kw: Any) -> Settings:
    base: dict[str, Any] = {
        "hyperliquid_url": sim.url, "leaderboard_url": sim.leaderboard_url,
        "influx_url": influxd.url, "influx_database": db, "data_dir": tmp,
        # interval 3600: one market cycle per window, the sampler may use all the rest
        "sources": "hyperliquid,sampled", "sample_size": 1000, "interval": 3600,
        "weight_budget_share": 1.0,
    }
    base.update(kw)
    return load_settings(**base)


async def _collector(settings: Settings, budget: WeightBudget, events: list[Event],
                     **job_kw: Any) -> Collector:
    store = make_store(settings)
    await store.open()
    jobs = [HyperliquidJob(settings, InfoClient(settings.hyperliquid_url, 5, budget)),
            SampledJob(settings, InfoClient(settings.hyperliquid_url, 5, budget), **job_kw)]
    return Collector(settings, store, jobs, events.append)


def by_time(rows: list[dict]) -> dict[int, list[dict]]:
    out: dict[int, list[dict]] = defaultdict(list)
    for r in rows:
        out[r["time"]].append(r)
    return out


async def test_stored_aggregates_equal_the_exact_sums(
    sim: SimExchange, influxd: Influxd, influx_db: str, tmp_path: Path, clean_env: Path
) -> None:
    settings = _settings(sim, influxd, influx_db, tmp_path)
    events: list[Event] = []
    # the first pass (505 accounts, 1010 weight) fits the budget: it lands in cycle 1
    collector = await _collector(settings, WeightBudget(1.0), events, first_pass_wait_s=30.0,
                                 min_pass_s=3600.0)
    try:
        done = await collector.run_once()
        # the store's own read API (what the dashboard and `hltui query` use)
        latest = [r for r in await collector.store.latest_positions() if r["source"] == "sampled"]
        btc_map = await collector.store.liquidation_map("BTC", "sampled")
    finally:
        await collector.close()
    assert done.per_source["sampled"]["ok"] == 505 and done.points_written == done.points

    hl = {r["asset"]: r for r in influxd.rows(
        """SELECT * FROM "asset_metrics" WHERE "source" = 'hyperliquid'""", influx_db)}
    rows = influxd.rows("""SELECT * FROM "asset_metrics" WHERE "source" = 'sampled'""",
                        influx_db)
    stored = {r["asset"]: r for r in rows}
    assert len(stored) == len(rows)  # one cycle, one row per asset
    want = truth(sim, set(hl))
    assert set(stored) == set(want)
    for coin, w in want.items():
        got = stored[coin]
        assert_matches(got, w, coin)
        total = w["long_notional_usd"] + w["short_notional_usd"]
        assert math.isclose(got["coverage"], total / hl[coin]["open_interest_usd"], rel_tol=1e-9)
        if w["short_notional_usd"] > 0:
            assert math.isclose(got["ls_ratio"], w["long_notional_usd"] / w["short_notional_usd"],
                                rel_tol=1e-9)

    # liquidation levels: |szi| x liquidationPx summed per side and price-scaled bucket
    expected: dict[tuple[str, str, float], float] = defaultdict(float)
    for t in sim.book.positions():
        if t.szi == 0 or t.coin not in hl or t.liquidationPx is None:
            continue
        width = bucket_width(hl[t.coin]["mark_price"])
        k = math.floor(t.liquidationPx / width)
        side = "long" if t.szi > 0 else "short"
        expected[(t.coin, side, k)] += abs(t.szi) * t.liquidationPx
    levels = influxd.rows("""SELECT * FROM "liquidation_levels" WHERE "source" = 'sampled'""",
                          influx_db)
    got_levels: dict[tuple[str, str, float], float] = {}
    for r in levels:
        width = bucket_width(hl[r["asset"]]["mark_price"])
        k = math.floor(r["price"] / width)
        assert math.isclose(r["price"], (k + 0.5) * width, rel_tol=1e-9)  # bucket centre
        got_levels[(r["asset"], r["side"], k)] = r["notional_usd"]
    assert set(got_levels) == set(expected) and len(levels) == len(expected)
    for key, v in expected.items():
        assert math.isclose(got_levels[key], v, rel_tol=1e-9), key
    btc_want = {(side, k): v for (c, side, k), v in expected.items() if c == "BTC"}
    w_btc = bucket_width(hl["BTC"]["mark_price"])
    assert len(btc_map) == len(btc_want) > 0
    for r in btc_map:
        key = (r["side"], math.floor(r["price"] / w_btc))
        assert r["source"] == "sampled"
        assert math.isclose(r["notional_usd"], btc_want[key], rel_tol=1e-9), key
    assert {r["asset"] for r in latest} == set(want)
    for r in latest:
        assert_matches(r, want[r["asset"]], r["asset"])

    (g,) = influxd.rows("""SELECT * FROM "global_metrics" WHERE "source" = 'sampled'""",
                        influx_db)
    live = [t for t in sim.book.positions() if t.szi != 0 and t.coin in hl]
    longs = sum(t.positionValue for t in live if t.szi > 0)
    shorts = sum(t.positionValue for t in live if t.szi < 0)
    assert math.isclose(g["long_notional_usd"], longs, rel_tol=1e-9)
    assert math.isclose(g["short_notional_usd"], shorts, rel_tol=1e-9)
    assert math.isclose(g["global_ls_ratio"], longs / shorts, rel_tol=1e-9)
    assert g["long_positions"] == sum(1 for t in live if t.szi > 0)
    assert g["short_positions"] == sum(1 for t in live if t.szi < 0)
    assert g["assets"] == len(want)
    assert g["sampled_accounts"] == 500 and g["vanished_accounts"] == N_GHOSTS
    assert g["sample_age_s"] >= 0


@pytest.mark.parametrize("sim_thread", [{"window_s": WINDOW}], indirect=True)
async def test_ten_simulated_minutes_within_budget_and_market_every_cycle(
    sim_thread: SimExchangeThread, influxd: Influxd, influx_db: str, tmp_path: Path,
    clean_env: Path
) -> None:
    sim = sim_thread  # its own thread: the collector's event loop cannot delay its clock
    client_window = WINDOW * (1 + MARGIN)
    # interval = one (client) window: one market cycle per window, the sampler's largest share
    settings = _settings(sim, influxd, influx_db, tmp_path, weight_budget_share=0.5,
                         interval=client_window)
    budget = WeightBudget(0.5, 1200, window_s=client_window)
    events: list[Event] = []
    # simulated time: a pass may start every (scaled) interval, not every 30 real seconds
    collector = await _collector(settings, budget, events, min_pass_s=client_window)
    try:
        status = await collector.run(cycles=10)
    finally:
        await collector.close()
    assert status == 0
    limit = 600
    log = sim.weight_log
    assert max_weight_in_window(log, WINDOW) <= limit  # counted at the exchange
    assert sim.stats.rate_limited == 0
    assert sim.window.limit == 1200 and sim.window.window_s == WINDOW
    # the sampler did use what was left: several full passes over 505 accounts
    account_weight = sum(w for _, w in log if w == 2)
    assert account_weight >= 3 * 505 * 2
    # market data every cycle, never delayed into a failure
    cycles = [e for e in events if isinstance(e, CycleDone)]
    assert len(cycles) == 10
    for c in cycles:
        assert c.per_source["hyperliquid"]["ok"] > 200
        assert not [e for e in c.errors if e.source == "hyperliquid"]
    assert sim.stats.requests["metaAndAssetCtxs"] == 10
    hl_times = by_time(influxd.rows(
        """SELECT * FROM "global_metrics" WHERE "source" = 'hyperliquid'""", influx_db))
    assert len(hl_times) == 10
    sampled = influxd.rows("""SELECT * FROM "global_metrics" WHERE "source" = 'sampled'""",
                           influx_db)
    # from the first complete pass on, every cycle stores the freshest complete aggregate
    assert len(sampled) >= 7
    assert set(by_time(sampled)) <= set(hl_times)
    assert all(r["sampled_accounts"] + r["vanished_accounts"] == 505 for r in sampled)
    assert all(r["sample_age_s"] >= 0 for r in sampled)


async def test_runtime_demo_with_sampled_source(
    influxd: Influxd, influx_db: str, tmp_path: Path, clean_env: Path
) -> None:
    """What `hltui --demo` with HLTUI_SOURCES=hyperliquid,sampled builds (make_jobs: a
    breaker and retries on the source's client): the first pass lands in cycle 1."""
    from hltui.engine.build import build_runtime

    settings = load_settings(influx_url=influxd.url, influx_database=influx_db,
                             data_dir=tmp_path, sources="hyperliquid,sampled", interval=30,
                             sample_size=200)
    events: list[Event] = []
    rt = await build_runtime(settings, events.append, demo=True)
    try:
        done = await rt.collector.run_once()
    finally:
        await rt.aclose()
    assert done.per_source["sampled"]["ok"] == 200  # default sample_size: the top 200
    assert done.points_written == done.points
    db = influx_db + "_demo"
    (g,) = influxd.rows("""SELECT * FROM "global_metrics" WHERE "source" = 'sampled'""", db)
    assert g["sampled_accounts"] + g["vanished_accounts"] == 200 and g["coverage"] > 0
    row = rt.collector.snapshot["BTC"]
    assert row["positioning_source"] == "sampled" and "coverage" in row
    assert (tmp_path / "demo" / "sampling" / "leaderboard.json").exists()
