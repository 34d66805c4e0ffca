"""The address set to sample: leaderboard top N by account value, plus the watch list.

The leaderboard is tens of MB: it is streamed (never held whole), reduced to the
top N, and cached in `<data_dir>/sampling/leaderboard.json`. It is refreshed at
most every `refresh_s` (hours); a failed refresh keeps the cached set and is
retried after `retry_s`, so a leaderboard outage never empties the sample.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hltui.config import Settings
from hltui.engine.events import ItemError
from hltui.process.leaderboard import ADDRESS, LeaderboardError, LeaderboardScanner
from hltui.process.sampling import SOURCE
from hltui.sources.base import BadPayload, SourceError
from hltui.sources.http import InfoClient

CACHE_VERSION = 1
DEFAULT_REFRESH_S = 4 * 3600.0
DEFAULT_RETRY_S = 15 * 60.0
DOWNLOAD_TIMEOUT_S = 300.0  # the whole leaderboard; each read still has the request timeout


class AddressBook:
    """Knows which accounts to sample and when the leaderboard is due a refresh."""

    def __init__(
        self,
        settings: Settings,
        client: InfoClient,
        *,
        clock: Callable[[], float] = time.time,
        refresh_s: float = DEFAULT_REFRESH_S,
        retry_s: float = DEFAULT_RETRY_S,
    ) -> None:
        self.size = settings.sample_size
        self.url = settings.leaderboard_url
        self.watch_list = tuple(settings.watch_list)
        self.path = Path(settings.data_dir) / "sampling" / "leaderboard.json"
        self.client = client
        self.clock = clock
        self.refresh_s = refresh_s
        self.retry_s = retry_s
        self.top: list[tuple[str, float]] = []
        self.fetched_at: float | None = None
        self.available: int = 0  # valid accounts the last full read saw
        self.refreshes = 0
        self.failures = 0
        self.cache_error: str | None = None
        self._next_try = 0.0
        self._load_cache()

    # the set -----------------------------------------------------------------
    def addresses(self) -> list[str]:
        """Top N by account value (largest first), then watch-list addresses not in it."""
        out = [a for a, _ in self.top[: self.size]]
        seen = set(out)
        for a in self.watch_list:
            if a not in seen:
                seen.add(a)
                out.append(a)
        return out

    def due(self) -> bool:
        if self.size <= 0:
            return False
        now = self.clock()
        if now < self._next_try:
            return False
        if self.fetched_at is None:
            return True
        short = len(self.top) < self.size and self.available > len(self.top)
        return short or now - self.fetched_at >= self.refresh_s

    async def refresh_if_due(self) -> ItemError | None:
        """Fetch the leaderboard when due; on failure keep the cached set."""
        if not self.due():
            return None
        try:
            await self.refresh()
        except SourceError as exc:
            self.failures += 1
            self._next_try = self.clock() + self.retry_s
            kept = f"keeping {len(self.top)} cached accounts" if self.top else \
                "no cached accounts: sampling the watch list only"
            return ItemError(SOURCE, "leaderboard", exc.kind, f"{exc}; {kept}")
        if self.cache_error:
            return ItemError(SOURCE, "leaderboard", "store", self.cache_error)
        return None

    async def refresh(self) -> None:
        scanner = LeaderboardScanner()
        await self.client.stream(self.url, "leaderboard", scanner.feed,
                                 total_timeout=DOWNLOAD_TIMEOUT_S)
        try:
            scan = scanner.finish(self.size)
        except LeaderboardError as exc:
            raise BadPayload(str(exc)) from None
        if not scan.top and self.top:
            raise BadPayload(f"leaderboard: no valid account in {scan.rows} rows")
        self.top = scan.top
        self.available = scan.valid
        self.fetched_at = self.clock()
        self.refreshes += 1
        self._next_try = 0.0
        try:
            self._save_cache()
        except OSError as exc:  # the fresh set is in memory; only the restart cache is lost
            self.cache_error = f"leaderboard cache not written: {exc}"
        else:
            self.cache_error = None

    # cache -------------------------------------------------------------------
    def _save_cache(self) -> None:
        doc = {"version": CACHE_VERSION, "url": self.url, "fetched_at": self.fetched_at,
               "requested": self.size, "available": self.available,
               "rows": [[a, v] for a, v in self.top]}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(doc, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    def _load_cache(self) -> None:
        """A cache for another URL, or one that does not parse, is ignored (refetched)."""
        with contextlib.suppress(FileNotFoundError):
            try:
                doc: Any = json.loads(self.path.read_text(encoding="utf-8"))
                if doc.get("version") != CACHE_VERSION or doc.get("url") != self.url:
                    return
                rows = [(str(a).lower(), float(v)) for a, v in doc["rows"]
                        if isinstance(a, str) and ADDRESS.match(a) and math.isfinite(float(v))]
                fetched_at = float(doc["fetched_at"])
                available = int(doc.get("available", len(rows)))
            except (ValueError, TypeError, KeyError, AttributeError, OSError):
                return
            self.top, self.fetched_at, self.available = rows, fetched_at, available
