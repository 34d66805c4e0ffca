"""Streaming log, colored by level, bounded, written in batches (one write per tick)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from rich.text import Text
from textual.widgets import RichLog

from hltui.engine.events import LogRecord
from hltui.tui.model import LOG_LINES

LEVEL_STYLE = {
    "debug": ("DBG", "dim"),
    "info": ("INF", ""),
    "success": ("OK ", "green"),
    "warning": ("WRN", "yellow"),
    "error": ("ERR", "bold red"),
}


def log_line(record: LogRecord, when: Callable[[float], time.struct_time] = time.localtime
             ) -> Text:
    tag, style = LEVEL_STYLE.get(record.level, ("???", ""))
    line = Text()
    line.append(time.strftime("%H:%M:%S ", when(record.time)), style="dim")
    line.append(tag + " ", style=style or "cyan")
    # messages come from the network at times: never parse them as markup
    line.append(record.message.replace("\n", " ⏎ "), style=style)
    return line


class LogPane(RichLog):
    """`write_batch` joins a tick's records into one renderable write."""

    def __init__(self, max_lines: int = LOG_LINES, **kwargs: Any) -> None:
        super().__init__(max_lines=max_lines, wrap=True, markup=False, highlight=False,
                         auto_scroll=True, **kwargs)
        self.border_title = "Log"

    def write_batch(self, records: Sequence[LogRecord]) -> None:
        if not records:
            return
        records = records[-(self.max_lines or len(records)):]
        self.write(Text("\n").join(log_line(r) for r in records))
