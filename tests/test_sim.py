"""The simulated exchange, exercised over real HTTP with an aiohttp client."""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import subprocess
import sys
import urllib.request
from collections import Counter
from typing import Any

import aiohttp
import pytest

from hltui.process.records import InvalidAssetName, check_asset_name
from hltui.sim.market import AWKWARD_NAMES, DELISTED, UNSTORABLE_NAME, Market
from hltui.sim.server import SimExchange, SimExchangeThread

FIXED_NOW = 1_736_510_400.0  # a fixed clock (seconds), on an hour boundary


def fixed_clock() -> float:
    return FIXED_NOW


async def post(session: aiohttp.ClientSession, sim: SimExchange, body: Any,
               ) -> tuple[int, Any, aiohttp.ClientResponse]:
    async with session.post(f"{sim.url}/info", json=body) as r:
        text = await r.text()
        try:
            data = json.loads(text)
        except ValueError:
            data = text
        return r.status, data, r


def is_decimal(s: Any) -> bool:
    if not isinstance(s, str):
        return False
    try:
        return math.isfinite(float(s))
    except ValueError:
        return False


def is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


# -- shapes -----------------------------------------------------------------------------
CTX_DECIMALS = ("funding", "openInterest", "prevDayPx", "dayNtlVlm", "oraclePx", "markPx",
                "dayBaseVlm")
CTX_NULLABLE = ("premium", "midPx")


async def test_meta_and_asset_ctxs_shape(sim: SimExchange) -> None:
    async with aiohttp.ClientSession() as s:
        status, data, r = await post(s, sim, {"type": "metaAndAssetCtxs"})
    assert status == 200 and r.content_type == "application/json"
    assert isinstance(data, list) and len(data) == 2
    meta, ctxs = data
    universe = meta["universe"]
    assert len(universe) == 230 == len(ctxs)
    for u in universe:
        assert isinstance(u["name"], str)
        assert is_int(u["szDecimals"]) and is_int(u["maxLeverage"])
        assert u.get("onlyIsolated", True) is True and u.get("isDelisted", True) is True
    for ctx in ctxs:
        assert set(ctx) == {*CTX_DECIMALS, *CTX_NULLABLE, "impactPxs"}
        for k in CTX_DECIMALS:
            assert is_decimal(ctx[k]), (k, ctx[k])
        for k in CTX_NULLABLE:
            assert ctx[k] is None or is_decimal(ctx[k])
        ip = ctx["impactPxs"]
        assert ip is None or (len(ip) == 2 and all(is_decimal(x) for x in ip))
    names = [u["name"] for u in universe]
    by_name = dict(zip(names, ctxs, strict=True))
    assert {"BTC", "ETH", "kPEPE", *AWKWARD_NAMES, *DELISTED} <= set(names)
    assert 80_000 < float(by_name["BTC"]["markPx"]) < 115_000
    assert 2_800 < float(by_name["ETH"]["markPx"]) < 4_200
    assert 0.001 < float(by_name["kPEPE"]["markPx"]) < 0.002
    delisted = [u["name"] for u in universe if u.get("isDelisted")]
    assert sorted(delisted) == sorted(DELISTED)
    assert all(by_name[n]["midPx"] is None for n in delisted)
    assert any(ctx["midPx"] is None for n, ctx in by_name.items() if n not in delisted)
    assert sum(1 for u in universe if u.get("onlyIsolated")) >= 8
    for n in names:
        check_asset_name(n)  # every default name is storable


async def test_predicted_fundings_shape(sim: SimExchange) -> None:
    async with aiohttp.ClientSession() as s:
        status, data, _ = await post(s, sim, {"type": "predictedFundings"})
    assert status == 200 and isinstance(data, list)
    venues_seen: Counter[str] = Counter()
    nulls = missing_interval = 0
    for coin, venues in data:
        assert isinstance(coin, str) and isinstance(venues, list)
        for venue, entry in venues:
            venues_seen[venue] += 1
            if entry is None:
                nulls += 1
                continue
            assert is_decimal(entry["fundingRate"]) and is_int(entry["nextFundingTime"])
            if "fundingIntervalHours" in entry:
                assert is_int(entry["fundingIntervalHours"])
            else:
                missing_interval += 1
    assert venues_seen["HlPerp"] == len(data) == 230 - len(DELISTED)
    assert nulls > 0 and missing_interval > 0 and venues_seen["BinPerp"] > 0


