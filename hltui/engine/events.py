"""Events the engine publishes; the TUI turns them into messages, headless logs them.

Plain dataclasses so the engine stays UI-free. A sink is any callable taking an
event; it must not block (the TUI's sink only appends to a queue).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

BreakerState = Literal["closed", "open", "half-open"]


@dataclass(slots=True)
class ItemError:
    """One failed item (an asset, an account, a page) and why: partial results."""

    source: str
    item: str
    kind: str  # validation | http | timeout | rate_limited | blocked | store | internal
    message: str


@dataclass(slots=True)
class LogRecord:
    level: Literal["debug", "info", "success", "warning", "error"]
    message: str
    time: float = field(default_factory=time.time)
    logger: str = "hltui"


@dataclass(slots=True)
class CycleStarted:
    cycle: int
    time: float = field(default_factory=time.time)


@dataclass(slots=True)
class CycleDone:
    """One cycle finished. `points_written` were acknowledged by the store."""

    cycle: int
    assets_ok: int
    assets_failed: int
    points: int
    points_written: int
    points_spooled: int
    duration_ms: float
    errors: list[ItemError] = field(default_factory=list)
    per_source: dict[str, dict[str, int]] = field(default_factory=dict)
    time: float = field(default_factory=time.time)


@dataclass(slots=True)
class SnapshotReady:
    """In-memory view of the latest market state for the dashboard.

    `assets` maps asset name -> flat dict of the latest values (asset_metrics fields
    plus `source_<name>` positioning dicts); `globals` is global_metrics fields.
    """

    cycle: int
    assets: dict[str, dict[str, Any]]
    globals: dict[str, Any]
    time: float = field(default_factory=time.time)


@dataclass(slots=True)
class BreakerChanged:
    name: str  # source name or "store"
    state: BreakerState
    failures: int
    next_probe_in: float | None  # seconds until half-open probe when open
    reason: str = ""
    time: float = field(default_factory=time.time)


@dataclass(slots=True)
class StatsUpdated:
    """Health figures: success rates, timings, spool depth, write counters."""

    success_rate_hour: dict[str, float]
    success_rate_total: dict[str, float]
    cycle_ms_p50: float
    cycle_ms_p95: float
    points_written: int
    points_spooled: int
    points_replayed: int
    points_dropped: int
    spool_bytes: int
    breakers: dict[str, BreakerChanged] = field(default_factory=dict)
    time: float = field(default_factory=time.time)


@dataclass(slots=True)
class CompressionProgress:
    windows_done: int
    windows_total: int
    time: float = field(default_factory=time.time)


@dataclass(slots=True)
class CompressionDone:
    windows: int
    points: int
    duration_ms: float
    error: str | None = None
    time: float = field(default_factory=time.time)


@dataclass(slots=True)
class PausedChanged:
    paused: bool
    time: float = field(default_factory=time.time)


@dataclass(slots=True)
class CollectorFailed:
    """The collector stopped with an unexpected error (shown, never fatal to the app)."""

    message: str
    time: float = field(default_factory=time.time)


Event = (
    LogRecord | CycleStarted | CycleDone | SnapshotReady | BreakerChanged | StatsUpdated
    | CompressionProgress | CompressionDone | PausedChanged | CollectorFailed
)
EventSink = Callable[[Event], None]


def null_sink(_event: Event) -> None:
    """Default sink: drop events."""
