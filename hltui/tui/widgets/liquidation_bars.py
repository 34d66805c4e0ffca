"""The liquidation map: horizontal long/short bars by price around the current price.

Longs liquidate below the mark, shorts above. Each line is one price bucket;
longs grow left from the centre line, shorts grow right, both on one scale.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from typing import Any

from rich.console import Group
from rich.text import Text
from textual.app import RenderResult
from textual.widget import Widget

from hltui.tui import format as fmt

PREFERRED_SOURCES = ("hyperdash", "sampled")


def pick_source(levels: list[dict[str, Any]]) -> str | None:
    """One source's map (sources measure different populations: never sum them)."""
    counts: dict[str, int] = defaultdict(int)
    for lv in levels:
        counts[str(lv.get("source", ""))] += 1
    if not counts:
        return None
    for name in PREFERRED_SOURCES:
        if name in counts:
            return name
    return max(counts, key=lambda k: (counts[k], k))


def buckets(levels: list[dict[str, Any]], source: str | None) -> dict[float, list[float]]:
    """price -> [long notional, short notional] for one source; bad values skipped."""
    out: dict[float, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for lv in levels:
        if source is not None and str(lv.get("source", "")) != source:
            continue
        p, n = fmt.num(lv.get("price")), fmt.num(lv.get("notional_usd"))
        if p is None or n is None or p <= 0:
            continue
        out[p][0 if lv.get("side") == "long" else 1] += abs(n)
    return dict(out)


def nearest(prices: list[float], mark: float | None, n: int) -> list[float]:
    """The n bucket prices closest to the mark, highest first."""
    if mark is None:
        chosen = sorted(prices)[len(prices) // 2 - n // 2:][:n] if len(prices) > n else prices
    else:
        chosen = sorted(prices, key=lambda p: abs(p - mark))[:n]
    return sorted(chosen, reverse=True)


def price_labels(prices: list[float], mark: float | None) -> dict[float, str]:
    """Labels with the same number of decimals, enough to tell neighbours apart."""
    ordered = sorted(set(prices))
    steps = [b - a for a, b in itertools.pairwise(ordered) if b > a]
    step = min(steps) if steps else abs(ordered[0]) / 100 if ordered else 1.0
    everything = [*ordered, *([mark] if mark is not None else [])]
    decimals = max(0, min(8, 1 - math.floor(math.log10(step)))) if step > 0 else 2
    return {p: f"{p:,.{decimals}f}" for p in everything}


def bar_line(label: str, long_n: float, short_n: float, scale: float, half: int,
             *, mark_line: bool = False) -> Text:
    line = Text(no_wrap=True, overflow="crop")
    line.append(f"{label:>12} ", style="bold yellow" if mark_line else "dim")
    if mark_line:
        line.append("─" * max(0, half - 6) + " mark ┼" + "─" * half, style="yellow")
        return line
    room = max(1, half - 9)  # leave space for the amount next to the longest bar
    lw = round(room * long_n / scale) if scale else 0
    sw = round(room * short_n / scale) if scale else 0
    left = (fmt.usd(long_n) + " " if long_n else "") + "█" * lw
    right = "█" * sw + (" " + fmt.usd(short_n) if short_n else "")
    line.append(" " * max(0, half - len(left)))
    line.append(left[-half:], style="green")
    line.append("│", style="dim")
    line.append(right[:half], style="red")
    return line


class LiquidationBars(Widget):
    DEFAULT_CSS = "LiquidationBars { height: 1fr; }"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.levels: list[dict[str, Any]] = []
        self.mark: float | None = None
        self.source: str | None = None
        self.border_title = "Liquidation map"

    def update_map(self, levels: list[dict[str, Any]], mark: float | None) -> None:
        self.levels, self.mark = levels, mark
        self.source = pick_source(levels)
        self.border_title = "Liquidation map" + (f" ({self.source})" if self.source else "")
        self.refresh()

    def render(self) -> RenderResult:
        by_price = buckets(self.levels, self.source)
        if not by_price:
            return Text("no liquidation levels stored for this asset (they come from the "
                        "hyperdash or sampled source)", style="dim")
        width, height = self.content_size.width, self.content_size.height
        half = max(10, (width - 14) // 2)
        rows = max(1, height - 2)
        prices = nearest(list(by_price), self.mark, rows)
        scale = max(max(v) for p, v in by_price.items() if p in prices) or 1.0
        labels = price_labels(prices, self.mark)
        lines = [Text.assemble((f"{'':>12} ", ""), ("longs ◀".rjust(half), "green"), "│",
                               ("▶ shorts", "red"), no_wrap=True)]
        mark_done = self.mark is None
        for p in prices:
            if not mark_done and p < self.mark:  # type: ignore[operator]
                lines.append(bar_line(labels[self.mark], 0, 0, scale, half,  # type: ignore[index]
                                      mark_line=True))
                mark_done = True
            long_n, short_n = by_price[p]
            lines.append(bar_line(labels[p], long_n, short_n, scale, half))
        if not mark_done:
            lines.append(bar_line(labels[self.mark], 0, 0, scale, half,  # type: ignore[index]
                                  mark_line=True))
        return Group(*lines)
