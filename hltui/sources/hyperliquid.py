"""Source `hyperliquid`: market data for every perp from the official info API.

Two calls per cycle (weight 20 each): `metaAndAssetCtxs` (all perps) and
`predictedFundings`. The second is optional: its failure is recorded and the
cycle keeps the market data.
"""

from __future__ import annotations

import asyncio

from hltui.config import Settings
from hltui.engine.events import ItemError
from hltui.process.hyperliquid import (
    SOURCE,
    PayloadError,
    derive_points,
    parse_meta_and_ctxs,
    parse_predicted_fundings,
)
from hltui.sources.base import BadPayload, CycleContext, JobResult, MarketAsset, SourceError
from hltui.sources.http import InfoClient


class HyperliquidJob:
    name = SOURCE

    def __init__(self, settings: Settings, client: InfoClient) -> None:
        self.settings = settings
        self.client = client

    async def run(self, ctx: CycleContext) -> JobResult:
        market_raw, predicted_raw = await asyncio.gather(
            self.client.info({"type": "metaAndAssetCtxs"}),
            self.client.info({"type": "predictedFundings"}),
            return_exceptions=True,
        )
        if isinstance(market_raw, BaseException):
            raise market_raw
        try:
            market = parse_meta_and_ctxs(market_raw)
        except PayloadError as exc:
            raise BadPayload(str(exc)) from None
        errors: list[ItemError] = list(market.errors)
        predicted = {}
        if isinstance(predicted_raw, SourceError):
            errors.append(ItemError(SOURCE, "predictedFundings", predicted_raw.kind,
                                    str(predicted_raw)))
        elif isinstance(predicted_raw, BaseException):
            raise predicted_raw
        else:
            try:
                predicted, perrors = parse_predicted_fundings(predicted_raw)
                errors.extend(perrors)
            except PayloadError as exc:
                errors.append(ItemError(SOURCE, "predictedFundings", "validation", str(exc)))
        points, per_asset, glob = derive_points(market, predicted, ctx.now_ms)
        for row in market.rows:
            c = row.ctx
            ctx.market[row.asset.name] = MarketAsset(
                name=row.asset.name, mark_price=c.markPx, oracle_price=c.oraclePx,
                open_interest=c.openInterest, funding_rate=c.funding,
                max_leverage=row.asset.maxLeverage,
            )
        failed_assets = sum(1 for e in market.errors)
        return JobResult(
            source=SOURCE, points=points, ok=len(market.rows), failed=failed_assets,
            errors=errors, assets=per_asset, globals=glob,
        )

    async def close(self) -> None:
        await self.client.close()
