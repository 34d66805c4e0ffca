"""Dashboard benchmarks, each printed as a ratio against a baseline measured in the same run.

1. Markets table refresh, 230 rows, every value changed: in-place `sync` (what the
   dashboard does) vs clearing and re-adding every row; ms per refresh including the
   repaint, and whether the cursor stayed on its asset and its screen line.
2. RSS while 20,000 log lines stream through the app's feed and log pane (flat?).
3. Idle CPU of `hltui --demo` between cycles (real process in a pseudo-terminal) vs an
   empty Textual app idling the same way.
4. Enter-to-charts on the detail screen for 7 days of 10-second data in the embedded
   store (~60k points per field), 24 h vs 7 d.

Run: `python bench/bench_tui.py [--quick]` (from the repository root).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pty
import random
import select
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil
from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import DataTable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hltui.engine.events import LogRecord, SnapshotReady  # noqa: E402
from hltui.tui.model import DashboardModel  # noqa: E402
from hltui.tui.widgets.markets_table import COLUMNS, MarketsTable  # noqa: E402

QUICK = "--quick" in sys.argv


def snapshot(cycle: int, seed: int, n: int = 230) -> SnapshotReady:
    rnd = random.Random(seed)
    return SnapshotReady(cycle, {
        f"A{i:03d}": {"mark_price": rnd.uniform(0.001, 1e5), "funding_rate": rnd.gauss(0, 2e-5),
                      "predicted_funding_rate": rnd.gauss(0, 2e-5),
                      "open_interest_usd": rnd.uniform(1e5, 2e9),
                      "volume_24h_usd": rnd.uniform(1e5, 9e9), "change_24h": rnd.gauss(0, 0.05),
                      "ls_ratio": rnd.uniform(0.5, 2), "long_traders": rnd.randint(0, 9000),
                      "short_traders": rnd.randint(0, 9000), "coverage": rnd.random()}
        for i in range(n)}, {})


class TableHost(App):
    def compose(self) -> ComposeResult:
        yield MarketsTable()


class DataTableHost(App):
    def compose(self) -> ComposeResult:
        yield DataTable(cursor_type="row")


def paint(widget, height: int) -> None:
    """Render every visible line, as a repaint would."""
    for y in range(height):
        widget.render_line(y)


async def bench_table(rounds: int) -> None:
    """Ours (Line API, changed cells swapped) vs Textual's DataTable updated in place."""
    app = TableHost()
    ours, kept, line_kept = [], 0, 0
    async with app.run_test(size=(160, 48)) as pilot:
        table = app.query_one(MarketsTable)
        model = DashboardModel()
        model.apply(snapshot(0, 0))
        table.sync(model.rows)
        await pilot.pause()
        table.move_cursor(100)
        await pilot.pause()
        h = table.size.height
        for r in range(1, rounds + 1):
            model.apply(snapshot(r, r))
            asset = table.selected_asset
            line = table.cursor_row - round(table.scroll_y)
            t0 = time.perf_counter()
            table.sync(model.rows)
            paint(table, h)
            ours.append((time.perf_counter() - t0) * 1000)
            await pilot.pause()
            kept += table.selected_asset == asset
            line_kept += table.cursor_row - round(table.scroll_y) == line
    theirs = []
    app2 = DataTableHost()
    async with app2.run_test(size=(160, 48)) as pilot:
        dt = app2.query_one(DataTable)
        for col in COLUMNS:
            dt.add_column(col.label, key=col.key, width=col.width)
        model = DashboardModel()
        model.apply(snapshot(0, 0))
        for asset, row in model.rows.items():
            dt.add_row(Text(asset), *(Text(c.render(row), style=c.style(row), justify="right")
                                      for c in COLUMNS[1:]), key=asset)
        await pilot.pause()
        h = dt.size.height
        for r in range(1, rounds + 1):
            model.apply(snapshot(r, r))
            t0 = time.perf_counter()
            for asset, row in model.rows.items():
                for c in COLUMNS[1:]:
                    dt.update_cell(asset, c.key, Text(c.render(row), style=c.style(row),
                                                      justify="right"))
            paint(dt, h)
            theirs.append((time.perf_counter() - t0) * 1000)
            await pilot.pause()
    s, f = statistics.median(ours), statistics.median(theirs)
    print(f"[table] 230 rows x 11 columns, every value changed, {rounds} refreshes, 160x48;")
    print("        time = apply the refresh + render every visible line")
    print(f"  MarketsTable (Line API) : median {s:6.1f} ms  p90 "
          f"{sorted(ours)[int(rounds * .9)]:6.1f} ms")
    print(f"  DataTable, update_cell  : median {f:6.1f} ms  p90 "
          f"{sorted(theirs)[int(rounds * .9)]:6.1f} ms   (ours/DataTable = {s / f:.2f})")
    print(f"  cursor stayed on its asset: {kept}/{rounds}; on its screen line: "
          f"{line_kept}/{rounds}")


