"""The hyperdash source job: per-asset positioning and liquidation maps each cycle.

Assets are fetched in batches through one shared browser (pages opened per batch,
closed after), validated and derived in process/hyperdash.py. One asset failing
never fails the others. A block (challenge page, 403) is an outage: the rest of
the cycle is skipped rather than hammering the wall. When no asset succeeded the
job raises the cause (a `SourceError`, with the partial `JobResult` attached as
`.result`) so the engine's breaker counts the outage.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hltui.engine.events import ItemError
from hltui.process.hyperdash import SOURCE, PayloadError, derive, parse
from hltui.process.positioning import Positioning
from hltui.process.records import InvalidAssetName, check_asset_name
from hltui.sources.base import BadPayload, Blocked, CycleContext, JobResult, SourceError
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
    from hltui.config import Settings

Outcome = dict[str, Any] | SourceError


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
        self.counts: Counter[str] = Counter()  # error kinds over the job's life
        self.last_cycle_s: float | None = None
        self.in_page = settings.hyperdash_navigation == "spa"

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
            raise self._with_result(exc, result) from None

        blocked: SourceError | None = None
        errors: list[SourceError] = []
        size = self.settings.batch_size
        for i in range(0, len(assets), size):
            batch = assets[i:i + size]
            if ctx.paused():
                ctx.log("info", f"hyperdash: paused; {len(assets) - i} assets left for the "
                                "next cycle")
                break
            if blocked is not None:
                for asset in batch:
                    self._fail(result, asset, blocked.kind, f"skipped: {blocked}")
                continue
            outcomes = await self._fetch_batch(batch)
            for asset in batch:
                outcome = outcomes.get(asset) or SourceError("not fetched")
                err = self._record(ctx, result, asset, outcome)
                if err is not None:
                    errors.append(err)
                if isinstance(outcome, Blocked) and blocked is None:
                    blocked = outcome
                    ctx.log("error", f"hyperdash: blocked, skipping the rest of this cycle: "
                                     f"{outcome}")
        self.last_cycle_s = self.clock() - started
        if result.ok == 0 and errors:
            raise self._with_result(blocked or errors[0], result)
        return result

    async def _fetch_batch(self, batch: list[str]) -> dict[str, Outcome]:
        """Fetch a batch on a few pages at once; every page is closed afterwards."""
        queue = list(batch)
        out: dict[str, Outcome] = {}
        stop: list[SourceError] = []

        async def worker() -> None:
            try:
                async with self.browser.page() as page:
                    await install_api_key(page, self.site, self.adapter)
                    shown = False  # the page shows the site after a good fetch
                    while queue and not stop:
                        asset = queue.pop(0)
                        try:
                            out[asset] = await self._fetch_one(page, asset, in_page=shown)
                            shown = True
                        except SourceError as exc:
                            out[asset] = exc
                            shown = False  # reload next: cancels whatever still hangs
                            if isinstance(exc, Blocked | BrowserCrashed):
                                stop.append(exc)
            except SourceError as exc:
                stop.append(exc)
            except Exception as exc:  # a driver error outside fetch: the page is unusable
                stop.append(BrowserCrashed(f"page failed: {str(exc).splitlines()[0][:200]}"))

        pages = min(self.settings.hyperdash_pages, len(batch))
        await asyncio.gather(*(worker() for _ in range(pages)))
        for asset in batch:
            if asset not in out:
                out[asset] = _not_fetched(asset, stop[0] if stop else None)
        return out

    async def _fetch_one(self, page: Any, asset: str, in_page: bool) -> dict[str, Any]:
        """In-page navigation when the site allows it, else (and on the first asset of a
        page) a page load. A site that ignores in-page navigation is loaded per asset
        from then on."""
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

    def _record(self, ctx: CycleContext, result: JobResult, asset: str, outcome: Outcome
                ) -> SourceError | None:
        """Derive one asset's records into `result`; return its error, if any."""
        if isinstance(outcome, SourceError):
            self._fail(result, asset, outcome.kind, str(outcome))
            return outcome
        try:
            snap = parse(self.adapter.name, asset, outcome)
            market = ctx.market.get(asset)
            derived = derive(snap, market.mark_price if market else None,
                             self._previous.get(asset), ctx.now_ms)
        except (PayloadError, ValueError) as exc:
            self._fail(result, asset, "validation", str(exc))
            return BadPayload(str(exc))
        self._previous[asset] = snap.positioning
        result.points.extend(derived.points)
        result.assets[asset] = {f"source_{SOURCE}": derived.fields}
        result.ok += 1
        return None

    def _fail(self, result: JobResult, asset: str, kind: str, message: str) -> None:
        result.failed += 1
        result.errors.append(ItemError(self.name, asset, kind, message))
        self.counts[kind] += 1

    @staticmethod
    def _with_result(exc: SourceError, result: JobResult) -> SourceError:
        exc.result = result  # type: ignore[attr-defined]
        return exc

    async def close(self) -> None:
        if self._owns_browser and self._browser is not None:
            await self._browser.close()


def _not_fetched(asset: str, cause: SourceError | None) -> SourceError:
    """The error for an asset a batch never reached (a block or a crash stopped it)."""
    if isinstance(cause, Blocked):
        return cause
    err = SourceError(f"{asset}: not fetched: {cause or 'no page'}")
    if cause is not None:
        err.kind = cause.kind
    return err
