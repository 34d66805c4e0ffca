"""How much of the shared weight budget the sampler may spend, and when.

Market data comes first: `k = ceil(window / interval)` market cycles can fall inside
one rate-limit window (the collector sleeps `interval` after each cycle), each costing
`market_weight`. The sampler keeps its *own* spends in the window under
`limit - k x market_weight`, so the total never passes the limit and the next market
cycle always fits at once. Counting only its own spends (rather than reserving weight
on top of the total, which would count the market's weight twice) lets the sampler use
all of what is left. With no interval (back-to-back cycles) `k` is unknown and the
sampler falls back to leaving `market_weight` free on the shared total (`reserve=`).
An explicit `reserve` forces that total-based mode.

The sampler sleeps outside the budget's lock, so the market job never queues behind it.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

from hltui.sources.budget import WeightBudget


class SamplerShare:
    def __init__(
        self,
        budget: WeightBudget,
        market_weight: int,
        interval: float,
        *,
        reserve: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.budget = budget
        self.window = budget.window_s
        self._clock = clock
        self._spent: deque[tuple[float, int]] = deque()
        self._total = 0
        self.market_cycles = math.ceil(self.window / interval) if interval > 0 else None
        if reserve is not None or self.market_cycles is None:
            self.reserve = market_weight if reserve is None else reserve
            self.cap: int | None = None  # total-based mode
        else:
            self.reserve = 0
            self.cap = budget.limit - self.market_cycles * market_weight

    @property
    def starved(self) -> bool:
        """Market data alone takes the whole budget: nothing is left to sample with."""
        return self.cap is not None and self.cap <= 0

    def describe(self) -> str:
        if self.cap is None:
            return f"leaves {self.reserve} of {self.budget.limit} free for market data"
        return (f"keeps its own spends under {max(self.cap, 0)} of {self.budget.limit} per "
                f"{self.window:g} s window ({self.market_cycles} market cycle(s) fit in one)")

    def _expire(self, now: float) -> None:
        while self._spent and now - self._spent[0][0] >= self.window:
            self._total -= self._spent.popleft()[1]

    def time_until(self, weight: int) -> float:
        """Seconds until `weight` fits both the shared budget and the sampler's share."""
        shared = self.budget.time_until(weight, self.reserve)
        if self.cap is None:
            return shared
        if self.cap < weight:
            return max(shared, self.window)  # never fits: check again a window later
        now = self._clock()
        self._expire(now)
        excess = self._total + weight - self.cap
        own = 0.0
        if excess > 0:
            freed = 0
            for t, w in self._spent:
                freed += w
                if freed >= excess:
                    own = max(0.0, t + self.window - now)
                    break
        return max(shared, own)

    def headroom(self) -> int:
        """Weight the sampler could spend right now without waiting."""
        shared = self.budget.available(self.reserve)
        if self.cap is None:
            return shared
        return max(0, min(shared, self.cap - self.used()))

    def spend(self, weight: int) -> None:
        """Record a spend the moment the request is charged to the shared budget."""
        now = self._clock()
        self._expire(now)
        self._spent.append((now, weight))
        self._total += weight

    def used(self) -> int:
        self._expire(self._clock())
        return self._total
