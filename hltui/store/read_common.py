"""Pieces of the read path shared by both stores (pure functions, no I/O)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from hltui.store.fields import EXTRA_COMPRESSED, FieldType, read_agg
from hltui.store.windows import bucket_seconds, ceil_to

NUMERIC = ("float", "integer")
# liquidation snapshots: one level per point, levels of one series 1 ms apart
SNAPSHOT_LOOKBACK_MS = 1000


@dataclass(frozen=True, slots=True)
class Part:
    tier: str  # "raw" | "compressed"
    start_ms: int  # inclusive
    end_ms: int  # exclusive


@dataclass(frozen=True, slots=True)
class HistoryPlan:
    width_s: int
    parts: tuple[Part, ...]


def history_plan(now_ms: int, hours: float, max_points: int, retention_s: float,
                 window_s: float) -> HistoryPlan:
    """Which tier serves which time range, and the bucket width.

    Raw covers the last HLTUI_RETENTION_PERIOD; older buckets come from the
    compressed tier. The boundary is aligned to the bucket width (a multiple of the
    downsampling window when the compressed tier is involved), so every bucket is
    served by exactly one tier: no hour counted twice, none left out.
    """
    span_s = max(1.0, hours * 3600)
    start = now_ms - int(span_s * 1000)
    end = now_ms + 1
    raw_from = now_ms - int(retention_s * 1000)
    if start >= raw_from:
        width = bucket_seconds(span_s, max_points)
        return HistoryPlan(width, (Part("raw", start, end),))
    width = bucket_seconds(span_s, max_points, multiple_of_s=window_s)
    boundary = ceil_to(raw_from, width * 1000)
    parts = [Part("compressed", start, min(boundary, end))]
    if boundary < end:
        parts.append(Part("raw", boundary, end))
    return HistoryPlan(width, tuple(parts))


def history_fields(types: dict[str, FieldType]) -> dict[str, str]:
    """Numeric fields a history returns -> read aggregate."""
    return {f: read_agg(f, t) for f, t in sorted(types.items())
            if t in NUMERIC and f not in EXTRA_COMPRESSED}


def typed(value: Any, agg: str, ftype: FieldType) -> Any:
    """Normalize a value read back (JSON gives 3 for 3.0): means and floats are floats."""
    if value is None:
        return None
    if agg == "mean" or ftype == "float":
        return float(value)
    if ftype == "integer":
        return int(value)
    return value


def clip(times: list[int], values: dict[str, list], max_points: int
         ) -> tuple[list[int], dict[str, list]]:
    if len(times) <= max_points:
        return times, values
    cut = len(times) - max_points
    return times[cut:], {k: v[cut:] for k, v in values.items()}


def latest_snapshot(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The latest liquidation snapshot among rows of one source.

    A snapshot writes each (asset, side) bucket at `t0 + k` ms (hltui/process/
    hyperdash.py), or every level at `t0` in its own series: either way each series'
    newest points form a run of consecutive milliseconds starting at t0. Taking the
    latest run start over all series gives t0; older snapshots fall before it.
    `rows` need `_series` (a hashable series key) and `time_ms`.
    """
    by_series: dict[Any, set[int]] = defaultdict(set)
    for r in rows:
        by_series[r["_series"]].add(r["time_ms"])
    t0 = None
    for times in by_series.values():
        t = max(times)
        while t - 1 in times:
            t -= 1
        t0 = t if t0 is None else max(t0, t)
    if t0 is None:
        return []
    return [r for r in rows if r["time_ms"] >= t0]


def liquidation_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Latest snapshot per source, without the helper keys, sorted for display."""
    per_source: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        per_source[r.get("source", "")].append(r)
    out = []
    for src_rows in per_source.values():
        for r in latest_snapshot(src_rows):
            out.append({k: v for k, v in r.items() if k != "_series"})
    out.sort(key=lambda r: (r.get("source", ""), r.get("side", ""), r.get("price") or 0.0))
    return out
