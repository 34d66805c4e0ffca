"""Positioning from sampled accounts: validate `clearinghouseState`, aggregate per asset.

Pure functions, no I/O. One account's payload is validated position by position, so
a bad position costs only itself; a payload that is not an account state at all is
a `PayloadError` for that account alone. Aggregates per asset (tagged
`source=sampled`) reuse `process.positioning.aggregate` and add `coverage`: the share
of the market's open interest the sample holds. HyperLiquid's `openInterest` counts
both sides (the sum of long and short sizes), so sampled long + short notional over
`openInterest x markPx` is 1.0 when every account is sampled.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from hltui.engine.events import ItemError
from hltui.process.buckets import DEFAULT_WIDTH_SHARE, bucket_centre, bucket_width
from hltui.process.positioning import Position, aggregate
from hltui.process.records import (
    ASSET_METRICS,
    GLOBAL_METRICS,
    LIQUIDATION_LEVELS,
    InvalidAssetName,
    Point,
    check_asset_name,
)

SOURCE = "sampled"

Finite = Annotated[float, Field(allow_inf_nan=False)]
NonNeg = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Price = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class PayloadError(ValueError):
    """The whole answer for one account is unusable (not an account state)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", allow_inf_nan=False, frozen=True)


class Leverage(_Model):
    """`cross` has no `rawUsd`; `isolated` carries the isolated margin as `rawUsd`."""

    type: str
    value: Finite = Field(gt=0)
    rawUsd: Finite | None = None


class CumFunding(_Model):
    allTime: Finite
    sinceOpen: Finite
    sinceChange: Finite | None = None


class RawPosition(_Model):
    """One `assetPositions[].position`. Older responses lack cumFunding/maxLeverage."""

    coin: str
    szi: Finite
    leverage: Leverage | None = None
    entryPx: Price | None = None
    positionValue: NonNeg
    unrealizedPnl: Finite | None = None
    returnOnEquity: Finite | None = None
    liquidationPx: Finite | None = None  # null: no liquidation price (well collateralized)
    marginUsed: Finite | None = None
    maxLeverage: int | None = Field(default=None, ge=1)
    cumFunding: CumFunding | None = None


class MarginSummary(_Model):
    accountValue: Finite
    totalNtlPos: Finite | None = None
    totalRawUsd: Finite | None = None
    totalMarginUsed: Finite | None = None


class ClearinghouseState(_Model):
    """The envelope; positions are validated one by one afterwards."""

    marginSummary: MarginSummary | None = None
    crossMarginSummary: MarginSummary | None = None
    crossMaintenanceMarginUsed: Finite | None = None
    withdrawable: Finite | None = None
    assetPositions: list[Any]
    time: int | None = None  # absent in older responses


_state_adapter = TypeAdapter(ClearinghouseState)
_position_adapter = TypeAdapter(RawPosition)


@dataclass(slots=True)
class SampledPosition:
    """A validated, non-zero position plus what only this source knows (margin mode)."""

    position: Position
    isolated: bool


@dataclass(slots=True)
class AccountSample:
    """One account at one moment. `vanished`: the exchange answered `null` or an empty
    account (no positions, zero account value)."""

    address: str
    time_s: float
    positions: list[SampledPosition] = field(default_factory=list)
    account_value: float | None = None
    vanished: bool = False
    zero_size: int = 0
    errors: list[ItemError] = field(default_factory=list)


def describe(exc: ValidationError, limit: int = 2) -> str:
    parts = []
    for err in exc.errors()[:limit]:
        loc = ".".join(str(p) for p in err.get("loc", ())) or "value"
        got = err.get("input")
        shown = repr(got) if not isinstance(got, dict | list) else type(got).__name__
        parts.append(f"{loc}: {err.get('msg')} (got {shown[:40]})")
    more = len(exc.errors()) - limit
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def short_address(address: str) -> str:
    return address[:10] + "…" if len(address) > 12 else address


