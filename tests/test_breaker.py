"""Circuit breaker: transitions, one probe when half-open, events, introspection."""

from __future__ import annotations

import asyncio

import pytest

from hltui.engine.breaker import BreakerOpen, CircuitBreaker
from hltui.engine.events import BreakerChanged
from hltui.sources.base import Blocked, ClientHTTPError, ServerError
from hltui.store.base import StoreRejected, StoreUnavailable


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(threshold: int = 3, reset: float = 10.0):
    clock = Clock()
    events: list[BreakerChanged] = []
    br = CircuitBreaker("hyperliquid", threshold, reset, on_change=events.append, clock=clock)
    return br, clock, events


async def ok() -> str:
    return "ok"


async def fail(exc: Exception) -> None:
    raise exc


async def test_opens_after_threshold_consecutive_failures_and_refuses_calls():
    br, _clock, events = make(threshold=3)
    for i in range(2):
        with pytest.raises(ServerError):
            await br.call(fail, ServerError("500", 500))
        assert br.state == "closed" and br.failures == i + 1
    assert events == []
    with pytest.raises(ServerError):
        await br.call(fail, ServerError("boom 503", 503))
    assert br.state == "open"
    assert [e.state for e in events] == ["open"]
    assert events[0].failures == 3 and events[0].next_probe_in == pytest.approx(10.0)
    assert "boom 503" in events[0].reason
    called = []

    async def spy():
        called.append(1)

    with pytest.raises(BreakerOpen) as info:
        await br.call(spy)
    assert called == []
    assert info.value.retry_in == pytest.approx(10.0)
    assert "next probe in 10.0s" in str(info.value)


async def test_success_resets_the_consecutive_count():
    br, _clock, events = make(threshold=2)
    with pytest.raises(ServerError):
        await br.call(fail, ServerError("x", 500))
    assert await br.call(ok) == "ok"
    assert br.failures == 0
    with pytest.raises(ServerError):
        await br.call(fail, ServerError("x", 500))
    assert br.state == "closed" and events == []


async def test_half_open_probe_success_closes_with_events_for_each_transition():
    br, clock, events = make(threshold=1, reset=5.0)
    with pytest.raises(ServerError):
        await br.call(fail, ServerError("x", 500))
    clock.now += 4.0
    assert br.next_probe_in() == pytest.approx(1.0)
    assert not br.allows()
    clock.now += 1.0
    assert br.next_probe_in() == 0.0 and br.allows()
    assert br.state == "open"  # half-open only once the probe is admitted
    assert await br.call(ok) == "ok"
    assert br.state == "closed" and br.failures == 0
    assert [e.state for e in events] == ["open", "half-open", "closed"]
    assert events[2].next_probe_in is None


async def test_failed_probe_reopens_with_a_fresh_timer():
    br, clock, events = make(threshold=1, reset=5.0)
    with pytest.raises(ServerError):
        await br.call(fail, ServerError("x", 500))
    clock.now += 6.0
    with pytest.raises(ServerError):
        await br.call(fail, ServerError("still down", 502))
    assert br.state == "open"
    assert br.next_probe_in() == pytest.approx(5.0)
    assert [e.state for e in events] == ["open", "half-open", "open"]
    assert "probe failed: still down" in events[-1].reason


async def test_only_one_probe_in_flight_when_half_open():
    br, clock, _events = make(threshold=1, reset=1.0)
    with pytest.raises(ServerError):
        await br.call(fail, ServerError("x", 500))
    clock.now += 2.0
    gate = asyncio.Event()
    entered = []

    async def slow():
        entered.append(1)
        await gate.wait()
        return "probe"

    probe = asyncio.create_task(br.call(slow))
    await asyncio.sleep(0)
    assert br.state == "half-open" and entered == [1]
    for _ in range(3):
        with pytest.raises(BreakerOpen) as info:
            await br.call(slow)
        assert info.value.retry_in is None
    assert entered == [1]
    gate.set()
    assert await probe == "probe"
    assert br.state == "closed"
    assert await br.call(ok) == "ok"


async def test_cancelled_probe_frees_the_slot_without_a_verdict():
    br, clock, _events = make(threshold=1, reset=1.0)
    with pytest.raises(ServerError):
        await br.call(fail, ServerError("x", 500))
    clock.now += 2.0
    probe = asyncio.create_task(br.call(asyncio.sleep, 10))
    await asyncio.sleep(0)
    probe.cancel()
    with pytest.raises(asyncio.CancelledError):
        await probe
    assert br.state == "half-open" and br.allows()
    assert await br.call(ok) == "ok"
    assert br.state == "closed"


