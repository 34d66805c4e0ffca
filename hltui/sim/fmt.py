"""Number formatting as HyperLiquid renders it: decimal strings, never floats.

Prices carry at most 5 significant figures and at most `6 - szDecimals` decimals
(perps); integers always end in ".0" ("97020.0"); sizes use `szDecimals`.
"""

from __future__ import annotations

import math

MAX_PERP_DECIMALS = 6


def _trim(s: str) -> str:
    """'97020.000' -> '97020.0', '0.0012500' -> '0.00125'."""
    if "." in s:
        s = s.rstrip("0")
        if s.endswith("."):
            s += "0"
    else:
        s += ".0"
    return "0.0" if s in ("-0.0", "") else s


def px_decimals(x: float, sz_decimals: int) -> int:
    """Decimals a price near `x` is shown with (5 significant figures, capped)."""
    if x <= 0 or not math.isfinite(x):
        return 0
    return max(0, min(MAX_PERP_DECIMALS - sz_decimals, 4 - math.floor(math.log10(x))))


def fixed(x: float, decimals: int) -> str:
    """`x` with `decimals` decimals, trailing zeros trimmed (fast path for a known scale)."""
    s = f"{x:.{decimals}f}"
    if "." in s:
        s = s.rstrip("0")
        if s[-1] == ".":
            s += "0"
    else:
        s += ".0"
    return "0.0" if s == "-0.0" else s


def px(x: float, sz_decimals: int) -> str:
    """A price: 5 significant figures, at most 6 - szDecimals decimals."""
    if x <= 0 or not math.isfinite(x):
        return "0.0"
    return fixed(x, px_decimals(x, sz_decimals))


def spot_px(x: float) -> str:
    """Spot prices allow 8 - szDecimals decimals; 5 significant figures here."""
    if x <= 0 or not math.isfinite(x):
        return "0.0"
    dec = max(0, min(8, 4 - math.floor(math.log10(x))))
    return _trim(f"{x:.{dec}f}")


def size(x: float, sz_decimals: int) -> str:
    """A size in coins (may be signed)."""
    return _trim(f"{x:.{sz_decimals}f}")


def dec(x: float, places: int) -> str:
    """A generic decimal string (USD amounts, rates) with at most `places` decimals."""
    return _trim(f"{x:.{places}f}")
