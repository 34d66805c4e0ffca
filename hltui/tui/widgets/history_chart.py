"""One plotext line chart of a stored series against time before now."""

from __future__ import annotations

from typing import Any

from textual_plotext import PlotextPlot

from hltui.tui import format as fmt

# field -> (title, scale applied to values, unit shown in the title)
CHARTS: dict[str, tuple[str, float, str]] = {
    "mark_price": ("Price", 1.0, "$"),
    "funding_rate": ("Funding", 100.0, "%/h"),
    "open_interest_usd": ("Open interest", 1e-6, "$M"),
    "ls_ratio": ("L/S ratio", 1.0, "long/short"),
}


def time_axis(times_ms: list[int], now_ms: int, hours: float) -> tuple[list[float], str]:
    """x values as hours (<= 48 h) or days before now, and the unit for the title."""
    if hours <= 48:
        return [(t - now_ms) / 3_600_000 for t in times_ms], "hours ago"
    return [(t - now_ms) / 86_400_000 for t in times_ms], "days ago"


def y_range(ys: list[float]) -> tuple[float, float]:
    """The data's range with a margin; a flat series (or one point) gets +-1% around its
    value, so the axis reads like the value instead of plotext's arbitrary span."""
    lo, hi = min(ys), max(ys)
    pad = (hi - lo) * 0.05 or abs(hi) * 0.01 or 1e-9
    return lo - pad, hi + pad


class HistoryChart(PlotextPlot):
    def __init__(self, field: str, **kwargs: Any) -> None:
        super().__init__(id=f"chart-{field}", **kwargs)
        self.field = field
        self.points = 0

    def show(self, times_ms: list[int], values: list[float | None], now_ms: int,
             hours: float, source: str | None = None) -> None:
        title, scale, unit = CHARTS[self.field]
        pairs = [(t, v) for t, v in zip(times_ms, values, strict=False)
                 if fmt.num(v) is not None]
        plt = self.plt
        plt.clear_figure()
        xs, label = time_axis([t for t, _ in pairs], now_ms, hours)
        if source:
            unit = f"{unit}, {source}"
        plt.title(f"{title} ({unit}) · x: {label}")  # no x label line: height is precious
        span = hours if hours <= 48 else hours / 24
        plt.xlim(-span, 0)
        if pairs:
            ys = [float(v) * scale for _, v in pairs]
            plt.plot(xs, ys, marker="braille")
            plt.ylim(*y_range(ys))
        else:
            plt.title(f"{title}: no stored data in this range")
        self.points = len(pairs)
        self.refresh()

    def clear(self) -> None:
        self.plt.clear_figure()
        self.points = 0
        self.refresh()
