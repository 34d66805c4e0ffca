"""Source `sampled` against the simulated exchange over real HTTP: aggregates equal the
exact sums of the exchange's known positions, coverage equals the known share, a 429
storm resumes the pass without counting anyone twice, vanished accounts, leaderboard
cache and outages, watch list, pause."""

from __future__ import annotations

import asyncio
import math
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from hltui.config import Settings, load_settings
from hltui.engine.breaker import CircuitBreaker
from hltui.process.positioning import Position
from hltui.process.records import ASSET_METRICS, GLOBAL_METRICS
from hltui.sim.server import SimExchange
from hltui.sources.base import CycleContext, JobResult
from hltui.sources.budget import WeightBudget
from hltui.sources.http import InfoClient
from hltui.sources.hyperliquid import HyperliquidJob
from hltui.sources.sampling import SampledJob

N_GHOSTS = 5  # the default book (500 accounts) lists 5 leaderboard addresses with no account


def settings_for(sim: SimExchange, tmp: Path, **kw: Any) -> Settings:
    base: dict[str, Any] = {
        "hyperliquid_url": sim.url, "leaderboard_url": sim.leaderboard_url, "data_dir": tmp,
        "sources": "hyperliquid,sampled", "sample_size": 1000, "interval": 0,
        "weight_budget_share": 1.0, "retry_attempts": 3,
    }
    base.update(kw)
    return load_settings(**base)


class Rig:
    """The two jobs sharing one budget, run cycle by cycle like the collector does."""

    def __init__(self, settings: Settings, budget: WeightBudget | None = None,
                 client_kw: dict[str, Any] | None = None, **job_kw: Any) -> None:
        self.budget = budget or WeightBudget(settings.weight_budget_share)
        self.hl = HyperliquidJob(settings, InfoClient(settings.hyperliquid_url, 5, self.budget))
        job_kw.setdefault("min_pass_s", 3600.0)  # one pass unless a test asks for more
        client = InfoClient(settings.hyperliquid_url, 5, self.budget, **(client_kw or {}))
        self.job = SampledJob(settings, client, **job_kw)
        self.cycle = 0
        self.paused = False

    async def run(self) -> tuple[CycleContext, JobResult]:
        self.cycle += 1
        ctx = CycleContext(self.cycle, int(time.time() * 1000), paused=lambda: self.paused)
        await self.hl.run(ctx)
        return ctx, await self.job.run(ctx)

    async def close(self) -> None:
        await self.job.close()
        await self.hl.close()


def truth(sim: SimExchange, universe: set[str], addresses: set[str] | None = None
          ) -> dict[str, dict[str, Any]]:
    """Expected per-asset fields straight from the exchange's book (its served strings)."""
    by_coin: dict[str, list[Position]] = defaultdict(list)
    for t in sim.book.positions():
        if t.szi == 0 or t.coin not in universe:
            continue
        if addresses is not None and t.address not in addresses:
            continue
        by_coin[t.coin].append(Position(t.address, t.coin, t.szi, t.positionValue, t.entryPx,
                                        t.liquidationPx))
    out = {}
    for coin, ps in by_coin.items():
        longs = [p for p in ps if p.size > 0]
        shorts = [p for p in ps if p.size < 0]
        notionals = sorted((p.notional_usd for p in ps), reverse=True)
        f: dict[str, Any] = {
            "long_notional_usd": sum(p.notional_usd for p in longs),
            "short_notional_usd": sum(p.notional_usd for p in shorts),
            "long_traders": len(longs), "short_traders": len(shorts),
            "top10_share": sum(notionals[:10]) / sum(notionals),
        }
        for side, group in (("long", longs), ("short", shorts)):
            if group:
                f[f"avg_entry_{side}"] = (sum(abs(p.size) * p.entry_price for p in group)
                                          / sum(abs(p.size) for p in group))
        out[coin] = f
    return out


def assert_matches(got: dict[str, Any], want: dict[str, Any], where: str) -> None:
    for k, v in want.items():
        if isinstance(v, int):
            assert got[k] == v, (where, k)
        else:
            assert math.isclose(got[k], v, rel_tol=1e-9), (where, k, got[k], v)


