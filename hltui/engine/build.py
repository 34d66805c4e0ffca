"""Assemble a runtime from settings: store, sources, collector (and the simulated
exchange for --demo). Shared by the dashboard, --headless and the tests."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hltui.config import Settings
from hltui.engine.breaker import CircuitBreaker
from hltui.engine.collector import Collector
from hltui.engine.events import EventSink, LogRecord, null_sink
from hltui.sources.base import SourceJob
from hltui.store.base import Store, StoreUnavailable

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


def demo_defaults(settings: Settings) -> Settings:
    """What `--demo` changes where the user set nothing: every source (hyperdash only
    when a browser is installed), a 10 s interval, 100 sampled accounts and the whole
    simulated weight budget, so the full dashboard fills within a few cycles."""
    explicit = settings.model_fields_set
    update: dict[str, Any] = {}
    if "sources" not in explicit:
        from hltui.sources.hyperdash.browser import find_browser
        from hltui.sources.hyperdash.errors import BrowserUnavailable

        sources = ["hyperliquid", "sampled"]
        try:
            find_browser(settings.browser_path)
            sources.append("hyperdash")
        except BrowserUnavailable:
            pass
        update["sources"] = tuple(sources)
    for name, value in (("interval", 10.0), ("sample_size", 100),
                        ("weight_budget_share", 1.0)):
        if name not in explicit:
            update[name] = value
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


def make_jobs(settings: Settings, log: Callable[[str, str], None],
              breaker_for: Callable[[str], CircuitBreaker] | None = None) -> list[SourceJob]:
    from hltui.sources.budget import WeightBudget
    from hltui.sources.http import InfoClient

    budget = WeightBudget(settings.weight_budget_share)

    def client(source: str) -> InfoClient:
        """An info client whose every request goes through the source's breaker and
        the retry policy."""

        def on_retry(exc: BaseException, wait: float, attempt: int) -> None:
            log("warning", f"{source}: {exc}; retry {attempt} in {wait:.1f}s")

        return InfoClient(settings.hyperliquid_url, settings.request_timeout, budget,
                          breaker=breaker_for(source) if breaker_for else None,
                          attempts=settings.retry_attempts, on_retry=on_retry)

    jobs: list[SourceJob] = []
    if "hyperliquid" in settings.sources:
        from hltui.sources.hyperliquid import HyperliquidJob

        jobs.append(HyperliquidJob(settings, client("hyperliquid")))
    if "hyperdash" in settings.sources:
        from hltui.sources.hyperdash.job import HyperDashJob

        jobs.append(HyperDashJob(settings))
    if "sampled" in settings.sources:
        from hltui.sources.sampling import SampledJob

        jobs.append(SampledJob(settings, client("sampled")))
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

        settings = demo_defaults(settings)

        sim = SimExchange(seed=seed, clock=clock)
        await sim.__aenter__()
        closers.append(lambda: sim.__aexit__(None, None, None))
        hd_url = None
        if "hyperdash" in settings.sources:
            from hltui.sim.hyperdash import SimHyperDash

            market = sim.market
            site = SimHyperDash(seed=seed, assets=market.asset_names(),
                                protocol=settings.hyperdash_protocol,
                                prices=lambda a: getattr(market.by_name.get(a), "mark", None))
            await site.__aenter__()
            closers.append(lambda: site.__aexit__(None, None, None))
            hd_url = site.url
        settings = demo_settings(settings, sim.url, sim.leaderboard_url, hd_url)
    from hltui.store.factory import make_store

    store = make_store(settings)
    try:
        try:
            await store.open()
        except StoreUnavailable as exc:  # collect anyway: points wait in the spool
            sink(LogRecord("warning", f"store unavailable at start ({exc}); points are "
                                      "spooled until it answers"))
        collector = Collector(settings, store, [], sink, clock or time.time)
        collector.writer = await durable_writer(settings, store, collector)
    except BaseException:
        for closer in reversed(closers):
            with contextlib.suppress(Exception):
                await closer()
        await store.close()
        raise
    collector.jobs = make_jobs(settings, collector.log, collector.breaker)
    return Runtime(settings, store, collector, demo, closers)


async def durable_writer(settings: Settings, store: Store, collector: Collector) -> Any:
    """The spooling writer (`<data_dir>/spool`), behind the store's breaker.

    Spool messages may come from a worker thread: they reach the sink through the loop.
    """
    if type(store).write_lines is Store.write_lines:  # a store that cannot replay lines
        return collector.writer
    from hltui.store.durable import DurableWriter
    from hltui.store.spool import Spool

    loop = asyncio.get_running_loop()

    def log(level: str, message: str) -> None:
        loop.call_soon_threadsafe(collector.log, level, message)

    spool = await asyncio.to_thread(
        Spool, settings.data_dir / "spool", settings.spool_max_bytes,
        record_lines=settings.write_batch_size, log=log)
    return DurableWriter(store, spool, collector.breaker("store"), collector.sink,
                         batch_size=settings.write_batch_size)
