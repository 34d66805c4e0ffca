"""Field types and aggregation rules shared by both stores.

One table decides, per field, (a) whether it is stored as an integer or a float
(InfluxDB refuses a field written both ways, so the type is fixed by name, never
by whatever Python number a producer happened to pass), and (b) how an hour of
raw points becomes one compressed point, and how a chart bucket is read.

| field | aggregate | why |
|---|---|---|
| mark_price, oracle_price, avg_entry_long, avg_entry_short | last | prices: window close |
| open_interest, open_interest_usd, volume_24h_usd | last | counters / OI: state at the end |
| funding_rate, premium | mean | rates |
| ls_ratio, global_ls_ratio, top10_share, success_rate | mean | ratios |
| long_notional_usd, short_notional_usd, total_notional_usd | mean | levels |
| long_traders, short_traders, long_positions, short_positions | mean | levels (float) |
| assets | last | a count of the universe at the end |
| price, notional_usd (liquidation_levels) | last | the latest snapshot of each level |
| cycle_ms | mean | timing |
| ok, failed, points_written, spooled, replayed, dropped, dead_lettered | sum | per-cycle counts |
| spool_bytes, breaker_failures (collector_stats) | last | gauges |
| mark_price_high / mark_price_low (compressed only) | max / min of mark_price | range |

Fields not listed: floats are averaged, integers / booleans / strings keep the last value.

`liquidation_levels` is not compressed: a liquidation map is a snapshot whose levels
are separate points (one per bucket, see hltui/process/hyperdash.py), so an hourly
mean or last of a series would mix buckets into nonsense. Its raw tier keeps
HLTUI_RETENTION_PERIOD of snapshots.
"""

from __future__ import annotations

from typing import Literal

Agg = Literal["mean", "last", "sum", "max", "min"]
FieldType = Literal["float", "integer", "boolean", "string"]

# measurements the compressor leaves alone (see the module docstring)
NOT_COMPRESSED: frozenset[str] = frozenset({"liquidation_levels"})

# stored as integers in the raw tier (all other numbers are floats)
INT_FIELDS: frozenset[str] = frozenset({
    "long_traders", "short_traders", "long_positions", "short_positions", "assets",
    "ok", "failed", "points_written", "spooled",
    # collector_stats extras (engine/stats.py)
    "replayed", "dropped", "dead_lettered", "spool_bytes", "breaker_failures",
})

AGG: dict[str, Agg] = {
    # prices: close of the window
    "mark_price": "last", "oracle_price": "last", "avg_entry_long": "last",
    "avg_entry_short": "last",
    # counters, open interest: state at the end of the window
    "open_interest": "last", "open_interest_usd": "last", "volume_24h_usd": "last",
    "assets": "last",
    # rates and ratios
    "funding_rate": "mean", "premium": "mean", "ls_ratio": "mean", "global_ls_ratio": "mean",
    "top10_share": "mean", "success_rate": "mean",
    # levels
    "long_notional_usd": "mean", "short_notional_usd": "mean", "total_notional_usd": "mean",
    "long_traders": "mean", "short_traders": "mean", "long_positions": "mean",
    "short_positions": "mean", "cycle_ms": "mean",
    # liquidation levels: the latest snapshot of each level
    "price": "last", "notional_usd": "last",
    # per-cycle counts
    "ok": "sum", "failed": "sum", "points_written": "sum", "spooled": "sum",
    "replayed": "sum", "dropped": "sum", "dead_lettered": "sum",
    # gauges
    "spool_bytes": "last", "breaker_failures": "last",
}

# extra compressed-tier fields: name -> (aggregate, source field)
EXTRA_COMPRESSED: dict[str, tuple[Agg, str]] = {
    "mark_price_high": ("max", "mark_price"),
    "mark_price_low": ("min", "mark_price"),
}


def agg_for(field: str, ftype: FieldType = "float") -> Agg:
    """The aggregate for a field: the table above, else by type."""
    if field in AGG:
        return AGG[field]
    return "mean" if ftype == "float" else "last"


def stored_type(field: str, value: object) -> FieldType:
    """The raw-tier type of a field value after coercion (see `coerce`)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, str):
        return "string"
    return "integer" if field in INT_FIELDS else "float"


def aggregated_type(agg: Agg, source_type: FieldType) -> FieldType:
    """Type of an aggregate: a mean is a float; last/max/min/sum keep the type."""
    if agg == "mean":
        return "float"
    return source_type


def compression_plan(fields: dict[str, FieldType]) -> list[tuple[str, Agg, str, FieldType]]:
    """[(output field, aggregate, source field, output type)] for one measurement."""
    plan: list[tuple[str, Agg, str, FieldType]] = []
    for name, ftype in sorted(fields.items()):
        agg = agg_for(name, ftype)
        if agg in ("mean", "sum") and ftype not in ("float", "integer"):
            agg = "last"
        plan.append((name, agg, name, aggregated_type(agg, ftype)))
    for out, (agg, src) in EXTRA_COMPRESSED.items():
        if src in fields and fields[src] in ("float", "integer") and out not in fields:
            plan.append((out, agg, src, aggregated_type(agg, fields[src])))
    return plan


def read_agg(field: str, ftype: FieldType = "float") -> Agg:
    """Aggregate used when a chart bucket spans several points (raw or compressed)."""
    if field in EXTRA_COMPRESSED:
        return EXTRA_COMPRESSED[field][0]
    agg = agg_for(field, ftype)
    if agg == "sum":
        return "sum"
    if ftype not in ("float", "integer"):
        return "last"
    return agg
