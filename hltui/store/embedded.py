"""EmbeddedStore: the zero-setup default (no HLTUI_INFLUX_URL): one SQLite file,
`data_dir/hltui.sqlite`, with the same tiers, compression, retention and reads as
the InfluxDB store (the contract tests run against both).

SQLite (stdlib) runs in one dedicated worker thread so the event loop never
blocks on disk. Retention is a pass (`apply_retention`, run by the collector after
each compression): raw rows older than HLTUI_RETENTION_PERIOD and compressed rows
older than HLTUI_COMPRESSED_RETENTION are deleted. Like InfluxDB, a raw point
already older than the raw retention is refused on write.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from hltui.config import Settings
from hltui.process.records import ASSET_METRICS, GLOBAL_METRICS, LIQUIDATION_LEVELS, Point
from hltui.store.base import CompressionReport, Series, Store, StoreUnavailable, WriteResult
from hltui.store.compress import run_compression
from hltui.store.compress_state import CompressionState
from hltui.store.embedded_db import SqliteCore
from hltui.store.read_common import (
    SNAPSHOT_LOOKBACK_MS,
    clip,
    history_fields,
    history_plan,
    liquidation_rows,
    typed,
)

T = TypeVar("T")
DB_FILE = "hltui.sqlite"


class EmbeddedStore(Store):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.path = settings.data_dir / DB_FILE
        self.label = f"embedded {self.path}"
        self._exec: ThreadPoolExecutor | None = None
        self._core: SqliteCore | None = None
        self.state = CompressionState(int(settings.downsampling_window * 1000))

    def __repr__(self) -> str:
        return f"EmbeddedStore({str(self.path)!r})"

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        if self._exec is None:
            await self.open()
        assert self._exec is not None
        return await asyncio.get_running_loop().run_in_executor(self._exec, fn, *args)

    # -- lifecycle ---------------------------------------------------------
    async def open(self) -> None:
        if self._exec is not None:
            return
        self._exec = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hltui-sqlite")

        def _open() -> dict | None:
            try:
                self._core = SqliteCore(self.path)
            except Exception as exc:  # unreadable file, full disk, permissions
                raise StoreUnavailable(f"embedded store {self.path}: {exc}") from None
            return self._core.load_state()

        try:
            saved = await asyncio.get_running_loop().run_in_executor(self._exec, _open)
        except BaseException:
            self._exec.shutdown(wait=False)
            self._exec = None
            raise
        if saved:
            self.state.merge_json(saved)
        self.state.saver = self._save_state

    def _save_state(self, state: CompressionState) -> None:
        """Persist from the event loop thread: queue an ordered save on the SQLite
        thread (a snapshot taken now; writes queued after it see it committed)."""
        if self._exec is not None and self._core is not None:
            self._exec.submit(self._core.save_state, state.to_json())

    async def close(self) -> None:
        if self._exec is None:
            return
        if self._core is not None:
            await asyncio.get_running_loop().run_in_executor(self._exec, self._core.close)
        self._exec.shutdown(wait=True)
        self._exec = None
        self._core = None

    async def ping(self) -> bool:
        return self._exec is not None or self.path.parent.exists()

    @property
    def core(self) -> SqliteCore:
        assert self._core is not None, "open() first"
        return self._core

    # -- writes ------------------------------------------------------------
    async def write(self, points: Sequence[Point]) -> WriteResult:
        min_t = int(time.time() * 1000) - int(self.settings.retention_period * 1000)

        await self.open()
        # late windows are marked (and their save queued) before the write runs
        self.state.mark_late(p.time_ms for p in points if isinstance(p.time_ms, int))
        try:
            written, rejected = await self._run(self.core.write, points, "raw", min_t)
        except StoreUnavailable:
            raise
        except Exception as exc:  # sqlite3.OperationalError: disk full, locked, I/O
            raise StoreUnavailable(f"embedded store {self.path}: {exc}") from None
        return WriteResult(written, rejected)

    # write_lines is deliberately not overridden: the embedded store takes points, and
    # the engine keys "no spool" on `type(store).write_lines is Store.write_lines`.

    # -- reads -------------------------------------------------------------
    async def assets(self) -> list[str]:
        return await self._run(lambda: self.core.assets())

    async def latest_positions(self) -> list[dict[str, Any]]:
        def _read() -> list[dict[str, Any]]:
            mid = self.core.measurement_id(ASSET_METRICS, create=False)
            if mid is None:
                return []
            fmap = self.core.field_map(mid)
            for tier in ("raw", "cmp"):
                rows = self.core.latest_rows(tier, mid)
                if not rows:
                    continue
                tags = self.core.series_tags([sid for sid, _, _ in rows])
                out = []
                for sid, t, fields in rows:
                    row: dict[str, Any] = dict(tags[sid])
                    row["time_ms"] = t
                    for k, v in fields.items():
                        row[k] = typed(v, "last", fmap[k][0] if tier == "raw" else
                                       _cmp_type(k, v, fmap[k][0]))
                    out.append(row)
                out.sort(key=lambda r: (r.get("asset", ""), r.get("source", "")))
                return out
            return []

        return await self._run(_read)

    async def _history(self, measurement: str, tags: dict[str, str | None], hours: float,
                       max_points: int, now_ms: int | None) -> Series:
        now_ms = int(time.time() * 1000) if now_ms is None else int(now_ms)
        s = self.settings
        plan = history_plan(now_ms, hours, max_points, s.retention_period,
                            s.downsampling_window)

        def _read() -> Series:
            mid = self.core.measurement_id(measurement, create=False)
            if mid is None:
                return Series([], {})
            fmap = self.core.field_map(mid)
            types = {f: t for f, (t, _) in fmap.items()}
            aggs = history_fields(types)
            sids = self.core.series_ids(mid, tags)
            merged: dict[int, dict[str, Any]] = {}
            for part in plan.parts:
                tier = "raw" if part.tier == "raw" else "cmp"
                merged.update(self.core.bucketed(tier, mid, sids, aggs, part.start_ms,
                                                 part.end_ms, plan.width_s * 1000))
            times = sorted(merged)
            values = {f: [typed(merged[t].get(f), a, types[f]) for t in times]
                      for f, a in aggs.items()}
            times, values = clip(times, values, max_points)
            return Series(times, values)

        return await self._run(_read)

    async def asset_history(self, asset: str, hours: float, max_points: int = 300,
                            source: str | None = None, now_ms: int | None = None) -> Series:
        return await self._history(ASSET_METRICS, {"asset": asset, "source": source}, hours,
                                   max_points, now_ms)

    async def global_metrics(self, hours: float = 24, max_points: int = 300,
                             now_ms: int | None = None) -> Series:
        return await self._history(GLOBAL_METRICS, {}, hours, max_points, now_ms)

    async def liquidation_map(self, asset: str, source: str | None = None
                              ) -> list[dict[str, Any]]:
        def _read() -> list[dict[str, Any]]:
            mid = self.core.measurement_id(LIQUIDATION_LEVELS, create=False)
            if mid is None:
                return []
            sids = self.core.series_ids(mid, {"asset": asset, "source": source})
            if not sids:
                return []
            tags = self.core.series_tags(sids)
            fmap = self.core.field_map(mid)
            latest = self.core.latest_rows("raw", mid, sids)
            newest: dict[str, int] = {}
            for sid, t, _ in latest:
                src = tags[sid].get("source", "")
                newest[src] = max(newest.get(src, t), t)
            rows = []
            for src, t_last in newest.items():
                src_sids = [sid for sid in sids if tags[sid].get("source", "") == src]
                for sid, t, fields in self.core.rows_between(
                        "raw", mid, src_sids, t_last - SNAPSHOT_LOOKBACK_MS, t_last + 1):
                    row: dict[str, Any] = {k: v for k, v in tags[sid].items() if k != "asset"}
                    row["time_ms"] = t
                    row["_series"] = sid
                    for k, v in fields.items():
                        row[k] = typed(v, "last", fmap[k][0])
                    rows.append(row)
            return liquidation_rows(rows)

        return await self._run(_read)

    # -- lifecycle ---------------------------------------------------------
    async def compress(self, now_ms: int | None = None, progress=None) -> CompressionReport:
        s = self.settings
        await self.open()
        return await run_compression(
            _EmbeddedCompression(self), self.state, now_ms=now_ms,
            min_age_s=s.compression_min_age, window_s=s.downsampling_window,
            retention_s=s.retention_period, progress=progress)

    async def apply_retention(self, now_ms: int | None = None) -> int:
        now_ms = int(time.time() * 1000) if now_ms is None else int(now_ms)
        s = self.settings
        return await self._run(self.core.apply_retention,
                               now_ms - int(s.retention_period * 1000),
                               now_ms - int(s.compressed_retention * 1000))


def _cmp_type(field: str, value: Any, raw_type: str) -> Any:
    """Type of a compressed value: a float where a mean made one."""
    return "float" if isinstance(value, float) else raw_type


class _EmbeddedCompression:
    def __init__(self, store: EmbeddedStore) -> None:
        self.store = store

    async def earliest_raw_ms(self) -> int | None:
        return await self.store._run(self.store.core.earliest_raw_ms)

    async def compress_range(self, start_ms: int, end_ms: int) -> int:
        st = self.store
        return await st._run(st.core.compress_range, start_ms, end_ms, st.state.window_ms)