async def test_funding_history_and_candles() -> None:
    now_ms = int(FIXED_NOW * 1000)
    async with SimExchange(clock=fixed_clock) as sim, aiohttp.ClientSession() as s:
        status, hist, _ = await post(s, sim, {"type": "fundingHistory", "coin": "BTC",
                                              "startTime": now_ms - 24 * 3_600_000})
        assert status == 200 and len(hist) == 24
        for h in hist:
            assert h["coin"] == "BTC" and is_int(h["time"])
            assert is_decimal(h["fundingRate"]) and is_decimal(h["premium"])
        times = [h["time"] for h in hist]
        assert all(b - a == 3_600_000 for a, b in itertools.pairwise(times))
        _, long_hist, _ = await post(s, sim, {"type": "fundingHistory", "coin": "日本",
                                              "startTime": 0})
        assert len(long_hist) == 500  # the real cap per request
        _, again, _ = await post(s, sim, {"type": "fundingHistory", "coin": "BTC",
                                          "startTime": now_ms - 24 * 3_600_000})
        assert again == hist  # history does not move with the walk
        status, candles, _ = await post(s, sim, {"type": "candleSnapshot", "req": {
            "coin": "ETH", "interval": "15m", "startTime": now_ms - 3_600_000 * 2,
            "endTime": now_ms}})
        assert status == 200 and len(candles) == 9
        for c in candles:
            assert set(c) == {"t", "T", "s", "i", "o", "c", "h", "l", "v", "n"}
            assert is_int(c["t"]) and is_int(c["T"]) and is_int(c["n"])
            assert c["s"] == "ETH" and c["i"] == "15m"
            assert all(is_decimal(c[k]) for k in "ochlv")
            assert float(c["l"]) <= min(float(c["o"]), float(c["c"]))
            assert float(c["h"]) >= max(float(c["o"]), float(c["c"]))
        _, unknown, _ = await post(s, sim, {"type": "candleSnapshot", "req": {
            "coin": "NOPE", "interval": "1h", "startTime": 0, "endTime": now_ms}})
        assert unknown == []


async def test_all_mids_and_l2_book(sim: SimExchange) -> None:
    async with aiohttp.ClientSession() as s:
        _, mids, _ = await post(s, sim, {"type": "allMids"})
        assert all(isinstance(k, str) and is_decimal(v) for k, v in mids.items())
        assert "BTC" in mids and "kPEPE" in mids and "@107" in mids
        spot = [k for k in mids if k.startswith("@")]
        assert len(spot) >= 20 and "@1" in mids
        assert not set(DELISTED) & set(mids)
        _, book, _ = await post(s, sim, {"type": "l2Book", "coin": "BTC"})
        assert book["coin"] == "BTC" and is_int(book["time"])
        bids, asks = book["levels"]
        assert bids and asks
        for lvl in bids + asks:
            assert is_decimal(lvl["px"]) and is_decimal(lvl["sz"]) and is_int(lvl["n"])
        assert float(bids[0]["px"]) < float(asks[0]["px"])
        _, spot_book, _ = await post(s, sim, {"type": "l2Book", "coin": "@1"})
        assert spot_book["coin"] == "@1"
        status, missing, _ = await post(s, sim, {"type": "l2Book", "coin": "NOPE"})
        assert status == 200 and missing is None


def check_margin_summary(m: dict[str, Any]) -> None:
    assert set(m) == {"accountValue", "totalNtlPos", "totalRawUsd", "totalMarginUsed"}
    assert all(is_decimal(v) for v in m.values())


