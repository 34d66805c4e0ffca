"""Assemble a runtime from settings: store, sources, collector (and the simulated
exchange for --demo). Shared by the dashboard, --headless and the tests."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hltui.config import Settings
from hltui.engine.collector import Collector
from hltui.engine.events import EventSink, null_sink
from hltui.sources.base import SourceJob
from hltui.store.base import Store

DEMO_SUFFIX = "_demo"


def demo_settings(settings: Settings, exchange_url: str, leaderboard_url: str,
                  hyperdash_url: str | None = None) -> Settings:
    """Point sources at the simulator and keep simulated data apart from real data:
    the embedded store lives in `<data_dir>/demo`, InfluxDB uses `<database>_demo`."""
    update: dict[str, Any] = {
        "hyperliquid_url": exchange_url,
        "leaderboard_url": leaderboard_url,
        "data_dir": settings.data_dir / "demo",
    }
    if not settings.influx_database.endswith(DEMO_SUFFIX):
        update["influx_database"] = settings.influx_database + DEMO_SUFFIX
    if hyperdash_url:
        update["hyperdash_url"] = hyperdash_url
        update["hyperdash_api_url"] = hyperdash_url
    return settings.model_copy(update=update)


@dataclass
class Runtime:
    settings: Settings
    store: Store
    collector: Collector
    demo: bool
    _closers: list[Any] = field(default_factory=list)

    async def aclose(self) -> None:
        await self.collector.close()
        for closer in reversed(self._closers):
            with contextlib.suppress(Exception):
                await closer()


def make_jobs(settings: Settings, log: Callable[[str, str], None]) -> list[SourceJob]:
    from hltui.sources.budget import WeightBudget
    from hltui.sources.http import InfoClient

    budget = WeightBudget(settings.weight_budget_share)
    jobs: list[SourceJob] = []
    if "hyperliquid" in settings.sources:
        from hltui.sources.hyperliquid import HyperliquidJob

        jobs.append(HyperliquidJob(settings, InfoClient(settings.hyperliquid_url,
                                                        settings.request_timeout, budget)))
    if "hyperdash" in settings.sources:
        from hltui.sources.hyperdash.job import HyperDashJob

        jobs.append(HyperDashJob(settings))
    if "sampled" in settings.sources:
        from hltui.sources.sampling import SampledJob

        jobs.append(SampledJob(settings, InfoClient(settings.hyperliquid_url,
                                                    settings.request_timeout, budget)))
    return jobs


async def build_runtime(
    settings: Settings,
    sink: EventSink = null_sink,
    *,
    demo: bool = False,
    clock: Callable[[], float] | None = None,
    seed: int = 7,
) -> Runtime:
    """Start everything the collector needs; call `aclose()` when done."""
    closers: list[Any] = []
    if demo:
        from hltui.sim.server import SimExchange

        sim = SimExchange(seed=seed, clock=clock)
        await sim.__aenter__()
        closers.append(lambda: sim.__aexit__(None, None, None))
        hd_url = None
        if "hyperdash" in settings.sources:
            from hltui.sim.hyperdash import SimHyperDash

            site = SimHyperDash(seed=seed, assets=sim.market.asset_names()[:30],
                                protocol=settings.hyperdash_protocol)
            await site.__aenter__()
            closers.append(lambda: site.__aexit__(None, None, None))
            hd_url = site.url
        settings = demo_settings(settings, sim.url, sim.leaderboard_url, hd_url)
    from hltui.store.factory import make_store

    store = make_store(settings)
    try:
        await store.open()
    except BaseException:
        for closer in reversed(closers):
            with contextlib.suppress(Exception):
                await closer()
        raise
    collector = Collector(settings, store, [], sink, clock or time.time)
    collector.jobs = make_jobs(settings, collector.log)
    return Runtime(settings, store, collector, demo, closers)
