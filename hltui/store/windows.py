"""Time-window arithmetic shared by compression and reads (all times in ms, UTC).

Windows and chart buckets are aligned to the epoch, exactly like InfluxQL's
`GROUP BY time(...)`, so both stores bucket the same points the same way.
"""

from __future__ import annotations

import math

# chart bucket widths (seconds): the smallest that keeps a series under max_points
_LADDER = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600,
           43200, 86400, 172800, 604800)


def floor_to(t_ms: int, step_ms: int) -> int:
    return (t_ms // step_ms) * step_ms


def ceil_to(t_ms: int, step_ms: int) -> int:
    return -((-t_ms) // step_ms) * step_ms


def compression_cutoff(now_ms: int, min_age_s: float, window_s: float) -> int:
    """End of the last window that is complete and older than the minimum age."""
    return floor_to(now_ms - int(min_age_s * 1000), int(window_s * 1000))


def window_starts(start_ms: int, end_ms: int, window_ms: int) -> list[int]:
    """Starts of the windows in [start, end) (start aligned down)."""
    t = floor_to(start_ms, window_ms)
    return list(range(t, end_ms, window_ms)) if end_ms > t else []


def chunks(starts: list[int], window_ms: int, per_chunk: int) -> list[tuple[int, int, int]]:
    """Group sorted window starts into contiguous runs of at most `per_chunk`:
    [(start, end, n_windows)], so one query aggregates many windows at once."""
    out: list[tuple[int, int, int]] = []
    for s in sorted(set(starts)):
        if out and out[-1][1] == s and out[-1][2] < per_chunk:
            a, _, n = out[-1]
            out[-1] = (a, s + window_ms, n + 1)
        else:
            out.append((s, s + window_ms, 1))
    return out


def bucket_seconds(span_s: float, max_points: int, min_s: float = 1.0,
                   multiple_of_s: float | None = None) -> int:
    """A bucket width giving at most `max_points` buckets over `span_s`.

    Counting the partial buckets at both ends, n <= span/width + 2, hence the `- 2`.
    When the series reaches into the compressed tier the width is a multiple of the
    downsampling window, so every hourly aggregate falls in exactly one bucket.
    """
    slots = max(1, max_points - 2)
    need = max(min_s, span_s / slots)
    width = next((w for w in _LADDER if w >= need), None)
    if width is None:
        width = math.ceil(need / 86400) * 86400
    if multiple_of_s:
        m = int(multiple_of_s)
        width = max(m, math.ceil(width / m) * m)
    return int(width)