async def test_client_errors_mean_the_dependency_answered():
    br, _clock, events = make(threshold=1)
    for exc in (ClientHTTPError("404", 404), StoreRejected("bad db")):
        with pytest.raises(type(exc)):
            await br.call(fail, exc)
    assert br.state == "closed" and events == []


@pytest.mark.parametrize("exc", [Blocked("challenge page"), StoreUnavailable("refused"),
                                 TimeoutError(), ConnectionResetError()])
async def test_blocked_and_outages_count_as_failures(exc):
    br, _clock, events = make(threshold=1)
    with pytest.raises(type(exc)):
        await br.call(fail, exc)
    assert br.state == "open" and len(events) == 1
    assert events[0].reason


async def test_async_with_form_and_stale_calls_do_not_decide_the_probe():
    br, clock, events = make(threshold=2, reset=1.0)
    gate = asyncio.Event()

    async def stale():
        async with br:
            await gate.wait()
            raise ServerError("late failure", 500)

    slow = asyncio.create_task(stale())
    await asyncio.sleep(0)
    for _ in range(2):
        with pytest.raises(ServerError):
            async with br:
                raise ServerError("x", 500)
    assert br.state == "open"
    clock.now += 2.0
    async with br:  # the probe succeeds
        pass
    assert br.state == "closed"
    gate.set()
    with pytest.raises(ServerError):
        await slow  # admitted before the breaker opened: counts, but alone cannot reopen
    assert br.state == "closed" and br.failures == 1
    assert [e.state for e in events] == ["open", "half-open", "closed"]


async def test_snapshot_for_stats():
    br, _clock, _events = make(threshold=1, reset=3.0)
    snap = br.snapshot()
    assert (snap.name, snap.state, snap.failures, snap.next_probe_in) == (
        "hyperliquid", "closed", 0, None)
    with pytest.raises(ServerError):
        await br.call(fail, ServerError("x", 500))
    snap = br.snapshot()
    assert snap.state == "open" and snap.next_probe_in == pytest.approx(3.0)


def test_bad_configuration_is_refused():
    with pytest.raises(ValueError):
        CircuitBreaker("x", threshold=0)
    with pytest.raises(ValueError):
        CircuitBreaker("x", reset=-1)


async def test_probe_now_lets_the_next_call_probe():
    br, _clock, events = make(threshold=1, reset=60.0)
    with pytest.raises(ServerError):
        await br.call(fail, ServerError("x", 500))
    assert not br.allows()
    br.probe_now()
    assert br.allows()
    assert await br.call(ok) == "ok"
    assert [e.state for e in events] == ["open", "half-open", "closed"]


async def test_wait_probe_callers_follow_the_probes_verdict():
    br, clock, _events = make(threshold=1, reset=1.0)
    with pytest.raises(ServerError):
        await br.call(fail, ServerError("x", 500))
    clock.now += 2.0
    gate = asyncio.Event()
    calls: list[str] = []

    async def slow(tag: str, exc: Exception | None = None) -> str:
        calls.append(tag)
        await gate.wait()
        if exc:
            raise exc
        return tag

    probe = asyncio.create_task(br.call(slow, "probe"))
    await asyncio.sleep(0)
    follower = asyncio.create_task(br.call(slow, "follower", wait_probe=True))
    await asyncio.sleep(0)
    assert calls == ["probe"]  # the follower waits instead of failing or probing too
    gate.set()
    assert await probe == "probe" and await follower == "follower"
    assert calls == ["probe", "follower"] and br.state == "closed"
    # a failed probe: its followers are refused without being called
    with pytest.raises(ServerError):
        await br.call(fail, ServerError("x", 500))
    clock.now += 2.0
    gate.clear()
    probe = asyncio.create_task(br.call(slow, "probe2", ServerError("down", 503)))
    await asyncio.sleep(0)
    follower = asyncio.create_task(br.call(slow, "follower2", wait_probe=True))
    await asyncio.sleep(0)
    gate.set()
    with pytest.raises(ServerError):
        await probe
    with pytest.raises(BreakerOpen):
        await follower
    assert "follower2" not in calls and br.state == "open"
