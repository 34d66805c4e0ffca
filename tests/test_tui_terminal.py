"""`hltui --demo` in a real pseudo-terminal: when the terminal goes away (hang-up, or
stdin closed under it) the process flushes its writes and exits instead of spinning."""

from __future__ import annotations

import asyncio
import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from hltui.config import load_settings
from hltui.engine.build import demo_settings
from hltui.store.factory import make_store

ROOT = Path(__file__).resolve().parent.parent
FIRST_CYCLE = b"points written"


def child_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HLTUI_")}
    env.update(PYTHONPATH=str(ROOT), HLTUI_DATA_DIR=str(data_dir), TERM="xterm-256color",
               HLTUI_INTERVAL="3600", HLTUI_SOURCES="hyperliquid")
    return env


def set_size(fd: int, cols: int = 160, rows: int = 48) -> None:
    """A roomy terminal: the log pane (where the cycle line shows) needs height."""
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def read_until(fd: int, needle: bytes, timeout: float) -> bytes:
    out, end = bytearray(), time.monotonic() + timeout
    while needle not in out:
        left = end - time.monotonic()
        if left <= 0:
            raise AssertionError(f"{needle!r} not shown within {timeout} s: {bytes(out[-300:])!r}")
        ready, _, _ = select.select([fd], [], [], min(left, 0.5))
        if ready:
            try:
                out += os.read(fd, 65536)
            except OSError:
                raise AssertionError(f"terminal closed early: {bytes(out[-300:])!r}") from None
    return bytes(out)


def wait_exit(pid: int, timeout: float) -> int:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    raise AssertionError(f"hltui still running {timeout} s after its terminal went away")


def stored_rows(data_dir: Path) -> list[dict]:
    settings = demo_settings(load_settings(data_dir=data_dir), "http://x", "http://x")

    async def read() -> list[dict]:
        store = make_store(settings)
        await store.open()
        try:
            return await store.latest_positions()
        finally:
            await store.close()

    return asyncio.run(read())


@pytest.mark.slow
def test_hangup_flushes_and_exits(clean_env: Path):
    data = clean_env / "data"
    pid, fd = pty.fork()
    if pid == 0:  # the child: hltui in its own session, the pty its controlling terminal
        os.execvpe(sys.executable, [sys.executable, "-m", "hltui", "--demo"], child_env(data))
    try:
        set_size(fd)
        read_until(fd, FIRST_CYCLE, 60)
    finally:
        os.close(fd)  # the terminal goes away: the kernel hangs up the session (SIGHUP)
    status = wait_exit(pid, 20)
    assert os.WIFEXITED(status), f"killed by a signal: {status}"
    rows = stored_rows(data)
    assert len(rows) > 200  # the first cycle's points are in the store


@pytest.mark.slow
def test_stdin_closed_under_it_exits_instead_of_spinning(clean_env: Path):
    data = clean_env / "data"
    master, slave = pty.openpty()
    set_size(slave)
    proc = subprocess.Popen([sys.executable, "-m", "hltui", "--demo"], stdin=subprocess.PIPE,
                            stdout=slave, stderr=slave, env=child_env(data),
                            start_new_session=True)
    os.close(slave)
    try:
        read_until(master, FIRST_CYCLE, 60)
        proc.stdin.close()  # type: ignore[union-attr]
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise AssertionError("hltui kept running after stdin closed") from None
    finally:
        os.close(master)
    assert proc.returncode is not None and proc.returncode >= 0
    assert len(stored_rows(data)) > 200
