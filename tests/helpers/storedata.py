"""Deterministic data for the store contract tests, and expected aggregates
computed independently in Python (not through either store)."""

from __future__ import annotations

import time
from collections import defaultdict
from statistics import fmean
from typing import Any

from hltui.process.records import ASSET_METRICS, GLOBAL_METRICS, Point

HOUR = 3_600_000
STEP = 600_000  # a point every 10 minutes
# a fixed "now": the current hour + 30 min (InfluxDB applies retention with its own
# clock, so now must be near the real time; everything else is relative to it)
NOW_MS = (int(time.time() * 1000) // HOUR) * HOUR + 30 * 60_000
DAYS = 10
HOSTILE = ["x' OR asset='BTC", '"; DROP DATABASE "hyperliquid', "a b,c=d", "@107", "kPEPE",
           "é✓漢字", 'q"uo\'te']
ASSETS = ["BTC", "x' OR asset='BTC", "@107"]

# compressed-tier aggregate per field (mirrors hltui/store/fields.py's documented table)
AGGS = {"mark_price": "last", "funding_rate": "mean", "long_traders": "mean",
        "open_interest": "last"}
GLOBAL_AGGS = {"total_notional_usd": "mean", "long_positions": "mean", "assets": "last"}


def asset_point(asset: str, i: int, t: int) -> Point:
    k = ASSETS.index(asset) if asset in ASSETS else 7
    return Point(ASSET_METRICS, {"asset": asset, "source": "hyperliquid"}, {
        "mark_price": 100.0 * (k + 1) + (i % 97) * 0.25,
        "funding_rate": ((i % 13) - 6) * 1e-5,
        "long_traders": 10 + (i % 7) + k,
        "open_interest": 1000.0 + i,
    }, t)


def global_point(i: int, t: int) -> Point:
    return Point(GLOBAL_METRICS, {"source": "hyperliquid"}, {
        "total_notional_usd": 1e9 + (i % 11) * 1e6,
        "long_positions": 100 + (i % 5),
        "assets": 3,
    }, t)


def ten_days(now_ms: int = NOW_MS, days: int = DAYS) -> list[Point]:
    points = []
    start = now_ms - days * 24 * HOUR
    for i, t in enumerate(range(start, now_ms, STEP)):
        for a in ASSETS:
            points.append(asset_point(a, i, t))
        points.append(global_point(i, t))
    return points


def expected_hourly(points: list[Point], measurement: str, aggs: dict[str, str],
                    before_ms: int | None = None) -> dict[tuple, dict[str, Any]]:
    """{(tags tuple, hour start): {field: aggregate}} for complete hours < before_ms."""
    groups: dict[tuple, list[Point]] = defaultdict(list)
    for p in points:
        if p.measurement != measurement:
            continue
        hour = p.time_ms // HOUR * HOUR
        if before_ms is not None and hour + HOUR > before_ms:
            continue
        groups[(tuple(sorted(p.tags.items())), hour)].append(p)
    out = {}
    for key, ps in groups.items():
        ps.sort(key=lambda p: p.time_ms)
        row = {}
        for f, agg in aggs.items():
            vals = [p.fields[f] for p in ps if f in p.fields]
            row[f] = fmean(vals) if agg == "mean" else vals[-1]
        out[key] = row
    return out


def expected_buckets(points: list[Point], measurement: str, aggs: dict[str, str],
                     match: dict[str, str], start_ms: int, end_ms: int,
                     width_ms: int) -> dict[int, dict[str, Any]]:
    """Raw points bucketed by width: mean or last over all matching points."""
    groups: dict[int, list[Point]] = defaultdict(list)
    for p in points:
        if p.measurement != measurement or not (start_ms <= p.time_ms < end_ms):
            continue
        if any(p.tags.get(k) != v for k, v in match.items()):
            continue
        groups[p.time_ms // width_ms * width_ms].append(p)
    out = {}
    for b, ps in groups.items():
        ps.sort(key=lambda p: p.time_ms)
        out[b] = {f: (fmean(p.fields[f] for p in ps) if a == "mean" else ps[-1].fields[f])
                  for f, a in aggs.items()}
    return out