async def test_every_account_aggregates_to_the_exact_sums(sim: SimExchange,
                                                          tmp_path: Path) -> None:
    rig = Rig(settings_for(sim, tmp_path))
    try:
        ctx, _ = await rig.run()
        await rig.job.wait_passes(1)
        ctx, res = await rig.run()
    finally:
        await rig.close()
    universe = set(ctx.market)
    want = truth(sim, universe)
    assert set(res.assets) == set(want)  # every held listed coin, odd names included
    for coin, w in want.items():
        assert_matches(res.assets[coin], w, coin)
        m = ctx.market[coin]
        total = w["long_notional_usd"] + w["short_notional_usd"]
        assert math.isclose(res.assets[coin]["coverage"], total / (m.open_interest * m.mark_price),
                            rel_tol=1e-9)
    g = res.globals
    live = [t for t in sim.book.positions() if t.szi != 0 and t.coin in universe]
    assert math.isclose(g["long_notional_usd"], sum(t.positionValue for t in live if t.szi > 0))
    assert math.isclose(g["short_notional_usd"], sum(t.positionValue for t in live if t.szi < 0))
    assert g["long_positions"] == sum(1 for t in live if t.szi > 0)
    assert g["short_positions"] == sum(1 for t in live if t.szi < 0)
    assert g["assets"] == len(want)
    assert g["sampled_accounts"] == 500 and g["vanished_accounts"] == N_GHOSTS
    unknown = [t for t in sim.book.positions() if t.szi != 0 and t.coin not in universe]
    assert unknown and g["unknown_coin_positions"] == len(unknown)
    assert g["zero_size_positions"] == sum(1 for t in sim.book.positions() if t.szi == 0) > 0
    assert {p.measurement for p in res.points} == {ASSET_METRICS, GLOBAL_METRICS,
                                                   "liquidation_levels"}
    assert all(p.tags["source"] == "sampled" for p in res.points)


async def test_coverage_of_the_top_n_equals_their_known_share(sim: SimExchange,
                                                              tmp_path: Path) -> None:
    rig = Rig(settings_for(sim, tmp_path, sample_size=100))
    try:
        await rig.run()
        await rig.job.wait_passes(1)
        ctx, res = await rig.run()
    finally:
        await rig.close()
    rows = sim.book.leaderboard()["leaderboardRows"]
    top = sorted(rows, key=lambda r: -float(r["accountValue"]))[:100]
    addresses = {r["ethAddress"] for r in top}
    assert set(rig.job.members or ()) == addresses
    want = truth(sim, set(ctx.market), addresses)
    assert set(res.assets) == set(want)
    covered = oi = 0.0
    for coin, w in want.items():
        assert_matches(res.assets[coin], w, coin)
        m = ctx.market[coin]
        share = (w["long_notional_usd"] + w["short_notional_usd"]) / (m.open_interest
                                                                      * m.mark_price)
        assert math.isclose(res.assets[coin]["coverage"], share, rel_tol=1e-9)
        covered += w["long_notional_usd"] + w["short_notional_usd"]
        oi += m.open_interest * m.mark_price
    assert math.isclose(res.globals["coverage"], covered / oi, rel_tol=1e-9)
    assert 0 < res.globals["coverage"] < 1


async def test_429_storm_mid_pass_resumes_without_counting_anyone_twice(
    sim: SimExchange, tmp_path: Path
) -> None:
    rig = Rig(settings_for(sim, tmp_path, batch_size=10, max_concurrency=2))
    try:
        ctx, _ = await rig.run()
        while sim.stats.requests["clearinghouseState"] < 200:  # mid-pass
            await asyncio.sleep(0.005)
        sim.faults.set("rate_limit", count=40, type="clearinghouseState", retry_after=0.05)
        await rig.job.wait_passes(1)
        ctx, res = await rig.run()
    finally:
        await rig.close()
    n = 500 + N_GHOSTS
    assert sim.stats.rate_limited == 40 == rig.job.rate_limited_total
    # every address answered exactly once: the storm's 429s were retried, nothing else
    assert sim.stats.requests["clearinghouseState"] == n + 40
    assert rig.job.sampled_total == n and rig.job.failed_total == 0
    assert rig.job.passes_completed == 1 and res.globals["pass"] == 1  # resumed, not restarted
    want = truth(sim, set(ctx.market))
    for coin, w in want.items():
        assert_matches(res.assets[coin], w, coin)  # a double count would inflate these


