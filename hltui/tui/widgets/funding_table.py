"""Top and bottom funding, annualized: where longs pay most and where shorts do."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import RenderResult
from textual.widget import Widget

from hltui.tui import format as fmt


def extremes(rows: dict[str, dict[str, Any]], n: int) -> tuple[list[tuple[str, float]],
                                                                 list[tuple[str, float]]]:
    """(highest n, lowest n) assets by hourly funding; an asset is never in both."""
    funded = sorted(((a, r["fund"]) for a, r in rows.items() if r.get("fund") is not None),
                    key=lambda item: (-item[1], item[0]))
    top = funded[:n]
    bottom = list(reversed(funded[len(top):]))[:n]
    return top, bottom


class FundingTable(Widget):
    """Renders as many top/bottom rows as its height allows."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._rows: dict[str, dict[str, Any]] = {}
        self.border_title = "Funding (annualized)"

    def update_rows(self, rows: dict[str, dict[str, Any]]) -> None:
        self._rows = rows
        self.refresh(layout=True)

    def render(self) -> RenderResult:
        per_side = max(1, (self.content_size.height - 2) // 2)
        top, bottom = extremes(self._rows, per_side)
        if not top:
            return Text("waiting for the first cycle…", style="dim")
        table = Table.grid(expand=True, padding=(0, 1))
        table.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
        table.add_column(justify="right", no_wrap=True)
        table.add_column(justify="right", no_wrap=True)
        table.add_row(Text("highest", style="bold"), Text("/yr", style="dim"),
                      Text("/h", style="dim"))
        for asset, rate in top:
            table.add_row(Text(asset), Text(fmt.funding_annual(rate), style=fmt.sign_style(rate)),
                          Text(fmt.funding_hourly(rate), style="dim"))
        if bottom:
            table.add_row(Text("lowest", style="bold"), "", "")
            for asset, rate in bottom:
                table.add_row(Text(asset),
                              Text(fmt.funding_annual(rate), style=fmt.sign_style(rate)),
                              Text(fmt.funding_hourly(rate), style="dim"))
        return table
