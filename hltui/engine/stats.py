"""Health statistics: success rates, cycle timings, write counters, breaker states.

Fed by the collector after each job and cycle; read as a `StatsUpdated` event (the
dashboard) and as `collector_stats` points (the store). Field types are fixed once
and for all (InfluxDB refuses a field whose type changes): rates and times are
floats, counts are ints.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from hltui.engine.breaker import CircuitBreaker
from hltui.engine.events import BreakerChanged, StatsUpdated
from hltui.process.records import COLLECTOR_STATS, Point

HOUR_S = 3600.0
COLLECTOR = "collector"  # the `source` tag of the whole-collector row
FLOAT_FIELDS = ("success_rate", "success_rate_total", "cycle_ms", "cycle_ms_p50", "cycle_ms_p95")
INT_FIELDS = ("ok", "failed", "points_written", "spooled", "replayed", "dropped",
              "dead_lettered", "spool_bytes", "breaker_failures")


@dataclass(slots=True)
class WriterCounters:
    """Cumulative counters of the write path since start."""

    written: int = 0
    spooled: int = 0
    replayed: int = 0
    dropped: int = 0
    dead_lettered: int = 0
    spool_bytes: int = 0


@dataclass(slots=True)
class _JobCycle:
    ok: int = 0
    failed: int = 0
    duration_ms: float = 0.0
    points_written: int = 0
    spooled: int = 0


class _Rolling:
    """ok/failed counts in a sliding time window plus totals since start."""

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self.events: deque[tuple[float, int, int]] = deque()
        self.ok = self.failed = 0  # in window
        self.total_ok = self.total_failed = 0

    def add(self, now: float, ok: int, failed: int) -> None:
        self.events.append((now, ok, failed))
        self.ok += ok
        self.failed += failed
        self.total_ok += ok
        self.total_failed += failed

    def expire(self, now: float) -> None:
        while self.events and now - self.events[0][0] > self.window_s:
            _, ok, failed = self.events.popleft()
            self.ok -= ok
            self.failed -= failed

    @staticmethod
    def rate(ok: int, failed: int) -> float | None:
        return ok / (ok + failed) if ok + failed else None


def percentile(values: Iterable[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); 0.0 for no values."""
    data = sorted(values)
    if not data:
        return 0.0
    rank = max(1, math.ceil(q / 100 * len(data)))
    return float(data[rank - 1])


