"""Notice when the terminal goes away, so the app can flush and exit.

Textual does not handle a lost terminal: on an SSH drop the default SIGHUP action
kills the process without flushing, and with SIGHUP ignored (nohup, tmux quirks)
its input thread spins on a hung-up tty forever. We catch SIGHUP/SIGTERM and also
poll stdin/stdout for hang-up or error once a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Callable

_GONE = select.POLLHUP | select.POLLERR | select.POLLNVAL


def lost_fd(fds: tuple[int, ...]) -> int | None:
    """The first fd that reports hang-up/error (without reading from it), or None."""
    poller = select.poll()
    for fd in fds:
        poller.register(fd, 0)  # hang-up/error are always reported, nothing is consumed
    try:
        events = poller.poll(0)
    except OSError:
        return fds[0] if fds else None
    for fd, mask in events:
        if mask & _GONE:
            return fd
    return None


def terminal_fds() -> tuple[int, ...]:
    fds = []
    for stream in (sys.__stdin__, sys.__stdout__):
        with contextlib.suppress(AttributeError, ValueError, OSError):
            if stream is not None:
                fds.append(stream.fileno())
    return tuple(fds)


class TerminalWatch:
    """Calls `on_lost(reason)` once: on SIGHUP/SIGTERM, or when stdin/stdout hang up."""

    def __init__(self, on_lost: Callable[[str], None]) -> None:
        self._on_lost = on_lost
        self._fired = False
        self._fds = terminal_fds()
        self._signals: list[int] = []

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        for sig, name in ((signal.SIGHUP, "SIGHUP"), (signal.SIGTERM, "SIGTERM")):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, self.fire, f"{name}: terminal closed")
                self._signals.append(sig)
        # no more output once the terminal is gone: writes to a hung-up tty fail (EIO)
        with contextlib.suppress(AttributeError, ValueError):
            signal.signal(signal.SIGPIPE, signal.SIG_IGN)

    def uninstall(self, loop: asyncio.AbstractEventLoop) -> None:
        for sig in self._signals:
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)
        self._signals.clear()

    def check(self) -> None:
        fd = lost_fd(self._fds)
        if fd is not None:
            self.fire(f"terminal lost (fd {fd} hung up)")

    def fire(self, reason: str) -> None:
        if not self._fired:
            self._fired = True
            self._on_lost(reason)

    @property
    def fired(self) -> bool:
        return self._fired


def exit_soon(status: int, grace: float = 2.0) -> None:
    """Leave within `grace` seconds even if Textual's shutdown blocks on the dead tty.

    Called only after pending writes were flushed: Textual's writer thread can
    block forever on a terminal that is gone, which would leave a process behind.
    """
    def _later() -> None:
        time.sleep(grace)
        os._exit(status)

    threading.Thread(target=_later, name="hltui-exit", daemon=True).start()


def silence_output() -> None:
    """Point stdout/stderr at /dev/null so shutdown writes cannot raise or block."""
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        for fd in (1, 2):
            with contextlib.suppress(OSError):
                os.dup2(devnull, fd)
        os.close(devnull)
