"""Positioning per source for one asset (each source measures its own population)."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import RenderResult
from textual.widget import Widget

from hltui.tui import format as fmt

ROWS: tuple[tuple[str, str, Any], ...] = (
    ("long_notional_usd", "long $", fmt.usd),
    ("short_notional_usd", "short $", fmt.usd),
    ("ls_ratio", "L/S", fmt.ratio),
    ("long_traders", "long traders", fmt.count),
    ("short_traders", "short traders", fmt.count),
    ("avg_entry_long", "avg entry L", fmt.price),
    ("avg_entry_short", "avg entry S", fmt.price),
    ("top10_share", "top-10 share", lambda v: fmt.pct(v, 1, signed=False)),
)


class PositioningPanel(Widget):
    DEFAULT_CSS = "PositioningPanel { height: auto; }"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.by_source: dict[str, dict[str, Any]] = {}
        self.now_ms: int | None = None
        self.border_title = "Positioning by source"

    def update_rows(self, rows: list[dict[str, Any]], now_ms: int | None = None) -> None:
        """Latest asset_metrics rows of one asset (one per source)."""
        self.now_ms = now_ms
        self.by_source = {str(r.get("source", "?")): r for r in rows
                          if any(fmt.num(r.get(k)) is not None for k, _, _ in ROWS)}
        self.refresh(layout=True)

    def render(self) -> RenderResult:
        if not self.by_source:
            return Text("no positioning stored for this asset (enable hyperdash or sampled)",
                        style="dim")
        table = Table(box=None, expand=True, padding=(0, 1), show_edge=False)
        table.add_column("", style="dim", no_wrap=True)
        names = sorted(self.by_source)
        for name in names:
            table.add_column(Text(name, style="bold"), justify="right", no_wrap=True)
        for key, label, render in ROWS:
            table.add_row(label, *(render(self.by_source[n].get(key)) for n in names))
        if self.now_ms is not None:
            table.add_row("stored", *(age(self.now_ms, self.by_source[n].get("time_ms"))
                                      for n in names))
        return table


def age(now_ms: int, then_ms: Any) -> str:
    """How long ago a row was stored: `12 s ago`, `4 min ago`, `2.5 h ago`."""
    t = fmt.num(then_ms)
    if t is None:
        return fmt.DASH
    s = max(0.0, (now_ms - t) / 1000)
    if s < 90:
        return f"{s:.0f} s ago"
    if s < 5400:
        return f"{s / 60:.0f} min ago"
    return f"{s / 3600:.1f} h ago"