async def test_clearinghouse_state_shapes_and_truth(sim: SimExchange) -> None:
    market_coins = {a.name for a in sim.market.assets}
    seen: Counter[str] = Counter()
    served_truth = []
    async with aiohttp.ClientSession() as s:
        for addr in sim.book.addresses[:400]:
            status, st, _ = await post(s, sim, {"type": "clearinghouseState", "user": addr})
            assert status == 200
            check_margin_summary(st["marginSummary"])
            check_margin_summary(st["crossMarginSummary"])
            assert is_decimal(st["crossMaintenanceMarginUsed"]) and is_decimal(
                st["withdrawable"])
            if "time" in st:
                assert is_int(st["time"])
            else:
                seen["no_time"] += 1
            for ap in st["assetPositions"]:
                assert ap["type"] == "oneWay"
                p = ap["position"]
                for k in ("szi", "entryPx", "positionValue", "unrealizedPnl",
                          "returnOnEquity", "marginUsed"):
                    assert is_decimal(p[k]), (k, p[k])
                lev = p["leverage"]
                assert lev["type"] in ("cross", "isolated") and is_int(lev["value"])
                if lev["type"] == "isolated":
                    assert is_decimal(lev["rawUsd"])
                    seen["isolated"] += 1
                    # long: rawUsd <= 0 (borrowed), short: positive
                    if float(p["szi"]) > 0:
                        assert float(lev["rawUsd"]) <= 0
                if p["liquidationPx"] is None:
                    seen["liq_null"] += 1
                else:
                    assert is_decimal(p["liquidationPx"]) and float(p["liquidationPx"]) > 0
                if "cumFunding" in p:
                    assert all(is_decimal(v) for v in p["cumFunding"].values())
                    assert is_int(p["maxLeverage"])
                else:
                    assert "maxLeverage" not in p
                    seen["old"] += 1
                szi = float(p["szi"])
                seen["zero" if szi == 0 else ("long" if szi > 0 else "short")] += 1
                if p["coin"] not in market_coins:
                    seen["unlisted"] += 1
                assert float(p["positionValue"]) >= 0
                served_truth.append((addr, p["coin"], szi, float(p["positionValue"])))
        status, empty, _ = await post(s, sim, {"type": "clearinghouseState",
                                               "user": "0x" + "ab" * 20})
    assert status == 200 and empty["assetPositions"] == []
    assert empty["marginSummary"]["accountValue"] == "0.0"
    for k in ("no_time", "isolated", "liq_null", "old", "zero", "long", "short", "unlisted"):
        assert seen[k] > 0, k
    truth = {(p.address, p.coin, p.szi, p.positionValue) for p in sim.book.positions()
             if p.address in set(sim.book.addresses[:400])}
    assert truth == set(served_truth)


async def test_leaderboard_shape_and_order(sim: SimExchange) -> None:
    async with aiohttp.ClientSession() as s, s.get(sim.leaderboard_url) as r:
        assert r.status == 200
        data = await r.json()
    rows = data["leaderboardRows"]
    assert len(rows) >= 500
    for row in rows:
        assert row["ethAddress"].startswith("0x") and len(row["ethAddress"]) == 42
        assert is_decimal(row["accountValue"]) and is_int(row["prize"])
        assert row["displayName"] is None or isinstance(row["displayName"], str)
        windows = [w for w, _ in row["windowPerformances"]]
        assert windows == ["day", "week", "month", "allTime"]
        for _, perf in row["windowPerformances"]:
            assert all(is_decimal(perf[k]) for k in ("pnl", "roi", "vlm"))
    values = [float(r["accountValue"]) for r in rows]
    assert values != sorted(values, reverse=True)  # consumers must sort
    book_addrs = set(sim.book.addresses)
    assert book_addrs <= {r["ethAddress"] for r in rows}
    assert set(sim.book.ghosts) <= {r["ethAddress"] for r in rows}


async def test_vanished_accounts_answer_empty(sim: SimExchange) -> None:
    before = len(sim.book.positions())
    gone = sim.book.vanish(count=50)
    assert len(gone) == 50
    async with aiohttp.ClientSession() as s:
        _, st, _ = await post(s, sim, {"type": "clearinghouseState", "user": gone[0]})
        assert st["assetPositions"] == []
        async with s.post(f"{sim.url}/_sim/accounts", json={"restore": True}) as r:
            assert (await r.json())["vanished_total"] == 0
        async with s.post(f"{sim.url}/_sim/accounts", json={"vanish": 10}) as r:
            assert len((await r.json())["vanished"]) == 10
    assert len(sim.book.positions()) < before
    assert len(sim.book.positions(include_vanished=True)) == before