def parse_clearinghouse_state(address: str, payload: Any, time_s: float) -> AccountSample:
    """Validate one account's state; bad positions become ItemErrors, not exceptions.

    `null`, or an empty account with zero value, is a vanished account.
    Zero-size positions are counted and dropped. Two positions in the same coin
    (never seen from the real API) keep the first and report the second.
    """
    sample = AccountSample(address=address, time_s=time_s)
    if payload is None:
        sample.vanished = True
        return sample
    if not isinstance(payload, dict):
        raise PayloadError(f"clearinghouseState: expected an object, got {type(payload).__name__}")
    try:
        state = _state_adapter.validate_python(payload)
    except ValidationError as exc:
        raise PayloadError(f"clearinghouseState: {describe(exc)}") from None
    if state.marginSummary is not None:
        sample.account_value = state.marginSummary.accountValue
    if not state.assetPositions and not sample.account_value:
        # what the exchange answers for an address it holds nothing for (closed, emptied,
        # or never funded): the account has left the market
        sample.vanished = True
        return sample
    who = short_address(address)
    seen: set[str] = set()
    for i, entry in enumerate(state.assetPositions):
        raw = entry.get("position") if isinstance(entry, dict) else None
        label = raw.get("coin") if isinstance(raw, dict) else None
        label = label if isinstance(label, str) else f"#{i}"
        if raw is None:
            sample.errors.append(ItemError(SOURCE, f"{who}/{label}", "validation",
                                           "assetPositions entry has no position object"))
            continue
        try:
            pos = _position_adapter.validate_python(raw)
        except ValidationError as exc:
            sample.errors.append(ItemError(SOURCE, f"{who}/{label}", "validation",
                                           describe(exc)))
            continue
        if pos.szi == 0:
            sample.zero_size += 1
            continue
        if pos.coin in seen:
            sample.errors.append(ItemError(SOURCE, f"{who}/{pos.coin}", "validation",
                                           "second position in the same coin ignored"))
            continue
        seen.add(pos.coin)
        liq = pos.liquidationPx if pos.liquidationPx is not None and pos.liquidationPx > 0 \
            else None
        sample.positions.append(SampledPosition(
            Position(address=address, coin=pos.coin, size=pos.szi,
                     notional_usd=pos.positionValue, entry_price=pos.entryPx,
                     liquidation_price=liq),
            isolated=pos.leverage is not None and pos.leverage.type == "isolated",
        ))
    return sample


class MarketLike(Protocol):
    """What aggregation needs from the market job's state (sources.base.MarketAsset)."""

    mark_price: float
    open_interest: float


@dataclass(slots=True)
class Aggregate:
    """One cycle's output of the sampled source."""

    points: list[Point] = field(default_factory=list)
    assets: dict[str, dict[str, Any]] = field(default_factory=dict)
    globals: dict[str, Any] = field(default_factory=dict)
    unknown_coins: Counter[str] = field(default_factory=Counter)
    errors: list[ItemError] = field(default_factory=list)


def _implied_mark(positions: list[Position]) -> float | None:
    """Notional-weighted mark implied by positionValue / |szi| (when no market data)."""
    size = sum(abs(p.size) for p in positions)
    value = sum(p.notional_usd for p in positions)
    return value / size if size > 0 and value > 0 else None


def liquidation_buckets(
    positions: Iterable[Position], width: float
) -> dict[tuple[str, float], float]:
    """{(side, bucket centre): |szi| x liquidationPx} for positions that can liquidate."""
    out: dict[tuple[str, float], float] = defaultdict(float)
    for p in positions:
        px = p.liquidation_price
        if px is None or not (px > 0 and math.isfinite(px)):
            continue
        side = "long" if p.size > 0 else "short"
        out[(side, bucket_centre(px, width))] += abs(p.size) * px
    return dict(out)


def bucket_tag(centre: float) -> str:
    """A stable tag value for a bucket centre (each level is its own series)."""
    return format(centre, ".12g")


