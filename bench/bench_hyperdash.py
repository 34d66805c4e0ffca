"""HyperDash source: warm cycles (one Chromium reused) against cold cycles (a Chromium
launched and closed per cycle, as the original pipeline did), side by side in one run,
then Chromium and collector memory over many warm cycles.

The simulated site runs in its own process (the real one is remote), so the collector
process holds only what a real collector holds. Cold and warm cycles alternate so the
shared machine's load drifts over both alike.

    python bench/bench_hyperdash.py [--assets 30] [--pairs 5] [--rss-cycles 50]
                                    [--protocol graphql|rest] [--navigation spa|page]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing as mp
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hltui.config import load_settings
from hltui.sources.base import CycleContext
from hltui.sources.hyperdash.browser import BrowserManager, find_browser
from hltui.sources.hyperdash.job import HyperDashJob


def serve(queue: mp.Queue, protocol: str, assets: list[str]) -> None:
    """Child process: the simulated site until killed."""
    from hltui.sim.hyperdash import SimHyperDashThread

    sim = SimHyperDashThread(seed=7, assets=assets, protocol=protocol).start()
    queue.put(sim.settings_overrides())
    time.sleep(3600)


def ctx(cycle: int) -> CycleContext:
    return CycleContext(cycle=cycle, now_ms=int(time.time() * 1000))


async def one_cycle(job: HyperDashJob, cycle: int, n: int) -> float:
    t = time.perf_counter()
    res = await job.run(ctx(cycle))
    if res.ok != n:
        raise SystemExit(f"cycle {cycle}: {res.ok}/{n} assets ok: {res.errors[:3]}")
    return time.perf_counter() - t


def mb(n: float) -> str:
    return f"{n / 2**20:7.0f}"


def chromium_pss(browser: BrowserManager) -> int:
    """Proportional set size of the Chromium tree (shared pages counted once)."""
    import psutil

    if browser.pid is None:
        return 0
    root = psutil.Process(browser.pid)
    total = 0
    for p in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.Error, AttributeError):
            total += p.memory_full_info().pss
    return total


async def main(args: argparse.Namespace) -> None:
    import psutil

    assets = [f"A{i:02d}" for i in range(args.assets - 3)] + ["kPEPE", "@107", "Ω=2 x"]
    queue: mp.Queue = mp.get_context("spawn").Queue()
    child = mp.get_context("spawn").Process(target=serve, args=(queue, args.protocol, assets),
                                            daemon=True)
    child.start()
    overrides = queue.get(timeout=30)
    exe = find_browser()
    settings = load_settings(**overrides, hyperdash_assets=assets, browser_path=exe,
                             hyperdash_navigation=args.navigation, hyperdash_pages=args.pages)
    print(f"hyperdash bench: {len(assets)} assets, protocol {args.protocol}, navigation "
          f"{args.navigation}, pages {settings.hyperdash_pages}, batch {settings.batch_size}, "
          f"browser {exe}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")

    warm_browser = BrowserManager.from_settings(settings)
    warm = HyperDashJob(settings, browser=warm_browser)
    await one_cycle(warm, 0, len(assets))  # the launch belongs to the first cycle only
    # the original: a browser launched per cycle and a page loaded per asset
    original = settings.model_copy(update={"hyperdash_navigation": "page"})

    async def cold_cycle(s, cycle: int) -> float:
        browser = BrowserManager.from_settings(s)
        t = time.perf_counter()
        await one_cycle(HyperDashJob(s, browser=browser), cycle, len(assets))
        await browser.close()
        return time.perf_counter() - t

    cold_s, warm_s, orig_s = [], [], []
    for i in range(args.pairs):
        cold_s.append(await cold_cycle(settings, i + 1))
        warm_s.append(await one_cycle(warm, i + 1, len(assets)))
        orig_s.append(await cold_cycle(original, i + 1))
        print(f"  round {i + 1}: cold {cold_s[-1]:.2f} s   warm {warm_s[-1]:.2f} s   "
              f"cold+page-per-asset {orig_s[-1]:.2f} s")
    cm, wm, om = (statistics.median(x) for x in (cold_s, warm_s, orig_s))
    print(f"cycle time, median of {args.pairs}: warm {wm:.2f} s, cold {cm:.2f} s, "
          f"cold+page-per-asset {om:.2f} s")
    print(f"  warm/cold (same navigation, browser reuse only) = {wm / cm:.2f}x")
    print(f"  warm/original (launch per cycle + a page load per asset) = {wm / om:.2f}x "
          f"(aim <= 0.3x)")
    print(f"  warm browser launches: {warm_browser.launches} for {args.pairs + 1} cycles; "
          f"load average now {os.getloadavg()[0]:.1f}")

    me = psutil.Process()
    rows = []
    for c in range(1, args.rss_cycles + 1):
        await one_cycle(warm, 100 + c, len(assets))
        rows.append((c, warm_browser.rss_bytes(), chromium_pss(warm_browser),
                     me.memory_info().rss, warm_browser.driver_rss_bytes(),
                     warm_browser.open_pages()))
    print(f"memory over {args.rss_cycles} warm cycles (MB; Chromium RSS sums shared pages "
          "per process, PSS counts them once):")
    print("  cycle  chromium_rss  chromium_pss  collector_rss  driver_rss  open_pages")
    marks = sorted({1, 10, 20, 30, 40, args.rss_cycles} & set(range(1, args.rss_cycles + 1)))
    for c, rss, pss, py, drv, pages in rows:
        if c in marks:
            print(f"  {c:5d}  {mb(rss):>12}  {mb(pss):>12}  {mb(py):>13}  {mb(drv):>10}  "
                  f"{pages:10d}")
    for name, i in (("chromium_rss", 1), ("chromium_pss", 2), ("collector_rss", 3)):
        vals = [r[i] for r in rows]
        print(f"  {name}: min {mb(min(vals)).strip()} max {mb(max(vals)).strip()} "
              f"first10 {mb(statistics.mean(vals[:10])).strip()} "
              f"last10 {mb(statistics.mean(vals[-10:])).strip()}")
    print(f"  browser launches over the run: {warm_browser.launches}, relaunches: "
          f"{warm_browser.relaunches or 'none'}")
    await warm_browser.close()
    child.kill()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--assets", type=int, default=30)
    ap.add_argument("--pairs", type=int, default=5)
    ap.add_argument("--rss-cycles", type=int, default=50)
    ap.add_argument("--protocol", choices=("graphql", "rest"), default="graphql")
    ap.add_argument("--navigation", choices=("spa", "page"), default="spa")
    ap.add_argument("--pages", type=int, default=1, help="pages open at once per batch")
    asyncio.run(main(ap.parse_args()))