# -- determinism ------------------------------------------------------------------------
async def _sequence(seed: int, n: int) -> list[bytes]:
    out = []
    async with SimExchange(seed=seed, clock=fixed_clock) as sim, aiohttp.ClientSession() as s:
        for _ in range(n):
            async with s.post(f"{sim.url}/info", json={"type": "metaAndAssetCtxs"}) as r:
                out.append(await r.read())
        async with s.post(f"{sim.url}/info", json={"type": "clearinghouseState",
                                                   "user": sim.book.addresses[3]}) as r:
            out.append(await r.read())
    return out


async def test_same_seed_same_payloads() -> None:
    a, b, c = await _sequence(7, 4), await _sequence(7, 4), await _sequence(8, 4)
    assert a == b
    assert len(set(a[:4])) == 4  # the market moves every request
    assert a[0] != c[0]


async def test_served_records_what_was_served() -> None:
    market = Market(seed=7, clock=fixed_clock, keep_served=3)
    async with SimExchange(market=market) as sim, aiohttp.ClientSession() as s:
        got = [(await post(s, sim, {"type": "metaAndAssetCtxs"}))[1] for _ in range(5)]
        served = sim.market.served
        assert len(served) == 3
        assert [p for _, p in served] == got[2:]
        assert all(ts == int(FIXED_NOW * 1000) for ts, _ in served)
        async with s.get(f"{sim.url}/_sim/served", params={"last": "2"}) as r:
            over_http = await r.json()
        assert [x["payload"] for x in over_http] == got[3:]
        assert over_http[0]["served_at_ms"] == int(FIXED_NOW * 1000)


def test_unstorable_name_is_refused_by_records() -> None:
    m = Market(seed=7, unstorable=True)
    assert UNSTORABLE_NAME in m.by_name and UNSTORABLE_NAME.endswith("\\")
    with pytest.raises(InvalidAssetName):
        check_asset_name(UNSTORABLE_NAME)
    plain = Market(seed=7, n_assets=20, awkward=False)
    assert len(plain.assets) == 20 and not any(a.delisted for a in plain.assets)
    assert all(a.name.isascii() for a in plain.assets)


# -- weights and rate limit -------------------------------------------------------------
async def test_weights_are_counted() -> None:
    now_ms = int(FIXED_NOW * 1000)
    async with SimExchange(clock=fixed_clock) as sim, aiohttp.ClientSession() as s:
        await post(s, sim, {"type": "allMids"})  # 2
        await post(s, sim, {"type": "l2Book", "coin": "BTC"})  # 2
        await post(s, sim, {"type": "clearinghouseState", "user": sim.book.addresses[0]})  # 2
        await post(s, sim, {"type": "metaAndAssetCtxs"})  # 20
        _, hist, _ = await post(s, sim, {"type": "fundingHistory", "coin": "BTC",
                                         "startTime": now_ms - 100 * 3_600_000})  # 20 + 5
        assert len(hist) == 100
        _, candles, _ = await post(s, sim, {"type": "candleSnapshot", "req": {
            "coin": "BTC", "interval": "1m", "startTime": now_ms - 150 * 60_000,
            "endTime": now_ms}})  # 20 + 2
        assert len(candles) == 151
    assert sim.stats.total_weight == 2 + 2 + 2 + 20 + 25 + 22
    assert [w for _, w in sim.weight_log] == [2, 2, 2, 20, 25, 22]
    assert sim.stats.requests["allMids"] == 1 and sim.stats.requests["fundingHistory"] == 1
    assert sim.stats.max_window_weight == sim.stats.total_weight


async def test_rate_limit_answers_429_with_retry_after() -> None:
    async with SimExchange(weight_limit=120, window_s=1.0) as sim, \
            aiohttp.ClientSession() as s:
        statuses = [(await post(s, sim, {"type": "metaAndAssetCtxs"}))[0] for _ in range(6)]
        assert statuses == [200] * 6
        status, body, r = await post(s, sim, {"type": "metaAndAssetCtxs"})
        assert status == 429 and body is None
        assert r.headers["Retry-After"] == "1"
        # small requests still fit? no: the window is full to the brim
        assert (await post(s, sim, {"type": "allMids"}))[0] == 429
        await asyncio.sleep(float(r.headers["Retry-After"]) + 0.05)
        assert (await post(s, sim, {"type": "metaAndAssetCtxs"}))[0] == 200
    st = sim.stats
    assert st.rate_limited == 2 and st.max_window_weight == 120
    assert st.requests["metaAndAssetCtxs"] == 8
    assert st.total_weight == 140 and sim.market.steps == 7  # a 429 serves nothing