FAST = {"window_s": 0.5}  # several passes: compress the rate-limit window 120x


def fast_budget() -> WeightBudget:
    return WeightBudget(0.5, window_s=FAST["window_s"] * 1.05)


async def test_429_storm_opens_the_breaker_and_the_pass_still_resumes(
    sim: SimExchange, tmp_path: Path
) -> None:
    settings = settings_for(sim, tmp_path, batch_size=10, max_concurrency=2)
    breaker = CircuitBreaker("sampled", threshold=3, reset=0.1)
    # what make_jobs builds: retries and a breaker on the source's client
    rig = Rig(settings, client_kw={"breaker": breaker, "attempts": 4})
    try:
        ctx, _ = await rig.run()
        while sim.stats.requests["clearinghouseState"] < 200:
            await asyncio.sleep(0.005)
        sim.faults.set("rate_limit", count=12, type="clearinghouseState", retry_after=0.05)
        await rig.job.wait_passes(1)
        ctx, res = await rig.run()
    finally:
        await rig.close()
    assert breaker.transitions >= 2  # opened (3 x 429), probed, closed again
    assert rig.job.client.attempts == 1  # the pass cursor retries, not the client
    assert sim.stats.rate_limited == 12
    assert sim.stats.requests["clearinghouseState"] == 505 + 12  # the open breaker called nobody
    assert rig.job.sampled_total == 505 and rig.job.failed_total == 0
    for coin, w in truth(sim, set(ctx.market)).items():
        assert_matches(res.assets[coin], w, coin)


@pytest.mark.parametrize("sim", [FAST], indirect=True)
async def test_vanished_accounts_leave_the_aggregate(sim: SimExchange,
                                                     tmp_path: Path) -> None:
    rig = Rig(settings_for(sim, tmp_path), fast_budget(), min_pass_s=0.0)
    try:
        await rig.run()
        await rig.job.wait_passes(1)
        gone = set(sim.book.vanish(count=50))
        done = rig.job.passes_completed
        await rig.job.wait_passes(done + 2)  # a whole pass after the vanishing
        ctx, res = await rig.run()
    finally:
        await rig.close()
    assert res.globals["vanished_accounts"] == 50 + N_GHOSTS
    assert res.globals["sampled_accounts"] == 450
    remaining = set(sim.book.accounts) - gone
    for coin, w in truth(sim, set(ctx.market), remaining).items():
        assert_matches(res.assets[coin], w, coin)


@pytest.mark.parametrize("sim", [FAST], indirect=True)
async def test_account_that_fails_is_counted_and_reported_then_recovers(
    sim: SimExchange, tmp_path: Path
) -> None:
    rig = Rig(settings_for(sim, tmp_path), fast_budget(), min_pass_s=0.0)
    try:
        await rig.run()
        sim.faults.set("malformed", count=1, type="clearinghouseState")
        await rig.job.wait_passes(1)
        _, first = await rig.run()
        await rig.job.wait_passes(rig.job.passes_completed + 1)
        ctx, res = await rig.run()
    finally:
        await rig.close()
    assert first.failed == 1
    assert any(e.kind == "validation" and "non-JSON" in e.message for e in first.errors)
    assert rig.job.failed_total == 1
    assert res.globals["sampled_accounts"] + res.globals["vanished_accounts"] == 505
    for coin, w in truth(sim, set(ctx.market)).items():
        assert_matches(res.assets[coin], w, coin)


