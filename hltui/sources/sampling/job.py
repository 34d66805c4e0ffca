"""Source `sampled`: positioning from `clearinghouseState` of sampled accounts.

A background worker samples the address set in batches, paced by the shared
weight budget: it only spends what market data leaves (see `share.py`), and it
sleeps outside the budget's lock, so the market-data job never queues behind it.
A pass over the set may span several cycles; its cursor survives 429 storms and
failures. Each cycle, `run()` stores
the freshest complete aggregate: every account of the last completed pass at
its most recent sample, plus `sample_age_s`, the age of the oldest sample in it.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
import traceback
from collections.abc import Callable
from typing import Any

from hltui.config import Settings
from hltui.engine.batch import run_batches
from hltui.engine.breaker import BreakerOpen
from hltui.engine.events import ItemError
from hltui.process.sampling import (
    SOURCE,
    AccountSample,
    MarketLike,
    PayloadError,
    aggregate_samples,
    parse_clearinghouse_state,
    short_address,
)
from hltui.sources.base import (
    CycleContext,
    JobResult,
    RateLimited,
    Retryable,
    SourceError,
)
from hltui.sources.budget import request_weight
from hltui.sources.http import InfoClient
from hltui.sources.sampling.addresses import DEFAULT_REFRESH_S, DEFAULT_RETRY_S, AddressBook
from hltui.sources.sampling.passes import SamplingPass
from hltui.sources.sampling.share import SamplerShare

ACCOUNT_WEIGHT = request_weight({"type": "clearinghouseState"})
# what the hyperliquid job spends per cycle (metaAndAssetCtxs + predictedFundings)
MARKET_WEIGHT = request_weight({"type": "metaAndAssetCtxs"}) + \
    request_weight({"type": "predictedFundings"})
MAX_ERRORS = 20  # ItemErrors kept between two cycles (the rest are counted)
MIN_PASS_S = 30.0
FIRST_PASS_WAIT_MAX_S = 30.0
PAUSE_POLL_S = 0.2
IDLE_S = 1.0
BACKOFF_BASE_S = 0.5
BACKOFF_MAX_S = 30.0


def market_weight(settings: Settings) -> int:
    """What the hyperliquid job spends per cycle (0 when it is not configured)."""
    return MARKET_WEIGHT if "hyperliquid" in settings.sources else 0


def market_reserve(settings: Settings, cycles: float = 1.0) -> int:
    """A total-based reserve of `cycles` market cycles (the explicit `reserve=` mode)."""
    return math.ceil(market_weight(settings) * cycles)


class SampledJob:
    name = SOURCE

    def __init__(
        self,
        settings: Settings,
        client: InfoClient,
        *,
        clock: Callable[[], float] = time.time,
        reserve: int | None = None,
        min_pass_s: float | None = None,
        leaderboard_refresh_s: float = DEFAULT_REFRESH_S,
        leaderboard_retry_s: float = DEFAULT_RETRY_S,
        first_pass_wait_s: float | None = None,
    ) -> None:
        self.settings = settings
        self.client = client
        # the pass cursor is this source's retry: a failed account goes back in the queue
        # (counted, paced by the budget); per-request retries inside the client would
        # spend weight the sampler's share does not see, and log every retry
        client.attempts = 1
        self.clock = clock
        self.share = SamplerShare(client.budget, market_weight(settings), settings.interval,
                                  reserve=reserve)
        # re-sampling an account more often than the cycle interval is wasted weight, and
        # positions worth a pass rarely change within MIN_PASS_S: with back-to-back cycles
        # (interval 0) the sampler would otherwise take all the weight market data needs
        self.min_pass_s = (max(settings.interval, MIN_PASS_S) if min_pass_s is None
                           else min_pass_s)
        self.first_pass_wait_s = (min(settings.interval, FIRST_PASS_WAIT_MAX_S)
                                  if first_pass_wait_s is None else first_pass_wait_s)
        self.book = AddressBook(settings, client, clock=clock, refresh_s=leaderboard_refresh_s,
                                retry_s=leaderboard_retry_s)
        self.latest: dict[str, AccountSample] = {}
        self.members: list[str] | None = None  # the last completed pass
        self.current: SamplingPass | None = None
        self.passes_completed = 0
        self._pass_number = 0
        self._last_pass_start: float | None = None
        self._market: dict[str, MarketLike] = {}
        self._paused: Callable[[], bool] = lambda: False
        self._log: Callable[[str, str], None] = lambda level, msg: None
        self._task: asyncio.Task[None] | None = None
        self._pass_done: asyncio.Event | None = None
        self._pass_begun: asyncio.Event | None = None
        self._backoff = 0
        self._unknown_reported: frozenset[str] = frozenset()
        # since the last cycle
        self._ok = 0
        self._failed = 0
        self._errors: list[ItemError] = []
        self._errors_dropped = 0
        # lifetime counters (bench, tests, dashboard)
        self.sampled_total = 0
        self.failed_total = 0
        self.rate_limited_total = 0

    # the cycle ---------------------------------------------------------------
    async def run(self, ctx: CycleContext) -> JobResult:
        self._paused = ctx.paused
        self._log = ctx.log
        if ctx.market:
            self._market = dict(ctx.market)
        first = self._task is None and self.members is None
        self.start()
        if first and self.first_pass_wait_s > 0:
            await self._first_pass()
        errors, dropped = self._errors, self._errors_dropped
        result = JobResult(SOURCE, ok=self._ok, failed=self._failed, errors=errors)
        self._ok = self._failed = self._errors_dropped = 0
        self._errors = []
        if dropped:
            errors.append(ItemError(SOURCE, "*", "validation",
                                    f"... and {dropped} more account errors since last cycle"))
        progress = self.progress()
        if self.members is None:
            result.globals = progress
            return result
        samples = [self.latest[a] for a in self.members if a in self.latest]
        age = self.clock() - min(s.time_s for s in samples) if samples else None
        agg = aggregate_samples(samples, self._market, ctx.now_ms, sample_age_s=age)
        result.points = agg.points
        unknown = frozenset(agg.unknown_coins)
        if unknown != self._unknown_reported:  # report a change, not every cycle
            result.errors.extend(agg.errors)
            self._unknown_reported = unknown
        else:
            result.errors.extend(e for e in agg.errors if e.item not in unknown)
        # the dashboard shows how old the positioning behind each row is
        result.assets = {a: {**f, "sample_age_s": age} for a, f in agg.assets.items()}
        result.globals = {**agg.globals, **progress}
        return result

    async def _first_pass(self) -> None:
        """Once, at start: a first pass that fits the budget lands in this very cycle."""
        assert self._pass_begun is not None and self._pass_done is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.first_pass_wait_s
        with contextlib.suppress(TimeoutError):  # the leaderboard download comes first
            await asyncio.wait_for(self._pass_begun.wait(), self.first_pass_wait_s)
        p = self.current
        if p is None or p.remaining * ACCOUNT_WEIGHT > self.share.headroom():
            return  # it will take several cycles: do not hold this one up
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._pass_done.wait(), max(0.0, deadline - loop.time()))

    def progress(self) -> dict[str, Any]:
        p = self.current
        return {
            "pass": self._pass_number,
            "pass_progress": round(p.progress, 4) if p else 1.0,
            "passes_completed": self.passes_completed,
            "address_set": len(self.book.addresses()),
        }

    # the worker --------------------------------------------------------------
    def start(self) -> None:
        """Start (or restart after a crash) the background worker on the running loop."""
        if self._pass_done is None:
            self._pass_done = asyncio.Event()
            self._pass_begun = asyncio.Event()
        if self._task is not None and self._task.done():
            exc = None if self._task.cancelled() else self._task.exception()
            if exc is not None:
                self._error(ItemError(SOURCE, "*", "internal", f"worker restarted after {exc!r}"))
            self._task = None
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._work(), name="sampled")

    async def wait_passes(self, n: int) -> None:
        """Wait until `n` passes have completed in total (tests, bench)."""
        self.start()
        assert self._pass_done is not None
        while self.passes_completed < n:
            self._pass_done.clear()
            await self._pass_done.wait()

    async def _work(self) -> None:
        if self.share.starved:
            self._error(ItemError(
                SOURCE, "budget", "rate_limited",
                f"market data every {self.settings.interval:g} s takes the whole request "
                f"budget ({self.client.budget.limit} per {self.share.window:g} s): no weight "
                "is left for sampling; lengthen HLTUI_INTERVAL or raise "
                "HLTUI_WEIGHT_BUDGET_SHARE"))
        self._log("info", f"sampled: up to {self.book.size} leaderboard accounts + "
                  f"{len(self.book.watch_list)} watched; the sampler {self.share.describe()}")
        try:
            while True:
                if self._paused():
                    await asyncio.sleep(PAUSE_POLL_S)
                    continue
                await self._refresh_addresses()
                if self.current is None or self.current.complete:
                    if self.current is not None:
                        self._finish_pass(self.current)
                    if not await self._begin_pass():
                        continue
                assert self.current is not None
                batch = self.current.take(self.settings.batch_size)
                if batch:
                    await self._sample_batch(self.current, batch)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug must not silently stop sampling: run() restarts it
            self._log("error", f"sampled: worker failed: {exc!r}\n{traceback.format_exc()}")
            raise

    async def _refresh_addresses(self) -> None:
        before = self.book.refreshes
        err = await self.book.refresh_if_due()
        if err is not None:
            self._error(err)
            self._log("warning", f"sampled: {err.message}")
        elif self.book.refreshes != before:
            self._log("info", f"sampled: leaderboard refreshed, top {len(self.book.top)} of "
                      f"{self.book.available} accounts cached")

    async def _begin_pass(self) -> bool:
        now = self.clock()
        if self._last_pass_start is not None and now - self._last_pass_start < self.min_pass_s:
            await asyncio.sleep(self.min_pass_s - (now - self._last_pass_start))
            return False
        addresses = self.book.addresses()
        if not addresses:
            self.current = None
            await asyncio.sleep(IDLE_S)
            return False
        self._pass_number += 1
        self._last_pass_start = now
        self.current = SamplingPass(addresses, self._pass_number, now)
        if self._pass_begun is not None:
            self._pass_begun.set()
        return True

    def _finish_pass(self, p: SamplingPass) -> None:
        self.members = list(p.done)
        keep = set(p.done) | set(self.book.addresses())
        for addr in [a for a in self.latest if a not in keep]:
            del self.latest[addr]
        self.passes_completed += 1
        self.current = None
        if self._pass_done is not None:
            self._pass_done.set()

    async def _fetch(self, addr: str) -> tuple[AccountSample | None, Exception | None]:
        """One account: wait for the sampler's share (and a closed breaker), ask, validate.
        Expected failures come back as values; anything else is a bug the batch
        processor records for this account alone."""
        await self._wait_budget()
        self.share.spend(ACCOUNT_WEIGHT)  # same tick as the budget charge in info()
        try:
            payload = await self.client.info({"type": "clearinghouseState", "user": addr},
                                             reserve=self.share.reserve)
            return parse_clearinghouse_state(addr, payload, self.clock()), None
        except (SourceError, PayloadError) as exc:
            return None, exc

    async def _sample_batch(self, p: SamplingPass, batch: list[str]) -> None:
        result = await run_batches(batch, self._fetch, source=SOURCE, batch_size=len(batch),
                                   max_concurrency=self.settings.max_concurrency,
                                   key=short_address)
        transport: list[tuple[str, SourceError]] = []
        got_any = False
        for o in result.outcomes:
            addr = o.item
            if o.error is not None:
                self._give_up(p, addr, o.error.kind, o.error.message)
                continue
            sample, exc = o.value  # type: ignore[misc]
            if sample is not None:
                got_any = True
                self.latest[addr] = sample
                p.succeeded(addr)
                self._ok += 1
                self.sampled_total += 1
                for e in sample.errors:
                    self._error(e)
            elif isinstance(exc, RateLimited | BreakerOpen):
                # the budget is paused for Retry-After / the breaker waits: not this account
                self.rate_limited_total += isinstance(exc, RateLimited)
                p.retry_later(addr)
            elif isinstance(exc, Retryable):
                transport.append((addr, exc))
            else:
                kind = exc.kind if isinstance(exc, SourceError) else "validation"
                self._give_up(p, addr, kind, str(exc))
        if transport and not got_any:
            # nothing got through: the exchange is unwell, not these accounts
            for addr, _ in transport:
                p.retry_later(addr)
            self._backoff += 1
            exc = transport[0][1]
            self._error(ItemError(SOURCE, "clearinghouseState", exc.kind,
                                  f"{exc} ({len(transport)} accounts requeued)"))
            await asyncio.sleep(min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** (self._backoff - 1)))
            return
        self._backoff = 0
        for addr, exc in transport:
            if p.attempt(addr) >= self.settings.retry_attempts:
                self._give_up(p, addr, exc.kind, f"{exc} (after {p.attempts[addr]} attempts)")
            else:
                p.retry_later(addr)

    async def _wait_budget(self) -> None:
        """Sleep (outside the budget's lock) until one account's weight fits the sampler's
        share and the source's breaker would admit the call."""
        breaker = self.client.breaker
        while True:
            wait = self.share.time_until(ACCOUNT_WEIGHT)
            if breaker is not None and breaker.state == "open":
                # (half-open: the call waits for the probe's verdict inside the client)
                wait = max(wait, breaker.next_probe_in() or 0.0)
            if wait <= 0:
                return
            await asyncio.sleep(wait + 0.001)

    def _give_up(self, p: SamplingPass, addr: str, kind: str, message: str) -> None:
        """Final failure for this pass: the account's old sample is dropped, not reused."""
        p.give_up(addr)
        self.latest.pop(addr, None)
        self._failed += 1
        self.failed_total += 1
        self._error(ItemError(SOURCE, short_address(addr), kind, message))

    def _error(self, err: ItemError) -> None:
        if len(self._errors) < MAX_ERRORS:
            self._errors.append(err)
        else:
            self._errors_dropped += 1

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        await self.client.close()
