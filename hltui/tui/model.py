"""The dashboard's in-memory model: engine events in, plain values out.

The engine's sink only appends events to `EventFeed` (O(1), thread-safe, never
blocks). The app drains the feed on a timer (4 Hz) into `DashboardModel`, whose
per-area version counters let widgets skip work when nothing they show changed.
No Textual import here: the model is tested and benchmarked on its own.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from hltui.engine.events import (
    BreakerChanged,
    CollectorFailed,
    CompressionDone,
    CompressionProgress,
    CycleDone,
    CycleStarted,
    Event,
    LogRecord,
    PausedChanged,
    SnapshotReady,
    StatsUpdated,
)
from hltui.process.positioning import preferred_source
from hltui.tui.format import HOURS_PER_YEAR, num

LOG_LINES = 3000
MARKET_SOURCE = "hyperliquid"  # price, funding, open interest (the engine's primary job)

# Column key -> how to read it from an asset's flat value dict (first alias present wins).
_ALIASES: dict[str, tuple[str, ...]] = {
    "mark": ("mark_price", "mark_px", "mark"),
    "prev": ("prev_day_price", "prev_day_px", "prev_price_24h"),
    "chg": ("change_24h", "change_24h_pct", "price_change_24h"),
    "fund": ("funding_rate", "funding"),
    "pred": ("predicted_funding", "predicted_funding_rate", "next_funding_rate"),
    "oi": ("open_interest_usd",),
    "oi_coins": ("open_interest",),
    "vol": ("volume_24h_usd", "day_ntl_vlm"),
    "ls": ("ls_ratio",),
    "long_tr": ("long_traders",),
    "short_tr": ("short_traders",),
    "long_n": ("long_notional_usd",),
    "short_n": ("short_notional_usd",),
    "cov": ("coverage", "oi_coverage"),
}

POSITIONING_FIELDS = (
    "long_notional_usd", "short_notional_usd", "ls_ratio", "long_traders", "short_traders",
    "avg_entry_long", "avg_entry_short", "top10_share", "coverage",
)


def _first(values: dict[str, Any], key: str) -> float | None:
    for alias in _ALIASES[key]:
        v = num(values.get(alias))
        if v is not None:
            return v
    return None


def positioning_sources(values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The `source_<name>` positioning dicts of one asset, keyed by source name."""
    return {k[len("source_"):]: v for k, v in values.items()
            if k.startswith("source_") and isinstance(v, dict)}


def positioning_source(values: dict[str, Any]) -> str | None:
    """Which source the row's L/S comes from (the engine names it; else the first one
    that has positioning): sparklines and charts read L/S history from that source."""
    named = values.get("positioning_source")
    if isinstance(named, str) and named:
        return named
    return preferred_source(positioning_sources(values))


def market_row(values: dict[str, Any]) -> dict[str, float | None]:
    """The numbers one markets-table row shows, derived tolerantly from raw fields.

    Positioning falls back to the first source that has it when the flat dict does
    not carry merged values; 24h change and coverage are computed when absent.
    """
    mark = _first(values, "mark")
    chg = _first(values, "chg")
    if chg is None:
        prev = _first(values, "prev")
        if mark is not None and prev:
            chg = mark / prev - 1.0
    fund = _first(values, "fund")
    oi = _first(values, "oi")
    if oi is None:
        coins = _first(values, "oi_coins")
        oi = coins * mark if coins is not None and mark is not None else None
    pos = dict(values)
    if _first(values, "long_n") is None:
        for src in positioning_sources(values).values():
            if num(src.get("long_notional_usd")) is not None:
                pos = {**values, **src}
                break
    long_n, short_n = _first(pos, "long_n"), _first(pos, "short_n")
    ls = _first(pos, "ls")
    if ls is None and long_n is not None and short_n:
        ls = long_n / short_n
    cov = _first(pos, "cov")
    if cov is None and oi and long_n is not None and short_n is not None:
        cov = (long_n + short_n) / oi
    elif cov is not None and cov > 1.5:  # given in percent
        cov = cov / 100.0
    return {
        "mark": mark,
        "chg": chg,
        "fund": fund,
        "fund_ann": fund * HOURS_PER_YEAR if fund is not None else None,
        "pred": _first(values, "pred"),
        "oi": oi,
        "vol": _first(values, "vol"),
        "ls": ls,
        "long_tr": _first(pos, "long_tr"),
        "short_tr": _first(pos, "short_tr"),
        "cov": cov,
    }


class EventFeed:
    """The engine sink: append-only, bounded, safe to call from any thread."""

    def __init__(self, maxlen: int = 100_000) -> None:
        self._events: deque[Event] = deque(maxlen=maxlen)

    def __call__(self, event: Event) -> None:
        self._events.append(event)

    def drain(self) -> list[Event]:
        out = []
        pop = self._events.popleft
        try:
            while True:
                out.append(pop())
        except IndexError:
            return out


@dataclass
class Notice:
    """Something worth a toast (compression result, collector failure)."""

    message: str
    severity: str = "information"  # information | warning | error


@dataclass
class Versions:
    markets: int = 0
    header: int = 0
    health: int = 0
    globals: int = 0
    data: int = 0  # a cycle wrote new points: stored-data views should re-read


