"""Circuit breaker per source and per store: stop calling what is down, probe it later.

Our own small breaker rather than `purgatory`: purgatory's half-open state admits every
caller (we need exactly one probe in flight), reads `time.time()` directly (no injectable
clock for tests), and reports neither the failure count nor the time to the next probe in
its state events; its factory / unit-of-work layers buy us nothing in one process.

States: closed (calls pass, consecutive failures counted) -> open after `threshold`
consecutive failures (calls refused with `BreakerOpen` until `reset` seconds passed) ->
half-open (exactly one probe admitted; the others are refused) -> closed on the probe's
success, open again (fresh timer) on its failure. Every transition calls `on_change`
with a `BreakerChanged` event.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from hltui.engine.events import BreakerChanged, BreakerState
from hltui.sources.base import ClientHTTPError, SourceError
from hltui.store.base import StoreRejected

T = TypeVar("T")

# The dependency answered: a request we got wrong is no sign that it is down.
ANSWERED = (ClientHTTPError, StoreRejected)


class BreakerOpen(SourceError):
    """Refused without calling: the breaker is open (or its one probe is in flight).

    A SourceError (kind `breaker`) so a job records it like any failed source call;
    the store's writer catches it to spool.
    """

    kind = "breaker"

    def __init__(self, name: str, retry_in: float | None) -> None:
        when = f"; next probe in {retry_in:.1f}s" if retry_in else "; probe in flight"
        super().__init__(f"{name}: circuit breaker open{when}")
        self.name = name
        self.retry_in = retry_in


@dataclass(slots=True)
class _Permit:
    """One admitted call: which state generation admitted it and whether it is the probe."""

    generation: int
    probe: bool
    prev: _Permit | None = None


class CircuitBreaker:
    """Closed / open / half-open breaker with an async API and introspection.

    Use `async with breaker:` or `await breaker.call(fn, *args)`. Exceptions that are
    instances of `answered` (4xx we caused) count as the dependency answering; any other
    `Exception` counts as a failure. Cancellation counts as neither.
    """

    def __init__(
        self,
        name: str,
        threshold: int = 5,
        reset: float = 30.0,
        *,
        on_change: Callable[[BreakerChanged], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        answered: tuple[type[BaseException], ...] = ANSWERED,
    ) -> None:
        if threshold < 1:
            raise ValueError("threshold must be at least 1")
        if reset < 0:
            raise ValueError("reset must not be negative")
        self.name = name
        self.threshold = threshold
        self.reset = reset
        self.on_change = on_change
        self._clock = clock
        self._answered = answered
        self._state: BreakerState = "closed"
        self._failures = 0
        self._opened_at = 0.0
        self._generation = 0
        self._probe_in_flight = False
        self._probe_done: asyncio.Event | None = None
        self._last_error = ""
        self.transitions = 0
        self._permit: contextvars.ContextVar[_Permit | None] = contextvars.ContextVar(
            f"breaker-{name}", default=None
        )

    # -- introspection -------------------------------------------------------------------
    @property
    def state(self) -> BreakerState:
        return self._state

    @property
    def failures(self) -> int:
        """Consecutive failures (reset by a success)."""
        return self._failures

    @property
    def last_error(self) -> str:
        return self._last_error

    def next_probe_in(self) -> float | None:
        """Seconds until a probe may go out; 0 when due, None unless open."""
        if self._state != "open":
            return None
        return max(0.0, self._opened_at + self.reset - self._clock())

    def allows(self) -> bool:
        """Would a call be admitted right now (without admitting it)?"""
        if self._state == "closed":
            return True
        if self._state == "open":
            return self.next_probe_in() == 0.0
        return not self._probe_in_flight

    def probe_now(self) -> None:
        """Let the next call probe at once (a final flush, a user's retry request)."""
        if self._state == "open":
            self._opened_at = self._clock() - self.reset

    def snapshot(self, reason: str = "") -> BreakerChanged:
        return BreakerChanged(
            name=self.name, state=self._state, failures=self._failures,
            next_probe_in=self.next_probe_in(), reason=reason or self._last_error,
        )

    # -- admission and outcome -------------------------------------------------------------
    def _admit(self) -> _Permit:
        if self._state == "open":
            wait = self.next_probe_in()
            if wait:
                raise BreakerOpen(self.name, wait)
            self._move("half-open", f"probing after {self.reset:g}s")
        if self._state == "half-open":
            if self._probe_in_flight:
                raise BreakerOpen(self.name, None)
            self._probe_in_flight = True
            self._probe_done = None
            return _Permit(self._generation, probe=True)
        return _Permit(self._generation, probe=False)

    def _finish(self, permit: _Permit, exc: BaseException | None) -> None:
        if permit.probe:
            self._probe_in_flight = False
            if self._probe_done is not None:
                self._probe_done.set()  # after the verdict below (callbacks run later)
        if exc is not None and not isinstance(exc, Exception):
            return  # cancelled / interrupted: no verdict; a new probe may go out
        failed = exc is not None and not isinstance(exc, self._answered)
        if permit.generation != self._generation:
            # admitted under an earlier state: its outcome says nothing about now,
            # except that failures keep counting while closed
            if failed and self._state == "closed":
                self._record_failure(exc)
            return
        if failed:
            self._record_failure(exc)
        elif self._state == "half-open" or self._failures:
            self._failures = 0
            if self._state == "half-open":
                self._move("closed", "probe succeeded")

    def _record_failure(self, exc: BaseException | None) -> None:
        self._failures += 1
        self._last_error = _describe(exc)
        if self._state == "half-open":
            self._move("open", f"probe failed: {self._last_error}")
        elif self._state == "closed" and self._failures >= self.threshold:
            self._move("open", f"{self._failures} consecutive failures: {self._last_error}")

    def _move(self, state: BreakerState, reason: str) -> None:
        self._state = state
        self._generation += 1
        self.transitions += 1
        if state == "open":
            self._opened_at = self._clock()
        if self.on_change is not None:
            self.on_change(self.snapshot(reason))

    # -- async API -----------------------------------------------------------------------
    async def __aenter__(self) -> CircuitBreaker:
        permit = self._admit()
        permit.prev = self._permit.get()
        self._permit.set(permit)
        return self

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        permit = self._permit.get()
        if permit is None:  # pragma: no cover - misuse
            raise RuntimeError("breaker exited without being entered in this task")
        self._permit.set(permit.prev)
        self._finish(permit, exc)

    async def call(self, fn: Callable[..., Awaitable[T]], *args: Any,
                   wait_probe: bool = False, **kwargs: Any) -> T:
        """Run `fn` through the breaker; raises BreakerOpen without calling when refused.

        With `wait_probe`, a call refused only because the half-open probe is in flight
        waits for the probe's verdict and then goes ahead if the breaker closed (calls
        that start together, like a job's concurrent requests, do not fail for it).
        """
        try:
            permit = self._admit()
        except BreakerOpen as exc:
            if not wait_probe or exc.retry_in is not None:
                raise
            if self._probe_done is None:
                self._probe_done = asyncio.Event()
            await self._probe_done.wait()
            permit = self._admit()
        try:
            result = await fn(*args, **kwargs)
        except BaseException as exc:
            self._finish(permit, exc)
            raise
        self._finish(permit, None)
        return result

    def __repr__(self) -> str:
        return f"<CircuitBreaker {self.name} {self._state} failures={self._failures}>"


def _describe(exc: BaseException | None) -> str:
    if exc is None:
        return ""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200]
