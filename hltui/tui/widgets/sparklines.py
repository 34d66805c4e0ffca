"""Sparklines of the selected asset over the last 24 h, read back from the store.

Reading from the store (not from memory) shows what was actually persisted, tiers
stitched by the store. Loads run in an exclusive worker, so flicking through assets
only ever finishes the last request.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult, RenderResult
from textual.widget import Widget

from hltui.store.base import Series, Store
from hltui.tui import format as fmt
from hltui.tui.model import MARKET_SOURCE

BARS = "▁▂▃▄▅▆▇█"
HOURS = 24.0


def clean(values: list[float | None]) -> list[float]:
    return [v for v in (fmt.num(x) for x in values) if v is not None]


def spark(values: list[float], width: int) -> Text:
    """One bar per point (averaged down when there are more points than cells),
    newest on the right, green when the window ends higher than it started."""
    if width <= 0:
        return Text("")
    if not values:
        return Text(" " * width)
    if len(values) > width:
        step = len(values) / width
        values = [sum(chunk) / len(chunk) for chunk in
                  (values[int(i * step):max(int(i * step) + 1, int((i + 1) * step))]
                   for i in range(width))]
    lo, hi = min(values), max(values)
    span = hi - lo
    bars = "".join(BARS[3] if span == 0 else BARS[min(7, int((v - lo) / span * 7.999))]
                   for v in values)
    style = "green" if values[-1] > values[0] else "red" if values[-1] < values[0] else "cyan"
    return Text(bars.rjust(width), style=style, no_wrap=True)


def pct_change(values: list[float]) -> tuple[str, str]:
    if len(values) < 2 or not values[0]:
        return "", ""
    change = values[-1] / values[0] - 1.0
    return f" {fmt.pct(change, 1)}", fmt.sign_style(change)


def funding_mean(values: list[float]) -> tuple[str, str]:
    mean = sum(values) / len(values)
    return f" avg {fmt.funding_annual(mean)}/yr", fmt.sign_style(mean)


def ratio_delta(values: list[float]) -> tuple[str, str]:
    if len(values) < 2:
        return "", ""
    delta = values[-1] - values[0]
    return f" {delta:+.2f}", fmt.sign_style(delta)


# (field, label, value formatter, what the window says beside the last value)
METRICS: tuple[tuple[str, str, Callable[[Any], str],
                     Callable[[list[float]], tuple[str, str]]], ...] = (
    ("mark_price", "price", fmt.price, pct_change),
    ("funding_rate", "funding", fmt.funding_hourly, funding_mean),
    ("open_interest_usd", "OI", fmt.usd, pct_change),
    ("ls_ratio", "L/S", fmt.ratio, ratio_delta),
)
VALUE_WIDTH = 26


def summary(values: list[float], render: Callable[[Any], str],
            window: Callable[[list[float]], tuple[str, str]], now: float | None = None) -> Text:
    """The current value (as in the table; stored buckets are averages) and what the
    stored window says about it."""
    if now is not None:
        values = [*values, now]
    if not values:
        return Text("no data", style="dim")
    text = Text(render(values[-1]))
    extra, style = window(values)
    text.append(extra, style=style)
    return text


class SparklineRow(Widget):
    DEFAULT_CSS = "SparklineRow { height: 1; }"

    def __init__(self, field: str, label: str, render: Callable[[Any], str],
                 window: Callable[[list[float]], tuple[str, str]]) -> None:
        super().__init__(id=f"spark-{field}")
        self.field, self.label = field, label
        self.render_value, self.window = render, window
        self.values: list[float] = []
        self.now: float | None = None

    def show(self, values: list[float], now: float | None = None) -> None:
        self.values, self.now = values, now
        self.refresh()

    def render(self) -> RenderResult:
        width = self.content_size.width
        bars = max(0, width - 9 - VALUE_WIDTH)
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(f"{self.label:<8} ", style="dim")
        line.append_text(spark(self.values, bars))
        value = summary(self.values, self.render_value, self.window, self.now)
        value.align("right", VALUE_WIDTH)
        line.append_text(value)
        return line


class SparklinesPanel(Widget):
    DEFAULT_CSS = "SparklinesPanel { height: auto; }"

    def __init__(self, store: Callable[[], Store | None],
                 clock: Callable[[], float] = time.time,
                 positioning: Callable[[str], str | None] = lambda asset: None,
                 current: Callable[[str], dict[str, Any]] = lambda asset: {},
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._current = current
        self._store = store
        self._clock = clock
        self._positioning = positioning
        self.asset: str | None = None
        self.loaded: tuple[str, int] | None = None  # (asset, points) of the last load
        self.query_args: dict[str, Any] = {}  # the store read behind what is shown
        self.border_title = "24 h (stored)"

    def compose(self) -> ComposeResult:
        for field, label, render, window in METRICS:
            yield SparklineRow(field, label, render, window)

    def show_asset(self, asset: str | None) -> None:
        """Load `asset` (or reload it after a cycle wrote new points)."""
        self.asset = asset
        if asset is not None:
            self.load(asset)

    @work(exclusive=True, group="sparklines", exit_on_error=False)
    async def load(self, asset: str) -> None:
        store = self._store()
        if store is None:
            return
        width = max(10, self.size.width - 9 - VALUE_WIDTH)
        now_ms = int(self._clock() * 1000)
        query = {"asset": asset, "hours": HOURS, "max_points": width, "now_ms": now_ms}
        pos_source = self._positioning(asset)
        try:
            series = await store.asset_history(**query, source=MARKET_SOURCE)
            # L/S from the source the table shows it from (sources sample different
            # populations: mixing them in one line would be meaningless)
            ls = (await store.asset_history(**query, source=pos_source)).values.get(
                "ls_ratio", []) if pos_source else []
        except Exception as exc:  # a store outage must not break the dashboard
            self.border_subtitle = f"store: {type(exc).__name__}"
            return
        if asset != self.asset:  # selection moved on while reading: drop stale data
            return
        self.query_args = {**query, "source": MARKET_SOURCE, "positioning_source": pos_source}
        series.values["ls_ratio"] = ls
        self.apply(asset, series)

    def apply(self, asset: str, series: Series) -> None:
        self.border_title = Text.assemble("24 h (stored) ", (asset, "bold"))
        self.border_subtitle = f"{len(series.times_ms)} pts"
        now = self._current(asset)
        for field, *_ in METRICS:
            self.query_one(f"#spark-{field}", SparklineRow).show(
                clean(series.values.get(field, [])), fmt.num(now.get(field)))
        self.loaded = (asset, len(series.times_ms))
