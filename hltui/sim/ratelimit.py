"""The exchange side of the rate limit: a sliding window of request weight, and counters.

Mirrors HyperLiquid's documented rule (1200 weight per 60 s per IP; SOURCES.md §1).
Limit and window are configurable so tests can compress time (e.g. 120 per 6 s).
A request that does not fit is answered 429 with `Retry-After` and costs nothing.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from typing import Any

LIMIT = 1200
WINDOW_S = 60.0
WEIGHTS = {
    "l2Book": 2, "allMids": 2, "clearinghouseState": 2, "orderStatus": 2,
    "spotClearinghouseState": 2, "exchangeStatus": 2, "userRole": 60,
}
DEFAULT_WEIGHT = 20
# extra weight per items returned
EXTRA_PER_ITEMS = {"fundingHistory": 20, "candleSnapshot": 60}


def base_weight(req_type: str) -> int:
    return WEIGHTS.get(req_type, DEFAULT_WEIGHT)


def extra_weight(req_type: str, n_items: int) -> int:
    per = EXTRA_PER_ITEMS.get(req_type)
    return n_items // per if per else 0


class SlidingWindow:
    """Weight spent in the last `window_s` seconds; thread-safe."""

    def __init__(self, limit: int = LIMIT, window_s: float = WINDOW_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if limit < 1 or window_s <= 0:
            raise ValueError("limit must be >= 1 and window_s > 0")
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._spent: deque[tuple[float, int]] = deque()
        self._total = 0
        self._lock = threading.Lock()

    def _expire(self, now: float) -> None:
        while self._spent and now - self._spent[0][0] >= self.window_s:
            self._total -= self._spent.popleft()[1]

    def used(self) -> int:
        with self._lock:
            self._expire(self._clock())
            return self._total

    def retry_after(self, weight: int) -> float | None:
        """None when `weight` fits now; else seconds until it will."""
        with self._lock:
            now = self._clock()
            self._expire(now)
            if self._total + weight <= self.limit:
                return None
            need = self._total + weight - self.limit
            freed = 0
            for t, w in self._spent:
                freed += w
                if freed >= need:
                    return max(0.0, t + self.window_s - now)
            return self.window_s  # heavier than the whole budget: one full window

    def charge(self, weight: int) -> tuple[float, int]:
        """Spend `weight` now; returns (time, weight now in the window)."""
        with self._lock:
            now = self._clock()
            self._expire(now)
            self._spent.append((now, weight))
            self._total += weight
            return now, self._total

    def reset(self) -> None:
        with self._lock:
            self._spent.clear()
            self._total = 0


def max_weight_in_window(log: list[tuple[float, int]], window: float) -> int:
    """Largest weight inside any `window`-second span of a (time, weight) log, recomputed
    from the log alone so tests and benches check the server's own accounting."""
    best = total = j = 0
    for t, w in log:
        total += w
        while log[j][0] <= t - window:
            total -= log[j][1]
            j += 1
        best = max(best, total)
    return best


def retry_after_header(seconds: float) -> str:
    """Whole seconds, at least 1 (HTTP's Retry-After is an integer)."""
    return str(max(1, math.ceil(seconds)))


class SimStats:
    """What the exchange saw: requests per type, weight, 429s, faults, statuses."""

    def __init__(self, keep_log: int = 100_000) -> None:
        self._lock = threading.Lock()
        self._keep_log = keep_log
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.requests: Counter[str] = Counter()
            self.statuses: Counter[int] = Counter()
            self.faults_served: Counter[str] = Counter()
            self.total_weight = 0
            self.max_window_weight = 0
            self.rate_limited = 0  # 429s served (budget or forced)
            self.bad_requests = 0  # 422s served
            self.weight_log: deque[tuple[float, int]] = deque(maxlen=self._keep_log)

    def request(self, req_type: str) -> None:
        with self._lock:
            self.requests[req_type] += 1

    def status(self, status: int) -> None:
        with self._lock:
            self.statuses[status] += 1
            if status == 429:
                self.rate_limited += 1
            elif status == 422:
                self.bad_requests += 1

    def fault(self, name: str) -> None:
        with self._lock:
            self.faults_served[name] += 1

    def weight(self, t: float, weight: int, in_window: int) -> None:
        with self._lock:
            self.total_weight += weight
            self.max_window_weight = max(self.max_window_weight, in_window)
            self.weight_log.append((t, weight))

    def to_dict(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": dict(self.requests),
                "statuses": {str(k): v for k, v in self.statuses.items()},
                "faults_served": dict(self.faults_served),
                "total_weight": self.total_weight,
                "max_window_weight": self.max_window_weight,
                "rate_limited": self.rate_limited,
                "bad_requests": self.bad_requests,
                "weight_log": [[t, w] for t, w in self.weight_log],
            }
