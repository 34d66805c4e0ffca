"""One pass over the address set: a cursor that survives rate limits and failures.

Each address leaves `pending` once, is either sampled (`done`) or given up
(`failed`), and a retry puts it back at the front, so a 429 storm mid-pass resumes
exactly where it stopped and no account is sampled twice within a pass.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Sequence


class SamplingPass:
    def __init__(self, addresses: Sequence[str], number: int, started: float) -> None:
        self.addresses = list(dict.fromkeys(addresses))
        self.number = number
        self.started = started
        self._pending: deque[str] = deque(self.addresses)
        self._in_flight: set[str] = set()
        self.done: list[str] = []
        self.failed: list[str] = []
        self.attempts: Counter[str] = Counter()

    def take(self, n: int) -> list[str]:
        """The next `n` addresses not yet sampled in this pass."""
        out: list[str] = []
        while self._pending and len(out) < n:
            addr = self._pending.popleft()
            self._in_flight.add(addr)
            out.append(addr)
        return out

    def succeeded(self, addr: str) -> None:
        self._in_flight.discard(addr)
        self.done.append(addr)

    def retry_later(self, addr: str) -> None:
        """Back to the front of the queue: the pass resumes with it."""
        self._in_flight.discard(addr)
        self._pending.appendleft(addr)

    def attempt(self, addr: str) -> int:
        """Count a failed attempt that was the account's own (not a 429); returns the total."""
        self.attempts[addr] += 1
        return self.attempts[addr]

    def give_up(self, addr: str) -> None:
        self._in_flight.discard(addr)
        self.failed.append(addr)

    @property
    def remaining(self) -> int:
        return len(self._pending) + len(self._in_flight)

    @property
    def complete(self) -> bool:
        return not self._pending and not self._in_flight

    @property
    def progress(self) -> float:
        total = len(self.addresses)
        return 1.0 if total == 0 else (len(self.done) + len(self.failed)) / total
