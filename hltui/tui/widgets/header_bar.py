"""Two-line header: mode badges and last cycle; store in use and source states."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from rich.console import Group
from rich.text import Text
from textual.app import RenderResult
from textual.widget import Widget

from hltui.tui import format as fmt
from hltui.tui.model import DashboardModel
from hltui.tui.widgets.health_panel import BREAKER_STYLE

COLLECTOR_STYLE = {"starting": "cyan", "running": "green", "stopped": "yellow",
                   "failed": "bold red", "done": "dim"}


def clock_text(ts: float | None, when: Callable[[float], time.struct_time]) -> str:
    return "–" if ts is None else time.strftime("%H:%M:%S", when(ts))


class HeaderBar(Widget):
    DEFAULT_CSS = "HeaderBar { height: 2; }"

    def __init__(self, store_label: str, sources: tuple[str, ...], demo: bool,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.store_label, self.sources, self.demo = store_label, sources, demo
        self._model: DashboardModel | None = None

    def update_header(self, model: DashboardModel) -> None:
        self._model = model
        self.refresh()

    def render(self) -> RenderResult:
        m = self._model
        top = Text(no_wrap=True, overflow="ellipsis")
        top.append(" hltui ", style="bold reverse")
        if self.demo:
            top.append(" ")
            top.append(" DEMO · simulated data ", style="bold black on magenta")
        if m is not None and m.paused:
            top.append(" ")
            top.append(" PAUSED ", style="bold black on yellow")
        if m is not None:
            if m.collector_state != "running":
                top.append(" collector ", style="dim")
                top.append(m.collector_state, style=COLLECTOR_STYLE.get(m.collector_state, ""))
            top.append("  cycle ", style="dim")
            top.append(str(m.cycle or "–"))
            if m.cycle_running:
                top.append(" running…", style="cyan")
            elif m.last_cycle is not None:
                top.append(f" at {clock_text(m.last_cycle_at, time.localtime)}")
                top.append(f" in {fmt.millis(m.last_cycle.duration_ms)}", style="dim")
                ok, failed = m.last_cycle.assets_ok, m.last_cycle.assets_failed
                top.append(f" · {ok} ok", style="dim")
                if failed:
                    top.append(f" · {failed} failed", style="red")
        bottom = Text(no_wrap=True, overflow="ellipsis")
        bottom.append(" sources ", style="dim")
        for name in self.sources:
            bottom.append(name + " ")
            b = m.breakers.get(name) if m is not None else None
            state = b.state if b is not None else "closed"
            bottom.append("●", style=BREAKER_STYLE.get(state, "dim") if b else "dim green")
            if b is not None and b.state != "closed":
                bottom.append(f" {b.state}", style=BREAKER_STYLE.get(b.state, ""))
                left = m.breaker_countdown(name) if m is not None else None
                if left is not None:
                    bottom.append(f" {left:.0f}s", style="red")
            bottom.append("  ")
        bottom.append("store ", style="dim")
        sb = m.breakers.get("store") if m is not None else None
        if sb is not None and sb.state != "closed":
            bottom.append(f"{sb.state} ", style=BREAKER_STYLE.get(sb.state, ""))
        bottom.append(self.store_label)
        return Group(top, bottom)
