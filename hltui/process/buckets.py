"""Liquidation buckets whose width scales with price.

The original pipeline used a fixed $500 bucket for every asset, which is one
bucket for all of kPEPE and useless detail for BTC. Here the width is a fixed
share of the reference (mark) price, snapped to a 1-2-5 ladder so bucket edges
are round numbers a trader can read.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable

DEFAULT_WIDTH_SHARE = 0.005  # 0.5% of the mark price per bucket


def bucket_width(reference_price: float, share: float = DEFAULT_WIDTH_SHARE) -> float:
    """A round width near `share * price` (1, 2 or 5 times a power of ten)."""
    if not (reference_price > 0 and math.isfinite(reference_price)):
        raise ValueError(f"reference price must be positive and finite, got {reference_price}")
    raw = reference_price * share
    exp = math.floor(math.log10(raw))
    base = 10.0**exp
    for step in (1, 2, 5, 10):
        if raw <= step * base * 1.5 or step == 10:
            return round(step * base, max(0, -exp) + 1)
    return 10 * base  # pragma: no cover


def bucket_centre(price: float, width: float) -> float:
    """Centre of the bucket holding `price` (buckets are [k*w, (k+1)*w))."""
    k = math.floor(price / width)
    centre = (k + 0.5) * width
    # round away float noise so equal buckets have equal keys
    digits = max(0, -math.floor(math.log10(width)) + 2)
    return round(centre, digits)


def bucketize(
    levels: Iterable[tuple[str, float, float]], width: float
) -> dict[tuple[str, float], float]:
    """Sum (side, price, notional_usd) into {(side, bucket centre): notional_usd}."""
    out: dict[tuple[str, float], float] = defaultdict(float)
    for side, price, notional in levels:
        if not (price > 0 and math.isfinite(price) and math.isfinite(notional)):
            continue
        out[(side, bucket_centre(price, width))] += abs(notional)
    return dict(out)


def cumulative(buckets: dict[tuple[str, float], float], mark: float) -> dict[str, list]:
    """Cumulative liquidation notional walking away from the mark, per side.

    Longs liquidate below the mark (walk down), shorts above (walk up).
    Returns {"long": [(price, cum)...], "short": [...]}.
    """
    out: dict[str, list[tuple[float, float]]] = {"long": [], "short": []}
    for side, reverse in (("long", True), ("short", False)):
        total = 0.0
        for (s, price), notional in sorted(buckets.items(), key=lambda kv: kv[0][1],
                                           reverse=reverse):
            if s != side:
                continue
            total += notional
            out[side].append((price, total))
    _ = mark
    return out
