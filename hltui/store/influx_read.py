"""Reads from InfluxDB: every query quotes its identifiers and literals (influxql.py).

History reads downsample server-side (`GROUP BY time(width)`, the per-field read
aggregate from fields.py) and stitch tiers per `read_common.history_plan`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from hltui.process.records import ASSET_METRICS, GLOBAL_METRICS, LIQUIDATION_LEVELS
from hltui.store import influxql as q
from hltui.store.base import Series
from hltui.store.fields import FieldType
from hltui.store.influx_v1 import COMPRESSED_RP, RAW_RP
from hltui.store.read_common import (
    SNAPSHOT_LOOKBACK_MS,
    clip,
    history_fields,
    history_plan,
    liquidation_rows,
    typed,
)

if TYPE_CHECKING:
    from hltui.store.influx import InfluxStore


def series_rows(results: list[dict[str, Any]]) -> list[tuple[str, dict[str, str], list[dict]]]:
    """(measurement, tags without empty values, rows as dicts) for each series."""
    out = []
    for res in results:
        for s in res.get("series", []) or []:
            tags = {k: v for k, v in (s.get("tags") or {}).items() if v != ""}
            cols = s["columns"]
            out.append((s.get("name", ""), tags,
                        [dict(zip(cols, v, strict=False)) for v in s.get("values", [])]))
    return out


FIELD_CACHE_S = 30.0  # field keys change only when a new field first appears


async def field_types(store: InfluxStore, rp: str, measurement: str,
                      fresh: bool = False) -> dict[str, FieldType]:
    """Field keys and types of a measurement in one tier (cached briefly: a chart
    refresh should cost one query, not three)."""
    key = (rp, measurement)
    hit = store.field_cache.get(key)
    if hit is not None and not fresh and time.monotonic() - hit[0] < FIELD_CACHE_S:
        return dict(hit[1])
    res = await store.http.query(
        f"SHOW FIELD KEYS ON {q.ident(store.db)} FROM {q.ident(rp)}.{q.ident(measurement)}")
    out: dict[str, FieldType] = {}
    for _, _, rows in series_rows(res):
        for r in rows:
            out.setdefault(r["fieldKey"], r["fieldType"])
    if out:
        store.field_cache[key] = (time.monotonic(), out)
    return dict(out)


async def measurements(store: InfluxStore) -> list[str]:
    res = await store.http.query(f"SHOW MEASUREMENTS ON {q.ident(store.db)}")
    return [r["name"] for _, _, rows in series_rows(res) for r in rows]


def _where(tags: dict[str, str | None]) -> list[str]:
    return [q.tag_equals(k, v) for k, v in tags.items() if v is not None]


def _time_range(start_ms: int, end_ms: int) -> list[str]:
    return [f"time >= {q.time_ms(start_ms)}", f"time < {q.time_ms(end_ms)}"]


async def latest_positions(store: InfluxStore) -> list[dict[str, Any]]:
    """Newest asset_metrics row per (asset, source); the compressed tier when raw is empty."""
    for rp in (RAW_RP, COMPRESSED_RP):
        types = await field_types(store, rp, ASSET_METRICS)
        res = await store.http.query(
            f"SELECT * FROM {q.qualified(store.db, rp, ASSET_METRICS)} "
            "GROUP BY * ORDER BY time DESC LIMIT 1")
        out = []
        for _, tags, rows in series_rows(res):
            for r in rows:
                row: dict[str, Any] = dict(tags)
                row["time_ms"] = int(r.pop("time"))
                for k, v in r.items():
                    if v is not None and k not in tags:
                        row[k] = typed(v, "last", types.get(k, "float"))
                out.append(row)
        if out:
            out.sort(key=lambda r: (r.get("asset", ""), r.get("source", "")))
            return out
    return []


async def history(store: InfluxStore, measurement: str, tags: dict[str, str | None],
                  hours: float, max_points: int, now_ms: int | None) -> Series:
    now_ms = int(time.time() * 1000) if now_ms is None else int(now_ms)
    s = store.settings
    types = await field_types(store, RAW_RP, measurement)
    for k, v in (await field_types(store, COMPRESSED_RP, measurement)).items():
        types.setdefault(k, v)
    aggs = history_fields(types)
    if not aggs:
        return Series([], {})
    plan = history_plan(now_ms, hours, max_points, s.retention_period, s.downsampling_window)
    select = ", ".join(f"{agg}({q.ident(f)}) AS {q.ident(f)}" for f, agg in aggs.items())
    times: list[int] = []
    values: dict[str, list] = {f: [] for f in aggs}
    for part in plan.parts:
        where = " AND ".join(_where(tags) + _time_range(part.start_ms, part.end_ms))
        res = await store.http.query(
            f"SELECT {select} FROM {q.qualified(store.db, part.tier, measurement)} "
            f"WHERE {where} GROUP BY time({plan.width_s}s) fill(none)")
        for _, _, rows in series_rows(res):
            for r in rows:
                times.append(int(r["time"]))
                for f, agg in aggs.items():
                    values[f].append(typed(r.get(f), agg, types[f]))
    order = sorted(range(len(times)), key=times.__getitem__)
    times = [times[i] for i in order]
    values = {f: [v[i] for i in order] for f, v in values.items()}
    times, values = clip(times, values, max_points)
    return Series(times, values)


async def asset_history(store: InfluxStore, asset: str, hours: float, max_points: int,
                        source: str | None, now_ms: int | None) -> Series:
    return await history(store, ASSET_METRICS, {"asset": asset, "source": source}, hours,
                         max_points, now_ms)


async def global_metrics(store: InfluxStore, hours: float, max_points: int,
                         now_ms: int | None) -> Series:
    return await history(store, GLOBAL_METRICS, {}, hours, max_points, now_ms)


async def liquidation_map(store: InfluxStore, asset: str,
                          source: str | None) -> list[dict[str, Any]]:
    """The latest snapshot of liquidation levels per source (raw tier)."""
    target = q.qualified(store.db, RAW_RP, LIQUIDATION_LEVELS)
    cond = _where({"asset": asset, "source": source})
    res = await store.http.query(
        f'SELECT last("price") FROM {target} WHERE {" AND ".join(cond)} GROUP BY "source"')
    rows: list[dict[str, Any]] = []
    types = await field_types(store, RAW_RP, LIQUIDATION_LEVELS)
    for _, tags, last_rows in series_rows(res):
        if not last_rows:
            continue
        t_last = int(last_rows[0]["time"])
        where = cond + ([q.tag_equals("source", tags["source"])] if "source" in tags else [])
        where += _time_range(t_last - SNAPSHOT_LOOKBACK_MS, t_last + 1)
        got = await store.http.query(
            f"SELECT * FROM {target} WHERE {' AND '.join(where)} GROUP BY *")
        for _, stags, srows in series_rows(got):
            key = tuple(sorted(stags.items()))
            for r in srows:
                row: dict[str, Any] = {k: v for k, v in stags.items() if k != "asset"}
                row["time_ms"] = int(r.pop("time"))
                row["_series"] = key
                for k, v in r.items():
                    if v is not None and k not in stags:
                        row[k] = typed(v, "last", types.get(k, "float"))
                rows.append(row)
    return liquidation_rows(rows)


async def assets(store: InfluxStore) -> list[str]:
    res = await store.http.query(f'SHOW TAG VALUES ON {q.ident(store.db)} WITH KEY = "asset"')
    return sorted({r["value"] for _, _, rows in series_rows(res) for r in rows})
