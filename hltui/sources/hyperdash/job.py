"""The hyperdash source job: per-asset positioning and liquidation maps each cycle.

Assets go in batches (`HLTUI_BATCH_SIZE`) through the engine's batch processor; each
batch gets a few pages of the one shared browser (`HLTUI_HYPERDASH_PAGES`), opened
for the batch and always closed after it. A page shows one asset after another: the
first by loading its page, the next by in-page navigation (the site's own router
fetches the next asset's JSON), after any failure by a reload. Payloads are
validated and derived in process/hyperdash.py.

One asset failing never fails the others. A block (challenge page, 403) is an
outage: the rest of the cycle is skipped rather than hammering the wall. When no
asset succeeded the job raises the cause (a `SourceError` with the partial
`JobResult` attached as `.result`) so the engine's breaker counts the outage.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hltui.engine.batch import chunks, run_batches
from hltui.engine.events import ItemError
from hltui.process.hyperdash import SOURCE, Derived, PayloadError, derive, parse
from hltui.process.positioning import Positioning
from hltui.process.records import InvalidAssetName, check_asset_name
from hltui.sources.base import (
    BadPayload,
    Blocked,
    CycleContext,
    JobResult,
    SourceError,
    SourceTimeout,
)
from hltui.sources.hyperdash.browser import BrowserManager
from hltui.sources.hyperdash.errors import BrowserCrashed, BrowserUnavailable
from hltui.sources.hyperdash.fetch import (
    InPageIgnored,
    SiteConfig,
    fetch_asset,
    install_api_key,
)
from hltui.sources.hyperdash.protocols import make_adapter

if TYPE_CHECKING:  # pragma: no cover
    from playwright.async_api import Page

    from hltui.config import Settings


# this many timeouts in a row: the site is not answering, skip the rest of the cycle
TIMEOUTS_IN_A_ROW = 3
# a page costs an open and a load (several in-page views' worth): few assets, few pages
ASSETS_PER_PAGE = 4


@dataclass(slots=True)
class _Slot:
    """One page of a batch, opened on first use and closed with the batch (`stack`);
    `shown` once it displays the site after a good fetch."""

    stack: contextlib.AsyncExitStack
    page: Page | None = None
    shown: bool = False


@dataclass(slots=True)
class _Cycle:
    stop: SourceError | None = None  # a block or a silent site ends the cycle's fetching
    batch_stop: SourceError | None = None  # a dead browser ends the batch (relaunch next)
    told: bool = False  # the stop was logged
    timeouts: int = 0  # in a row
    errors: dict[str, SourceError] = field(default_factory=dict)


class HyperDashJob:
    """`SourceJob` for HyperDash. Pass `browser=` to share one BrowserManager (tests,
    bench); otherwise the job owns one and closes it in `close()`."""

    name = SOURCE

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time, *,
                 browser: BrowserManager | None = None) -> None:
        self.settings = settings
        self.clock = clock
        self.adapter = make_adapter(settings.hyperdash_protocol)
        self.site = SiteConfig.from_settings(settings)
        self._browser = browser
        self._owns_browser = browser is None
        self._previous: dict[str, Positioning] = {}
        self._last_assets: list[str] = []
        self._told_unavailable = False
        self.in_page = settings.hyperdash_navigation == "spa"
        self.counts: Counter[str] = Counter()  # error kinds over the job's life
        self.last_cycle_s: float | None = None

    @property
    def browser(self) -> BrowserManager:
        if self._browser is None:
            self._browser = BrowserManager.from_settings(self.settings)
        return self._browser

    # ---- assets ------------------------------------------------------------------------

    def select_assets(self, ctx: CycleContext) -> list[str]:
        """Configured assets, else the market's (largest open interest first, capped),
        else last cycle's (the market job failed this time)."""
        if self.settings.hyperdash_assets:
            return list(self.settings.hyperdash_assets)
        if ctx.market:
            live = [a for a in ctx.market.values() if not a.delisted]
            live.sort(key=lambda a: a.open_interest * a.mark_price, reverse=True)
            cap = self.settings.hyperdash_max_assets
            self._last_assets = [a.name for a in (live[:cap] if cap else live)]
        return list(self._last_assets)

    # ---- the cycle -----------------------------------------------------------------------

    async def run(self, ctx: CycleContext) -> JobResult:
        started = self.clock()
        result = JobResult(self.name)
        assets = []
        for asset in self.select_assets(ctx):
            try:
                assets.append(check_asset_name(asset))
            except InvalidAssetName as exc:
                self._fail(result, str(asset)[:64], "validation", str(exc))
        if not assets:
            if not result.failed:
                ctx.log("warning", "hyperdash: no assets this cycle (no market data yet and "
                                   "HLTUI_HYPERDASH_ASSETS is empty)")
            return result
        self.browser.log = ctx.log
        try:
            await self.browser.maintain()
        except BrowserUnavailable as exc:
            if not self._told_unavailable:
                ctx.log("error", f"hyperdash: {exc}")
                self._told_unavailable = True
            for asset in assets:
                self._fail(result, asset, exc.kind, str(exc))
            raise _with_result(exc, result) from None

        cycle = _Cycle()
        for batch in chunks(assets, self.settings.batch_size):
            if ctx.gate is not None:
                await ctx.gate.wait()  # paused: the batch in flight finished, hold this one
            elif ctx.paused():
                break
            if cycle.stop is not None:
                for asset in batch:
                    self._fail(result, asset, cycle.stop.kind, f"skipped: {cycle.stop}")
                continue
            await self._run_batch(ctx, list(batch), cycle, result)
        self.last_cycle_s = self.clock() - started
        if result.ok == 0 and cycle.errors:
            raise _with_result(cycle.stop or next(iter(cycle.errors.values())), result)
        return result

    async def _run_batch(self, ctx: CycleContext, batch: list[str], cycle: _Cycle,
                         result: JobResult) -> None:
        """One batch on its own pages (closed after), through the engine's batch runner."""
        cycle.batch_stop = None
        pages = min(self.settings.hyperdash_pages, -(-len(batch) // ASSETS_PER_PAGE))
        async with self._pages(pages) as slots:

            async def one(asset: str) -> Derived:
                if (stop := cycle.stop or cycle.batch_stop) is not None:
                    raise _remember(cycle, asset, _not_fetched(asset, stop))
                slot = await slots.get()
                try:
                    bodies = await self._fetch_on(slot, asset, cycle)
                finally:
                    slots.put_nowait(slot)
                return self._derive(ctx, asset, bodies, cycle)

            done = await run_batches(batch, one, source=self.name, batch_size=len(batch),
                                     max_concurrency=slots.qsize())
        for outcome in done.outcomes:
            if outcome.error is not None:
                self._fail(result, outcome.item, outcome.error.kind, outcome.error.message)
                continue
            derived = outcome.value
            assert derived is not None
            result.points.extend(derived.points)
            result.assets[outcome.item] = derived.fields
            result.ok += 1
        if cycle.stop is not None and not cycle.told:
            cycle.told = True
            why = "blocked" if isinstance(cycle.stop, Blocked) else "not answering"
            ctx.log("error", f"hyperdash: {why}, skipping the rest of this cycle: "
                             f"{cycle.stop}")

    @contextlib.asynccontextmanager
    async def _pages(self, n: int) -> AsyncIterator[asyncio.Queue[_Slot]]:
        """`n` page slots for a batch; pages open on first use, all closed at the end."""
        slots: asyncio.Queue[_Slot] = asyncio.Queue()
        async with contextlib.AsyncExitStack() as stack:
            for _ in range(n):
                slots.put_nowait(_Slot(stack))
            yield slots

    async def _fetch_on(self, slot: _Slot, asset: str, cycle: _Cycle) -> dict[str, Any]:
        try:
            if slot.page is None:
                slot.page = await slot.stack.enter_async_context(self.browser.page())
                await install_api_key(slot.page, self.site, self.adapter)
            bodies = await self._fetch_one(slot.page, asset, in_page=slot.shown)
        except SourceError as exc:
            slot.shown = False  # reload next time: cancels whatever still hangs
            if isinstance(exc, Blocked):
                cycle.stop = cycle.stop or exc
            elif isinstance(exc, BrowserCrashed | BrowserUnavailable):
                cycle.batch_stop = cycle.batch_stop or exc
            elif isinstance(exc, SourceTimeout):
                cycle.timeouts += 1
                if cycle.timeouts >= TIMEOUTS_IN_A_ROW and cycle.stop is None:
                    cycle.stop = SourceTimeout(f"{cycle.timeouts} assets in a row timed out "
                                               f"(last: {exc})")
            raise _remember(cycle, asset, exc) from None
        slot.shown = True
        cycle.timeouts = 0
        return bodies

    async def _fetch_one(self, page: Page, asset: str, in_page: bool) -> dict[str, Any]:
        """In-page navigation when the site allows it, else a page load. A site that
        ignores in-page navigation is loaded per asset from then on."""
        if in_page and self.in_page:
            try:
                return await fetch_asset(page, asset, self.site, self.adapter, in_page=True)
            except InPageIgnored:
                bodies = await fetch_asset(page, asset, self.site, self.adapter)
                self.in_page = False
                self.browser.log("warning", "hyperdash: the site ignores in-page navigation; "
                                            "loading a page per asset (HLTUI_HYPERDASH_"
                                            "NAVIGATION=page)")
                return bodies
        return await fetch_asset(page, asset, self.site, self.adapter)

    def _derive(self, ctx: CycleContext, asset: str, bodies: dict[str, Any], cycle: _Cycle
                ) -> Derived:
        """Validate and derive one asset; a bad payload is this asset's error only."""
        try:
            snap = parse(self.adapter.name, asset, bodies)
            market = ctx.market.get(asset)
            derived = derive(snap, market.mark_price if market else None,
                             self._previous.get(asset), ctx.now_ms)
        except (PayloadError, ValueError) as exc:
            raise _remember(cycle, asset, BadPayload(str(exc))) from None
        self._previous[asset] = snap.positioning
        return derived

    def _fail(self, result: JobResult, asset: str, kind: str, message: str) -> None:
        result.failed += 1
        result.errors.append(ItemError(self.name, asset, kind, message))
        self.counts[kind] += 1

    async def close(self) -> None:
        if self._owns_browser and self._browser is not None:
            await self._browser.close()


def _remember(cycle: _Cycle, asset: str, exc: SourceError) -> SourceError:
    cycle.errors.setdefault(asset, exc)
    return exc


def _with_result(exc: SourceError, result: JobResult) -> SourceError:
    exc.result = result  # type: ignore[attr-defined]
    return exc


def _not_fetched(asset: str, cause: SourceError) -> SourceError:
    """The error of an asset left out because the cycle (a block, a silent site) or the
    batch (a dead browser) was stopped: same kind as the cause."""
    err = SourceError(f"skipped: {cause}")
    err.kind = cause.kind
    return err
