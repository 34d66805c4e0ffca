"""The hyperdash source end to end: Debian's Chromium driven by Playwright, loading the
simulated HyperDash over real HTTP, reading the JSON its pages fetch, writing to a real
influxd through the collector. One browser is shared by the module (launches are the
expensive part on this machine)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio

from hltui.config import load_settings
from hltui.engine.collector import Collector
from hltui.process.buckets import bucket_width, bucketize
from hltui.sim.hyperdash import SimHyperDash
from hltui.sim.server import SimExchange
from hltui.sources.base import (
    BadPayload,
    Blocked,
    ClientHTTPError,
    CycleContext,
    MarketAsset,
    SourceTimeout,
)
from hltui.sources.budget import WeightBudget
from hltui.sources.http import InfoClient
from hltui.sources.hyperdash.browser import BrowserManager, find_browser
from hltui.sources.hyperdash.errors import BrowserCrashed, BrowserUnavailable, ChallengePage
from hltui.sources.hyperdash.job import HyperDashJob
from hltui.sources.hyperliquid import HyperliquidJob
from hltui.store.influx import InfluxStore

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

SITE_ONLY = ("@107", "kNEW", "Ω=2 x")  # on HyperDash, not in the official market
FEW = ["BTC", "ETH", "kPEPE", "@107"]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[BrowserManager]:
    manager = BrowserManager(find_browser())  # Debian's /usr/bin/chromium here
    yield manager
    await manager.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def exchange() -> AsyncIterator[SimExchange]:
    async with SimExchange(seed=7, n_assets=60, n_accounts=10) as sim:
        yield sim


def _market_prices(exchange: SimExchange):
    def price(asset: str) -> float | None:
        a = exchange.market.by_name.get(asset)
        return a.mark if a else None
    return price


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sites(exchange: SimExchange) -> AsyncIterator[dict[str, SimHyperDash]]:
    names = [a.name for a in exchange.market.assets if not a.delisted] + list(SITE_ONLY)
    async with SimHyperDash(seed=7, assets=names, protocol="graphql",
                            prices=_market_prices(exchange)) as g, \
            SimHyperDash(seed=7, assets=names, protocol="rest",
                         prices=_market_prices(exchange)) as r:
        yield {"graphql": g, "rest": r}


@contextlib.contextmanager
def faults(site: SimHyperDash, mode: str | None = None, **per_asset: str) -> Iterator[None]:
    site.mode, site.faults = mode, dict(per_asset)
    try:
        yield
    finally:
        site.mode, site.faults = None, {}


def settings_for(site: SimHyperDash, **kw):
    return load_settings(**{**site.settings_overrides(), "batch_size": 10, **kw})


def ctx_for(site: SimHyperDash, assets, cycle: int = 1, logs: list | None = None
            ) -> CycleContext:
    market = {a: MarketAsset(a, site.price_of(a), None, 1.0, 0.0) for a in assets}
    return CycleContext(cycle=cycle, now_ms=int(time.time() * 1000), market=market,
                        log=(lambda lvl, msg: logs.append((lvl, msg))) if logs is not None
                        else (lambda lvl, msg: None))


# ---- 30 assets through the collector into influxd, both protocols --------------------------

@pytest.mark.influx
@pytest.mark.parametrize("protocol", ["graphql", "rest"])
async def test_cycle_over_30_assets_stores_what_the_site_served(
        protocol, browser, exchange, sites, influxd, influx_db, clean_env) -> None:
    site = sites[protocol]
    tradable = [a.name for a in exchange.market.assets if not a.delisted]
    assets = tradable[:27] + list(SITE_ONLY)  # 3 assets absent from ctx.market
    settings = settings_for(site, influx_url=influxd.url, influx_database=influx_db,
                            hyperliquid_url=exchange.url, sources="hyperliquid,hyperdash",
                            hyperdash_assets=assets,
                            hyperdash_pages=3 if protocol == "graphql" else 1)
    store = InfluxStore(settings)
    await store.open()
    budget = WeightBudget(1.0)
    jobs = [HyperliquidJob(settings, InfoClient(exchange.url, 10, budget)),
            HyperDashJob(settings, browser=browser)]
    collector = Collector(settings, store, jobs)
    try:
        done = await collector.run_once()
        # read back through the store's public read path
        latest = await store.latest_positions()
        maps = {a: await store.liquidation_map(a, "hyperdash") for a in assets}
    finally:
        await collector.close()

    assert done.per_source["hyperdash"] == {"ok": 30, "failed": 0,
                                            "points": done.per_source["hyperdash"]["points"]}
    assert done.points_written == done.points
    assert browser.open_pages() == 0

    metrics = {r["asset"]: r for r in latest if r["source"] == "hyperdash"}
    marks = {r["asset"]: r["mark_price"] for r in latest if r["source"] == "hyperliquid"}
    levels: dict[tuple[str, str], dict[float, float]] = defaultdict(dict)
    for asset, rows in maps.items():
        for r in rows:
            assert r["source"] == "hyperdash"
            levels[(asset, r["side"])][r["price"]] = r["notional_usd"]
    # and the raw series straight from influxd (independent of our read code)
    raw_levels = influxd.rows('SELECT count("notional_usd") FROM "raw"."liquidation_levels" '
                              'GROUP BY "asset"', influx_db)
    assert {r["asset"]: r["count"] for r in raw_levels} == {
        a: len(levels[(a, "long")]) + len(levels[(a, "short")]) for a in assets}

    assert sorted(metrics) == sorted(assets)
    for asset in assets:
        m, served = metrics[asset], site.served[asset]
        if protocol == "graphql":
            node = served["positions"]
            assert m["long_notional_usd"] == node["totalLongNotional"]
            assert m["short_notional_usd"] == node["totalShortNotional"]
            assert (m["long_traders"], m["short_traders"]) == (node["longCount"],
                                                               node["shortCount"])
            top = sorted((p["notionalSize"] for p in node["positions"]), reverse=True)[:10]
            assert m["top10_share"] == pytest.approx(sum(top) / node["totalNotional"])
            raw = [("long" if q["amount"] > 0 else "short", q["price"],
                    abs(q["amount"]) * q["price"]) for q in served["liquidations"]["liquidations"]]
        else:
            row = served["summary_row"]
            major = "long" if row["Majority Side"] == "LONG" else "short"
            minor = "short" if major == "long" else "long"
            assert m[f"{major}_notional_usd"] == row["Majority Side Notional"]
            assert m[f"{minor}_notional_usd"] == row["Minority Side Notional"]
            assert (m["long_traders"], m["short_traders"]) == (row["Number Long"],
                                                               row["Number Short"])
            assert m[f"avg_entry_{major}"] == pytest.approx(row["Majority Side Entry"])
            raw = [("long" if c > 0 else "short", float(px), abs(c) * float(px))
                   for px, wallets in served["liquidations"].items() for c in wallets.values()]
        assert m["ls_ratio"] == pytest.approx(m["long_notional_usd"] / m["short_notional_usd"])
        # bucket width from the official mark, or the site's own price when not listed
        ref = marks.get(asset) or m["site_price"]
        assert (asset in marks) == (asset not in SITE_ONLY)
        assert m["liq_bucket_width"] == bucket_width(ref)
        want = bucketize(raw, bucket_width(ref))
        for side in ("long", "short"):
            got = levels[(asset, side)]
            expect = {p: v for (s, p), v in want.items() if s == side}
            assert set(got) == set(expect), (asset, side)
            for price, usd in expect.items():
                assert got[price] == pytest.approx(usd, rel=1e-9)
            assert m[f"liq_{side}_notional_usd"] == pytest.approx(sum(expect.values()))


# ---- faults: distinct errors, partial results --------------------------------------------

async def test_challenge_page_is_reported_as_a_challenge(browser, sites, clean_env) -> None:
    site = sites["graphql"]
    job = HyperDashJob(settings_for(site, hyperdash_assets=FEW), browser=browser)
    logs: list = []
    with faults(site, "challenge"), pytest.raises(ChallengePage) as err:
        await job.run(ctx_for(site, FEW, logs=logs))
    msg = str(err.value)
    assert "challenge" in msg and "verifying your browser" in msg and "403" in msg
    assert err.value.kind == "blocked"
    res = err.value.result
    assert res.ok == 0 and res.failed == len(FEW)
    assert {e.kind for e in res.errors} == {"blocked"}
    assert any("blocked, skipping the rest" in m for _, m in logs)
    assert browser.open_pages() == 0


async def test_403_is_blocked_not_a_parse_error(browser, sites, clean_env) -> None:
    site = sites["rest"]
    job = HyperDashJob(settings_for(site, hyperdash_assets=FEW), browser=browser)
    with faults(site, "forbidden"), pytest.raises(Blocked) as err:
        await job.run(ctx_for(site, FEW))
    assert not isinstance(err.value, ChallengePage)
    assert "HTTP 403 Forbidden" in str(err.value)
    assert err.value.kind == "blocked"


async def test_hung_response_times_out_and_other_assets_flow(browser, sites, clean_env) -> None:
    site = sites["graphql"]
    job = HyperDashJob(settings_for(site, hyperdash_assets=FEW, hyperdash_page_timeout=1.5),
                       browser=browser)
    with faults(site, ETH="hang"):
        res = await job.run(ctx_for(site, FEW))
    assert res.ok == 3 and res.failed == 1, res.errors
    (err,) = res.errors
    assert (err.item, err.kind) == ("ETH", "timeout")
    assert "no perpsTickerPositions within 1.5s" in err.message
    assert {p.tags["asset"] for p in res.points} == {"BTC", "kPEPE", "@107"}
    # the site stops answering: after 3 timeouts in a row the rest of the cycle is
    # skipped, and the job raises the timeout for the breaker
    many = [*FEW, "DOGE", "XRP", "SOL", "LINK"]
    job = HyperDashJob(settings_for(site, hyperdash_assets=many, hyperdash_page_timeout=1.5,
                                    hyperdash_pages=1), browser=browser)
    asked = site.requests["positions"]
    with faults(site, "hang"), pytest.raises(SourceTimeout, match="3 assets in a row") as err:
        await job.run(ctx_for(site, many))
    assert site.requests["positions"] - asked == 3
    res = err.value.result
    assert res.failed == len(many) and {e.kind for e in res.errors} == {"timeout"}
    assert sum("skipped" in e.message for e in res.errors) == len(many) - 3
    assert browser.open_pages() == 0


@pytest.mark.parametrize("protocol", ["graphql", "rest"])
async def test_broken_json_and_changed_shapes_are_bad_payloads(
        protocol, browser, sites, clean_env) -> None:
    site = sites[protocol]
    job = HyperDashJob(settings_for(site, hyperdash_assets=FEW), browser=browser)
    with faults(site, kPEPE="broken_json", ETH="bad_shape"):
        res = await job.run(ctx_for(site, FEW))
    assert res.ok == 2 and res.failed == 2
    errs = {e.item: e for e in res.errors}
    assert errs["kPEPE"].kind == "validation"
    assert "body is not valid JSON" in errs["kPEPE"].message
    missing = "totalLongNotional" if protocol == "graphql" else "Majority Side Notional"
    assert errs["ETH"].kind == "validation"
    assert f"{missing}: Field required" in errs["ETH"].message
    assert job.counts["validation"] == 2
    with faults(site, "broken_json"), pytest.raises(BadPayload, match="not valid JSON"):
        await job.run(ctx_for(site, FEW[:2]))


async def test_the_four_failures_are_distinct(browser, sites, clean_env) -> None:
    site = sites["graphql"]
    job = HyperDashJob(settings_for(site, hyperdash_assets=["BTC"], hyperdash_page_timeout=1.5),
                       browser=browser)
    seen = {}
    for mode in ("challenge", "forbidden", "hang", "broken_json"):
        with faults(site, mode), pytest.raises(Exception) as err:
            await job.run(ctx_for(site, ["BTC"]))
        seen[mode] = (type(err.value).__name__, str(err.value))
    assert [t for t, _ in seen.values()] == ["ChallengePage", "Blocked", "SourceTimeout",
                                             "BadPayload"]
    assert len({m for _, m in seen.values()}) == 4


async def test_api_key_from_settings_is_sent_when_the_page_does_not(
        browser, sites, clean_env) -> None:
    site = sites["rest"]
    site.page_sends_key = False
    try:
        job = HyperDashJob(settings_for(site, hyperdash_assets=["BTC"]), browser=browser)
        with pytest.raises(ClientHTTPError, match="HLTUI_HYPERDASH_API_KEY"):
            await job.run(ctx_for(site, ["BTC"]))
        keyed = HyperDashJob(settings_for(site, hyperdash_assets=["BTC"],
                                          hyperdash_api_key=site.api_key), browser=browser)
        logs: list = []
        res = await keyed.run(ctx_for(site, ["BTC"], logs=logs))
        assert res.ok == 1
        assert site.api_key not in repr(keyed.site) + repr(keyed.settings) + repr(logs)
    finally:
        site.page_sends_key = True


@pytest.mark.influx
async def test_blocked_opens_the_breaker_and_market_data_keeps_flowing(
        browser, exchange, sites, influxd, influx_db, clean_env) -> None:
    site = sites["graphql"]
    settings = settings_for(site, influx_url=influxd.url, influx_database=influx_db,
                            hyperliquid_url=exchange.url, hyperdash_assets=FEW,
                            breaker_threshold=2, breaker_reset=600)
    store = InfluxStore(settings)
    await store.open()
    jobs = [HyperliquidJob(settings, InfoClient(exchange.url, 10, WeightBudget(1.0))),
            HyperDashJob(settings, browser=browser)]
    collector = Collector(settings, store, jobs)
    try:
        with faults(site, "challenge"):
            first = await collector.run_once()
            second = await collector.run_once()
            assert collector.breakers["hyperdash"].state == "open"
            pages = site.requests["page"]
            third = await collector.run_once()
            assert site.requests["page"] == pages  # not called while open
    finally:
        await collector.close()
    for done in (first, second):
        (err,) = [e for e in done.errors if e.source == "hyperdash"]
        assert err.kind == "blocked" and "challenge" in err.message
    assert [e.kind for e in third.errors if e.source == "hyperdash"] == ["breaker"]
    for done in (first, second, third):  # the official API's data kept flowing
        assert done.per_source["hyperliquid"]["ok"] > 0
        assert done.points_written == done.points > 0
    assert browser.open_pages() == 0


# ---- lifecycle: one browser over 50 cycles, relaunch, no browser -------------------------

async def test_50_cycles_one_launch_pages_closed_rss_flat(browser, sites, clean_env) -> None:
    site = sites["graphql"]
    two = FEW[:2]  # one page load and one in-page navigation per cycle
    job = HyperDashJob(settings_for(site, hyperdash_assets=two, hyperdash_pages=1),
                       browser=browser)
    await job.run(ctx_for(site, two))  # warm (the module's browser may be fresh)
    launches = browser.launches
    loads, views = sum(site.page_loads.values()), sum(site.views.values())
    rss = []
    for cycle in range(50):
        res = await job.run(ctx_for(site, two, cycle))
        assert res.ok == 2
        assert browser.open_pages() == 0
        rss.append(browser.rss_bytes() / 2**20)
    assert browser.launches == launches
    assert sum(site.page_loads.values()) - loads == 50  # one page per batch, closed after
    assert sum(site.views.values()) - views == 100
    first, last = sum(rss[:10]) / 10, sum(rss[-10:]) / 10
    print(f"\nChromium RSS over 50 cycles (MB): first10 {first:.0f}, last10 {last:.0f}, "
          f"min {min(rss):.0f}, max {max(rss):.0f}")
    assert last < first * 1.5 + 50  # flat: no per-cycle leak


async def test_relaunch_after_crash_and_above_rss_ceiling(sites, clean_env) -> None:
    site = sites["graphql"]
    own = BrowserManager(find_browser())
    job = HyperDashJob(settings_for(site, hyperdash_assets=["BTC"]), browser=own)
    logs: list = []
    try:
        assert (await job.run(ctx_for(site, ["BTC"], logs=logs))).ok == 1
        assert own.pid is not None
        os.kill(own.pid, signal.SIGKILL)  # the Chromium this test started
        assert (await job.run(ctx_for(site, ["BTC"], logs=logs))).ok == 1
        assert own.launches == 2 and own.relaunches == ["browser process died"]
        # killed mid-request: the asset fails as a crash, not a timeout; next cycle relaunches
        job.settings = settings_for(site, hyperdash_assets=["BTC"], hyperdash_page_timeout=30)
        job.site = type(job.site).from_settings(job.settings)
        with faults(site, BTC="hang"):
            hung = site.requests["positions"]
            task = asyncio.create_task(job.run(ctx_for(site, ["BTC"], logs=logs)))
            while site.requests["positions"] == hung:
                await asyncio.sleep(0.02)
            os.kill(own.pid, signal.SIGKILL)
            with pytest.raises(BrowserCrashed):  # not a SourceTimeout after 30 s
                await task
        assert (await job.run(ctx_for(site, ["BTC"], logs=logs))).ok == 1
        assert own.launches == 3
        own.rss_limit = 1  # any real browser is above one byte
        assert (await job.run(ctx_for(site, ["BTC"], logs=logs))).ok == 1
        assert own.launches == 4 and "ceiling" in own.relaunches[-1]
        assert any("relaunching Chromium" in m for _, m in logs)
    finally:
        await own.close()
    assert own.rss_bytes() == 0


@pytest.mark.influx
async def test_missing_browser_one_line_and_other_sources_run(
        exchange, sites, influxd, influx_db, clean_env, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("HLTUI_BROWSER_PATH", str(tmp_path / "no-such-chromium"))
    site = sites["graphql"]
    settings = settings_for(site, influx_url=influxd.url, influx_database=influx_db,
                            hyperliquid_url=exchange.url, hyperdash_assets=FEW)
    store = InfluxStore(settings)
    await store.open()
    logs: list = []
    jobs = [HyperliquidJob(settings, InfoClient(exchange.url, 10, WeightBudget(1.0))),
            HyperDashJob(settings)]
    collector = Collector(settings, store, jobs, sink=logs.append)
    try:
        first = await collector.run_once()
        second = await collector.run_once()
    finally:
        await collector.close()
    for done in (first, second):
        assert done.per_source["hyperliquid"]["ok"] > 0
        assert done.per_source["hyperdash"]["ok"] == 0
        assert done.per_source["hyperdash"]["failed"] >= 1
        assert done.points_written == done.points > 0
    lines = [ev.message for ev in logs if getattr(ev, "level", "") == "error"
             and "no such file" in getattr(ev, "message", "")]
    assert len(lines) == 1  # said once, not every cycle
    (line,) = lines
    assert "\n" not in line
    assert "HLTUI_BROWSER_PATH" in line and "apt-get install chromium" in line
    with pytest.raises(BrowserUnavailable):
        await HyperDashJob(settings).run(ctx_for(site, FEW))


async def test_select_assets_prefers_config_then_market_by_oi(clean_env) -> None:
    s = load_settings(hyperdash_max_assets=2)
    job = HyperDashJob(s)
    ctx = CycleContext(cycle=1, now_ms=0, market={
        "A": MarketAsset("A", 10.0, None, 1.0, 0.0),
        "B": MarketAsset("B", 1.0, None, 1000.0, 0.0),
        "C": MarketAsset("C", 100.0, None, 1.0, 0.0),
        "D": MarketAsset("D", 1e6, None, 1.0, 0.0, delisted=True),
    })
    assert job.select_assets(ctx) == ["B", "C"]
    assert job.select_assets(CycleContext(cycle=2, now_ms=0)) == ["B", "C"]  # last known
    assert HyperDashJob(load_settings(hyperdash_assets="X,Y")).select_assets(ctx) == ["X", "Y"]