def test_retry_after_counts_down_to_the_oldest_expiry() -> None:
    from hltui.sim.ratelimit import SlidingWindow

    now = [100.0]
    w = SlidingWindow(limit=100, window_s=60.0, clock=lambda: now[0])
    w.charge(60)
    now[0] = 130.0
    w.charge(40)
    assert w.retry_after(1) == pytest.approx(30.0)  # the 60 expires at t=160
    now[0] = 150.0
    assert w.retry_after(50) == pytest.approx(10.0)
    assert w.retry_after(200) == 60.0
    now[0] = 160.0
    assert w.retry_after(50) is None and w.used() == 40


# -- faults -----------------------------------------------------------------------------
async def test_http500_and_502_for_count_requests(sim: SimExchange) -> None:
    sim.faults.set("http500", count=2)
    async with aiohttp.ClientSession() as s:
        a = await post(s, sim, {"type": "metaAndAssetCtxs"})
        b = await post(s, sim, {"type": "allMids"})
        c = await post(s, sim, {"type": "allMids"})
        assert (a[0], a[1], b[0], c[0]) == (500, None, 500, 200)
        assert a[2].content_type == "application/json"
        sim.faults.set("http502", type="allMids")
        assert (await post(s, sim, {"type": "allMids"}))[0] == 502
        assert (await post(s, sim, {"type": "allMids"}))[0] == 502  # permanent
        assert (await post(s, sim, {"type": "meta"}))[0] == 200  # other types untouched
        sim.faults.clear()
        assert (await post(s, sim, {"type": "allMids"}))[0] == 200
    assert sim.stats.faults_served == {"http500": 2, "http502": 2}
    assert sim.market.steps == 0  # a 500 serves no market step


async def test_timeout_hangs_then_answers(sim: SimExchange) -> None:
    sim.faults.set("timeout", count=1, seconds=5)
    async with aiohttp.ClientSession() as s:
        with pytest.raises(asyncio.TimeoutError):
            async with s.post(f"{sim.url}/info", json={"type": "allMids"},
                              timeout=aiohttp.ClientTimeout(total=0.3)):
                pass
        assert (await post(s, sim, {"type": "allMids"}))[0] == 200  # count spent
        sim.faults.set("timeout", count=1, seconds=0.2)
        status, mids, _ = await post(s, sim, {"type": "allMids"})
        assert status == 200 and "BTC" in mids  # slow, then the real answer


async def test_malformed_and_html(sim: SimExchange) -> None:
    async with aiohttp.ClientSession() as s:
        sim.faults.set("malformed", count=1)
        async with s.post(f"{sim.url}/info", json={"type": "metaAndAssetCtxs"}) as r:
            assert r.status == 200
            with pytest.raises(ValueError):
                json.loads(await r.text())
        for code in (200, 503):
            sim.faults.set("html", count=1, status=code)
            async with s.post(f"{sim.url}/info", json={"type": "metaAndAssetCtxs"}) as r:
                assert r.status == code and r.content_type == "text/html"
                assert "<html>" in (await r.text()).lower()


async def test_wrong_types(sim: SimExchange) -> None:
    async with aiohttp.ClientSession() as s:
        sim.faults.set("wrong_types", count=1)
        _, data, _ = await post(s, sim, {"type": "metaAndAssetCtxs"})
        assert isinstance(data[1][0]["markPx"], float)
        sim.faults.set("wrong_types", count=1, mode="objects")
        _, data, _ = await post(s, sim, {"type": "metaAndAssetCtxs"})
        assert isinstance(data[1], dict) and "0" in data[1]
        sim.faults.set("wrong_types", count=1, type="clearinghouseState")
        _, st, _ = await post(s, sim, {"type": "clearinghouseState",
                                       "user": sim.book.addresses[0]})
        assert isinstance(st["marginSummary"]["accountValue"], float)
    assert sim.market.served[-1][1] == data  # served records the distorted payload


