"""Collector health: success rate per source, breakers with countdown, throughput."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import RenderResult
from textual.widget import Widget

from hltui.tui import format as fmt
from hltui.tui.model import DashboardModel

BREAKER_STYLE = {"closed": "green", "half-open": "yellow", "open": "bold red"}


def breaker_text(model: DashboardModel, name: str) -> Text:
    """`● closed` / `● open 12s` / `◐ half-open`, colored by state."""
    b = model.breakers.get(name)
    if b is None:
        return Text("○ –", style="dim")
    mark = "◐" if b.state == "half-open" else "●"
    text = Text(f"{mark} {b.state}", style=BREAKER_STYLE.get(b.state, ""))
    left = model.breaker_countdown(name)
    if left is not None:
        text.append(f" {left:.0f}s", style="red")
    return text


def bar(done: int, total: int, width: int = 10) -> str:
    filled = 0 if total <= 0 else round(width * min(done, total) / total)
    return "█" * filled + "░" * (width - filled)


class HealthPanel(Widget):
    DEFAULT_CSS = "HealthPanel { height: auto; }"

    def __init__(self, sources: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sources = sources
        self._model: DashboardModel | None = None
        self.border_title = "Health"

    def update_health(self, model: DashboardModel) -> None:
        self._model = model
        self.refresh(layout=True)

    def render(self) -> RenderResult:
        m = self._model
        if m is None:
            return Text("starting…", style="dim")
        stats = m.stats
        table = Table.grid(expand=True, padding=(0, 1))
        table.add_column(no_wrap=True, overflow="ellipsis", ratio=1)
        table.add_column(justify="right", no_wrap=True)
        table.add_column(no_wrap=True)
        table.add_row(Text("source", style="dim"), Text("ok 1h", style="dim"),
                      Text("breaker", style="dim"))
        names = list(dict.fromkeys([*self.sources, *(n for n in m.breakers if n != "store")]))
        for name in [*names, "store"]:
            rate = stats.success_rate_hour.get(name) if stats else None
            style = "dim" if rate is None else ("green" if rate >= 0.99 else
                                                 "yellow" if rate >= 0.9 else "red")
            table.add_row(name, Text(fmt.pct(rate, 1, signed=False), style=style),
                          breaker_text(m, name))
        grid = Table.grid(expand=True, padding=(0, 1))
        grid.add_column(style="dim", no_wrap=True)
        grid.add_column(justify="right", no_wrap=True)
        grid.add_column(style="dim", no_wrap=True)
        grid.add_column(justify="right", no_wrap=True)
        last = m.last_cycle
        grid.add_row("cycle", fmt.millis(last.duration_ms if last else None),
                     "p95", fmt.millis(stats.cycle_ms_p95 if stats else None))
        grid.add_row("written", fmt.count(m.points_written if last or stats else None),
                     "spooled", Text(fmt.count(stats.points_spooled if stats else None),
                                     style="yellow" if stats and stats.points_spooled else ""))
        dropped = stats.points_dropped if stats else None
        grid.add_row("spool", fmt.nbytes(stats.spool_bytes if stats else None),
                     "dropped", Text(fmt.count(dropped), style="bold red" if dropped else ""))
        out = Table.grid(expand=True)
        out.add_row(table)
        out.add_row(grid)
        out.add_row(self._compression_line(m))
        return out

    @staticmethod
    def _compression_line(m: DashboardModel) -> Text:
        if m.compression_running and m.compression is not None:
            c = m.compression
            return Text(f"compress {bar(c.windows_done, c.windows_total)} "
                        f"{c.windows_done}/{c.windows_total}", style="cyan")
        if m.compression_running:
            return Text("compress: starting…", style="cyan")
        done = m.last_compression
        if done is None:
            return Text("compress: not run yet (c)", style="dim")
        if done.error:
            return Text(f"compress failed: {done.error}", style="red")
        return Text(f"compressed {done.windows} h, {done.points:,} pts, "
                    f"{fmt.millis(done.duration_ms)}", style="dim")
