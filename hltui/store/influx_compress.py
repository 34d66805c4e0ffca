"""Compression on InfluxDB: read aggregates of the raw tier with InfluxQL
`GROUP BY time(window), *` and write them to the compressed tier.

Reading and writing (rather than `SELECT ... INTO`) is deliberate: 2.x and 3.x do
not run INTO through the v1 API, and this path works on every version. The
driver (windows, watermark, late data, progress) is compress.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hltui.process.records import Point
from hltui.store import influxql as q
from hltui.store import lineproto
from hltui.store.base import CompressionReport
from hltui.store.compress import run_compression
from hltui.store.fields import NOT_COMPRESSED, FieldType, compression_plan
from hltui.store.influx_read import field_types, measurements, series_rows
from hltui.store.influx_v1 import RAW_RP
from hltui.store.read_common import typed

if TYPE_CHECKING:
    from hltui.store.influx import InfluxStore

Plan = list[tuple[str, str, str, FieldType]]


class InfluxCompression:
    """The store-specific half of compress.run_compression."""

    def __init__(self, store: InfluxStore) -> None:
        self.store = store
        self._plans: dict[str, Plan] | None = None

    async def plans(self) -> dict[str, Plan]:
        if self._plans is None:
            self._plans = {}
            for m in await measurements(self.store):
                if m in NOT_COMPRESSED:
                    continue
                types = await field_types(self.store, RAW_RP, m, fresh=True)
                if types:
                    self._plans[m] = compression_plan(types)
        return self._plans

    async def earliest_raw_ms(self) -> int | None:
        earliest = None
        for m in await self.plans():
            res = await self.store.http.query(
                f"SELECT * FROM {q.qualified(self.store.db, RAW_RP, m)} LIMIT 1")
            for _, _, rows in series_rows(res):
                for r in rows:
                    t = int(r["time"])
                    earliest = t if earliest is None else min(earliest, t)
        return earliest

    async def compress_range(self, start_ms: int, end_ms: int) -> int:
        window_ms = self.store.state.window_ms
        written = 0
        for m, plan in (await self.plans()).items():
            select = ", ".join(f"{agg}({q.ident(src)}) AS {q.ident(out)}"
                               for out, agg, src, _ in plan)
            res = await self.store.http.query(
                f"SELECT {select} FROM {q.qualified(self.store.db, RAW_RP, m)} "
                f"WHERE time >= {q.time_ms(start_ms)} AND time < {q.time_ms(end_ms)} "
                f"GROUP BY time({window_ms}ms), * fill(none)")
            points = []
            for _, tags, rows in series_rows(res):
                for r in rows:
                    fields = {out: typed(r.get(out), agg, otype) for out, agg, _, otype in plan}
                    fields = {k: v for k, v in fields.items() if v is not None}
                    if fields:
                        points.append(Point(m, tags, fields, int(r["time"])))
            if not points:
                continue
            int_fields = frozenset(out for out, _, _, t in plan if t == "integer")
            lines, _refused = lineproto.to_lines(points, int_fields)
            res_w = await self.store.write_compressed_lines(lines)
            written += res_w.written
        return written


async def compress(store: InfluxStore, now_ms: int | None, progress) -> CompressionReport:
    s = store.settings
    return await run_compression(
        InfluxCompression(store), store.state, now_ms=now_ms,
        min_age_s=s.compression_min_age, window_s=s.downsampling_window,
        retention_s=s.retention_period, progress=progress)
