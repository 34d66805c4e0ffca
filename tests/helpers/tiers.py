"""Read what a store physically holds in a tier, bypassing the store's read code:
InfluxQL straight to the server, SQL straight to the SQLite file."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from tests.helpers.influxd import Influxd


def influx_tier(server: Influxd, db: str, rp: str, measurement: str) -> dict[tuple, dict]:
    res = server.query(f'SELECT * FROM "{db}"."{rp}"."{measurement}" GROUP BY *', db)
    out: dict[tuple, dict] = {}
    for r in res["results"]:
        assert "error" not in r, r
        for s in r.get("series", []) or []:
            tags = tuple(sorted((k, v) for k, v in (s.get("tags") or {}).items() if v))
            for v in s["values"]:
                row = dict(zip(s["columns"], v, strict=True))
                t = row.pop("time")
                out[(tags, t)] = {k: x for k, x in row.items() if x is not None}
    return out


def sqlite_tier(path: Path, tier: str, measurement: str) -> dict[tuple, dict]:
    conn = sqlite3.connect(str(path))
    try:
        got = conn.execute("SELECT id FROM measurements WHERE name = ?", (measurement,))
        row = got.fetchone()
        if row is None:
            return {}
        mid = row[0]
        fields = conn.execute("SELECT name, col FROM fields WHERE measurement_id = ?",
                              (mid,)).fetchall()
        cols = ", ".join(c for _, c in fields)
        table = f"{'raw' if tier == 'raw' else 'cmp'}_{mid}"
        out: dict[tuple, dict] = {}
        for r in conn.execute(f"SELECT s.tags, d.t, {cols} FROM {table} d "
                              "JOIN series s ON s.id = d.series_id"):
            tags = tuple(sorted(json.loads(r[0]).items()))
            out[(tags, r[1])] = {n: v for (n, _), v in zip(fields, r[2:], strict=True)
                                 if v is not None}
        return out
    finally:
        conn.close()


def approx_equal(a: Any, b: Any, rel: float = 1e-9) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return abs(a - b) <= rel * max(1.0, abs(a), abs(b))
    return a == b
