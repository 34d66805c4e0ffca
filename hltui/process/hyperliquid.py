"""Validation and derivation for the official info API (metaAndAssetCtxs, predictedFundings).

The envelope is checked as a whole (a 2-element array, index-aligned lists); each
asset is then validated on its own so one bad asset never costs the others.
Decimal strings are parsed by pydantic's core in lax mode (no Python per field),
which keeps a 230-asset snapshot within a few times `json.loads`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hltui.engine.events import ItemError
from hltui.process.records import (
    ASSET_METRICS,
    GLOBAL_METRICS,
    InvalidAssetName,
    Point,
    check_asset_name,
)

SOURCE = "hyperliquid"

Price = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNeg = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Rate = Annotated[float, Field(allow_inf_nan=False, ge=-1, le=1)]
Finite = Annotated[float, Field(allow_inf_nan=False)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", allow_inf_nan=False, frozen=True)


class UniverseAsset(_Model):
    name: str
    szDecimals: int = Field(ge=0)
    maxLeverage: int = Field(ge=1)
    onlyIsolated: bool = False
    isDelisted: bool = False
    marginTableId: int | None = None


class AssetCtx(_Model):
    funding: Rate
    openInterest: NonNeg
    prevDayPx: NonNeg
    dayNtlVlm: NonNeg
    premium: Finite | None = None
    oraclePx: Price
    markPx: Price
    midPx: Price | None = None
    impactPxs: list[Price] | None = None
    dayBaseVlm: NonNeg | None = None


class Envelope(BaseModel):
    """Only the outer structure: item contents are validated per asset later."""

    model_config = ConfigDict(extra="ignore")
    universe: list[dict[str, Any]]


# the models' own core validators: TypeAdapter's Python wrapper costs as much as the work
_validate_ctx = AssetCtx.__pydantic_validator__.validate_python
_validate_asset = UniverseAsset.__pydantic_validator__.validate_python


class PayloadError(ValueError):
    """The whole payload is unusable (wrong envelope); nothing can be derived from it."""


@dataclass(slots=True)
class MarketRow:
    asset: UniverseAsset
    ctx: AssetCtx


@dataclass(slots=True)
class ParsedMarket:
    rows: list[MarketRow] = field(default_factory=list)
    delisted: list[str] = field(default_factory=list)
    errors: list[ItemError] = field(default_factory=list)


def _describe(exc: ValidationError, limit: int = 3) -> str:
    parts = []
    for err in exc.errors()[:limit]:
        loc = ".".join(str(p) for p in err.get("loc", ())) or "value"
        got = err.get("input")
        shown = repr(got) if not isinstance(got, dict | list) else type(got).__name__
        if len(shown) > 40:
            shown = shown[:37] + "..."
        parts.append(f"{loc}: {err.get('msg')} (got {shown})")
    more = len(exc.errors()) - limit
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def parse_meta_and_ctxs(payload: Any) -> ParsedMarket:
    """Validate `[meta, ctxs]`; per-asset failures become ItemErrors, not exceptions."""
    if not isinstance(payload, list) or len(payload) != 2:
        kind = type(payload).__name__
        raise PayloadError(f"metaAndAssetCtxs: expected a 2-element array [meta, ctxs], got {kind}"
                           + (f" of length {len(payload)}" if isinstance(payload, list) else ""))
    meta, ctxs = payload
    if not isinstance(meta, dict) or not isinstance(meta.get("universe"), list):
        raise PayloadError("metaAndAssetCtxs: meta.universe is missing or not a list")
    if not isinstance(ctxs, list):
        raise PayloadError(f"metaAndAssetCtxs: ctxs is {type(ctxs).__name__}, expected a list")
    universe = meta["universe"]
    if len(universe) != len(ctxs):
        raise PayloadError(
            f"metaAndAssetCtxs: universe has {len(universe)} assets but ctxs has {len(ctxs)};"
            " arrays must be index-aligned, refusing to guess which belongs to which"
        )
    out = ParsedMarket()
    seen: set[str] = set()
    for i, (raw_asset, raw_ctx) in enumerate(zip(universe, ctxs, strict=True)):
        label = raw_asset.get("name") if isinstance(raw_asset, dict) else None
        label = label if isinstance(label, str) else f"#{i}"
        try:
            asset = _validate_asset(raw_asset)
            check_asset_name(asset.name)
            if asset.name in seen:
                raise InvalidAssetName(f"duplicate asset name {asset.name!r}")
            seen.add(asset.name)
            if asset.isDelisted:
                out.delisted.append(asset.name)
                continue
            ctx = _validate_ctx(raw_ctx)
        except ValidationError as exc:
            out.errors.append(ItemError(SOURCE, label, "validation", _describe(exc)))
            continue
        except InvalidAssetName as exc:
            out.errors.append(ItemError(SOURCE, label, "validation", str(exc)))
            continue
        out.rows.append(MarketRow(asset, ctx))
    return out


@dataclass(slots=True)
class PredictedFunding:
    rate: float
    next_time_ms: int | None
    interval_hours: float | None


def parse_predicted_fundings(payload: Any) -> tuple[dict[str, PredictedFunding], list[ItemError]]:
    """HyperLiquid's own predicted rate per coin (venue `HlPerp`); other venues ignored."""
    if not isinstance(payload, list):
        raise PayloadError(f"predictedFundings: expected an array, got {type(payload).__name__}")
    out: dict[str, PredictedFunding] = {}
    errors: list[ItemError] = []
    for i, entry in enumerate(payload):
        try:
            coin, venues = entry
            if not isinstance(coin, str) or not isinstance(venues, list):
                raise TypeError("expected [coin, [[venue, {...}], ...]]")
            for venue in venues:
                name, info = venue
                if name != "HlPerp" or info is None:
                    continue
                rate = _ctx_float(info["fundingRate"])
                if not -1 <= rate <= 1:
                    raise ValueError(f"fundingRate out of range: {rate}")
                nft = info.get("nextFundingTime")
                interval = info.get("fundingIntervalHours")
                out[coin] = PredictedFunding(
                    rate,
                    int(nft) if isinstance(nft, int | float) else None,
                    float(interval) if isinstance(interval, int | float) else None,
                )
        except (TypeError, ValueError, KeyError) as exc:
            label = entry[0] if isinstance(entry, list) and entry and isinstance(entry[0], str) \
                else f"#{i}"
            errors.append(ItemError(SOURCE, label, "validation",
                                    f"predictedFundings: {type(exc).__name__}: {exc}"))
    return out, errors


