"""A red line under the header when the collector stopped, with the key to restart."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class CollectorBanner(Static):
    DEFAULT_CSS = """
    CollectorBanner { display: none; height: auto; background: $error; color: $text;
                      padding: 0 1; text-style: bold; }
    CollectorBanner.-visible { display: block; }
    """

    def show_error(self, reason: str | None) -> None:
        if reason is None:
            self.remove_class("-visible")
            return
        text = Text("Collector stopped: ", style="bold")
        text.append(reason)  # the reason may contain brackets: never markup
        text.append("  — press R to restart it", style="bold")
        self.update(text)
        self.add_class("-visible")
