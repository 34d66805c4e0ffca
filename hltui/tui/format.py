"""Number formatting for the dashboard: compact, sign-aware, never raises.

Values arrive from the network through the engine; anything that is not a finite
number renders as a dim dash instead of breaking a row.
"""

from __future__ import annotations

import math
from typing import Any

HOURS_PER_YEAR = 24 * 365
DASH = "–"


def num(value: Any) -> float | None:
    """A finite float, or None for missing / non-numeric / NaN / inf."""
    if value is None or isinstance(value, bool):
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def price(value: Any) -> str:
    """Mark price with about 5 significant digits (BTC 97020.0, kPEPE 0.0015650)."""
    v = num(value)
    if v is None:
        return DASH
    a = abs(v)
    if a >= 10_000:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:,.2f}"
    if a >= 1:
        return f"{v:.4f}"
    if a == 0:
        return "0"
    digits = min(10, 4 - math.floor(math.log10(a)))
    return f"{v:.{digits}f}"


def pct(value: Any, digits: int = 2, *, signed: bool = True) -> str:
    """A fraction as a percentage (0.0123 -> +1.23%)."""
    v = num(value)
    if v is None:
        return DASH
    return f"{v * 100:+.{digits}f}%" if signed else f"{v * 100:.{digits}f}%"


def pct_compact(value: Any) -> str:
    """A signed percentage in at most 7 cells: +1.40%, -13.6%, +123%."""
    v = num(value)
    if v is None:
        return DASH
    a = abs(v * 100)
    return pct(v, 2 if a < 9.995 else 1 if a < 99.95 else 0)


def funding_hourly(value: Any) -> str:
    """Hourly funding fraction as a percentage with 4 decimals (0.0000125 -> +0.0013%)."""
    return pct(value, 4)


def funding_annual(value: Any) -> str:
    """Hourly funding fraction annualized (x 24 x 365), as a percentage."""
    v = num(value)
    if v is None:
        return DASH
    a = abs(v * HOURS_PER_YEAR * 100)
    return pct(v * HOURS_PER_YEAR, 1 if a < 99.95 else 0)


def usd(value: Any) -> str:
    """Compact dollars: $1.45B, $312.4M, $12.0K, $950."""
    v = num(value)
    if v is None:
        return DASH
    a = abs(v)
    sign = "-" if v < 0 else ""
    for size, unit in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if a >= size:
            return f"{sign}${a / size:.1f}{unit}"
    return f"{sign}${a:.0f}"


def count(value: Any) -> str:
    v = num(value)
    if v is None:
        return DASH
    return f"{round(v):,}"


def ratio(value: Any) -> str:
    """2 decimals near 1, fewer for lopsided ratios so the column keeps its width."""
    v = num(value)
    if v is None:
        return DASH
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def millis(value: Any) -> str:
    """Durations: 850 ms, 1.2 s, 2m05s."""
    v = num(value)
    if v is None:
        return DASH
    if v < 1000:
        return f"{v:.0f} ms"
    s = v / 1000
    if s < 60:
        return f"{s:.1f} s"
    return f"{int(s // 60)}m{int(s % 60):02d}s"


def nbytes(value: Any) -> str:
    v = num(value)
    if v is None:
        return DASH
    for size, unit in ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
        if v >= size:
            return f"{v / size:.1f} {unit}"
    return f"{v:.0f} B"


def sign_style(value: Any) -> str:
    """Rich style for a signed number: green up, red down, dim for zero/missing."""
    v = num(value)
    if v is None or v == 0:
        return "dim"
    return "green" if v > 0 else "red"
