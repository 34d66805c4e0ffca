"""Synchronous read API for Python users (scripts, notebooks).

    from hltui.store import read
    read.latest_positions()
    read.asset_history("BTC", hours=24 * 7)      # Series(times_ms, values)
    read.global_metrics(hours=24)
    read.liquidation_map("BTC")

Each call opens the configured store (HLTUI_* environment, or `settings=`), reads
and closes it. Inside a running event loop (Jupyter) the call runs on a helper
thread with its own loop; async code should use the Store methods directly.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from hltui.config import Settings
from hltui.store.base import Series, Store

T = TypeVar("T")


def _call(settings: Settings | None, fn: Callable[[Store], Awaitable[T]]) -> T:
    async def main() -> T:
        from hltui.config import load_settings
        from hltui.store.factory import make_store

        store = make_store(settings or load_settings())
        await store.open()
        try:
            return await fn(store)
        finally:
            await store.close()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    box: dict[str, Any] = {}

    def runner() -> None:
        try:
            box["value"] = asyncio.run(main())
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    t = threading.Thread(target=runner, name="hltui-read")
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def latest_positions(settings: Settings | None = None) -> list[dict[str, Any]]:
    return _call(settings, lambda s: s.latest_positions())


def asset_history(asset: str, hours: float = 24, max_points: int = 300,
                  source: str | None = None, settings: Settings | None = None) -> Series:
    return _call(settings, lambda s: s.asset_history(asset, hours, max_points, source))


def global_metrics(hours: float = 24, max_points: int = 300,
                   settings: Settings | None = None) -> Series:
    return _call(settings, lambda s: s.global_metrics(hours, max_points))


def liquidation_map(asset: str, source: str | None = None,
                    settings: Settings | None = None) -> list[dict[str, Any]]:
    return _call(settings, lambda s: s.liquidation_map(asset, source))


def assets(settings: Settings | None = None) -> list[str]:
    return _call(settings, lambda s: s.assets())
