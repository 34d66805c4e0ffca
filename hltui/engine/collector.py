"""The collector loop: cycles on an interval, runs source jobs, writes, publishes events.

The hyperliquid job runs first because it fills `ctx.market` (marks, open interest)
that positioning sources use for bucket widths and coverage; the others then run
concurrently. A failing source never stops the others: its failure is recorded
and the cycle keeps what the rest produced.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from hltui.config import Settings
from hltui.engine.batch import Gate
from hltui.engine.breaker import BreakerOpen, CircuitBreaker
from hltui.engine.events import (
    BreakerChanged,
    CollectorFailed,
    CompressionDone,
    CompressionProgress,
    CycleDone,
    CycleStarted,
    EventSink,
    ItemError,
    LogRecord,
    PausedChanged,
    SnapshotReady,
    null_sink,
)
from hltui.engine.stats import HealthStats
from hltui.engine.writer import DirectWriter, WriteOutcome
from hltui.process.positioning import preferred_source
from hltui.sources.base import CycleContext, JobResult, SourceError, SourceJob
from hltui.store.base import Store

PRIMARY = "hyperliquid"
MAX_ERRORS_LOGGED = 5

# exit statuses of run(cycles=N)
EXIT_OK = 0
EXIT_POINTS_LOST = 1
EXIT_NO_DATA = 3


class Collector:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        jobs: Sequence[SourceJob],
        sink: EventSink = null_sink,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.store = store
        self.jobs = list(jobs)
        self.sink = sink
        self.clock = clock
        self.writer: Any = DirectWriter(store, settings.write_batch_size)
        self.cycle = 0
        self.points_lost = 0
        self.empty_cycles = 0
        self._paused = False
        self._stopping = False
        self._force = False
        self._wake: asyncio.Event | None = None
        self._last_compression: float | None = None
        self._compress_lock: asyncio.Lock | None = None
        self._unflushed = True  # a spool left by an earlier run is flushed even before a write
        self.snapshot: dict[str, dict[str, Any]] = {}
        self.globals: dict[str, Any] = {}
        # resilience: one breaker per source and one for the store, health stats,
        # and the gate per-item batches wait on while paused
        self.breakers: dict[str, CircuitBreaker] = {}
        self.stats = HealthStats(clock)
        self.gate = Gate()
        self._job_ms: dict[str, float] = {}

    # control -----------------------------------------------------------------
    @property
    def paused(self) -> bool:
        return self._paused

    def pause(self) -> None:
        if not self._paused:
            self._paused = True
            self.gate.pause()
            self.sink(PausedChanged(True))
            self.log("warning", "paused: no new cycles start until resumed")

    def resume(self) -> None:
        if self._paused:
            self._paused = False
            self.gate.resume()
            self.sink(PausedChanged(False))
            self.log("info", "resumed")
            self._poke()

    def request_cycle(self) -> None:
        """Run a cycle now, even while paused (an explicit request)."""
        self._force = True
        self._poke()

    def stop(self) -> None:
        self._stopping = True
        self._poke()

    @property
    def stopping(self) -> bool:
        return self._stopping

    def _poke(self) -> None:
        if self._wake is not None:
            self._wake.set()

    def log(self, level: str, message: str) -> None:
        self.sink(LogRecord(level, message))  # type: ignore[arg-type]

    # breakers ----------------------------------------------------------------
    def breaker(self, name: str) -> CircuitBreaker:
        """The circuit breaker of a source (or of "store"), created on first use."""
        br = self.breakers.get(name)
        if br is None:
            br = CircuitBreaker(name, self.settings.breaker_threshold,
                                self.settings.breaker_reset, on_change=self._on_breaker)
            self.breakers[name] = br
            self.stats.track(br)
        return br

    def _on_breaker(self, ev: BreakerChanged) -> None:
        self.stats.on_breaker_change(ev)
        self.sink(ev)
        if ev.state == "open":
            self.log("error", f"breaker {ev.name} OPEN ({ev.reason}); next probe in "
                              f"{ev.next_probe_in or 0:.1f}s")
        elif ev.state == "half-open":
            self.log("info", f"breaker {ev.name} half-open: one probe ({ev.reason})")
        else:
            self.log("success", f"breaker {ev.name} closed: {ev.reason}")

    # loop --------------------------------------------------------------------
    async def run(self, cycles: int | None = None) -> int:
        """Cycle until stopped (or `cycles` done), then flush. Returns an exit status."""
        self._wake = asyncio.Event()
        done = 0
        try:
            while not self._stopping and (cycles is None or done < cycles):
                if self._paused and not self._force:
                    await self._sleep(None)
                    continue
                self._force = False
                started = time.monotonic()
                await self.run_once()
                done += 1
                await self._maybe_compress()
                if self._stopping or (cycles is not None and done >= cycles):
                    break
                # cycles start on a steady cadence: the interval counts from the start
                elapsed = time.monotonic() - started
                await self._sleep(max(0.0, self.settings.interval - elapsed))
        finally:
            await self.flush()
        if self.points_lost:
            self.log("error", f"{self.points_lost} points were neither written nor spooled")
            return EXIT_POINTS_LOST
        if self.empty_cycles:
            self.log("error", f"{self.empty_cycles} of {done} cycles collected no data")
            return EXIT_NO_DATA
        return EXIT_OK

    async def _sleep(self, seconds: float | None) -> None:
        assert self._wake is not None
        self._wake.clear()
        if self._stopping or self._force:
            return
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    async def flush(self) -> None:
        """Push out what the writer holds; a no-op when nothing was written since the last
        flush (run() flushes at its end and close() must not report the spool twice)."""
        if not self._unflushed:
            return
        out = await self.writer.flush()
        self.points_lost += out.lost
        self._unflushed = False

    # one cycle ---------------------------------------------------------------
    async def run_once(self) -> CycleDone:
        self.cycle += 1
        started = time.perf_counter()
        ctx = CycleContext(cycle=self.cycle, now_ms=int(self.clock() * 1000),
                           log=self.log, paused=lambda: self._paused, gate=self.gate)
        self.sink(CycleStarted(self.cycle))
        self.stats.start_cycle()
        self._job_ms = {}
        primary = [j for j in self.jobs if j.name == PRIMARY]
        others = [j for j in self.jobs if j.name != PRIMARY]
        results = [await self._run_job(j, ctx) for j in primary]
        if others and results:
            # market data is ready long before a browser or a sampling pass: show it now
            self._publish_snapshot(results)
        results += await asyncio.gather(*(self._run_job(j, ctx) for j in others))
        points = [p for r in results for p in r.points]
        outcome, per_source = await self._write_results(results)
        self.points_lost += outcome.lost
        if not points:
            self.empty_cycles += 1
        errors = [e for r in results for e in r.errors]
        for msg in outcome.errors[:MAX_ERRORS_LOGGED]:
            errors.append(ItemError("store", "write", "store", msg))
        done = CycleDone(
            cycle=self.cycle,
            assets_ok=sum(r.ok for r in results if r.source == PRIMARY) or
            max((r.ok for r in results), default=0),
            assets_failed=sum(r.failed for r in results),
            points=len(points),
            points_written=outcome.written,
            points_spooled=outcome.spooled,
            duration_ms=(time.perf_counter() - started) * 1000,
            errors=errors,
            per_source={r.source: {"ok": r.ok, "failed": r.failed, "points": len(r.points)}
                        for r in results},
        )
        self._publish_snapshot(results)
        self._log_cycle(done, outcome)
        self.sink(done)
        await self._publish_stats(results, per_source, done.duration_ms, ctx.now_ms)
        return done

    async def _write_results(
        self, results: list[JobResult]
    ) -> tuple[WriteOutcome, dict[str, WriteOutcome]]:
        """Write each source's points (so stats know whose points were spooled)."""
        total = WriteOutcome()
        per_source: dict[str, WriteOutcome] = {}
        for r in results:
            if not r.points:
                continue
            self._unflushed = True
            out = await self.writer.write(r.points)
            per_source[r.source] = out
            total.written += out.written
            total.spooled += out.spooled
            total.rejected += out.rejected
            total.lost += out.lost
            total.errors.extend(e for e in out.errors if e not in total.errors)
        return total, per_source

    async def _publish_stats(self, results: list[JobResult], per_source: dict[str, WriteOutcome],
                             duration_ms: float, now_ms: int) -> None:
        """Health stats: a StatsUpdated event and `collector_stats` points in the store."""
        for r in results:
            out = per_source.get(r.source, WriteOutcome())
            self.stats.record_job(r.source, r.ok, r.failed, self._job_ms.get(r.source, 0.0),
                                  out.written, out.spooled)
        self.stats.record_cycle(duration_ms)
        if hasattr(self.writer, "counters"):
            self.stats.update_writer(self.writer.counters())
        self._unflushed = True
        out = await self.writer.write(self.stats.points(now_ms))
        self.points_lost += out.lost
        self.sink(self.stats.to_event())

    async def _run_job(self, job: SourceJob, ctx: CycleContext) -> JobResult:
        started = time.perf_counter()
        try:
            return await self._guarded(job, ctx)
        except BreakerOpen as exc:
            return JobResult(job.name, failed=1,
                             errors=[ItemError(job.name, "*", exc.kind, str(exc))])
        except SourceError as exc:
            return JobResult(job.name, failed=1,
                             errors=[ItemError(job.name, "*", exc.kind, str(exc))])
        except Exception as exc:  # a bug in a job must not stop the collector
            self.log("error", f"{job.name}: internal error: {exc!r}\n{traceback.format_exc()}")
            return JobResult(job.name, failed=1,
                             errors=[ItemError(job.name, "*", "internal", repr(exc))])
        finally:
            self._job_ms[job.name] = (time.perf_counter() - started) * 1000

    async def _guarded(self, job: SourceJob, ctx: CycleContext) -> JobResult:
        """Run a job through its source's breaker. A job whose client already sends each
        request through that breaker is only held back while it is open; any other job
        counts as one call."""
        br = self.breaker(job.name)
        if getattr(getattr(job, "client", None), "breaker", None) is br:
            if not br.allows():
                raise BreakerOpen(job.name, br.next_probe_in())
            return await job.run(ctx)
        return await br.call(job.run, ctx)

    def _publish_snapshot(self, results: list[JobResult]) -> None:
        for r in results:
            for asset, fields in r.assets.items():
                row = self.snapshot.setdefault(asset, {})
                if r.source == PRIMARY:
                    row.update(fields)
                else:
                    row[f"source_{r.source}"] = dict(fields)
            if r.globals and r.source == PRIMARY:
                self.globals.update(r.globals)
            elif r.globals:
                self.globals[f"source_{r.source}"] = dict(r.globals)
        for row in self.snapshot.values():
            src = preferred_source({k[len("source_"):]: v for k, v in row.items()
                                    if k.startswith("source_")})
            if src is not None:
                pos = row[f"source_{src}"]
                for k in ("ls_ratio", "long_traders", "short_traders", "coverage",
                          "long_notional_usd", "short_notional_usd"):
                    if k in pos:
                        row[k] = pos[k]
                row["positioning_source"] = src
        self.sink(SnapshotReady(self.cycle, {k: dict(v) for k, v in self.snapshot.items()},
                                dict(self.globals)))

    def _log_cycle(self, done: CycleDone, outcome: Any) -> None:
        for err in done.errors[:MAX_ERRORS_LOGGED]:
            self.log("warning", f"{err.source} {err.item}: [{err.kind}] {err.message}")
        if len(done.errors) > MAX_ERRORS_LOGGED:
            self.log("warning", f"... and {len(done.errors) - MAX_ERRORS_LOGGED} more errors")
        srcs = ", ".join(f"{s} {v['ok']} ok/{v['failed']} failed"
                         for s, v in done.per_source.items())
        msg = (f"cycle {done.cycle}: {srcs}; {done.points_written} points written"
               f"{f', {done.points_spooled} spooled' if done.points_spooled else ''}"
               f"{f', {outcome.lost} LOST' if outcome.lost else ''}"
               f" in {done.duration_ms:.0f} ms")
        level = "error" if outcome.lost or not done.points else (
            "warning" if done.errors else "success")
        self.log(level, msg)

    # compression -------------------------------------------------------------
    async def _maybe_compress(self) -> None:
        now = self.clock()
        if (self._last_compression is not None
                and now - self._last_compression < self.settings.compression_interval):
            return
        await self.compress_now()

    async def compress_now(self) -> CompressionDone:
        """Downsample complete windows now (also runs on its interval)."""
        if self._compress_lock is None:
            self._compress_lock = asyncio.Lock()
        async with self._compress_lock:
            self._last_compression = self.clock()
            started = time.perf_counter()

            def progress(done: int, total: int) -> None:
                self.sink(CompressionProgress(done, total))

            try:
                report = await self.store.compress(int(self.clock() * 1000), progress=progress)
                removed = await self.store.apply_retention(int(self.clock() * 1000))
            except Exception as exc:
                ev = CompressionDone(0, 0, (time.perf_counter() - started) * 1000, str(exc))
                self.log("error", f"compression failed: {exc}")
                self.sink(ev)
                return ev
            ev = CompressionDone(report.windows, report.points,
                                 (time.perf_counter() - started) * 1000)
            if report.windows or removed:
                self.log("success", f"compression: {report.windows} windows, {report.points} "
                         f"points in {ev.duration_ms:.0f} ms"
                         + (f"; retention removed {removed}" if removed else ""))
            self.sink(ev)
            return ev

    async def close(self) -> None:
        """Flush, then close jobs and the store (idempotent)."""
        with contextlib.suppress(Exception):
            await self.flush()
        if hasattr(self.writer, "close"):
            self.writer.close()  # releases the spool
        for job in self.jobs:
            try:
                await job.close()
            except Exception as exc:
                self.log("warning", f"{job.name}: close failed: {exc}")
        await self.store.close()


def failed_event(exc: BaseException) -> CollectorFailed:
    return CollectorFailed(f"{type(exc).__name__}: {exc}")