@dataclass
class DashboardModel:
    """Latest state of everything the dashboard shows."""

    clock: Callable[[], float] = time.time
    log_lines: int = LOG_LINES
    assets: dict[str, dict[str, Any]] = field(default_factory=dict)
    rows: dict[str, dict[str, float | None]] = field(default_factory=dict)
    globals: dict[str, Any] = field(default_factory=dict)
    cycle: int = 0
    cycle_running: bool = False
    last_cycle: CycleDone | None = None
    last_cycle_at: float | None = None
    written_total: int = 0  # points acknowledged by the store, summed over cycles
    paused: bool = False
    breakers: dict[str, BreakerChanged] = field(default_factory=dict)
    breaker_seen_at: dict[str, float] = field(default_factory=dict)
    stats: StatsUpdated | None = None
    compression: CompressionProgress | None = None
    compression_running: bool = False
    compression_requested: bool = False  # by the user (`c`): report the result in a toast
    last_compression: CompressionDone | None = None
    collector_error: str | None = None
    collector_state: str = "starting"  # starting | running | stopped | failed | done
    versions: Versions = field(default_factory=Versions)
    notices: list[Notice] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.log: deque[LogRecord] = deque(maxlen=self.log_lines)
        self.pending_log: deque[LogRecord] = deque(maxlen=self.log_lines)

    def apply_all(self, events: Iterable[Event]) -> None:
        for event in events:
            self.apply(event)

    def apply(self, event: Event) -> None:
        handler = _HANDLERS.get(type(event))
        if handler is not None:
            handler(self, event)

    # handlers -----------------------------------------------------------------
    def _log(self, e: LogRecord) -> None:
        self.log.append(e)
        self.pending_log.append(e)

    def _cycle_started(self, e: CycleStarted) -> None:
        self.cycle = e.cycle
        self.cycle_running = True
        self.versions.header += 1

    def _cycle_done(self, e: CycleDone) -> None:
        self.cycle = e.cycle
        self.cycle_running = False
        self.last_cycle = e
        self.last_cycle_at = self.clock()
        self.written_total += e.points_written
        self.versions.header += 1
        self.versions.health += 1
        self.versions.data += 1

    def _snapshot(self, e: SnapshotReady) -> None:
        for name, values in e.assets.items():
            self.assets[name] = values
            self.rows[name] = market_row(values)
        if e.globals:
            self.globals = dict(e.globals)
        self.versions.markets += 1
        self.versions.globals += 1

    def _breaker(self, e: BreakerChanged) -> None:
        self.breakers[e.name] = e
        self.breaker_seen_at[e.name] = self.clock()
        self.versions.header += 1
        self.versions.health += 1

    def _stats(self, e: StatsUpdated) -> None:
        self.stats = e
        now = self.clock()
        for name, b in e.breakers.items():
            self.breakers[name] = b
            self.breaker_seen_at[name] = now
        self.versions.health += 1
        if e.breakers:
            self.versions.header += 1

    def _compress_progress(self, e: CompressionProgress) -> None:
        self.compression = e
        self.compression_running = e.windows_done < e.windows_total
        self.versions.health += 1

    def _compress_done(self, e: CompressionDone) -> None:
        self.last_compression = e
        self.compression_running = False
        self.compression = None
        self.versions.health += 1
        self.versions.data += 1
        requested, self.compression_requested = self.compression_requested, False
        if e.error:
            self.notices.append(Notice(f"Compression failed: {e.error}", "error"))
        elif requested:  # the hourly automatic runs are in the log and the health panel
            self.notices.append(Notice(
                f"Compression done: {e.windows} hour windows, {e.points:,} points "
                f"in {e.duration_ms / 1000:.1f} s"))

    def _paused(self, e: PausedChanged) -> None:
        self.paused = e.paused
        self.versions.header += 1

    def _failed(self, e: CollectorFailed) -> None:
        self.set_collector_failed(e.message)

    # state set by the app itself ------------------------------------------------
    def set_collector_state(self, state: str) -> None:
        self.collector_state = state
        if state != "failed":
            self.collector_error = None
        self.versions.header += 1

    def set_collector_failed(self, reason: str) -> None:
        self.collector_state = "failed"
        self.collector_error = reason
        self.cycle_running = False
        self.versions.header += 1
        self.notices.append(Notice(f"Collector stopped: {reason}", "error"))

    @property
    def points_written(self) -> int:
        """The writer's own counter when it keeps one, else the sum over cycles seen."""
        counted = self.stats.points_written if self.stats is not None else 0
        return counted or self.written_total

    def breaker_countdown(self, name: str) -> float | None:
        """Seconds left until an open breaker's half-open probe, counted down locally."""
        b = self.breakers.get(name)
        if b is None or b.state != "open" or b.next_probe_in is None:
            return None
        seen = self.breaker_seen_at.get(name, self.clock())
        return max(0.0, b.next_probe_in - (self.clock() - seen))

    def take_log(self) -> list[LogRecord]:
        """New log records since the last call (the log pane's batch)."""
        out = list(self.pending_log)
        self.pending_log.clear()
        return out

    def take_notices(self) -> list[Notice]:
        out, self.notices = self.notices, []
        return out


_HANDLERS: dict[type, Callable[[DashboardModel, Any], None]] = {
    LogRecord: DashboardModel._log,
    CycleStarted: DashboardModel._cycle_started,
    CycleDone: DashboardModel._cycle_done,
    SnapshotReady: DashboardModel._snapshot,
    BreakerChanged: DashboardModel._breaker,
    StatsUpdated: DashboardModel._stats,
    CompressionProgress: DashboardModel._compress_progress,
    CompressionDone: DashboardModel._compress_done,
    PausedChanged: DashboardModel._paused,
    CollectorFailed: DashboardModel._failed,
}
