"""InfluxStore: the production store over InfluxDB's v1-compatible HTTP API.

Writes go to the raw tier (`rp=raw`), hourly aggregates to `rp=compressed`; on 2.x
those are buckets `<db>/raw` and `<db>/compressed` reached through DBRP mappings
(influx_v2.py), on 1.x retention policies (influx_v1.py). Reads stitch both tiers
(influx_read.py); compression reads the raw tier with `GROUP BY time(window), *`
and writes the aggregates (influx_compress.py), which works on every version.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
from collections.abc import Sequence
from typing import Any

from hltui.config import Settings
from hltui.process.records import Point
from hltui.store import lineproto
from hltui.store.base import (
    CompressionReport,
    Series,
    Store,
    StoreRejected,
    StoreUnavailable,
    WriteResult,
)
from hltui.store.compress_state import CompressionState, JsonStateFile
from hltui.store.influx_http import InfluxHTTP
from hltui.store.influx_v1 import COMPRESSED_RP, RAW_RP, provision_v1


def major_version(version: str) -> int | None:
    """1, 2 or 3 from `1.6.7~rc0`, `v2.7.4`, `3.0.1`; None when unknown."""
    m = re.match(r"v?(\d+)", version.strip())
    return int(m.group(1)) if m else None


class InfluxStore(Store):
    """Store over InfluxDB 1.x/2.x/3.x (v1 HTTP API).

    `warm_serializer`: at open(), import the line-protocol serializer in a worker
    thread so it overlaps the first cycle's fetch (read-only users turn it off).
    """

    warm_serializer: bool = True

    def __init__(self, settings: Settings) -> None:
        if not settings.influx_url:
            raise ValueError("InfluxStore needs HLTUI_INFLUX_URL")
        self.settings = settings
        self.db = settings.influx_database
        self.label = settings.store_label
        self.version: str | None = None
        self.notes: list[str] = []  # provisioning notes for the log
        self.field_cache: dict[tuple[str, str], tuple[float, dict]] = {}
        token = settings.influx_token.get_secret_value() if settings.influx_token else None
        password = (settings.influx_password.get_secret_value()
                    if settings.influx_password else None)
        self.http = InfluxHTTP(settings.influx_url, token=token,
                               username=settings.influx_username, password=password,
                               timeout=settings.influx_timeout)
        self._token = token
        self._provisioned = False
        self._open_lock: asyncio.Lock | None = None
        self._warm: asyncio.Future | None = None
        window_ms = int(settings.downsampling_window * 1000)
        key = hashlib.sha256(f"{settings.influx_url}|{self.db}".encode()).hexdigest()[:12]
        safe_db = re.sub(r"[^A-Za-z0-9_.-]", "_", self.db)[:40]
        self._state_file = JsonStateFile(
            settings.data_dir / f"compression-influx-{safe_db}-{key}.json")
        self.state = CompressionState(window_ms, saver=self._state_file)
        self._state_file.load_into(self.state)

    def __repr__(self) -> str:
        return f"InfluxStore({self.label!r})"

    # -- lifecycle ---------------------------------------------------------
    async def open(self) -> None:
        """Detect the version and provision the tiers (idempotent).

        Raises StoreUnavailable when the server does not answer: the store stays
        usable and provisions on the next write that reaches it.
        """
        if self._warm is None and self.warm_serializer:
            self._warm = asyncio.ensure_future(asyncio.to_thread(lineproto.warm_up))
        await self.http.start()
        await self._ensure_provisioned()

    async def _ensure_provisioned(self) -> None:
        if self._provisioned:
            return
        if self._open_lock is None:
            self._open_lock = asyncio.Lock()
        async with self._open_lock:
            if self._provisioned:
                return
            self.version = await self.http.ping()
            major = major_version(self.version) or 1
            s = self.settings
            if major == 2:
                from hltui.store.influx_v2 import provision_v2

                self.notes += await provision_v2(
                    s.influx_url or "", self._token, s.influx_org, self.db,
                    s.retention_period, s.compressed_retention, s.influx_timeout)
            elif major >= 3:
                self.notes.append(
                    "InfluxDB 3.x: databases are created on first write; retention is "
                    "set on the server (see docs/storage.md)")
            else:
                self.notes += await provision_v1(self.http, self.db, s.retention_period,
                                                 s.compressed_retention)
            self.label = f"{self.settings.store_label} (InfluxDB {self.version or '?'})"
            self._provisioned = True

    async def close(self) -> None:
        await self.http.close()
        if self._warm is not None:
            with contextlib.suppress(Exception):  # an import error shows at first write
                await asyncio.shield(self._warm)

    async def ping(self) -> bool:
        try:
            await self.http.ping()
            return True
        except (StoreUnavailable, StoreRejected):
            return False

    # -- writes ------------------------------------------------------------
    async def write(self, points: Sequence[Point]) -> WriteResult:
        """Serialize (refusing what cannot be stored faithfully) and write to raw."""
        if self._warm is not None and not self._warm.done():
            await self._warm
        lines, refused = lineproto.to_lines(points)
        if not lines:
            return WriteResult(0, refused)
        try:
            res = await self.write_lines(lines)
        except StoreUnavailable as exc:
            if hasattr(exc, "rejected"):
                exc.rejected = refused + exc.rejected  # type: ignore[attr-defined]
            raise
        res.rejected = refused + res.rejected
        return res

    async def write_lines(self, lines: Sequence[str]) -> WriteResult:
        """Write serialized lines to the raw tier; marks late windows for compression."""
        if not lines:
            return WriteResult(0)
        await self._ensure_provisioned()
        self.state.mark_late(lineproto.lines_times(lines))
        return await self.http.write_lines(lines, self.db, RAW_RP,
                                           self.settings.write_batch_size)

    async def write_compressed_lines(self, lines: Sequence[str]) -> WriteResult:
        await self._ensure_provisioned()
        return await self.http.write_lines(lines, self.db, COMPRESSED_RP,
                                           self.settings.write_batch_size)

    # -- reads (influx_read.py) --------------------------------------------
    async def latest_positions(self) -> list[dict[str, Any]]:
        from hltui.store.influx_read import latest_positions

        await self._ensure_provisioned()
        return await latest_positions(self)

    async def asset_history(self, asset: str, hours: float, max_points: int = 300,
                            source: str | None = None, now_ms: int | None = None) -> Series:
        from hltui.store.influx_read import asset_history

        await self._ensure_provisioned()
        return await asset_history(self, asset, hours, max_points, source, now_ms)

    async def global_metrics(self, hours: float = 24, max_points: int = 300,
                             now_ms: int | None = None) -> Series:
        from hltui.store.influx_read import global_metrics

        await self._ensure_provisioned()
        return await global_metrics(self, hours, max_points, now_ms)

    async def liquidation_map(self, asset: str, source: str | None = None) -> list[dict[str, Any]]:
        from hltui.store.influx_read import liquidation_map

        await self._ensure_provisioned()
        return await liquidation_map(self, asset, source)

    async def assets(self) -> list[str]:
        from hltui.store.influx_read import assets

        await self._ensure_provisioned()
        return await assets(self)

    # -- lifecycle ---------------------------------------------------------
    async def compress(self, now_ms: int | None = None, progress=None) -> CompressionReport:
        from hltui.store.influx_compress import compress

        await self._ensure_provisioned()
        return await compress(self, now_ms, progress)

    async def apply_retention(self, now_ms: int | None = None) -> int:
        """InfluxDB expires data itself (retention policies / bucket rules)."""
        return 0