def _ctx_float(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, str | int | float):
        raise TypeError(f"expected a decimal string, got {type(v).__name__}")
    f = float(v)
    if f != f or f in (float("inf"), float("-inf")):
        raise ValueError(f"not a finite number: {v!r}")
    return f


def asset_fields(row: MarketRow, predicted: PredictedFunding | None) -> dict[str, float | int]:
    """asset_metrics fields for one asset (contract names first, extras after)."""
    c = row.ctx
    f: dict[str, float | int] = {
        "mark_price": c.markPx,
        "oracle_price": c.oraclePx,
        "funding_rate": c.funding,
        "open_interest": c.openInterest,
        "open_interest_usd": c.openInterest * c.markPx,
        "volume_24h_usd": c.dayNtlVlm,
        "prev_day_price": c.prevDayPx,
        "max_leverage": int(row.asset.maxLeverage),
    }
    if c.premium is not None:
        f["premium"] = c.premium
    if c.midPx is not None:
        f["mid_price"] = c.midPx
    if c.dayBaseVlm is not None:
        f["volume_24h_base"] = c.dayBaseVlm
    if c.prevDayPx > 0:
        f["change_24h"] = c.markPx / c.prevDayPx - 1.0
    if c.impactPxs and len(c.impactPxs) == 2:
        f["impact_bid"], f["impact_ask"] = c.impactPxs
    if predicted is not None:
        f["predicted_funding_rate"] = predicted.rate
        if predicted.interval_hours:
            f["funding_interval_hours"] = predicted.interval_hours
    return f


def derive_points(
    market: ParsedMarket, predicted: dict[str, PredictedFunding], now_ms: int
) -> tuple[list[Point], dict[str, dict[str, float | int]], dict[str, float | int]]:
    """asset_metrics per active asset plus one global_metrics point for the cycle."""
    points: list[Point] = []
    per_asset: dict[str, dict[str, float | int]] = {}
    total_oi = total_vol = 0.0
    for row in market.rows:
        fields = asset_fields(row, predicted.get(row.asset.name))
        per_asset[row.asset.name] = fields
        points.append(Point(ASSET_METRICS, {"asset": row.asset.name, "source": SOURCE},
                            fields, now_ms))
        total_oi += fields["open_interest_usd"]
        total_vol += fields["volume_24h_usd"]
    glob: dict[str, float | int] = {
        "total_notional_usd": total_oi,  # official open interest in USD
        "volume_24h_usd": total_vol,
        "assets": len(market.rows),
        "delisted_assets": len(market.delisted),
    }
    points.append(Point(GLOBAL_METRICS, {"source": SOURCE}, glob, now_ms))
    return points, per_asset, glob