async def test_server_errors_are_retried_and_no_account_is_lost(
    sim: SimExchange, tmp_path: Path
) -> None:
    rig = Rig(settings_for(sim, tmp_path))
    try:
        await rig.run()
        sim.faults.set("http500", count=30, type="clearinghouseState")
        await rig.job.wait_passes(1)
        ctx, res = await rig.run()
    finally:
        await rig.close()
    assert rig.job.failed_total == 0 and rig.job.sampled_total == 505
    assert sim.stats.requests["clearinghouseState"] == 505 + 30
    for coin, w in truth(sim, set(ctx.market)).items():
        assert_matches(res.assets[coin], w, coin)


async def test_leaderboard_is_cached_and_a_failed_refresh_keeps_the_cached_set(
    sim: SimExchange, tmp_path: Path
) -> None:
    s = settings_for(sim, tmp_path, sample_size=50)
    rig = Rig(s)
    try:
        await rig.run()
        await rig.job.wait_passes(1)
        first = rig.job.book.addresses()
    finally:
        await rig.close()
    assert len(first) == 50 and sim.stats.requests["leaderboard"] == 1
    assert (tmp_path / "sampling" / "leaderboard.json").exists()

    again = Rig(s)  # a restart within the refresh period: no download
    try:
        await again.run()
        await again.job.wait_passes(1)
    finally:
        await again.close()
    assert sim.stats.requests["leaderboard"] == 1 and again.job.book.addresses() == first

    sim.faults.set("http500", type="leaderboard")  # down until cleared
    due = Rig(s, leaderboard_refresh_s=0.0)
    try:
        _, res = await due.run()
        await due.job.wait_passes(1)
        _, res2 = await due.run()
    finally:
        await due.close()
    errors = res.errors + res2.errors
    assert any(e.item == "leaderboard" and "keeping 50 cached accounts" in e.message
               for e in errors), errors
    assert due.job.members is not None and sorted(due.job.members) == sorted(first)
    assert res2.globals["sampled_accounts"] + res2.globals["vanished_accounts"] == 50


async def test_without_leaderboard_or_cache_the_watch_list_is_still_sampled(
    sim: SimExchange, tmp_path: Path
) -> None:
    watch = sorted(sim.book.accounts)[:3]
    sim.faults.set("html", type="leaderboard", status=503)
    rig = Rig(settings_for(sim, tmp_path, sample_size=20, watch_list=",".join(watch)))
    try:
        _, res = await rig.run()
        await rig.job.wait_passes(1)
        ctx, res2 = await rig.run()
    finally:
        await rig.close()
    errors = res.errors + res2.errors
    assert any(e.item == "leaderboard" and "watch list only" in e.message for e in errors)
    assert sorted(rig.job.members or ()) == watch
    for coin, w in truth(sim, set(ctx.market), set(watch)).items():
        assert_matches(res2.assets[coin], w, coin)


async def test_watch_list_joins_the_top_n(sim: SimExchange, tmp_path: Path) -> None:
    rows = sorted(sim.book.leaderboard()["leaderboardRows"],
                  key=lambda r: -float(r["accountValue"]))
    top = [r["ethAddress"] for r in rows[:10]]
    extra = [r["ethAddress"] for r in rows[-2:]]
    rig = Rig(settings_for(sim, tmp_path, sample_size=10,
                           watch_list=",".join([top[0].upper().replace("0X", "0x"), *extra])))
    try:
        await rig.run()
        await rig.job.wait_passes(1)
    finally:
        await rig.close()
    assert rig.job.book.addresses() == top + extra  # no duplicate for the listed one


async def test_pause_stops_new_batches(sim: SimExchange, tmp_path: Path) -> None:
    rig = Rig(settings_for(sim, tmp_path), first_pass_wait_s=0.0)
    rig.paused = True
    try:
        await rig.run()
        await asyncio.sleep(0.3)
        assert sim.stats.requests["clearinghouseState"] == 0
        assert sim.stats.requests["leaderboard"] == 0
        rig.paused = False
        await rig.job.wait_passes(1)
    finally:
        await rig.close()
    assert rig.job.sampled_total == 505