async def test_misaligned_and_bad_asset(sim: SimExchange) -> None:
    async with aiohttp.ClientSession() as s:
        sim.faults.set("misaligned", count=1, drop=3)
        _, (meta, ctxs), _ = await post(s, sim, {"type": "metaAndAssetCtxs"})
        assert len(ctxs) == len(meta["universe"]) - 3
        sim.faults.set("bad_asset", asset="ETH", value="abc")
        for _ in range(2):  # every time
            _, (meta, ctxs), _ = await post(s, sim, {"type": "metaAndAssetCtxs"})
            names = [u["name"] for u in meta["universe"]]
            assert ctxs[names.index("ETH")]["markPx"] == "abc"
            assert is_decimal(ctxs[names.index("BTC")]["markPx"])
        sim.faults.set("bad_asset")  # defaults: 2nd listed asset, markPx "NaN"
        _, (meta, ctxs), _ = await post(s, sim, {"type": "metaAndAssetCtxs"})
        assert ctxs[1]["markPx"] == "NaN" and ctxs[1] is not ctxs[0]
        _, mids, _ = await post(s, sim, {"type": "allMids"})
        assert is_decimal(mids["ETH"])  # payload faults on ctxs do not touch other types


async def test_forced_rate_limit(sim: SimExchange) -> None:
    sim.faults.set("rate_limit", count=1, retry_after=7, type="clearinghouseState")
    async with aiohttp.ClientSession() as s:
        assert (await post(s, sim, {"type": "allMids"}))[0] == 200
        status, _, r = await post(s, sim, {"type": "clearinghouseState",
                                           "user": sim.book.addresses[0]})
        assert status == 429 and r.headers["Retry-After"] == "7"
    assert sim.stats.rate_limited == 1


async def test_leaderboard_faults(sim: SimExchange) -> None:
    sim.faults.set("http500")  # /info only: the leaderboard is another host
    async with aiohttp.ClientSession() as s:
        async with s.get(sim.leaderboard_url) as r:
            assert r.status == 200
        sim.faults.clear()
        sim.faults.set("html", count=1, type="leaderboard", status=200)
        async with s.get(sim.leaderboard_url) as r:
            assert r.status == 200 and r.content_type == "text/html"
        sim.faults.set("wrong_types", count=1, type="leaderboard", mode="numbers")
        async with s.get(sim.leaderboard_url) as r:
            rows = (await r.json())["leaderboardRows"]
            assert isinstance(rows[0]["accountValue"], float)


def test_fault_validation() -> None:
    from hltui.sim.faults import Faults

    f = Faults()
    for bad in (lambda: f.set("nope"), lambda: f.set("html", status=404),
                lambda: f.set("timeout", secs=3), lambda: f.set("http500", count=0)):
        with pytest.raises(ValueError):
            bad()


# -- bad requests -----------------------------------------------------------------------
@pytest.mark.parametrize("raw", [
    b"{nope", b"", b"[]", b'{"type": 3}', b'{"type": "nonsense"}',
    b'{"type": "l2Book"}', b'{"type": "fundingHistory", "coin": "BTC"}',
    b'{"type": "clearinghouseState", "user": "bob"}',
    b'{"type": "candleSnapshot", "req": {"coin": "BTC", "interval": "7m", '
    b'"startTime": 0, "endTime": 1}}',
])
async def test_bad_body_is_422_text(sim: SimExchange, raw: bytes) -> None:
    async with aiohttp.ClientSession() as s, s.post(
            f"{sim.url}/info", data=raw, headers={"Content-Type": "application/json"}) as r:
        assert r.status == 422 and r.content_type == "text/plain"
        assert "Failed to deserialize" in await r.text()
    assert sim.stats.bad_requests == 1 and sim.stats.total_weight == 0


