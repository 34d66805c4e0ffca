"""Retry policy: which errors are retried, backoff shape, Retry-After honoured."""

from __future__ import annotations

import random
import time

import pytest
from pydantic import BaseModel, ValidationError

from hltui.engine.breaker import BreakerOpen
from hltui.engine.retry import call_with_retry, is_retryable, retrying
from hltui.sources.base import (
    BadPayload,
    Blocked,
    ClientHTTPError,
    ConnectionFailed,
    RateLimited,
    ServerError,
    SourceTimeout,
)


class Flaky:
    """Fails with the given errors in turn, then answers."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def _validation_error() -> ValidationError:
    class M(BaseModel):
        x: int

    try:
        M(x="nope")
    except ValidationError as exc:
        return exc
    raise AssertionError


async def test_retries_transient_errors_until_success():
    fn = Flaky(ServerError("500", 500), SourceTimeout("t"), ConnectionFailed("refused"))
    waits: list[tuple[str, float, int]] = []
    out = await call_with_retry(fn, attempts=4, base=0.01,
                                on_retry=lambda e, w, n: waits.append((type(e).__name__, w, n)))
    assert out == "ok" and fn.calls == 4
    assert [w[0] for w in waits] == ["ServerError", "SourceTimeout", "ConnectionFailed"]
    assert [w[2] for w in waits] == [1, 2, 3]


async def test_gives_up_after_attempts_with_the_last_error():
    fn = Flaky(*(ServerError(f"5xx #{i}", 502) for i in range(5)))
    with pytest.raises(ServerError, match="5xx #2"):
        await call_with_retry(fn, attempts=3, base=0.01)
    assert fn.calls == 3


@pytest.mark.parametrize("exc", [
    ClientHTTPError("404 not found", 404), BadPayload("not JSON"), Blocked("challenge"),
    ValueError("NaN"), _validation_error(), BreakerOpen("hyperliquid", 3.0),
])
async def test_never_retries_what_will_not_pass(exc):
    fn = Flaky(exc)
    with pytest.raises(type(exc)):
        await call_with_retry(fn, attempts=5, base=0.01)
    assert fn.calls == 1
    assert not is_retryable(exc)


async def test_retry_after_is_a_floor_and_really_waited():
    fn = Flaky(RateLimited("429", retry_after=0.3))
    waits: list[float] = []
    t0 = time.monotonic()
    assert await call_with_retry(fn, attempts=2, base=0.01,
                                 on_retry=lambda e, w, n: waits.append(w)) == "ok"
    assert time.monotonic() - t0 >= 0.3
    assert waits[0] >= 0.3


async def test_absurd_retry_after_is_not_waited_for():
    fn = Flaky(RateLimited("429", retry_after=3600))
    with pytest.raises(RateLimited):
        await call_with_retry(fn, attempts=4, base=0.01, max_retry_after=60)
    assert fn.calls == 1
    assert is_retryable(RateLimited("429"))  # no header: ordinary backoff


async def test_backoff_grows_exponentially_with_jitter_and_a_cap():
    slept: list[float] = []

    async def record(s: float) -> None:
        slept.append(s)

    fn = Flaky(*(ServerError("x", 500) for _ in range(8)))
    with pytest.raises(ServerError):
        await call_with_retry(fn, attempts=8, base=1.0, max_wait=8.0, sleep=record,
                              rng=random.Random(1))
    assert len(slept) == 7
    for n, s in enumerate(slept, start=1):
        assert 0.5 <= s <= 0.5 + min(8.0, 2 ** (n - 1))
    assert len(set(slept)) == 7  # jittered, not a fixed ladder
    assert max(slept[4:]) > 2.5  # later waits reach beyond the early ceilings


def test_attempts_must_be_positive():
    with pytest.raises(ValueError):
        retrying(0)