class HealthStats:
    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        window_s: float = HOUR_S,
        keep_cycles: int = 720,
    ) -> None:
        self.clock = clock
        self.window_s = window_s
        self._rolling: dict[str, _Rolling] = {}
        self._cycle_ms: deque[float] = deque(maxlen=keep_cycles)
        self._jobs: dict[str, _JobCycle] = {}  # the last cycle, per source
        self._breakers: dict[str, CircuitBreaker] = {}
        self.breaker_transitions: list[BreakerChanged] = []
        self.writer = WriterCounters()
        self._writer_at_last_points = WriterCounters()
        self.cycles = 0

    # -- feeding -------------------------------------------------------------------------
    def track(self, breaker: CircuitBreaker) -> None:
        self._breakers[breaker.name] = breaker

    def on_breaker_change(self, event: BreakerChanged) -> None:
        """Keep the transition history (hook this into breakers' on_change)."""
        self.breaker_transitions.append(event)
        del self.breaker_transitions[:-100]

    def start_cycle(self) -> None:
        self._jobs = {}

    def record_job(self, source: str, ok: int, failed: int, duration_ms: float = 0.0,
                   points_written: int = 0, spooled: int = 0) -> None:
        """One job's outcome this cycle (items ok / failed; its points' write status)."""
        roll = self._rolling.setdefault(source, _Rolling(self.window_s))
        roll.add(self.clock(), ok, failed)
        job = self._jobs.setdefault(source, _JobCycle())
        job.ok += ok
        job.failed += failed
        job.duration_ms += duration_ms
        job.points_written += points_written
        job.spooled += spooled

    def record_cycle(self, duration_ms: float) -> None:
        self.cycles += 1
        self._cycle_ms.append(float(duration_ms))

    def update_writer(self, counters: WriterCounters) -> None:
        self.writer = counters

    # -- reading -------------------------------------------------------------------------
    def _expire(self) -> None:
        now = self.clock()
        for roll in self._rolling.values():
            roll.expire(now)

    def success_rate_hour(self, source: str) -> float | None:
        self._expire()
        roll = self._rolling.get(source)
        return _Rolling.rate(roll.ok, roll.failed) if roll else None

    def success_rate_total(self, source: str) -> float | None:
        roll = self._rolling.get(source)
        return _Rolling.rate(roll.total_ok, roll.total_failed) if roll else None

    def _overall(self, hour: bool) -> float | None:
        self._expire()
        rolls = self._rolling.values()
        if hour:
            return _Rolling.rate(sum(r.ok for r in rolls), sum(r.failed for r in rolls))
        return _Rolling.rate(sum(r.total_ok for r in rolls), sum(r.total_failed for r in rolls))

    def to_event(self) -> StatsUpdated:
        self._expire()
        hour = {s: r for s in self._rolling
                if (r := _Rolling.rate(self._rolling[s].ok, self._rolling[s].failed)) is not None}
        total = {s: r for s in self._rolling if (r := self.success_rate_total(s)) is not None}
        w = self.writer
        return StatsUpdated(
            success_rate_hour=hour,
            success_rate_total=total,
            cycle_ms_p50=percentile(self._cycle_ms, 50),
            cycle_ms_p95=percentile(self._cycle_ms, 95),
            points_written=w.written,
            points_spooled=w.spooled,
            points_replayed=w.replayed,
            points_dropped=w.dropped,
            spool_bytes=w.spool_bytes,
            breakers={name: b.snapshot() for name, b in self._breakers.items()},
        )

    def points(self, now_ms: int) -> list[Point]:
        """`collector_stats` for the last cycle: one row per source plus a `collector` row.

        Counts are for the cycle (sum them over time); spool_bytes and percentiles are
        gauges. Fields without a value (no items yet) are left out, never typed otherwise.
        """
        out: list[Point] = []
        for source, job in sorted(self._jobs.items()):
            fields: dict[str, float | int] = {
                "cycle_ms": float(job.duration_ms), "ok": int(job.ok), "failed": int(job.failed),
                "points_written": int(job.points_written), "spooled": int(job.spooled),
            }
            rate = self.success_rate_hour(source)
            if rate is not None:
                fields["success_rate"] = float(rate)
            total = self.success_rate_total(source)
            if total is not None:
                fields["success_rate_total"] = float(total)
            br = self._breakers.get(source)
            if br is not None:
                fields["breaker_failures"] = int(br.failures)
            out.append(Point(COLLECTOR_STATS, {"source": source}, fields, now_ms))
        w, prev = self.writer, self._writer_at_last_points
        jobs = self._jobs.values()
        fields = {
            "ok": sum(j.ok for j in jobs), "failed": sum(j.failed for j in jobs),
            "points_written": sum(j.points_written for j in jobs),
            "spooled": sum(j.spooled for j in jobs),
            "replayed": max(0, w.replayed - prev.replayed),
            "dropped": max(0, w.dropped - prev.dropped),
            "dead_lettered": max(0, w.dead_lettered - prev.dead_lettered),
            "spool_bytes": int(w.spool_bytes),
        }
        if self._cycle_ms:
            fields["cycle_ms"] = float(self._cycle_ms[-1])
            fields["cycle_ms_p50"] = percentile(self._cycle_ms, 50)
            fields["cycle_ms_p95"] = percentile(self._cycle_ms, 95)
        for name, hour in (("success_rate", True), ("success_rate_total", False)):
            rate = self._overall(hour)
            if rate is not None:
                fields[name] = float(rate)
        store = self._breakers.get("store")
        if store is not None:
            fields["breaker_failures"] = int(store.failures)
        out.append(Point(COLLECTOR_STATS, {"source": COLLECTOR}, fields, now_ms))
        self._writer_at_last_points = dataclasses.replace(w)
        return out
