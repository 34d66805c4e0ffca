"""Retries and breakers against the simulated exchange over real HTTP (fault switches)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from hltui.engine.breaker import BreakerOpen, CircuitBreaker
from hltui.engine.events import BreakerChanged
from hltui.sim.server import SimExchange
from hltui.sources.base import ClientHTTPError, ServerError
from hltui.sources.budget import WeightBudget
from hltui.sources.http import InfoClient
from tests.helpers.sim_fixtures import DEFAULTS

META = {"type": "metaAndAssetCtxs"}


@pytest_asyncio.fixture
async def sim() -> AsyncIterator[SimExchange]:
    """The simulated exchange (seed 7, 230 assets) over real HTTP, per test."""
    async with SimExchange(**DEFAULTS) as exchange:
        yield exchange


def client(sim: SimExchange, *, attempts: int = 4, breaker: CircuitBreaker | None = None,
           retries: list | None = None) -> InfoClient:
    def on_retry(exc: BaseException, wait: float, n: int) -> None:
        if retries is not None:
            retries.append((time.monotonic(), type(exc).__name__, wait))

    return InfoClient(sim.url, 5.0, WeightBudget(0.5), breaker=breaker, attempts=attempts,
                      on_retry=on_retry)


async def test_429_with_retry_after_waits_it_out_and_keeps_the_budget(sim: SimExchange):
    sim.faults.set("rate_limit", count=1, type="metaAndAssetCtxs", retry_after=2)
    retries: list = []
    c = client(sim, retries=retries)
    try:
        t0 = time.monotonic()
        first = asyncio.create_task(c.info(META))
        await asyncio.sleep(0.2)  # another caller arrives while the 429 is being waited out
        second = asyncio.create_task(c.info({"type": "predictedFundings"}))
        market, predicted = await asyncio.gather(first, second)
        elapsed = time.monotonic() - t0
    finally:
        await c.close()
    assert isinstance(market, list) and len(market[0]["universe"]) == 230
    assert isinstance(predicted, list)
    assert elapsed >= 2.0
    (t_429, kind, wait), = retries
    assert kind == "RateLimited" and wait >= 2.0
    stats = sim.stats.to_dict()
    assert stats["rate_limited"] == 1  # only the injected one: we never ran over the limit
    assert stats["requests"]["metaAndAssetCtxs"] == 2
    # nothing reached the exchange while it had asked us to wait
    served = [t for t, _w in stats["weight_log"]]
    assert len(served) == 2 and all(t >= t_429 + 2.0 - 0.05 for t in served)
    assert stats["max_window_weight"] <= c.budget.limit


async def test_five_5xx_open_the_breaker_then_one_probe_closes_it(sim: SimExchange):
    events: list[BreakerChanged] = []
    br = CircuitBreaker("hyperliquid", threshold=5, reset=1.0, on_change=events.append)
    retries: list = []
    c = client(sim, attempts=4, breaker=br, retries=retries)
    sim.faults.set("http500", type="metaAndAssetCtxs")  # until cleared
    try:
        with pytest.raises(ServerError):
            await c.info(META)  # 4 attempts: 4 x 500
        assert br.state == "closed" and br.failures == 4
        with pytest.raises(BreakerOpen):
            await c.info(META)  # the 5th 500 opens it; the retry is refused at once
        assert sim.stats.requests["metaAndAssetCtxs"] == 5
        assert [e.state for e in events] == ["open"]
        assert events[0].failures == 5 and "500" in events[0].reason
        assert 0 < events[0].next_probe_in <= 1.0
        # calls stop while open
        for _ in range(3):
            with pytest.raises(BreakerOpen):
                await c.info(META)
        assert sim.stats.requests["metaAndAssetCtxs"] == 5
        # after the reset: exactly one probe goes out, the others are refused
        await asyncio.sleep(1.05)
        sim.faults.clear("http500")
        sim.faults.set("timeout", count=1, type="metaAndAssetCtxs", seconds=0.3)
        probe = asyncio.create_task(c.info(META))
        await asyncio.sleep(0.05)
        assert br.state == "half-open"
        follower = asyncio.create_task(c.info(META))  # waits for the probe's verdict
        await asyncio.sleep(0.1)
        assert sim.stats.requests["metaAndAssetCtxs"] == 6  # the probe alone is out
        with pytest.raises(BreakerOpen, match="probe in flight"):
            await br.call(c.info, META)  # a caller that does not wait is refused
        assert isinstance(await probe, list)
        assert isinstance(await follower, list)
        assert sim.stats.requests["metaAndAssetCtxs"] == 7
        assert br.state == "closed" and br.failures == 0
        assert [e.state for e in events] == ["open", "half-open", "closed"]
        assert isinstance(await c.info(META), list)
    finally:
        await c.close()


async def test_a_failed_probe_reopens(sim: SimExchange):
    events: list[BreakerChanged] = []
    br = CircuitBreaker("hyperliquid", threshold=2, reset=0.3, on_change=events.append)
    c = client(sim, attempts=1, breaker=br)
    sim.faults.set("http502", type="metaAndAssetCtxs")
    try:
        for _ in range(2):
            with pytest.raises(ServerError, match="502"):
                await c.info(META)
        await asyncio.sleep(0.35)
        with pytest.raises(ServerError):
            await c.info(META)
    finally:
        await c.close()
    assert [e.state for e in events] == ["open", "half-open", "open"]
    assert sim.stats.requests["metaAndAssetCtxs"] == 3


async def test_client_errors_and_bad_payloads_are_not_retried(sim: SimExchange):
    retries: list = []
    br = CircuitBreaker("hyperliquid", threshold=1, reset=60)
    c = client(sim, attempts=4, breaker=br, retries=retries)
    try:
        with pytest.raises(ClientHTTPError):
            await c.info({"type": "clearinghouseState"})  # no user: 422
        assert br.state == "closed"  # the exchange answered
        sim.faults.set("malformed", count=1, type="metaAndAssetCtxs")
        from hltui.sources.base import BadPayload

        with pytest.raises(BadPayload):
            await c.info(META)
    finally:
        await c.close()
    assert retries == []
    assert sim.stats.requests["metaAndAssetCtxs"] == 1
