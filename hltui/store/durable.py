"""The collector's durable write path: store when it answers, spool when it does not.

`write(points)` first replays the spool (oldest first) when the store answers, then
writes the new points; anything the store does not acknowledge (down, timeout, 5xx,
breaker open) is appended to the spool behind what is already there, so time order is
kept. Lines the store refuses outright (400 partial write, 4xx) are not retried: they
go to the dead-letter file `<data_dir>/deadletter.lp` with the server's reason.
Replay goes through `store.write_lines`, which re-marks compression windows.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from hltui.engine.breaker import BreakerOpen, CircuitBreaker
from hltui.engine.events import EventSink, LogRecord, null_sink
from hltui.engine.stats import WriterCounters
from hltui.engine.writer import WriteOutcome
from hltui.process.records import Point
from hltui.store import lineproto
from hltui.store.base import Store, StoreError, StoreRejected, WriteResult
from hltui.store.influx_http import WriteInterrupted
from hltui.store.spool import Spool, SpoolBatch

DEADLETTER_FILE = "deadletter.lp"
MAX_ERRORS = 5


class DurableWriter:
    """Same shape as the collector's `DirectWriter`: `write`, `flush`, plus counters."""

    def __init__(
        self,
        store: Store,
        spool: Spool,
        breaker: CircuitBreaker,
        sink: EventSink = null_sink,
        *,
        batch_size: int = 5000,
        deadletter: Path | None = None,
    ) -> None:
        self.store = store
        self.spool = spool
        self.breaker = breaker
        self.sink = sink
        self.batch_size = batch_size
        self.deadletter = deadletter or spool.dir.parent / DEADLETTER_FILE
        self.written = 0
        self.spooled = 0
        self.replayed = 0
        self.dead_lettered = 0
        self.lost = 0  # refused by a full spool or a failing disk
        self._lock = asyncio.Lock()
        if spool.pending_lines:
            self._log("warning", f"spool holds {spool.pending_lines} lines from an earlier run; "
                                 "they are replayed before new data")

    # -- counters ------------------------------------------------------------------------
    @property
    def dropped(self) -> int:
        return self.spool.dropped_lines + self.lost

    def counters(self) -> WriterCounters:
        return WriterCounters(written=self.written, spooled=self.spooled,
                              replayed=self.replayed, dropped=self.dropped,
                              dead_lettered=self.dead_lettered, spool_bytes=self.spool.bytes)

    def _log(self, level: str, message: str) -> None:
        self.sink(LogRecord(level, message, logger="hltui.store"))  # type: ignore[arg-type]

    # -- writing -------------------------------------------------------------------------
    async def write(self, points: Sequence[Point]) -> WriteOutcome:
        out = WriteOutcome()
        async with self._lock:
            if not self.spool.empty and self.breaker.allows():
                await self._replay(out)
            pending = list(points)
            while pending and self.spool.empty:
                chunk, pending = pending[: self.batch_size], pending[self.batch_size :]
                if not await self._write_chunk(chunk, out):
                    pending = chunk + pending
                    break
            if pending:
                if not out.errors:
                    wait = self.breaker.next_probe_in()
                    why = (f"breaker open, next probe in {wait:.0f}s" if wait is not None
                           else "older points are still spooled")
                    out.errors.append(f"store unavailable ({why}): spooling")
                lines, refused = lineproto.to_lines(pending)
                await self._dead_letter_pairs(refused, out)
                await self._to_spool(lines, out)
        return out

    async def _write_chunk(self, chunk: list[Point], out: WriteOutcome) -> bool:
        """True when the store answered for this chunk (written and/or refused)."""
        try:
            res = await self.breaker.call(self.store.write, chunk)
        except StoreRejected as exc:
            lines, refused = lineproto.to_lines(chunk)
            await self._dead_letter_pairs(refused, out)
            await self._dead_letter(lines, str(exc), out)
            return True
        except WriteInterrupted as exc:  # part acknowledged, the rest goes to the spool
            self._note_unavailable(exc, out)
            self.written += exc.written
            out.written += exc.written
            await self._dead_letter_pairs(exc.rejected, out)
            await self._to_spool(list(exc.pending), out)
            return True
        except (StoreError, BreakerOpen) as exc:
            self._note_unavailable(exc, out)
            return False
        self.written += res.written
        out.written += res.written
        await self._dead_letter_pairs(res.rejected, out)
        return True

    async def _to_spool(self, lines: list[str], out: WriteOutcome) -> None:
        before = self.spool.dropped_lines
        try:
            res = await asyncio.to_thread(self.spool.append, lines)
        except OSError as exc:
            self.lost += len(lines)
            out.lost += len(lines)
            out.errors.append(f"spool write failed: {exc}")
            self._log("error", f"spool write failed ({exc}): {len(lines)} points LOST")
            return
        self.spooled += res.lines
        out.spooled += res.lines
        dropped = self.spool.dropped_lines - before
        if dropped:
            out.lost += dropped
            out.errors.append(f"spool full: dropped {dropped} oldest lines")

    def _note_unavailable(self, exc: BaseException, out: WriteOutcome) -> None:
        if len(out.errors) < MAX_ERRORS:
            out.errors.append(f"store unavailable, spooling: {exc}")

    # -- replay ----------------------------------------------------------------------------
    async def _replay(self, out: WriteOutcome) -> bool:
        """Deliver spooled lines oldest first; True when the spool is empty afterwards.

        Pipelined: the next batch is read, and the previous one acknowledged, in worker
        threads while the store works on the current one.
        """
        pending = self.spool.pending_lines
        started = time.perf_counter()
        delivered = 0
        acked: asyncio.Future | None = None
        nxt = asyncio.ensure_future(asyncio.to_thread(self.spool.next_batch, self.batch_size))
        try:
            while (batch := await nxt) is not None:
                nxt = asyncio.ensure_future(
                    asyncio.to_thread(self.spool.next_batch, self.batch_size, batch.end))
                written = await self._replay_batch(batch, out)
                if written is None:
                    if delivered:
                        self._log("warning", f"replay paused after {delivered} lines; "
                                             f"{self.spool.pending_lines} remain spooled")
                    return False
                delivered += written
                if acked is not None:
                    await acked  # acknowledgements stay in order
                acked = asyncio.ensure_future(asyncio.to_thread(self.spool.ack, batch))
        finally:
            if acked is not None:
                await acked
            await asyncio.gather(nxt, return_exceptions=True)
        secs = time.perf_counter() - started
        self._log("success", f"spool replayed: {delivered} of {pending} lines in {secs:.1f}s")
        return True

    async def _replay_batch(self, batch: SpoolBatch, out: WriteOutcome) -> int | None:
        """Lines written, or None when the store did not acknowledge (batch kept)."""
        if not batch.lines:
            return 0
        try:
            res = await self.breaker.call(self.store.write_lines, batch.lines)
        except StoreRejected as exc:
            res = WriteResult(0, [(ln, str(exc)) for ln in batch.lines])
        except (StoreError, BreakerOpen) as exc:
            # a WriteInterrupted batch is not acknowledged either: it is delivered again,
            # and rewriting the same series and time is idempotent
            self._note_unavailable(exc, out)
            return None
        self.replayed += res.written
        await self._dead_letter_pairs(res.rejected, out)
        return res.written

    async def replay(self) -> bool:
        """Try to empty the spool now; True when it is empty."""
        async with self._lock:
            if self.spool.empty:
                return True
            if not self.breaker.allows():
                return False
            return await self._replay(WriteOutcome())

    async def flush(self) -> WriteOutcome:
        """A final replay attempt; what remains stays on disk for the next start."""
        out = WriteOutcome()
        async with self._lock:
            if not self.spool.empty:
                self.breaker.probe_now()  # last chance in this run: worth one probe
                if self.breaker.allows():
                    await self._replay(out)
            if not self.spool.empty:
                self._log("warning", f"{self.spool.pending_lines} lines remain spooled in "
                                     f"{self.spool.dir}; they are replayed at the next start")
        return out

    def close(self) -> None:
        self.spool.close()

    # -- dead letters ------------------------------------------------------------------
    async def _dead_letter_pairs(self, rejected: Sequence[tuple[str, str]],
                                 out: WriteOutcome) -> None:
        """Dead-letter (line or point description, reason) pairs, grouped by reason."""
        by_reason: dict[str, list[str]] = {}
        for line, reason in rejected:
            by_reason.setdefault(reason, []).append(line)
        for reason, lines in by_reason.items():
            await self._dead_letter(lines, reason, out)

    async def _dead_letter(self, lines: list[str], reason: str, out: WriteOutcome) -> None:
        if not lines:
            return
        reason = " ".join(reason.split())[:500]
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        text = f"# {stamp} rejected by the store: {reason}\n" + "\n".join(lines) + "\n"
        try:
            await asyncio.to_thread(_append_sync, self.deadletter, text)
        except OSError as exc:
            self.lost += len(lines)
            out.lost += len(lines)
            self._log("error", f"dead-letter write failed ({exc}): {len(lines)} lines LOST")
            return
        self.dead_lettered += len(lines)
        out.rejected += len(lines)
        if len(out.errors) < MAX_ERRORS:
            out.errors.append(f"{len(lines)} lines refused ({reason}); kept in {self.deadletter}")
        self._log("error", f"store refused {len(lines)} lines ({reason}); kept in "
                           f"{self.deadletter}, not retried")


def _append_sync(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
