"""The embedded store's SQLite core (synchronous; EmbeddedStore runs it in one
worker thread).

Layout, one file `data_dir/hltui.sqlite` (WAL):
- `measurements(id, name)`, `series(id, measurement_id, tags, asset, source, side)`:
  a series is a measurement plus its tag set (canonical JSON), like InfluxDB's.
- `fields(measurement_id, name, type, col)`: each field gets a generated column name
  (`c1`, `c2`, ...), so no field or tag name ever becomes SQL text.
- `raw_<mid>` and `cmp_<mid>`: one wide table per measurement and tier,
  `(series_id, t, c1, c2, ...)`, primary key (series_id, t). Writing the same series
  and time again merges fields, as InfluxDB does.
- `meta(key, value)`: the compression state (watermark, dirty windows).

Every value reaches SQLite as a bound parameter.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hltui.process.records import Point
from hltui.store import lineproto
from hltui.store.fields import (
    EXTRA_COMPRESSED,
    NOT_COMPRESSED,
    FieldType,
    compression_plan,
    stored_type,
)

TIERS = ("raw", "cmp")
STATE_KEY = "compression_state"
_SQL_AGG = {"mean": "AVG", "sum": "SUM", "max": "MAX", "min": "MIN"}


class SqliteCore:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(str(path), isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA busy_timeout=10000")
        self._schema()
        self._measurements: dict[str, int] = {}
        self._series: dict[tuple[int, str], int] = {}
        self._fields: dict[int, dict[str, tuple[FieldType, str]]] = defaultdict(dict)
        self._load_caches()

    def close(self) -> None:
        self.conn.close()

    # -- schema ------------------------------------------------------------
    def _schema(self) -> None:
        self.conn.executescript("""
            CREATE TABLE IF NOT EXISTS measurements(
                id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
            CREATE TABLE IF NOT EXISTS series(
                id INTEGER PRIMARY KEY, measurement_id INTEGER NOT NULL, tags TEXT NOT NULL,
                asset TEXT, source TEXT, side TEXT, UNIQUE(measurement_id, tags));
            CREATE INDEX IF NOT EXISTS series_asset ON series(measurement_id, asset, source);
            CREATE TABLE IF NOT EXISTS fields(
                measurement_id INTEGER NOT NULL, name TEXT NOT NULL, type TEXT NOT NULL,
                col TEXT NOT NULL, PRIMARY KEY(measurement_id, name));
            CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
        """)

    def _load_caches(self) -> None:
        for mid, name in self.conn.execute("SELECT id, name FROM measurements"):
            self._measurements[name] = mid
        for sid, mid, tags in self.conn.execute("SELECT id, measurement_id, tags FROM series"):
            self._series[(mid, tags)] = sid
        for mid, name, ftype, col in self.conn.execute(
                "SELECT measurement_id, name, type, col FROM fields"):
            self._fields[mid][name] = (ftype, col)

    @staticmethod
    def table(tier: str, mid: int) -> str:
        return f"{tier}_{int(mid)}"

    def measurement_id(self, name: str, create: bool = True) -> int | None:
        mid = self._measurements.get(name)
        if mid is None and create:
            cur = self.conn.execute("INSERT INTO measurements(name) VALUES (?)", (name,))
            mid = int(cur.lastrowid or 0)
            for tier in TIERS:
                self.conn.execute(
                    f"CREATE TABLE IF NOT EXISTS {self.table(tier, mid)}("
                    "series_id INTEGER NOT NULL, t INTEGER NOT NULL, "
                    "PRIMARY KEY(series_id, t)) WITHOUT ROWID")
                self.conn.execute(f"CREATE INDEX IF NOT EXISTS {self.table(tier, mid)}_t "
                                  f"ON {self.table(tier, mid)}(t)")
            self._measurements[name] = mid
        return mid

    def measurement_names(self) -> dict[str, int]:
        return dict(self._measurements)

    def field_map(self, mid: int) -> dict[str, tuple[FieldType, str]]:
        return self._fields.get(mid, {})

    def _field_col(self, mid: int, name: str, ftype: FieldType, check: bool = True) -> str:
        """The column of a field, added on first sight. Types are checked for raw
        writes (InfluxDB refuses a field written with two types); the compressed tier
        may hold a mean (float) of an integer field, which SQLite stores as it is."""
        known = self._fields[mid].get(name)
        if known is not None:
            if check and known[0] != ftype:
                raise lineproto.SerializationError(
                    f"field type conflict: input field {name!r} is type {ftype}, "
                    f"already exists as type {known[0]}")
            return known[1]
        col = f"c{len(self._fields[mid]) + 1}"
        for tier in TIERS:
            self.conn.execute(f"ALTER TABLE {self.table(tier, mid)} ADD COLUMN {col}")
        self.conn.execute("INSERT INTO fields VALUES (?, ?, ?, ?)", (mid, name, ftype, col))
        self._fields[mid][name] = (ftype, col)
        return col

    def series_id(self, mid: int, tags: dict[str, str]) -> int:
        key = json.dumps(tags, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        sid = self._series.get((mid, key))
        if sid is None:
            cur = self.conn.execute(
                "INSERT INTO series(measurement_id, tags, asset, source, side) "
                "VALUES (?, ?, ?, ?, ?)",
                (mid, key, tags.get("asset"), tags.get("source"), tags.get("side")))
            sid = int(cur.lastrowid or 0)
            self._series[(mid, key)] = sid
        return sid

    # -- writes ------------------------------------------------------------
    def write(self, points: Sequence[Point], tier: str, min_time_ms: int | None,
              int_fields: frozenset[str] = lineproto.INT_FIELDS
              ) -> tuple[int, list[tuple[str, str]]]:
        """Write points in one transaction; returns (written, rejected).

        Another process (`hltui compress`, a second collector) may have added a
        measurement, series or field since this one cached them: on a constraint
        error the caches are reloaded and the write retried once.
        """
        try:
            return self._write(points, tier, min_time_ms, int_fields)
        except (sqlite3.IntegrityError, sqlite3.OperationalError) as exc:
            if isinstance(exc, sqlite3.OperationalError) and "duplicate column" not in str(exc):
                raise
            return self._write(points, tier, min_time_ms, int_fields)

    def _write(self, points: Sequence[Point], tier: str, min_time_ms: int | None,
               int_fields: frozenset[str]) -> tuple[int, list[tuple[str, str]]]:
        rejected: list[tuple[str, str]] = []
        groups: dict[tuple[str, tuple[str, ...]], list[tuple]] = defaultdict(list)
        written = 0
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            for p in points:
                try:
                    lineproto.check_point(p)
                    fields = lineproto.coerce_fields(p.fields, int_fields)
                    if min_time_ms is not None and p.time_ms < min_time_ms:
                        raise lineproto.SerializationError("points beyond retention policy")
                    mid = self.measurement_id(p.measurement) or 0
                    cols = []
                    vals = []
                    for name, v in sorted(fields.items()):
                        cols.append(self._field_col(mid, name, stored_type(name, v)))
                        vals.append(v)
                except lineproto.SerializationError as exc:
                    rejected.append((lineproto.describe(p), str(exc)))
                    continue
                sid = self.series_id(mid, p.tags)
                groups[(self.table(tier, mid), tuple(cols))].append((sid, p.time_ms, *vals))
                written += 1
            for (table, cols), rows in groups.items():
                names = ", ".join(cols)
                marks = ", ".join("?" for _ in range(len(cols) + 2))
                update = ", ".join(f"{c}=excluded.{c}" for c in cols)
                self.conn.executemany(
                    f"INSERT INTO {table}(series_id, t, {names}) VALUES ({marks}) "
                    f"ON CONFLICT(series_id, t) DO UPDATE SET {update}", rows)
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            self._reset_caches()
            raise
        return written, rejected

    def _reset_caches(self) -> None:
        self._measurements.clear()
        self._series.clear()
        self._fields.clear()
        self._load_caches()

    # -- state -------------------------------------------------------------
    def load_state(self) -> dict | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (STATE_KEY,)).fetchone()
        if not row:
            return None
        try:
            data = json.loads(row[0])
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    def save_state(self, data: dict) -> None:
        self.conn.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) "
                          "DO UPDATE SET value = excluded.value", (STATE_KEY, json.dumps(data)))

    # -- compression -------------------------------------------------------
    def earliest_raw_ms(self) -> int | None:
        best = None
        for name, mid in self._measurements.items():
            if name in NOT_COMPRESSED:
                continue
            (t,) = self.conn.execute(f"SELECT MIN(t) FROM {self.table('raw', mid)}").fetchone()
            if t is not None:
                best = t if best is None else min(best, t)
        return best

    def compress_range(self, start_ms: int, end_ms: int, window_ms: int) -> int:
        """Aggregate raw windows in [start, end) into the compressed tier (one
        transaction); returns aggregates written."""
        w = int(window_ms)
        written = 0
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            for name, mid in list(self._measurements.items()):
                if name in NOT_COMPRESSED:
                    continue
                fmap = self.field_map(mid)
                raw_fields = {f: t for f, (t, _) in fmap.items() if f not in EXTRA_COMPRESSED}
                if not raw_fields:
                    continue
                plan = compression_plan(raw_fields)
                agg_rows = self._aggregate(self.table("raw", mid), fmap, plan, start_ms,
                                           end_ms, w)
                for out, _, _, otype in plan:
                    self._field_col(mid, out, otype, check=False)
                fmap = self.field_map(mid)
                table = self.table("cmp", mid)
                outs = [out for out, _, _, _ in plan]
                cols = [fmap[o][1] for o in outs]
                names = ", ".join(cols)
                marks = ", ".join("?" for _ in range(len(cols) + 2))
                rows = [(sid, t, *(vals.get(o) for o in outs))
                        for (sid, t), vals in agg_rows.items()]
                self.conn.executemany(
                    f"INSERT OR REPLACE INTO {table}(series_id, t, {names}) "
                    f"VALUES ({marks})", rows)
                written += len(rows)
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            self._reset_caches()
            raise
        return written

    def _aggregate(self, table: str, fmap: dict[str, tuple[FieldType, str]],
                   plan: list, start_ms: int, end_ms: int, w: int
                   ) -> dict[tuple[int, int], dict[str, Any]]:
        items = [(o, a, fmap[src][1]) for o, a, src, _ in plan]
        got = self.grouped(table, ["series_id", f"(t / {int(w)}) * {int(w)}"], items,
                           "t >= ? AND t < ?", [start_ms, end_ms])
        for vals in got.values():
            for o, a, _ in items:
                if a == "mean" and o in vals:
                    vals[o] = float(vals[o])
        return got

    def grouped(self, table: str, keys: list[str], items: list[tuple[str, str, str]],
                where: str, args: list[Any]) -> dict[Any, dict[str, Any]]:
        """{group key: {out: aggregate}} for items (out, aggregate, column).

        One scan does it all: AVG/SUM/MIN/MAX, plus `last` as SQLite's bare columns
        next to MAX(t) (values from the newest row of the group). A `last` field
        that is NULL in that newest row (sparse fields) is looked up per field.
        """
        out: dict[Any, dict[str, Any]] = defaultdict(dict)
        numeric = [(o, a, c) for o, a, c in items if a != "last"]
        lasts = [(o, c) for o, a, c in items if a == "last"]
        sel = [f"{_SQL_AGG[a]}({c})" for _, a, c in numeric] + [c for _, c in lasts]
        nk = len(keys)
        key_sql = ", ".join(f"{k} AS k{i}" for i, k in enumerate(keys))
        group = ", ".join(f"k{i}" for i in range(nk))
        missing: dict[str, set] = defaultdict(set)
        for row in self.conn.execute(
                f"SELECT {key_sql}, {', '.join([*sel, 'MAX(t)'])} FROM {table} "
                f"WHERE {where} GROUP BY {group}", args):
            key = row[0] if nk == 1 else tuple(row[:nk])
            vals = row[nk:]
            rec = out[key]
            for (o, _, _), v in zip(numeric, vals, strict=False):
                if v is not None:
                    rec[o] = v
            for (o, _), v in zip(lasts, vals[len(numeric):], strict=False):
                if v is None:
                    missing[o].add(key)
                else:
                    rec[o] = v
        for o, c in lasts:
            if not missing.get(o):
                continue
            for row in self.conn.execute(
                    f"SELECT {key_sql}, {c}, MAX(t) FROM {table} WHERE {where} "
                    f"AND {c} IS NOT NULL GROUP BY {group}", args):
                key = row[0] if nk == 1 else tuple(row[:nk])
                if key in missing[o]:
                    out[key][o] = row[nk]
        return out

    # -- retention ---------------------------------------------------------
    def apply_retention(self, raw_before_ms: int, cmp_before_ms: int) -> int:
        removed = 0
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            for mid in self._measurements.values():
                for tier, before in (("raw", raw_before_ms), ("cmp", cmp_before_ms)):
                    cur = self.conn.execute(
                        f"DELETE FROM {self.table(tier, mid)} WHERE t < ?", (before,))
                    removed += cur.rowcount
            if removed:
                live = " UNION ".join(
                    f"SELECT series_id FROM {self.table(tier, mid)}"
                    for mid in self._measurements.values() for tier in TIERS)
                if live:
                    self.conn.execute(f"DELETE FROM series WHERE id NOT IN ({live})")
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        if removed:
            self._reset_caches()
        return removed

    # -- reads -------------------------------------------------------------
    def series_ids(self, mid: int, tags: dict[str, str | None]) -> list[int]:
        sql = "SELECT id, tags FROM series WHERE measurement_id = ?"
        args: list[Any] = [mid]
        for k in ("asset", "source", "side"):
            if tags.get(k) is not None:
                sql += f" AND {k} = ?"
                args.append(tags[k])
        return [sid for sid, _ in self.conn.execute(sql, args)]

    def series_tags(self, sids: Sequence[int]) -> dict[int, dict[str, str]]:
        out = {}
        for sid, tags in self.conn.execute(
                f"SELECT id, tags FROM series WHERE id IN ({','.join('?' * len(sids))})",
                list(sids)):
            out[sid] = json.loads(tags)
        return out

    def latest_rows(self, tier: str, mid: int, sids: Sequence[int] | None = None
                    ) -> list[tuple[int, int, dict[str, Any]]]:
        """Newest row of every series: [(series_id, t, {field: value})]."""
        fmap = self.field_map(mid)
        if not fmap:
            return []
        table = self.table(tier, mid)
        names = list(fmap)
        cols = ", ".join(fmap[n][1] for n in names)
        sql = (f"SELECT d.series_id, d.t, {cols} FROM {table} d JOIN (SELECT series_id, "
               f"MAX(t) AS mt FROM {table} GROUP BY series_id) m "
               "ON d.series_id = m.series_id AND d.t = m.mt")
        args: list[Any] = []
        if sids is not None:
            sql += f" WHERE d.series_id IN ({','.join('?' * len(sids))})"
            args = list(sids)
        out = []
        for row in self.conn.execute(sql, args):
            out.append((row[0], row[1], {n: v for n, v in zip(names, row[2:], strict=True)
                                         if v is not None}))
        return out

    def rows_between(self, tier: str, mid: int, sids: Sequence[int], start_ms: int,
                     end_ms: int) -> list[tuple[int, int, dict[str, Any]]]:
        fmap = self.field_map(mid)
        if not fmap or not sids:
            return []
        names = list(fmap)
        cols = ", ".join(fmap[n][1] for n in names)
        out = []
        for row in self.conn.execute(
                f"SELECT series_id, t, {cols} FROM {self.table(tier, mid)} "
                f"WHERE series_id IN ({','.join('?' * len(sids))}) AND t >= ? AND t < ?",
                [*sids, start_ms, end_ms]):
            out.append((row[0], row[1], {n: v for n, v in zip(names, row[2:], strict=True)
                                         if v is not None}))
        return out

    def bucketed(self, tier: str, mid: int, sids: Sequence[int], aggs: dict[str, str],
                 start_ms: int, end_ms: int, width_ms: int) -> dict[int, dict[str, Any]]:
        """{bucket start: {field: aggregate}} for the fields in `aggs` (fill none)."""
        fmap = self.field_map(mid)
        if not sids:
            return {}
        items = [(f, a, fmap[f][1]) for f, a in aggs.items() if f in fmap]
        where = f"series_id IN ({','.join('?' * len(sids))}) AND t >= ? AND t < ?"
        return self.grouped(self.table(tier, mid), [f"(t / {int(width_ms)}) * {int(width_ms)}"],
                            items, where, [*sids, start_ms, end_ms])

    def assets(self) -> list[str]:
        return [a for (a,) in self.conn.execute(
            "SELECT DISTINCT asset FROM series WHERE asset IS NOT NULL ORDER BY asset")]