async def bench_log_rss(total: int) -> None:
    from hltui.config import Settings
    from hltui.tui.app import HltuiApp

    class IdleRuntime:
        """The app without a collector: only the log path is measured here."""

        def __init__(self) -> None:
            self.store = None
            self.demo = True

            class _C:
                paused = False

                async def run(self, cycles=None):
                    await asyncio.Event().wait()

                def stop(self):
                    pass

            self.collector = _C()

        async def aclose(self) -> None:
            pass

    async def factory(sink):
        return IdleRuntime()

    with tempfile.TemporaryDirectory() as tmp:
        app = HltuiApp(Settings(data_dir=Path(tmp)), runtime_factory=factory,
                       watch_terminal=False)
        proc = psutil.Process()
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.pause(0.3)
            marks = []
            per_tick = 250
            for i in range(0, total, per_tick):
                for j in range(per_tick):
                    app.feed(LogRecord("info" if j % 5 else "warning",
                                       f"line {i + j}: cycle 12 hyperliquid 230 ok/0 failed; "
                                       f"231 points written in 812 ms"))
                await pilot.pause(0.26)  # one refresh tick drains the batch
                if (i + per_tick) % (total // 4) == 0:
                    marks.append((i + per_tick, proc.memory_info().rss / 2**20))
            await app.action_quit()
    print(f"[log] RSS while streaming {total:,} log lines ({per_tick}/tick)")
    for n, rss in marks:
        print(f"  after {n:6,} lines: RSS {rss:6.1f} MiB")
    print(f"  growth last/first quarter = {marks[-1][1] / marks[0][1]:.3f}")


def drain(fd: int, seconds: float) -> bytes:
    """Read the child's output for `seconds`, never blocking past them."""
    end, out = time.time() + seconds, bytearray()
    while (left := end - time.time()) > 0:
        ready, _, _ = select.select([fd], [], [], min(0.5, left))
        if ready:
            try:
                out += os.read(fd, 65536)
            except OSError:  # the child closed the terminal
                break
    return bytes(out)


def tree_cpu(p: psutil.Process) -> float:
    """CPU seconds of a process and its children (the demo's browser, if any)."""
    total = sum(p.cpu_times()[:2])
    for child in p.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            total += sum(child.cpu_times()[:2])
    return total


def cpu_while_idle(argv: list[str], env: dict, settle: float, window: float,
                   expect: bytes = b"") -> float:
    """% of one core used by a TUI process in a pty during `window` seconds."""
    pid, fd = pty.fork()
    if pid == 0:  # child: the TUI
        os.execvpe(argv[0], argv, env)
    try:
        shown = drain(fd, settle)
        if expect not in shown:
            raise RuntimeError(f"{argv} did not show {expect!r} after {settle} s")
        p = psutil.Process(pid)
        c0, t0 = tree_cpu(p), time.time()
        drain(fd, window)
        c1, t1 = tree_cpu(p), time.time()
        return 100 * (c1 - c0) / (t1 - t0)
    finally:
        with contextlib.suppress(OSError):
            os.write(fd, b"q")
        drain(fd, 2.0)
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(fd)


def bench_idle_cpu(window: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "HLTUI_DATA_DIR": tmp,
               "TERM": "xterm-256color", "COLUMNS": "160", "LINES": "48"}
        env.pop("HLTUI_INFLUX_URL", None)
        py = sys.executable
        base = cpu_while_idle([py, "-c", "from textual.app import App\n"
                               "from textual.widgets import Footer\n"
                               "class A(App):\n"
                               "    def compose(self):\n        yield Footer()\n"
                               "A().run()"], env, 3, window)
        demo = cpu_while_idle([py, "-m", "hltui", "--demo", "--interval", "300"], env, 30,
                              window, expect=b"points written")
    print(f"[idle] CPU between cycles over {window:.0f} s (pty 160x48)")
    print(f"  empty Textual app : {base:5.2f}% of a core")
    print(f"  hltui --demo      : {demo:5.2f}% of a core   (difference {demo - base:+.2f} points)")


async def bench_enter_to_charts() -> None:
    from hltui.config import Settings
    from hltui.process.records import ASSET_METRICS, Point
    from hltui.store.factory import make_store
    from hltui.tui.screens.detail import AssetDetailScreen

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp))
        store = make_store(settings)
        await store.open()
        now_ms = int(time.time() * 1000)
        step, span = 10_000, 7 * 86_400_000
        rnd = random.Random(1)
        points, price = [], 100.0
        for t in range(now_ms - span, now_ms, step):
            price *= 1 + rnd.gauss(0, 0.0005)
            points.append(Point(ASSET_METRICS, {"asset": "BTC", "source": "hyperliquid"},
                                {"mark_price": price, "funding_rate": rnd.gauss(0, 1e-5),
                                 "open_interest_usd": 1e9 + rnd.random() * 1e7,
                                 "ls_ratio": 1 + rnd.random() * 0.2}, t))
        t0 = time.perf_counter()
        for i in range(0, len(points), 5000):
            await store.write(points[i:i + 5000])
        write_s = time.perf_counter() - t0
        model = DashboardModel()

        class Host(App):
            pass

        results: dict[str, list[tuple[float, float, int]]] = {"1": [], "2": []}
        host = Host()
        async with host.run_test(size=(160, 48)) as pilot:
            for key in ("1", "1", "2", "1", "2", "1", "2"):  # the first run only warms up
                screen = AssetDetailScreen("BTC", model, lambda: store, lambda a, s: None)
                screen.range_key = key
                t0 = time.perf_counter()
                await host.push_screen(screen)
                while screen.loaded is None:
                    await pilot.pause(0.005)
                await pilot.pause()
                results[key].append(((time.perf_counter() - t0) * 1000, screen.loaded.load_ms,
                                     len(screen.loaded.series.times_ms)))
                host.pop_screen()
                await pilot.pause()
        results["1"] = results["1"][1:]
        await store.close()
    print(f"[detail] Enter-to-charts, {len(points):,} points of 10 s data over 7 d "
          f"(written in {write_s:.1f} s)")
    med = {k: tuple(statistics.median(r[i] for r in v) for i in range(3))
           for k, v in results.items()}
    for key, label in (("1", "24 h"), ("2", "7 d")):
        total, load, n = med[key]
        print(f"  {label:>4}: median {total:5.0f} ms to charts ({load:5.0f} ms store reads, "
              f"{n:.0f} points, 3 runs)")
    print(f"  7d/24h = {med['2'][0] / med['1'][0]:.2f}")


def main() -> None:
    asyncio.run(bench_table(10 if QUICK else 40))
    asyncio.run(bench_log_rss(8_000 if QUICK else 20_000))
    if "--no-store" not in sys.argv:
        asyncio.run(bench_enter_to_charts())
    if "--no-idle" not in sys.argv:
        bench_idle_cpu(10 if QUICK else 30)


if __name__ == "__main__":
    main()
