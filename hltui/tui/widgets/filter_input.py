"""The `/` filter: typing narrows the markets table live; Esc clears, Enter keeps."""

from __future__ import annotations

from textual.binding import Binding
from textual.widgets import Input

from hltui.tui.messages import FilterChanged


class FilterInput(Input):
    DEFAULT_CSS = """
    FilterInput { display: none; dock: bottom; height: 1; border: none; padding: 0 1; }
    FilterInput.-open { display: block; }
    """
    BINDINGS = [Binding("escape", "clear_filter", "Clear filter")]

    def __init__(self) -> None:
        super().__init__(placeholder="filter assets (Enter keeps, Esc clears)", id="filter")

    def open(self) -> None:
        self.add_class("-open")
        self.focus()

    def close(self) -> None:
        self.remove_class("-open")

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.post_message(FilterChanged(event.value))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.close()
        self.post_message(FilterChanged(self.value))

    def action_clear_filter(self) -> None:
        self.value = ""
        self.close()
        self.post_message(FilterChanged(""))
