"""Funding history and candles: deterministic functions of (seed, coin, time).

History does not depend on how often it is asked for, so two requests for the same
window return the same items; limits follow the real API (500 funding items,
5000 candles per request).
"""

from __future__ import annotations

import math
import random
from typing import Any

from hltui.sim import fmt
from hltui.sim.market import Market

HOUR_MS = 3_600_000
FUNDING_LIMIT = 500
CANDLE_LIMIT = 5000
INTERVALS_MS: dict[str, int] = {
    "1m": 60_000, "3m": 180_000, "5m": 300_000, "15m": 900_000, "30m": 1_800_000,
    "1h": HOUR_MS, "2h": 2 * HOUR_MS, "4h": 4 * HOUR_MS, "8h": 8 * HOUR_MS,
    "12h": 12 * HOUR_MS, "1d": 24 * HOUR_MS, "3d": 72 * HOUR_MS, "1w": 168 * HOUR_MS,
    "1M": 720 * HOUR_MS,
}


def funding_history(market: Market, coin: str, start_ms: int,
                    end_ms: int | None = None) -> list[dict[str, Any]]:
    """Hourly funding records in [start, end], oldest first, at most 500."""
    a = market.by_name.get(coin)
    if a is None or a.delisted:
        return []
    end = market.now_ms() if end_ms is None else min(end_ms, market.now_ms())
    first_hour = max(0, -(-start_ms // HOUR_MS))
    out: list[dict[str, Any]] = []
    h = first_hour
    while len(out) < FUNDING_LIMIT:
        t = h * HOUR_MS + 48  # real records land a few ms after the hour
        if t > end:
            break
        if t >= start_ms:
            rng = random.Random(f"{market.seed}:f:{coin}:{h}")
            premium = rng.gauss(0.00002, 0.0003)
            rate = 0.0000125 + max(-0.0005, min(0.0005, premium)) / 8
            out.append({"coin": coin, "fundingRate": fmt.dec(rate, 8),
                        "premium": fmt.dec(premium, 8), "time": t})
        h += 1
    return out


def _price_at(seed: int, coin: str, base: float, t_ms: int) -> float:
    """A smooth, seeded path: slow waves plus noise fixed per minute."""
    rng = random.Random(f"{seed}:p:{coin}")
    ph1, ph2 = rng.uniform(0, 6.3), rng.uniform(0, 6.3)
    x = t_ms / HOUR_MS
    wobble = 0.04 * math.sin(x / 37 + ph1) + 0.015 * math.sin(x / 5.3 + ph2)
    noise = random.Random(f"{seed}:n:{coin}:{t_ms // 60_000}").gauss(0, 0.002)
    return base * math.exp(wobble + noise)


def candle_snapshot(market: Market, coin: str, interval: str, start_ms: int,
                    end_ms: int) -> list[dict[str, Any]]:
    """Candles whose open time lies in [start, min(end, now)], oldest first."""
    a = market.by_name.get(coin)
    step = INTERVALS_MS.get(interval)
    if a is None or step is None:
        return []
    end = min(end_ms, market.now_ms())
    t = -(-start_ms // step) * step
    sz = a.sz_decimals
    base = a.prev_day_px
    out: list[dict[str, Any]] = []
    while t <= end and len(out) < CANDLE_LIMIT:
        o = _price_at(market.seed, coin, base, t)
        c = _price_at(market.seed, coin, base, t + step)
        rng = random.Random(f"{market.seed}:c:{coin}:{interval}:{t}")
        h = max(o, c) * (1 + abs(rng.gauss(0, 0.002)))
        lo = min(o, c) * (1 - abs(rng.gauss(0, 0.002)))
        vol = 0.0 if a.delisted else a.day_ntl_vlm / 1440 * step / 60_000 / o * rng.uniform(
            0.3, 2.0)
        out.append({"t": t, "T": t + step - 1, "s": coin, "i": interval,
                    "o": fmt.px(o, sz), "c": fmt.px(c, sz), "h": fmt.px(h, sz),
                    "l": fmt.px(lo, sz), "v": fmt.size(vol, sz),
                    "n": 0 if a.delisted else rng.randint(1, 2000)})
        t += step
    return out