# -- control endpoints, thread, subprocess ----------------------------------------------
async def test_http_control_endpoints(sim: SimExchange) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{sim.url}/_sim/faults", json={
                "name": "http500", "count": 1, "type": "metaAndAssetCtxs"}) as r:
            assert r.status == 200 and (await r.json())[0]["name"] == "http500"
        async with s.post(f"{sim.url}/_sim/faults", json=[
                {"name": "bad_asset", "params": {"asset": "BTC", "value": "NaN"}},
                {"name": "nope"}]) as r:
            assert r.status == 400 and "unknown fault" in await r.text()
        async with s.get(f"{sim.url}/_sim/faults") as r:
            assert {f["name"] for f in await r.json()} == {"http500", "bad_asset"}
        assert (await post(s, sim, {"type": "metaAndAssetCtxs"}))[0] == 500
        _, (_, ctxs), _ = await post(s, sim, {"type": "metaAndAssetCtxs"})
        assert ctxs[0]["markPx"] == "NaN"
        async with s.post(f"{sim.url}/_sim/faults", json={"clear": True}) as r:
            assert await r.json() == []
        async with s.get(f"{sim.url}/_sim/stats") as r:
            st = await r.json()
        assert st["requests"]["metaAndAssetCtxs"] == 2
        assert st["faults_served"] == {"http500": 1, "bad_asset": 1}
        assert st["total_weight"] == 40 and st["weight_limit"] == 1200 and st["steps"] == 1
        assert len(st["weight_log"]) == 2
        async with s.get(f"{sim.url}/_sim/served") as r:
            served = await r.json()
        assert len(served) == 1 and served[0]["payload"][1][0]["markPx"] == "NaN"
        async with s.delete(f"{sim.url}/_sim/stats") as r:
            assert r.status == 200
        assert sim.stats.total_weight == 0 and sim.window.used() == 0


def test_thread_server_serves_sync_clients(sim_thread: SimExchangeThread) -> None:
    req = urllib.request.Request(f"{sim_thread.url}/info", method="POST",
                                 data=b'{"type":"metaAndAssetCtxs"}',
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        meta, ctxs = json.loads(r.read())
    assert len(ctxs) == len(meta["universe"]) == 230
    assert sim_thread.market.served[-1][1] == [meta, ctxs]
    sim_thread.faults.set("http500", count=1)
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=10)
    assert e.value.code == 500
    e.value.close()
    assert sim_thread.stats.requests["metaAndAssetCtxs"] == 2


def test_standalone_module_prints_url_and_serves() -> None:
    with subprocess.Popen([sys.executable, "-m", "hltui.sim", "--port", "0", "--seed", "3",
                           "--accounts", "50"], stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None
            url = proc.stdout.readline().strip()
            assert url.startswith("http://127.0.0.1:")
            req = urllib.request.Request(f"{url}/info", data=b'{"type":"allMids"}',
                                         method="POST")
            with urllib.request.urlopen(req, timeout=10) as r:
                assert "BTC" in json.loads(r.read())
            with urllib.request.urlopen(f"{url}/Mainnet/leaderboard", timeout=10) as r:
                assert len(json.loads(r.read())["leaderboardRows"]) == 51  # 50 + 1 ghost
        finally:
            proc.terminate()
            proc.wait(10)


def test_sim_does_not_import_textual() -> None:
    code = ("import sys, hltui.sim.server, hltui.sim.__main__; "
            "assert not [m for m in sys.modules if m.split('.')[0] == 'textual']")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("sim", [{"n_assets": 40, "n_accounts": 30, "awkward": False}],
                         indirect=True)
async def test_fixture_takes_constructor_arguments(sim: SimExchange) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{sim.url}/_sim/faults",
                          json={"name": "timeout", "count": 1, "seconds": 0.01}) as r:
            assert (await r.json())[0]["params"] == {"seconds": 0.01}
        _, (meta, ctxs), _ = await post(s, sim, {"type": "metaAndAssetCtxs"})
    assert len(meta["universe"]) == len(ctxs) == 40 and len(sim.book.addresses) == 30
    assert not any(u.get("isDelisted") for u in meta["universe"])
    assert sim.stats.faults_served["timeout"] == 1


def test_asset_names_lists_the_universe_in_order() -> None:
    m = Market(seed=7)
    listed = m.asset_names()
    assert listed[:2] == ["BTC", "ETH"] and not set(DELISTED) & set(listed)
    assert m.asset_names(include_delisted=True) == [a.name for a in m.assets]


def test_top_addresses_and_sampled_truth() -> None:
    from hltui.sim.accounts import AccountBook

    book = AccountBook(Market(seed=7), n_accounts=300)
    top = book.top_addresses(50)
    values = {r["ethAddress"]: float(r["accountValue"])
              for r in book.leaderboard()["leaderboardRows"]}
    assert len(top) == 50 and min(values[a] for a in top) >= max(
        v for a, v in values.items() if a not in top)
    sample = book.positions(addresses=top)
    assert {p.address for p in sample} <= set(top)
    assert sample == [p for p in book.positions() if p.address in set(top)]
