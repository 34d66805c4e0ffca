"""`?`: every key, what it does, on one screen."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS: tuple[tuple[str, str], ...] = (
    ("Dashboard", ""),
    ("↑ ↓  [ ]  ← →", "move between assets"),
    ("Enter", "open the asset's detail (stored charts, liquidation map)"),
    ("/", "filter assets by name (Enter keeps, Esc clears)"),
    ("s / S", "sort by the next column / reverse the order (or click a header)"),
    ("< >  shift+← →", "scroll the table's columns sideways (the asset stays)"),
    ("v", "compact terminals: show markets, panels or the log"),
    ("Collector", ""),
    ("p", "pause / resume new cycles (the one in flight completes)"),
    ("r", "run a cycle now"),
    ("R", "restart the collector after it stopped"),
    ("c", "compress now (downsample old raw data to the hourly tier)"),
    ("Detail", ""),
    ("1 2 3", "range 24 h / 7 d / 90 d (90 d from the compressed tier)"),
    ("[ ] ← →", "previous / next asset"),
    ("Esc", "back to the dashboard, same row"),
    ("Anywhere", ""),
    ("ctrl+p", "command palette (every action above)"),
    ("?", "this help"),
    ("q", "quit after flushing pending writes"),
)


def help_table() -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column()
    for key, text in KEYS:
        if not text:
            table.add_row(Text(key, style="bold underline"), "")
        else:
            table.add_row(key, text)
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static(help_table())

    def on_mount(self) -> None:
        self.query_one("#help").border_title = "hltui keys"
        self.query_one("#help").border_subtitle = "Esc to close"

    def action_close(self) -> None:
        self.dismiss(None)
