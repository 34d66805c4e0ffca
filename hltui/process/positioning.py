"""Per-asset positioning analytics shared by the hyperdash and sampled sources."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# which source's positioning a table shows when several have it (third-party first)
POSITIONING_PREFERENCE = ("hyperdash", "sampled")


def preferred_source(by_source: Mapping[str, Any]) -> str | None:
    """The source to show positioning from: hyperdash, then sampled, then any other,
    the first whose fields hold a finite `long_notional_usd`."""
    for name in (*POSITIONING_PREFERENCE, *sorted(by_source)):
        fields = by_source.get(name)
        if not isinstance(fields, Mapping):
            continue
        v = fields.get("long_notional_usd")
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
            return name
    return None


@dataclass(slots=True)
class Position:
    """One account's position in one coin, normalized from any source."""

    address: str
    coin: str
    size: float  # signed coins: >0 long, <0 short
    notional_usd: float  # non-negative
    entry_price: float | None = None
    liquidation_price: float | None = None


@dataclass(slots=True)
class Positioning:
    long_notional_usd: float = 0.0
    short_notional_usd: float = 0.0
    long_traders: int = 0
    short_traders: int = 0
    avg_entry_long: float | None = None
    avg_entry_short: float | None = None
    top10_share: float | None = None

    @property
    def ls_ratio(self) -> float | None:
        """Long / short notional; None when there are no shorts (not infinity)."""
        if self.short_notional_usd <= 0:
            return None
        return self.long_notional_usd / self.short_notional_usd

    def fields(self) -> dict[str, float | int]:
        """asset_metrics fields (contract names); absent values are left out."""
        out: dict[str, float | int] = {
            "long_notional_usd": float(self.long_notional_usd),
            "short_notional_usd": float(self.short_notional_usd),
            "long_traders": int(self.long_traders),
            "short_traders": int(self.short_traders),
        }
        for k, v in (("ls_ratio", self.ls_ratio), ("avg_entry_long", self.avg_entry_long),
                     ("avg_entry_short", self.avg_entry_short),
                     ("top10_share", self.top10_share)):
            if v is not None:
                out[k] = float(v)
        return out


def aggregate(positions: Iterable[Position]) -> Positioning:
    """Sum one coin's positions: notional per side, traders per side, size-weighted
    average entry per side, and the share of total notional held by the 10 largest."""
    p = Positioning()
    entry_w = {"long": [0.0, 0.0], "short": [0.0, 0.0]}  # sum(|size|*entry), sum(|size|)
    notionals: list[float] = []
    for pos in positions:
        if pos.size == 0 or not math.isfinite(pos.size):
            continue
        n = abs(pos.notional_usd)
        side = "long" if pos.size > 0 else "short"
        if side == "long":
            p.long_notional_usd += n
            p.long_traders += 1
        else:
            p.short_notional_usd += n
            p.short_traders += 1
        notionals.append(n)
        if pos.entry_price is not None and pos.entry_price > 0:
            entry_w[side][0] += abs(pos.size) * pos.entry_price
            entry_w[side][1] += abs(pos.size)
    if entry_w["long"][1] > 0:
        p.avg_entry_long = entry_w["long"][0] / entry_w["long"][1]
    if entry_w["short"][1] > 0:
        p.avg_entry_short = entry_w["short"][0] / entry_w["short"][1]
    total = sum(notionals)
    if total > 0:
        p.top10_share = sum(sorted(notionals, reverse=True)[:10]) / total
    return p
