"""`hltui --headless`: the collector as a plain service with colored log lines.

Colors: green success, red error, yellow warning, blue info; plain text when
stdout is not a terminal or NO_COLOR is set. SIGINT/SIGTERM stop after the cycle
in flight and flush; a second signal exits at once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from typing import IO

from hltui.config import Settings
from hltui.engine.events import CompressionProgress, Event, LogRecord

COLORS = {"success": "\033[32m", "error": "\033[31m", "warning": "\033[33m",
          "info": "\033[34m", "debug": "\033[2m"}
RESET = "\033[0m"
LEVELS = {"debug": 10, "info": 20, "success": 25, "warning": 30, "error": 40}


def use_color(stream: IO[str]) -> bool:
    return "NO_COLOR" not in os.environ and hasattr(stream, "isatty") and stream.isatty()


class ConsoleSink:
    """Prints LogRecords as `HH:MM:SS LEVEL message`, colored when allowed."""

    def __init__(self, stream: IO[str] | None = None, min_level: str = "INFO") -> None:
        self.stream = stream or sys.stdout
        self.color = use_color(self.stream)
        self.min = LEVELS.get(min_level.lower(), 20)

    def __call__(self, event: Event) -> None:
        if isinstance(event, LogRecord):
            self.emit(event.level, event.message, event.time)
        elif isinstance(event, CompressionProgress) and event.windows_total and (
            event.windows_done == event.windows_total or event.windows_done % 50 == 0
        ):
            self.emit("info", f"compression {event.windows_done}/{event.windows_total}"
                          " windows")

    def emit(self, level: str, message: str, at: float | None = None) -> None:
        if LEVELS.get(level, 20) < self.min:
            return
        stamp = time.strftime("%H:%M:%S", time.localtime(at or time.time()))
        tag = level.upper().ljust(7)
        line = f"{stamp} {tag} {message}"
        if self.color:
            line = f"{COLORS.get(level, '')}{line}{RESET}"
        try:
            self.stream.write(line + "\n")
            self.stream.flush()
        except (BrokenPipeError, ValueError):  # reader went away: keep collecting
            pass


async def run_headless(settings: Settings, *, demo: bool, cycles: int | None,
                       seed: int = 7) -> int:
    from hltui.engine.build import build_runtime

    sink = ConsoleSink(min_level=settings.log_level)
    try:
        runtime = await build_runtime(settings, sink, demo=demo, seed=seed)
    except Exception as exc:
        sink.emit("error", f"cannot start: {exc}")
        return 2
    collector = runtime.collector
    sink.emit("info", f"hltui collector: store {runtime.store.label}; sources "
              f"{', '.join(j.name for j in collector.jobs)}"
              f"{' (SIMULATED exchange: --demo)' if demo else ''}; interval "
              f"{runtime.settings.interval:g}s")
    loop = asyncio.get_running_loop()
    hits = 0

    def on_signal(signame: str) -> None:
        nonlocal hits
        hits += 1
        if hits > 1:
            sink.emit("error", f"{signame} again: exiting without waiting")
            os._exit(130)
        sink.emit("warning", f"{signame}: finishing the cycle in flight, then flushing")
        collector.stop()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig.name)
    try:
        status = await collector.run(cycles)
    finally:
        await runtime.aclose()
    sink.emit("success" if status == 0 else "error",
              f"collector stopped after {collector.cycle} cycles (exit {status})")
    return status
