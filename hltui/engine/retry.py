"""Retry policy (tenacity): back off on what may pass, fail fast on what will not.

Retried: `Retryable` source errors (429, 5xx, timeouts, connection errors). Never
retried: 4xx we caused (`ClientHTTPError`), payloads that do not validate
(`BadPayload`, pydantic / ValueError), anti-bot blocks (`Blocked`), an open breaker.
Waits grow exponentially with random jitter; a 429 that names `Retry-After` waits at
least that long (and gives up at once when the server asks for more than
`max_retry_after`, rather than stalling a cycle).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_base

from hltui.sources.base import RateLimited, Retryable

T = TypeVar("T")

DEFAULT_BASE = 0.5  # first backoff, seconds
DEFAULT_MAX_WAIT = 30.0  # cap of one exponential wait
DEFAULT_MAX_RETRY_AFTER = 120.0
_RNG = random.Random()  # seeding a Random per call costs ~50 µs: share one


def is_retryable(exc: BaseException, max_retry_after: float = DEFAULT_MAX_RETRY_AFTER) -> bool:
    if not isinstance(exc, Retryable):
        return False
    if isinstance(exc, RateLimited) and exc.retry_after is not None:
        return exc.retry_after <= max_retry_after
    return True


class wait_backoff(wait_base):
    """Exponential backoff with jitter, floored by the server's Retry-After."""

    def __init__(self, base: float, max_wait: float, rng: random.Random | None = None) -> None:
        self.base = base
        self.max_wait = max_wait
        self.rng = rng or _RNG

    def __call__(self, retry_state: RetryCallState) -> float:
        n = retry_state.attempt_number  # 1 after the first failure
        ceiling = min(self.max_wait, self.base * 2 ** (n - 1))
        wait = self.base / 2 + self.rng.uniform(0, ceiling)
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None and outcome.failed else None
        if isinstance(exc, RateLimited) and exc.retry_after is not None:
            # at least what the server asked, plus a little jitter so callers spread out
            wait = max(wait, exc.retry_after + self.rng.uniform(0, 0.1 * self.base))
        return wait


def retrying(
    attempts: int,
    *,
    base: float = DEFAULT_BASE,
    max_wait: float = DEFAULT_MAX_WAIT,
    max_retry_after: float = DEFAULT_MAX_RETRY_AFTER,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    on_retry: Callable[[BaseException, float, int], None] | None = None,
    rng: random.Random | None = None,
) -> AsyncRetrying:
    """A tenacity controller: `async for attempt in retrying(n): with attempt: ...`.

    `on_retry(exc, wait_s, attempt)` is called before each wait (for logs and counters).
    The last exception is re-raised as itself once attempts are spent.
    """
    if attempts < 1:
        raise ValueError("attempts must be at least 1")

    def before_sleep(state: RetryCallState) -> None:
        if on_retry is not None and state.outcome is not None and state.next_action:
            exc = state.outcome.exception()
            if exc is not None:
                on_retry(exc, state.next_action.sleep, state.attempt_number)

    return AsyncRetrying(
        stop=stop_after_attempt(attempts),
        wait=wait_backoff(base, max_wait, rng),
        retry=retry_if_exception(lambda e: is_retryable(e, max_retry_after)),
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )


async def call_with_retry(
    fn: Callable[..., Awaitable[T]], *args: Any, attempts: int, **options: Any
) -> T:
    """Await `fn(*args)` under the retry policy (options as for `retrying`)."""
    async for attempt in retrying(attempts, **options):
        with attempt:
            return await fn(*args)
    raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover
