"""`hltui`: the Textual dashboard with the collector running inside it.

The collector lives in one long-lived async worker (`exit_on_error=False`): if it
raises, the reason is shown in red with a key to restart it, and the app keeps
going. The engine's sink only appends events to `EventFeed`; a 4 Hz timer drains
them into `DashboardModel` and tells the dashboard to re-read what changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import traceback
from collections.abc import Awaitable, Callable, Iterable
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from hltui.config import Settings
from hltui.engine.events import EventSink, LogRecord
from hltui.store.base import Store
from hltui.tui.messages import ModelUpdated
from hltui.tui.model import DashboardModel, EventFeed
from hltui.tui.screens.dashboard import DashboardScreen
from hltui.tui.screens.help import HelpScreen
from hltui.tui.terminal import TerminalWatch, exit_soon, silence_output
from hltui.tui.widgets.markets_table import COLUMNS

TCSS_PATH = Path(__file__).parent.parent / "hltui.tcss"
TICK_SECONDS = 0.25  # widgets refresh at most 4 times a second
STOP_TIMEOUT = 30.0  # how long `q` waits for the cycle in flight before cancelling it


class RuntimeLike(Protocol):
    """What the app needs from `hltui.engine.build.Runtime`."""

    store: Store
    collector: Any
    demo: bool

    async def aclose(self) -> None: ...


RuntimeFactory = Callable[[EventSink], Awaitable[RuntimeLike]]


def runtime_store_label(runtime: RuntimeLike) -> str:
    """The store actually in use (`--demo` keeps simulated data in its own place)."""
    settings = getattr(runtime, "settings", None)
    if isinstance(settings, Settings):
        return settings.store_label
    return getattr(runtime.store, "label", "store")


class HltuiApp(App[int]):
    CSS_PATH = TCSS_PATH
    TITLE = "hltui"
    BINDINGS = [
        Binding("p", "toggle_pause", "Pause"),
        Binding("r", "run_cycle", "Run now"),
        Binding("R", "restart_collector", "Restart", show=False),
        Binding("c", "compress", "Compress"),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, settings: Settings, *, demo: bool = False, cycles: int | None = None,
                 clock: Callable[[], float] | None = None, seed: int = 7,
                 runtime_factory: RuntimeFactory | None = None,
                 tick_seconds: float = TICK_SECONDS, watch_terminal: bool = True) -> None:
        super().__init__()
        self.settings, self.demo, self.cycles, self.seed = settings, demo, cycles, seed
        self.clock = clock or time.time
        self.feed = EventFeed()
        self.model = DashboardModel(clock=self.clock)
        self.runtime: RuntimeLike | None = None
        self.status = 0
        self.flushed = False
        self.terminal_lost: str | None = None
        self._factory = runtime_factory or self._default_factory
        self._tick_seconds = tick_seconds
        self._ticks = 0
        self._quitting = False
        self._collector_worker: Worker | None = None
        self._watch = TerminalWatch(self._terminal_lost) if watch_terminal else None
        self.dashboard = DashboardScreen(self.model, self.store, settings.store_label,
                                         settings.sources, demo)

    async def _default_factory(self, sink: EventSink) -> RuntimeLike:
        from hltui.engine.build import build_runtime

        return await build_runtime(self.settings, sink, demo=self.demo, clock=self.clock,
                                   seed=self.seed)

    # lifecycle ---------------------------------------------------------------------
    def get_default_screen(self) -> Screen:
        return self.dashboard

    def on_mount(self) -> None:
        self.set_interval(self._tick_seconds, self.tick)
        if self._watch is not None and not self.is_headless:
            self._watch.install(asyncio.get_running_loop())
            self.set_interval(1.0, self._watch.check)
        self.start_collector()

    def store(self) -> Store | None:
        return self.runtime.store if self.runtime is not None else None

    @property
    def collector(self) -> Any | None:
        return self.runtime.collector if self.runtime is not None else None

    def tick(self) -> None:
        """Drain engine events into the model; tell the dashboard when anything changed."""
        events = self.feed.drain()
        if events:
            self.model.apply_all(events)
        self._ticks += 1
        timed = self._ticks % 4 == 0 and any(
            self.model.breaker_countdown(n) is not None for n in self.model.breakers)
        if timed:
            self.model.versions.header += 1
            self.model.versions.health += 1
        if events or timed or self.model.pending_log:
            self.dashboard.post_message(ModelUpdated(self.model.cycle))
            if self.screen is not self.dashboard:
                self.screen.post_message(ModelUpdated(self.model.cycle))
        for notice in self.model.take_notices():
            # reasons come from exceptions and the network: never markup
            self.notify(notice.message, severity=notice.severity,  # type: ignore[arg-type]
                        timeout=8 if notice.severity == "error" else 5, markup=False)

    def _changed(self) -> None:
        """App-side state changed (collector state): refresh without waiting for events."""
        self.dashboard.post_message(ModelUpdated(self.model.cycle))

    def _log(self, level: str, message: str) -> None:
        self.feed(LogRecord(level, message, time=self.clock(), logger="hltui.tui"))  # type: ignore[arg-type]

    # the collector worker -------------------------------------------------------------
    def start_collector(self) -> None:
        self._collector_worker = self.run_collector()

    @work(exclusive=True, group="collector", exit_on_error=False, name="collector")
    async def run_collector(self) -> int:
        self.model.set_collector_state("starting")
        self._changed()
        try:
            if self.runtime is None:
                self.runtime = await self._factory(self.feed)
                jobs = getattr(self.runtime.collector, "jobs", [])
                self.dashboard.set_store_label(runtime_store_label(self.runtime),
                                               tuple(j.name for j in jobs))
            if self._quitting:
                return self.status
            self.model.set_collector_state("running")
            self._changed()
            status = await self.runtime.collector.run(self.cycles)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
            self.status = 1
            self._log("error", "collector stopped: " + reason)
            for line in traceback.format_exc().rstrip().splitlines()[-6:]:
                self._log("debug", line)
            self.model.set_collector_failed(reason)
            self._changed()
            return 1
        self.status = status
        self.model.set_collector_state("done" if self.cycles is not None else "stopped")
        self._changed()
        if self.cycles is not None and not self._quitting:
            self.call_later(self.action_quit)
        return status

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # anything that escaped run_collector's own handling is still shown, never fatal
        if event.worker.group == "collector" and event.state == WorkerState.ERROR:
            self.model.set_collector_failed(f"{type(event.worker.error).__name__}: "
                                            f"{event.worker.error}")
            self._changed()

    async def _restart(self) -> None:
        runtime, self.runtime = self.runtime, None
        if runtime is not None:
            with contextlib.suppress(Exception):
                await runtime.aclose()
        self._log("info", "restarting the collector")
        self.start_collector()

    # actions ----------------------------------------------------------------------------
    def _running_collector(self) -> Any | None:
        if self.model.collector_state != "running" or self.collector is None:
            self.notify("The collector is not running (R restarts it).", severity="warning")
            return None
        return self.collector

    def action_toggle_pause(self) -> None:
        collector = self._running_collector()
        if collector is None:
            return
        if collector.paused:
            collector.resume()
        else:
            collector.pause()

    def action_run_cycle(self) -> None:
        if self.model.collector_state in ("failed", "stopped"):
            self.action_restart_collector()
            return
        collector = self._running_collector()
        if collector is not None:
            collector.request_cycle()  # the header shows "running…" at once

    def action_restart_collector(self) -> None:
        if self.model.collector_state in ("running", "starting"):
            self.notify("The collector is already running.", timeout=2)
            return
        self.run_worker(self._restart(), group="restart", exclusive=True)

    def action_compress(self) -> None:
        collector = self._running_collector()
        if collector is None:
            return
        if self.model.compression_running:
            self.notify("Compression is already running.", timeout=2)
            return
        self.model.compression_running = True
        self.model.compression_requested = True
        self.model.versions.health += 1
        self._changed()
        self.notify("Compressing…", timeout=2)
        self.compress(collector)

    @work(exclusive=True, group="compress", exit_on_error=False)
    async def compress(self, collector: Any) -> None:
        try:
            await collector.compress_now()
        except Exception as exc:
            self.model.compression_running = False
            self.model.versions.health += 1
            self.notify(f"Compression failed: {type(exc).__name__}: {exc}", severity="error",
                        markup=False)
            self._changed()

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    async def action_quit(self) -> None:
        """Stop the collector, flush pending writes, then exit with its status."""
        if self._quitting:
            return
        self._quitting = True
        self.model.set_collector_state("stopping")
        self._changed()
        self.notify("Flushing pending writes…", timeout=30)
        status = await self.shutdown()
        if self.terminal_lost:
            exit_soon(status)  # the dead tty may block Textual's own shutdown
        self.exit(status)

    async def shutdown(self) -> int:
        """Stop the collector (cycle in flight completes), close the runtime (flush)."""
        collector = self.collector
        if collector is not None:
            with contextlib.suppress(Exception):
                collector.stop()
        worker = self._collector_worker
        if collector is None and worker is not None:
            worker.cancel()  # still starting: nothing to flush yet, do not wait for it
        elif worker is not None and worker.state in (WorkerState.PENDING, WorkerState.RUNNING):
            try:
                await asyncio.wait_for(worker.wait(), STOP_TIMEOUT)
            except TimeoutError:
                worker.cancel()
            except Exception:
                pass
        runtime, self.runtime = self.runtime, None
        if runtime is not None:
            try:
                await runtime.aclose()
                self.flushed = True
            except Exception as exc:
                self.status = self.status or 1
                self._log("error", f"flush on exit failed: {type(exc).__name__}: {exc}")
        return self.status

    async def on_unmount(self) -> None:
        """Exits that bypass `q` (ctrl+c, tests, errors) still flush and close."""
        if self.runtime is not None:
            await self.shutdown()

    def _terminal_lost(self, reason: str) -> None:
        """SIGHUP or a hung-up tty: nobody is watching; flush and leave quietly."""
        self.terminal_lost = reason
        if "SIGTERM" not in reason:
            silence_output()
        self._log("warning", reason)
        self.call_later(self.action_quit)

    async def action_sort_by(self, key: str) -> None:
        if self.screen is self.dashboard:
            self.dashboard.sort_by(key)

    # command palette -------------------------------------------------------------------
    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Pause / resume collector", "p: no new cycles start while paused",
                            self.action_toggle_pause)
        yield SystemCommand("Run a cycle now", "r: wake the collector", self.action_run_cycle)
        yield SystemCommand("Compress now", "c: downsample old raw data to the hourly tier",
                            self.action_compress)
        yield SystemCommand("Restart collector", "R: after it stopped",
                            self.action_restart_collector)
        yield SystemCommand("Quit (flush writes)", "q", self.action_quit)
        yield SystemCommand("Keys", "?: every key on one screen", self.action_help)
        if screen is self.dashboard:
            yield SystemCommand("Filter assets", "/: type part of a name",
                                self.dashboard.action_filter)
            yield SystemCommand("Open asset detail", "Enter: charts from the store",
                                self.dashboard.action_open_detail)
            yield SystemCommand("Cycle view", "v: markets / panels / log on small terminals",
                                self.dashboard.action_cycle_view)
            for col in COLUMNS:
                yield SystemCommand(f"Sort by {col.label}", "s cycles, S reverses",
                                    partial(self.dashboard.sort_by, col.key))


def run_app(settings: Settings, demo: bool, cycles: int | None = None, seed: int = 7) -> int:
    """Run the dashboard until `q` (or N cycles); returns the process exit status."""
    app = HltuiApp(settings, demo=demo, cycles=cycles, seed=seed)
    result = app.run()
    if isinstance(result, int):
        return result
    return app.return_code or app.status
