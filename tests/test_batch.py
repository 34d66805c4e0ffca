"""Batch processor: partial results, bounded concurrency, pause between batches."""

from __future__ import annotations

import asyncio

import pytest

from hltui.engine.batch import Gate, error_kind, run_batches
from hltui.process.records import InvalidAssetName, check_asset_name
from hltui.sources.base import BadPayload, RateLimited, SourceTimeout

ASSETS = ["BTC", "ETH", "kPEPE", "@107", "bad\\name", "SOL", "HYPE"]


async def test_one_failing_item_never_fails_its_batch():
    async def fetch(asset: str) -> str:
        check_asset_name(asset)
        if asset == "SOL":
            raise BadPayload("markPx is not a number: 'abc'")
        return asset.lower()

    res = await run_batches(ASSETS, fetch, source="hyperliquid", batch_size=3, max_concurrency=2)
    assert res.batches == 3
    assert [o.item for o in res.outcomes] == ASSETS  # input order kept
    assert res.values == ["btc", "eth", "kpepe", "@107", "hype"]
    assert res.ok == 5 and res.failed == 2
    errs = {e.item: e for e in res.errors}
    assert set(errs) == {"bad\\name", "SOL"}
    assert errs["SOL"].kind == "validation" and "markPx" in errs["SOL"].message
    assert errs["bad\\name"].kind == "validation" and "backslash" in errs["bad\\name"].message
    assert all(e.source == "hyperliquid" for e in res.errors)


async def test_concurrency_is_bounded_and_batches_do_not_overlap():
    running = 0
    peak = 0
    log: list[tuple[str, int]] = []

    async def work(i: int) -> int:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        log.append(("start", i))
        await asyncio.sleep(0.01)
        running -= 1
        log.append(("end", i))
        return i * i

    res = await run_batches(list(range(10)), work, source="s", batch_size=4, max_concurrency=2)
    assert res.values == [i * i for i in range(10)]
    assert peak == 2
    # every item of batch 1 ended before any item of batch 2 started
    first_of_b2 = log.index(("start", 4))
    assert all(log.index(("end", i)) < first_of_b2 for i in range(4))


async def test_pause_lets_the_batch_in_flight_finish_and_holds_the_next():
    gate = Gate()
    done: list[int] = []
    release = asyncio.Event()

    async def work(i: int) -> int:
        if i == 0:
            gate.pause()  # pause arrives while batch 1 is in flight
            await release.wait()
        done.append(i)
        return i

    task = asyncio.create_task(
        run_batches(list(range(6)), work, source="s", batch_size=2, max_concurrency=2, gate=gate))
    await asyncio.sleep(0.01)
    release.set()
    await asyncio.sleep(0.05)
    assert sorted(done) == [0, 1]  # batch 1 completed, batch 2 waits
    assert gate.paused and not task.done()
    gate.resume()
    res = await task
    assert res.values == list(range(6)) and res.batches == 3


async def test_cancellation_propagates():
    async def work(i: int) -> int:
        await asyncio.sleep(10)
        return i

    task = asyncio.create_task(run_batches([1, 2], work, source="s", batch_size=2,
                                           max_concurrency=2))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_reasons_are_one_line_and_bounded():
    async def work(i: int) -> int:
        raise RuntimeError("line one\nline two " + "x" * 1000)

    res = await run_batches([1], work, source="s", batch_size=1, max_concurrency=1,
                            key=lambda i: f"item-{i}")
    (err,) = res.errors
    assert err.item == "item-1" and err.kind == "internal"
    assert "\n" not in err.message and len(err.message) <= 300


def test_error_kinds():
    assert error_kind(RateLimited("429", 2)) == "rate_limited"
    assert error_kind(SourceTimeout("t")) == "timeout"
    assert error_kind(TimeoutError()) == "timeout"
    assert error_kind(InvalidAssetName("x")) == "validation"
    assert error_kind(OSError("disk")) == "internal"


async def test_bad_arguments():
    async def work(i: int) -> int:
        return i

    with pytest.raises(ValueError):
        await run_batches([1], work, source="s", batch_size=0, max_concurrency=1)
