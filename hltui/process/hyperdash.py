"""HyperDash payloads (legacy REST and current GraphQL): validation and derivations.

Both protocols are reduced to one `AssetSnapshot` (positioning totals, listed
positions, liquidation levels in USD), from which the same records are derived:
`asset_metrics` positioning and liquidation fields and `liquidation_levels`
buckets whose width scales with price. Models are tolerant where SOURCES.md is
unsure (extra keys ignored, numeric strings accepted) and strict where a wrong
value would be stored silently (missing totals, NaN, negative notionals): those
raise `PayloadError` naming the field. Pure functions, no I/O.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    RootModel,
    ValidationError,
)

from hltui.process.buckets import bucket_width, bucketize, cumulative
from hltui.process.positioning import Position, Positioning, aggregate
from hltui.process.records import ASSET_METRICS, LIQUIDATION_LEVELS, Point, finite_fields

SOURCE = "hyperdash"
MAX_LEVELS_PER_SIDE = 400  # buckets stored per side (nearest the mark first); totals keep all


class PayloadError(ValueError):
    """A payload did not validate; the message names the payload and the field."""


def _finite(v: Any) -> Any:
    """Accept numbers and numeric strings; refuse NaN/inf and booleans."""
    if isinstance(v, bool):
        raise ValueError("a boolean is not a number")
    if isinstance(v, str):
        v = v.strip().replace(",", "")
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise ValueError(f"not a number: {str(v)[:40]!r}") from None
    if not math.isfinite(f):
        raise ValueError(f"not a finite number: {v!r}")
    return f


Num = Annotated[float, BeforeValidator(_finite)]
NonNeg = Annotated[float, BeforeValidator(_finite), Field(ge=0)]
Count = Annotated[int, Field(ge=0)]


class _Tolerant(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


# ---- GraphQL (api.hyperdash.com) ------------------------------------------------------------

class GqlPosition(_Tolerant):
    address: str
    size: Num  # signed coins: >0 long
    notional_size: NonNeg = Field(alias="notionalSize")
    entry_price: NonNeg | None = Field(None, alias="entryPrice")
    liquidation_price: NonNeg | None = Field(None, alias="liquidationPrice")
    unrealized_pnl: Num | None = Field(None, alias="unrealizedPnl")
    funding_pnl: Num | None = Field(None, alias="fundingPnl")
    account_value: Num | None = Field(None, alias="accountValue")


class GqlTickerPositions(_Tolerant):
    coin: str
    total_long_notional: NonNeg = Field(alias="totalLongNotional")
    total_short_notional: NonNeg = Field(alias="totalShortNotional")
    total_notional: NonNeg | None = Field(None, alias="totalNotional")
    long_count: Count = Field(alias="longCount")
    short_count: Count = Field(alias="shortCount")
    total_count: Count | None = Field(None, alias="totalCount")
    has_more: bool | None = Field(None, alias="hasMore")
    timestamp: str | None = None
    positions: list[GqlPosition] = Field(default_factory=list)


class GqlLiquidation(_Tolerant):
    amount: Num  # coins: >0 long liquidated at price, <0 short
    price: NonNeg


class GqlLiquidationLevel(_Tolerant):
    coin: str
    min: Num | None = None
    max: Num | None = None
    liquidations: list[GqlLiquidation]


# ---- legacy REST (hyperdash.info) ------------------------------------------------------------

class SummaryRow(_Tolerant):
    asset: str = Field(alias="Asset")
    majority_side: str = Field(alias="Majority Side")
    minority_side: str | None = Field(None, alias="Minority Side")
    majority_notional: NonNeg = Field(alias="Majority Side Notional")
    minority_notional: NonNeg = Field(alias="Minority Side Notional")
    majority_entry: NonNeg | None = Field(None, alias="Majority Side Entry")
    minority_entry: NonNeg | None = Field(None, alias="Minority Side Entry")
    number_long: Count = Field(alias="Number Long")
    number_short: Count = Field(alias="Number Short")
    current_price: NonNeg | None = Field(None, alias="Current Price")
    total_notional: NonNeg | None = Field(None, alias="Total Notional")
    # unsure units / formats (SOURCES.md): accepted loosely, not stored
    oi_coverage: Num | None = Field(None, alias="OI Coverage")
    ls_ratio: Num | None = Field(None, alias="L/S Ratio")
    open_interest: Num | None = Field(None, alias="Open Interest")
    majority_pl: str | float | None = Field(None, alias="Majority Side P/L")
    minority_pl: str | float | None = Field(None, alias="Minority Side P/L")


class LiquidationDataV2(RootModel[dict[str, dict[str, Num]]]):
    """{price: {wallet: signed coins}}."""


# ---- errors naming the field ------------------------------------------------------------------

def _loc(loc: Iterable[Any]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(root)"


def _explain(what: str, exc: ValidationError, prefix: tuple = ()) -> PayloadError:
    errs = exc.errors()
    first = errs[0]
    more = f" (+{len(errs) - 1} more)" if len(errs) > 1 else ""
    got = first.get("input")
    shown = "" if isinstance(got, dict | list) else f" (got {str(got)[:40]!r})"
    return PayloadError(f"{what}: {_loc((*prefix, *first['loc']))}: {first['msg']}{shown}{more}")


def _validate(model: Any, data: Any, what: str, prefix: tuple = ()) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _explain(what, exc, prefix) from None


def _graphql_field(body: Any, name: str, what: str) -> Any:
    """`body.data.analytics.<name>`, or a PayloadError naming what is missing."""
    if not isinstance(body, dict):
        raise PayloadError(f"{what}: expected a JSON object, got {type(body).__name__}")
    errors = body.get("errors")
    data = body.get("data")
    if errors and not data:
        msg = errors[0].get("message") if isinstance(errors[0], dict) else errors[0]
        raise PayloadError(f"{what}: GraphQL error: {str(msg)[:200]}")
    path = ("data", "analytics", name)
    node: Any = body
    for i, key in enumerate(path):
        if not isinstance(node, dict) or key not in node:
            raise PayloadError(f"{what}: {'.'.join(path[: i + 1])}: field missing")
        node = node[key]
    if node is None:
        raise PayloadError(f"{what}: {'.'.join(path)}: is null")
    return node


# ---- the neutral snapshot ---------------------------------------------------------------------

@dataclass(slots=True)
class AssetSnapshot:
    """One asset as the site reported it, in USD, whatever the protocol."""

    asset: str
    positioning: Positioning
    levels: list[tuple[str, float, float]] = field(default_factory=list)  # side, price, usd
    site_price: float | None = None
    positions_listed: int | None = None


def _check_coin(got: str, asset: str, what: str) -> None:
    if got != asset:
        raise PayloadError(f"{what}: coin is {got!r}, asked for {asset!r}")


def _site_price_from_positions(positions: list[GqlPosition]) -> float | None:
    """The site values positions at its current price: notional / |size|."""
    prices = [p.notional_size / abs(p.size) for p in positions if p.size and p.notional_size > 0]
    return statistics.median(prices) if prices else None


def _levels_from_coins(pairs: Iterable[tuple[float, float]]) -> list[tuple[str, float, float]]:
    """(price, signed coins) -> (side, price, usd); >0 coins is a long liquidated there."""
    out = []
    for price, coins in pairs:
        if coins == 0 or price <= 0:
            continue
        out.append(("long" if coins > 0 else "short", price, abs(coins) * price))
    return out


def snapshot_from_graphql(asset: str, positions_body: Any, levels_body: Any) -> AssetSnapshot:
    """Validate `perpsTickerPositions` and `historicalLiquidationLevel` answers."""
    what_p, what_l = "perpsTickerPositions", "historicalLiquidationLevel"
    tp: GqlTickerPositions = _validate(
        GqlTickerPositions, _graphql_field(positions_body, what_p, what_p), what_p)
    _check_coin(tp.coin, asset, what_p)
    ll: GqlLiquidationLevel = _validate(
        GqlLiquidationLevel, _graphql_field(levels_body, what_l, what_l), what_l)
    _check_coin(ll.coin, asset, what_l)

    listed = aggregate(
        Position(p.address, asset, p.size, p.notional_size, p.entry_price, p.liquidation_price)
        for p in tp.positions
    )
    total = tp.total_long_notional + tp.total_short_notional
    top10 = None
    if tp.positions and total > 0:
        top = sum(sorted((p.notional_size for p in tp.positions), reverse=True)[:10])
        top10 = top / total
        if top10 > 1 + 1e-9:
            raise PayloadError(f"{what_p}: positions: the 10 largest listed ({top:.2f}) exceed "
                               f"totalLongNotional + totalShortNotional ({total:.2f})")
    positioning = Positioning(
        long_notional_usd=tp.total_long_notional,
        short_notional_usd=tp.total_short_notional,
        long_traders=tp.long_count,
        short_traders=tp.short_count,
        avg_entry_long=listed.avg_entry_long,
        avg_entry_short=listed.avg_entry_short,
        top10_share=top10,
    )
    site_price = _site_price_from_positions(tp.positions)
    if site_price is None and ll.min is not None and ll.max is not None and ll.max > 0:
        site_price = (ll.min + ll.max) / 2
    return AssetSnapshot(
        asset=asset,
        positioning=positioning,
        levels=_levels_from_coins((q.price, q.amount) for q in ll.liquidations),
        site_price=site_price,
        positions_listed=len(tp.positions),
    )


def _summary_row(summary_body: Any, asset: str) -> SummaryRow:
    """Find and validate only this asset's row: another asset's bad row is not ours."""
    what = "summary"
    if not isinstance(summary_body, dict):
        raise PayloadError(f"{what}: expected a JSON object, got {type(summary_body).__name__}")
    rows = summary_body.get("data")
    if not isinstance(rows, list):
        raise PayloadError(f"{what}: data: field missing or not a list")
    for i, row in enumerate(rows):
        if isinstance(row, dict) and row.get("Asset") == asset:
            return _validate(SummaryRow, row, what, prefix=("data", i))
    raise PayloadError(f"{what}: data: no row for asset {asset!r}")


def _side(value: str | None, what: str) -> str:
    v = (value or "").strip().upper()
    if v not in ("LONG", "SHORT"):
        raise PayloadError(f"{what}: expected LONG or SHORT, got {value!r}")
    return v


def snapshot_from_rest(asset: str, summary_body: Any, liquidation_body: Any) -> AssetSnapshot:
    """Validate the legacy `summary` row and `liquidation-data-v2` answer for one asset."""
    row = _summary_row(summary_body, asset)
    major = _side(row.majority_side, "summary: Majority Side")
    minor = row.minority_side
    if minor is not None and _side(minor, "summary: Minority Side") == major:
        raise PayloadError("summary: Minority Side equals Majority Side")
    if major == "LONG":
        long_n, short_n = row.majority_notional, row.minority_notional
        long_e, short_e = row.majority_entry, row.minority_entry
    else:
        long_n, short_n = row.minority_notional, row.majority_notional
        long_e, short_e = row.minority_entry, row.majority_entry
    positioning = Positioning(
        long_notional_usd=long_n,
        short_notional_usd=short_n,
        long_traders=row.number_long,
        short_traders=row.number_short,
        avg_entry_long=long_e or None,
        avg_entry_short=short_e or None,
    )
    liq = _validate(LiquidationDataV2, liquidation_body, "liquidation-data-v2").root
    pairs = []
    for key, wallets in liq.items():
        try:
            price = _finite(key)
        except (TypeError, ValueError):
            raise PayloadError(f"liquidation-data-v2: key {key[:40]!r} is not a price") from None
        pairs.extend((price, coins) for coins in wallets.values())
    return AssetSnapshot(
        asset=asset,
        positioning=positioning,
        levels=_levels_from_coins(pairs),
        site_price=row.current_price or None,
    )


# ---- derivations ------------------------------------------------------------------------------

def position_deltas(prev: Positioning | None, cur: Positioning) -> dict[str, float | int]:
    """Changes since the previous snapshot; empty on the first one (absent, not zero)."""
    if prev is None:
        return {}
    out: dict[str, float | int] = {
        "long_notional_delta_usd": float(cur.long_notional_usd - prev.long_notional_usd),
        "short_notional_delta_usd": float(cur.short_notional_usd - prev.short_notional_usd),
        "long_traders_delta": int(cur.long_traders - prev.long_traders),
        "short_traders_delta": int(cur.short_traders - prev.short_traders),
    }
    if cur.ls_ratio is not None and prev.ls_ratio is not None:
        out["ls_ratio_delta"] = float(cur.ls_ratio - prev.ls_ratio)
    return out


@dataclass(slots=True)
class LiquidationMap:
    width: float
    buckets: dict[tuple[str, float], float]  # (side, centre) -> usd
    long_total_usd: float
    short_total_usd: float


def liquidation_map(levels: Iterable[tuple[str, float, float]], reference_price: float
                    ) -> LiquidationMap:
    """Bucket levels by a width scaled to the reference (mark) price."""
    levels = list(levels)
    width = bucket_width(reference_price)
    buckets = bucketize(levels, width)
    return LiquidationMap(
        width=width,
        buckets=buckets,
        long_total_usd=sum(v for (s, _), v in buckets.items() if s == "long"),
        short_total_usd=sum(v for (s, _), v in buckets.items() if s == "short"),
    )


def liquidation_points(asset: str, lmap: LiquidationMap, mark: float, now_ms: int,
                       source: str = SOURCE) -> list[Point]:
    """`liquidation_levels` points: one per bucket, nearest the mark first.

    Buckets of one (asset, side) share a series, so the k-th bucket away from the
    mark is written at `now_ms + k` (k < MAX_LEVELS_PER_SIDE): one snapshot
    occupies [now_ms, now_ms + MAX_LEVELS_PER_SIDE) and nothing overwrites.
    """
    points = []
    for side, walk in cumulative(lmap.buckets, mark).items():
        for k, (price, cum) in enumerate(walk[:MAX_LEVELS_PER_SIDE]):
            points.append(Point(
                LIQUIDATION_LEVELS,
                {"asset": asset, "side": side, "source": source},
                finite_fields({
                    "price": float(price),
                    "notional_usd": float(lmap.buckets[(side, price)]),
                    "cumulative_usd": float(cum),
                    "bucket_width": float(lmap.width),
                }),
                now_ms + k,
            ))
    return points


def liquidation_metrics(lmap: LiquidationMap, mark: float) -> dict[str, float | int]:
    """Per-asset liquidation totals for asset_metrics, plus what sits within 5% of the mark."""
    near_long = sum(v for (s, p), v in lmap.buckets.items() if s == "long" and p >= mark * 0.95)
    near_short = sum(v for (s, p), v in lmap.buckets.items() if s == "short" and p <= mark * 1.05)
    return {
        "liq_long_notional_usd": float(lmap.long_total_usd),
        "liq_short_notional_usd": float(lmap.short_total_usd),
        "liq_long_5pct_usd": float(near_long),
        "liq_short_5pct_usd": float(near_short),
        "liq_bucket_width": float(lmap.width),
        "liq_levels": int(sum(1 for _ in lmap.buckets)),
    }


@dataclass(slots=True)
class Derived:
    points: list[Point]
    fields: dict[str, float | int]  # the asset_metrics fields (for the dashboard model)


def derive(snap: AssetSnapshot, mark: float | None, prev: Positioning | None, now_ms: int,
           source: str = SOURCE) -> Derived:
    """All records for one asset: asset_metrics (positioning, deltas, liquidation totals)
    and liquidation_levels buckets. `mark` is the official mark price when known, else the
    site's own price is used for the bucket width."""
    ref = mark if mark is not None and mark > 0 and math.isfinite(mark) else snap.site_price
    if ref is None or not (ref > 0 and math.isfinite(ref)):
        raise PayloadError(f"{snap.asset}: no price to scale liquidation buckets "
                           "(not in the market data and the site gave none)")
    lmap = liquidation_map(snap.levels, ref)
    fields: dict[str, Any] = dict(snap.positioning.fields())
    fields.update(position_deltas(prev, snap.positioning))
    fields.update(liquidation_metrics(lmap, ref))
    if snap.site_price is not None:
        fields["site_price"] = float(snap.site_price)
    if snap.positions_listed is not None:
        fields["positions_listed"] = int(snap.positions_listed)
    fields = finite_fields(fields)
    metrics = Point(ASSET_METRICS, {"asset": snap.asset, "source": source}, fields, now_ms)
    return Derived([metrics, *liquidation_points(snap.asset, lmap, ref, now_ms, source)], fields)


def parse(protocol: str, asset: str, bodies: Mapping[str, Any]) -> AssetSnapshot:
    """Dispatch on protocol; `bodies` holds the decoded JSON per response kind."""
    if protocol == "graphql":
        return snapshot_from_graphql(asset, bodies["positions"], bodies["liquidations"])
    if protocol == "rest":
        return snapshot_from_rest(asset, bodies["summary"], bodies["liquidations"])
    raise ValueError(f"unknown HyperDash protocol {protocol!r}")
