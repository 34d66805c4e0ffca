"""The collector's write path. `DirectWriter` writes straight to the store; the
resilience layer replaces it with a spooling writer of the same shape."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from hltui.engine.stats import WriterCounters
from hltui.process.records import Point
from hltui.store.base import Store, StoreError


@dataclass(slots=True)
class WriteOutcome:
    written: int = 0
    spooled: int = 0
    rejected: int = 0  # refused by the store (dead-lettered where a spool exists)
    lost: int = 0  # neither written nor kept anywhere
    errors: list[str] = field(default_factory=list)


class DirectWriter:
    def __init__(self, store: Store, batch_size: int = 5000) -> None:
        self.store = store
        self.batch_size = batch_size
        self.written = 0
        self.rejected = 0
        self.lost = 0

    async def write(self, points: Sequence[Point]) -> WriteOutcome:
        out = WriteOutcome()
        for i in range(0, len(points), self.batch_size):
            chunk = points[i : i + self.batch_size]
            try:
                res = await self.store.write(chunk)
            except StoreError as exc:
                out.lost += len(chunk)
                out.errors.append(str(exc))
                continue
            out.written += res.written
            out.rejected += len(res.rejected)
            out.errors.extend(reason for _, reason in res.rejected[:3])
        self.written += out.written
        self.rejected += out.rejected
        self.lost += out.lost
        return out

    def counters(self) -> WriterCounters:
        """Cumulative counters, same shape as the spooling writer's (no spool here)."""
        return WriterCounters(written=self.written, dropped=self.lost,
                              dead_lettered=self.rejected)

    async def flush(self) -> WriteOutcome:
        return WriteOutcome()
