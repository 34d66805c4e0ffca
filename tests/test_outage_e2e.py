"""`hltui --headless` through an InfluxDB outage and a kill -9: nothing lost, nothing twice.

Real processes: the collector is a subprocess (`python -m hltui --headless --demo`, the
simulated exchange in-process), InfluxDB a real influxd of our own that the tests stop
and start again on the same ports.
"""

from __future__ import annotations

import collections
import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from hltui.store.spool import Spool
from tests.helpers.influxd import Influxd

ROOT = Path(__file__).resolve().parents[1]
MEASUREMENTS = ("asset_metrics", "global_metrics", "collector_stats")
_dbs = itertools.count()

pytestmark = pytest.mark.slow


def env_for(server: Influxd, db: str, data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HLTUI_")}
    env.update(PYTHONPATH=str(ROOT), NO_COLOR="1", HLTUI_INFLUX_URL=server.url,
               HLTUI_INFLUX_DATABASE=db, HLTUI_DATA_DIR=str(data), HLTUI_BREAKER_RESET="0.3",
               HLTUI_INFLUX_TIMEOUT="3", HLTUI_SOURCES="hyperliquid")
    return env


class Headless:
    """A running `hltui --headless --demo`; stdout lines collected by a thread."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hltui", "--headless", "--demo", *args],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self.eof = False
        self._cv = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._cv:
                self.lines.append(line.rstrip("\n"))
                self._cv.notify_all()
        with self._cv:
            self.eof = True
            self._cv.notify_all()

    def wait_for(self, pred, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        with self._cv:
            while not pred(self.lines):
                if self.eof or time.monotonic() > deadline:
                    raise AssertionError("not seen; output:\n" + "\n".join(self.lines[-40:]))
                self._cv.wait(0.5)

    def cycles(self, word: str | None = None) -> int:
        return sum(1 for ln in self.lines if " cycle " in ln and ": " in ln
                   and (word is None or word in ln))

    def finish(self, timeout: float = 120) -> int:
        code = self.proc.wait(timeout)
        self.wait_for(lambda lines: self.eof)
        return code


def rows_by_time(server: Influxd, db: str, measurement: str) -> collections.Counter:
    rows = server.rows(f'SELECT * FROM "raw"."{measurement}" GROUP BY *', db)
    return collections.Counter(r["time"] for r in rows)


def test_influxdb_down_for_the_middle_cycles_loses_nothing(up: Influxd, tmp_path: Path):
    db = f"e2e_{next(_dbs)}"
    run = Headless(env_for(up, db, tmp_path / "data"), "--cycles", "10", "--interval", "0.4")
    run.wait_for(lambda lines: run.cycles() >= 3)
    up.stop()
    run.wait_for(lambda lines: run.cycles() >= 7)
    up.start()
    code = run.finish()
    out = "\n".join(run.lines)
    assert code == 0, out
    assert run.cycles() == 10
    assert run.cycles("spooled") >= 2, out  # the outage really hit cycles
    assert "spool replayed" in out
    demo_db = db + "_demo"
    per_time = rows_by_time(up, demo_db, "asset_metrics")
    times = sorted(per_time)
    assert len(times) == 10  # every cycle, each at its own time
    assert all(b - a >= 400 for a, b in itertools.pairwise(times))
    assert len(set(per_time.values())) == 1  # every asset in every cycle, exactly once
    assert sorted(rows_by_time(up, demo_db, "global_metrics")) == times
    stats = rows_by_time(up, demo_db, "collector_stats")
    assert sorted(stats) == times and set(stats.values()) == {2}  # hyperliquid + collector


def test_kill_9_while_influxdb_is_down_then_restart_delivers_the_spool(up: Influxd,
                                                                      tmp_path: Path):
    db = f"e2e_{next(_dbs)}"
    data = tmp_path / "data"
    env = env_for(up, db, data)
    up.stop()
    run = Headless(env, "--interval", "0.3")
    run.wait_for(lambda lines: run.cycles("spooled") >= 3)
    os.kill(run.proc.pid, signal.SIGKILL)
    assert run.finish() == -signal.SIGKILL
    # what the dead process had spooled (read without acknowledging anything)
    with Spool(data / "demo" / "spool", 1 << 30) as spool:
        batch = spool.next_batch(1 << 30)
    assert batch is not None and batch.lines
    spooled = batch.lines
    expected: dict[str, collections.Counter] = {m: collections.Counter() for m in MEASUREMENTS}
    for line in spooled:
        measurement = line.split(",", 1)[0].split(" ", 1)[0]
        expected[measurement][int(line.rsplit(" ", 1)[1])] += 1
    up.start()
    again = Headless(env, "--cycles", "1", "--interval", "0.3")
    assert again.finish() == 0, "\n".join(again.lines)
    assert any("spool replayed" in ln for ln in again.lines)
    for m in MEASUREMENTS:
        got = rows_by_time(up, db + "_demo", m)
        for t, n in expected[m].items():
            assert got[t] == n, (m, t)
        assert len(got) == len(expected[m]) + 1  # plus the new cycle
    with Spool(data / "demo" / "spool", 1 << 30) as spool:
        assert spool.empty