def aggregate_samples(
    samples: Iterable[AccountSample],
    market: Mapping[str, MarketLike],
    now_ms: int,
    *,
    sample_age_s: float | None = None,
    width_share: float = DEFAULT_WIDTH_SHARE,
) -> Aggregate:
    """Per-asset positioning, liquidation levels and a global point from account samples.

    Coins absent from a non-empty `market` (delisted, or not a perp we know) are
    counted and reported, not aggregated: without a mark and open interest they have
    no coverage and no bucket width. With an empty `market` (market data failed)
    every valid coin is aggregated, widths come from the implied mark and coverage
    is left out.
    """
    out = Aggregate()
    by_coin: dict[str, list[Position]] = defaultdict(list)
    isolated: Counter[str] = Counter()
    accounts = vanished = with_positions = zero_size = 0
    for s in samples:
        if s.vanished:
            vanished += 1
            continue
        accounts += 1
        zero_size += s.zero_size
        if s.positions:
            with_positions += 1
        for sp in s.positions:
            by_coin[sp.position.coin].append(sp.position)
            if sp.isolated:
                isolated[sp.position.coin] += 1
    bad_names: list[str] = []
    for coin in list(by_coin):
        try:
            check_asset_name(coin)
        except InvalidAssetName as exc:
            bad_names.append(coin)
            out.errors.append(ItemError(SOURCE, coin[:40] or "?", "validation", str(exc)))
            continue
        if market and coin not in market:
            out.unknown_coins[coin] = len(by_coin[coin])
    for coin in bad_names:
        del by_coin[coin]
    for coin, n in sorted(out.unknown_coins.items()):
        del by_coin[coin]
        out.errors.append(ItemError(
            SOURCE, coin, "validation",
            f"{n} sampled position(s) in a coin absent from the current universe; left out"))

    long_total = short_total = 0.0
    long_positions = short_positions = 0
    covered_notional = covered_oi = 0.0
    for coin in sorted(by_coin):
        positions = by_coin[coin]
        pos = aggregate(positions)
        fields: dict[str, Any] = pos.fields()
        fields["isolated_positions"] = isolated[coin]
        sampled = pos.long_notional_usd + pos.short_notional_usd
        m = market.get(coin)
        mark = m.mark_price if m is not None and m.mark_price > 0 else _implied_mark(positions)
        if m is not None and m.open_interest > 0 and m.mark_price > 0:
            oi_usd = m.open_interest * m.mark_price
            fields["coverage"] = sampled / oi_usd
            covered_notional += sampled
            covered_oi += oi_usd
        long_total += pos.long_notional_usd
        short_total += pos.short_notional_usd
        long_positions += pos.long_traders
        short_positions += pos.short_traders
        out.points.append(Point(ASSET_METRICS, {"asset": coin, "source": SOURCE}, fields, now_ms))
        out.assets[coin] = dict(fields)
        if mark is not None and mark > 0 and math.isfinite(mark):
            width = bucket_width(mark, width_share)
            for (side, centre), notional in sorted(liquidation_buckets(positions, width).items()):
                out.points.append(Point(
                    LIQUIDATION_LEVELS,
                    {"asset": coin, "side": side, "bucket": bucket_tag(centre), "source": SOURCE},
                    {"price": float(centre), "notional_usd": float(notional)},
                    now_ms,
                ))

    glob: dict[str, Any] = {
        "total_notional_usd": long_total + short_total,
        "long_notional_usd": long_total,
        "short_notional_usd": short_total,
        "long_positions": long_positions,
        "short_positions": short_positions,
        "assets": len(by_coin),
        "sampled_accounts": accounts,
        "accounts_with_positions": with_positions,
        "vanished_accounts": vanished,
        "zero_size_positions": zero_size,
        "unknown_coin_positions": sum(out.unknown_coins.values()),
    }
    if short_total > 0:
        glob["global_ls_ratio"] = long_total / short_total
    if covered_oi > 0:
        glob["coverage"] = covered_notional / covered_oi
    if sample_age_s is not None and math.isfinite(sample_age_s):
        glob["sample_age_s"] = max(0.0, float(sample_age_s))
    out.globals = glob
    out.points.append(Point(GLOBAL_METRICS, {"source": SOURCE}, dict(glob), now_ms))
    return out
