"""Sparklines of the selected asset over the last 24 h, read back from the store.

Reading from the store (not from memory) shows what was actually persisted: a gap
in a sparkline is a gap in the database. Loads run in an exclusive worker, so
flicking through assets only ever finishes the last request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widget import Widget
from textual.widgets import Label, Sparkline

from hltui.store.base import Series, Store
from hltui.tui import format as fmt

# (field, label, value formatter)
METRICS: tuple[tuple[str, str, Callable[[Any], str]], ...] = (
    ("mark_price", "price", fmt.price),
    ("funding_rate", "funding", fmt.funding_hourly),
    ("open_interest_usd", "OI", fmt.usd),
    ("ls_ratio", "L/S", fmt.ratio),
)
HOURS = 24.0


def clean(values: list[float | None]) -> list[float]:
    return [v for v in (fmt.num(x) for x in values) if v is not None]


def summary(values: list[float], render: Callable[[Any], str]) -> Text:
    """Last value and the change over the window."""
    if not values:
        return Text("no data", style="dim")
    last, first = values[-1], values[0]
    text = Text(render(last))
    if first:
        change = last / first - 1.0
        text.append(f" {fmt.pct(change, 1)}", style=fmt.sign_style(change))
    return text


class SparklineRow(Horizontal):
    DEFAULT_CSS = """
    SparklineRow { height: 1; }
    SparklineRow > .spark-label { width: 8; color: $text-muted; }
    SparklineRow > Sparkline { width: 1fr; }
    SparklineRow > .spark-value { width: 20; text-align: right; }
    """

    def __init__(self, field: str, label: str, render: Callable[[Any], str]) -> None:
        super().__init__(id=f"spark-{field}")
        self.field, self.label, self.render_value = field, label, render

    def compose(self) -> ComposeResult:
        yield Label(self.label, classes="spark-label")
        yield Sparkline([], summary_function=lambda xs: sum(xs) / len(xs))
        yield Label("", classes="spark-value")

    def show(self, values: list[float]) -> None:
        spark = self.query_one(Sparkline)
        lo = min(values) if values else 0.0
        # Sparkline scales from the minimum; shift so flat-but-nonzero series stay visible
        spark.data = [v - lo for v in values] if values else []
        self.query_one(".spark-value", Label).update(summary(values, self.render_value))


class SparklinesPanel(Widget):
    DEFAULT_CSS = "SparklinesPanel { height: auto; }"

    def __init__(self, store: Callable[[], Store | None], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._store = store
        self.asset: str | None = None
        self.loaded: tuple[str, int] | None = None  # (asset, points) of the last load
        self.border_title = "24 h (stored)"

    def compose(self) -> ComposeResult:
        for field, label, render in METRICS:
            yield SparklineRow(field, label, render)

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
        width = max(30, self.size.width - 30)
        try:
            series = await store.asset_history(asset, HOURS, max_points=width)
        except Exception as exc:  # a store outage must not break the dashboard
            self.border_subtitle = f"store: {type(exc).__name__}"
            return
        if asset != self.asset:  # selection moved on while reading: drop stale data
            return
        self.apply(asset, series)

    def apply(self, asset: str, series: Series) -> None:
        self.border_title = Text.assemble("24 h (stored) ", (asset, "bold"))
        self.border_subtitle = f"{len(series.times_ms)} pts"
        for field, _label, _render in METRICS:
            self.query_one(f"#spark-{field}", SparklineRow).show(
                clean(series.values.get(field, [])))
        self.loaded = (asset, len(series.times_ms))
