"""Compression (downsampling) driver shared by both stores.

Per ARCHITECTURE.md and issue 3: every complete window (HLTUI_DOWNSAMPLING_WINDOW,
1 h) older than HLTUI_COMPRESSION_MIN_AGE (24 h) is aggregated from the raw tier
into the compressed tier, one point per series per window, timestamped at the
window start, with the series' tags (asset, source, side, ...) kept. The
per-field aggregates are in `fields.py` (mean for rates/ratios/levels, last for
prices/counters/OI, sum for per-cycle counts, plus the window's mark_price
high/low); docs/storage.md has the table.

Properties:
- idempotent: an aggregate has the series and timestamp of the window, so a re-run
  overwrites it with the same values;
- resumable: the watermark advances (and is persisted) after each chunk of windows;
  a process killed mid-way resumes from it, redoing at most one chunk;
- late data: writes into windows before the watermark mark them dirty
  (`CompressionState.mark_late`, called by the stores' write paths, so spool replay
  re-marks too); the next run re-aggregates exactly those windows.

The store-specific part is a backend with `earliest_raw_ms()` and
`compress_range(start_ms, end_ms) -> points written`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from hltui.store.base import CompressionReport
from hltui.store.compress_state import CompressionState
from hltui.store.windows import chunks, compression_cutoff, floor_to, window_starts

Progress = Callable[[int, int], None]
DEFAULT_CHUNK_WINDOWS = 24  # one query covers up to a day of hourly windows


class CompressionBackend(Protocol):
    async def earliest_raw_ms(self) -> int | None: ...

    async def compress_range(self, start_ms: int, end_ms: int) -> int: ...


def plan(state: CompressionState, now_ms: int, min_age_s: float, window_s: float,
         retention_s: float, earliest_ms: int | None) -> tuple[int, list[int]]:
    """(cutoff, sorted window starts to aggregate now)."""
    w = int(window_s * 1000)
    cutoff = compression_cutoff(now_ms, min_age_s, window_s)
    start = state.watermark_ms
    if start is None:
        # first run: from the oldest raw point the raw tier can still hold
        oldest = floor_to(now_ms - int(retention_s * 1000), w)
        start = cutoff if earliest_ms is None else max(floor_to(earliest_ms, w), oldest)
    todo = set(window_starts(start, cutoff, w)) if start < cutoff else set()
    todo |= {d for d in state.dirty if d < cutoff}
    return cutoff, sorted(todo)


async def run_compression(
    backend: CompressionBackend,
    state: CompressionState,
    *,
    now_ms: int | None,
    min_age_s: float,
    window_s: float,
    retention_s: float,
    progress: Progress | None = None,
    chunk_windows: int = DEFAULT_CHUNK_WINDOWS,
) -> CompressionReport:
    started = time.perf_counter()
    now_ms = int(time.time() * 1000) if now_ms is None else int(now_ms)
    w = int(window_s * 1000)
    earliest = None if state.watermark_ms is not None else await backend.earliest_raw_ms()
    cutoff, todo = plan(state, now_ms, min_age_s, window_s, retention_s, earliest)
    total, done, points = len(todo), 0, 0
    if progress:
        progress(0, total)
    state.horizon_ms = cutoff
    try:
        for a, b, n in chunks(todo, w, max(1, chunk_windows)):
            ws = set(range(a, b, w))
            state.in_progress |= ws
            state.dirty -= ws
            points += await backend.compress_range(a, b)
            state.in_progress -= ws
            # every todo window before b is done; windows not in todo were already done
            if b > (state.watermark_ms or b - 1):
                state.watermark_ms = b
            state.save()
            done += n
            if progress:
                progress(done, total)
        if state.watermark_ms is None or cutoff > state.watermark_ms:
            state.watermark_ms = cutoff
            state.save()
    finally:
        if state.in_progress:  # failed mid-chunk: those windows stay to do
            state.dirty |= state.in_progress
            state.in_progress.clear()
            state.save()
        state.horizon_ms = None
    return CompressionReport(windows=done, points=points,
                             duration_ms=(time.perf_counter() - started) * 1000,
                             watermark_ms=state.watermark_ms)
