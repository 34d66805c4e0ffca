"""Request-weight budget: never spend more than a share of HyperLiquid's 1200/min.

A sliding 60-second window of spent weight shared by every caller in the process;
`acquire` waits until the weight fits. Priority callers (market data) may use the
whole share; background callers (sampling) leave `reserve` for them.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

HL_WEIGHT_PER_MINUTE = 1200
WINDOW_S = 60.0

# documented weights (SOURCES.md §1)
WEIGHTS = {
    "l2Book": 2, "allMids": 2, "clearinghouseState": 2, "orderStatus": 2,
    "spotClearinghouseState": 2, "exchangeStatus": 2, "userRole": 60,
}
DEFAULT_WEIGHT = 20


def request_weight(body: dict) -> int:
    return WEIGHTS.get(str(body.get("type")), DEFAULT_WEIGHT)


class WeightBudget:
    def __init__(
        self,
        share: float = 0.5,
        per_minute: int = HL_WEIGHT_PER_MINUTE,
        clock: Callable[[], float] = time.monotonic,
        window_s: float = WINDOW_S,
    ) -> None:
        # `per_minute` is the weight allowed per window; tests compress time by
        # shortening `window_s` (e.g. 1200 per 6 s) without touching request weights.
        if window_s <= 0:
            raise ValueError("window_s must be positive")
        self.limit = max(1, int(per_minute * share))
        self.window_s = window_s
        self._clock = clock
        self._spent: deque[tuple[float, int]] = deque()
        self._total = 0
        self._lock = asyncio.Lock()
        self._blocked_until = 0.0
        self.spent_total = 0

    def _expire(self, now: float) -> None:
        while self._spent and now - self._spent[0][0] >= self.window_s:
            self._total -= self._spent.popleft()[1]

    def used(self) -> int:
        self._expire(self._clock())
        return self._total

    def available(self, reserve: int = 0) -> int:
        return max(0, self.limit - reserve - self.used())

    async def acquire(self, weight: int, reserve: int = 0) -> None:
        """Wait until `weight` fits under the limit minus `reserve`, then spend it."""
        cap = max(weight, self.limit - reserve)
        async with self._lock:
            while True:
                now = self._clock()
                self._expire(now)
                if now < self._blocked_until:
                    await asyncio.sleep(self._blocked_until - now)
                    continue
                if self._total + weight <= cap:
                    self._spent.append((now, weight))
                    self._total += weight
                    self.spent_total += weight
                    return
                wait = self.window_s - (now - self._spent[0][0]) if self._spent else 0.05
                await asyncio.sleep(max(wait, 0.01))

    def time_until(self, weight: int, reserve: int = 0) -> float:
        """Seconds until `acquire(weight, reserve)` would spend without waiting (0: now).

        Lets a background caller sleep outside the lock, so a priority caller is
        never queued behind it.
        """
        now = self._clock()
        self._expire(now)
        if now < self._blocked_until:
            return self._blocked_until - now
        cap = max(weight, self.limit - reserve)
        excess = self._total + weight - cap
        if excess <= 0:
            return 0.0
        freed = 0
        for t, w in self._spent:
            freed += w
            if freed >= excess:
                return max(0.0, t + self.window_s - now)
        return self.window_s  # pragma: no cover - cap >= weight, so the loop returns

    def penalize(self, seconds: float) -> None:
        """After a 429 the server's window is full: treat the budget as spent for a while."""
        self._blocked_until = max(self._blocked_until, self._clock() + seconds)
