"""The narrow storage contract shared by the InfluxDB and embedded stores.

Both implementations pass the same contract tests (tests/test_store_contract.py).
All methods are async; the embedded store runs SQLite in a worker thread.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hltui.process.records import Point


class StoreError(Exception):
    """Base for store failures."""


class StoreUnavailable(StoreError):
    """The store did not acknowledge (down, timeout, 5xx): spool and retry later."""


class StoreRejected(StoreError):
    """The store refused the request itself (4xx other than partial write): do not retry."""


@dataclass(slots=True)
class WriteResult:
    """Outcome of one write: `written` acknowledged, `rejected` refused per line."""

    written: int
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (line protocol, reason)


@dataclass(slots=True)
class CompressionReport:
    windows: int
    points: int
    duration_ms: float
    watermark_ms: int | None = None


@dataclass(slots=True)
class Series:
    """A time series read back: parallel lists, times in ms since the epoch."""

    times_ms: list[int]
    values: dict[str, list[float | None]]


class Store(abc.ABC):
    """What the engine writes to and the TUI / `hltui query` read from."""

    label: str = "store"

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect and provision (database, tiers); idempotent."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    async def ping(self) -> bool:
        """True when the store answers right now."""

    @abc.abstractmethod
    async def write(self, points: Sequence[Point]) -> WriteResult:
        """Write to the raw tier. Raises StoreUnavailable when nothing was acknowledged."""

    async def write_lines(self, lines: Sequence[str]) -> WriteResult:
        """Write already-serialized line protocol (spool replay). Same errors as write."""
        raise NotImplementedError

    # reads (stitch raw + compressed tiers transparently)
    @abc.abstractmethod
    async def latest_positions(self) -> list[dict[str, Any]]:
        """Latest asset_metrics per (asset, source): one dict per row with `asset`, `source`,
        `time_ms` and every field."""

    @abc.abstractmethod
    async def asset_history(
        self, asset: str, hours: float, max_points: int = 300, source: str | None = None,
        now_ms: int | None = None,
    ) -> Series:
        """asset_metrics fields for one asset over the last `hours`, at most max_points.
        `now_ms` (default: the wall clock) ends the window (the dashboard passes its clock)."""

    @abc.abstractmethod
    async def global_metrics(self, hours: float = 24, max_points: int = 300,
                             now_ms: int | None = None) -> Series: ...

    @abc.abstractmethod
    async def liquidation_map(self, asset: str, source: str | None = None) -> list[dict[str, Any]]:
        """Latest liquidation levels: dicts with `side`, `price`, `notional_usd`, `source`."""

    @abc.abstractmethod
    async def assets(self) -> list[str]:
        """Asset names that have data (for `hltui query` unknown-asset errors)."""

    # lifecycle
    async def compress(self, now_ms: int | None = None, progress=None) -> CompressionReport:
        return CompressionReport(0, 0, 0.0)

    async def apply_retention(self, now_ms: int | None = None) -> int:
        return 0
