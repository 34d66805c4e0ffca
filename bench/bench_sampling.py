"""Sampled positioning: accounts sampled per minute against the budget's ceiling, and the
CPU cost of validating + aggregating 5,000 accounts x 10 positions.

    python bench/bench_sampling.py [--window 3] [--windows 12] [--share 0.5]

Part 1 runs the hyperliquid and sampled jobs against the simulated exchange over real
HTTP, cycle after cycle, sharing one weight budget, and counts weight at the server.
Time is compressed: the exchange's rate-limit window and the client budget's window are
both `--window` seconds instead of 60 (request weights unchanged), so one window is one
simulated minute. The ceiling is what the configured share leaves after market data:
(share x 1200 x windows - market weight) / 2 accounts. Measured in the steady state
(the first window, where the empty budget allows a burst, is left out). The client's
window and the interval are `--margin` longer than the server's window, so request
latency jitter cannot put two spends one window apart into one server window.

Part 2 times json.loads of the payloads, then validation, then aggregation, side by side.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hltui.config import load_settings
from hltui.process.sampling import aggregate_samples, parse_clearinghouse_state
from hltui.sim.ratelimit import max_weight_in_window
from hltui.sim.server import SimExchangeThread
from hltui.sources.base import CycleContext, MarketAsset
from hltui.sources.budget import WeightBudget
from hltui.sources.http import InfoClient
from hltui.sources.hyperliquid import HyperliquidJob
from hltui.sources.sampling import SampledJob, market_reserve

PER_MINUTE = 1200


async def throughput(window: float, windows: int, share: float, reserve_cycles: float | None,
                     accounts: int, margin: float) -> dict:
    with TemporaryDirectory() as tmp, \
            SimExchangeThread(seed=11, n_accounts=accounts, window_s=window) as sim:
        # the exchange serves from its own thread: the client's loop cannot delay its clock
        settings = load_settings(
            hyperliquid_url=sim.url, leaderboard_url=sim.leaderboard_url, data_dir=tmp,
            sources="hyperliquid,sampled", sample_size=accounts * 2,
            interval=window * (1 + margin), weight_budget_share=share, batch_size=20,
            max_concurrency=4)
        # the client's window is a little longer than the server's: request latency
        # jitter must not let two spends one window apart land inside one server window
        budget = WeightBudget(share, PER_MINUTE, window_s=window * (1 + margin))
        hl = HyperliquidJob(settings, InfoClient(sim.url, 10, budget))
        reserve = None if reserve_cycles is None else market_reserve(settings, reserve_cycles)
        job = SampledJob(settings, InfoClient(sim.url, 10, budget), reserve=reserve)
        mode = job.share.describe()
        t_start = time.monotonic()
        cpu_start = time.process_time()
        cycles = 0
        try:
            while time.monotonic() - t_start < window * windows:
                cycles += 1
                ctx = CycleContext(cycles, int(time.time() * 1000))
                await hl.run(ctx)
                await job.run(ctx)
                await asyncio.sleep(settings.interval)  # as the collector does
        finally:
            t_end = time.monotonic()
            cpu = (time.process_time() - cpu_start) / (t_end - t_start)
            await job.close()
            await hl.close()
        log = sim.weight_log
        stats = sim.stats.to_dict()
    t0 = t_start + window  # steady state only
    steady = [(t, w) for t, w in log if t0 <= t < t_end]
    span = (t_end - t0) / window  # simulated minutes
    sampler = sum(w for _, w in steady if w == 2)
    market = sum(w for _, w in steady if w != 2)
    limit = int(PER_MINUTE * share)
    ceiling = (limit * span - market) / 2
    return {
        "mode": mode, "cycles": cycles, "minutes": span,
        "accounts_per_min": sampler / 2 / span, "ceiling_per_min": ceiling / span,
        "ratio": (sampler / 2) / ceiling,
        "max_window_weight": max_weight_in_window(log, window),
        "limit": limit, "server_429": stats["rate_limited"],
        "market_calls": stats["requests"].get("metaAndAssetCtxs", 0), "cpu": cpu,
    }


def synthetic(n_accounts: int, n_positions: int, coins: list[str], seed: int = 5) -> list[bytes]:
    rng = random.Random(seed)
    out = []
    for _ in range(n_accounts):
        positions = []
        for coin in rng.sample(coins, n_positions):
            szi = rng.uniform(-10, 10)
            px = rng.uniform(1, 1000)
            lev = rng.randint(1, 50)
            iso = rng.random() < 0.25
            positions.append({"type": "oneWay", "position": {
                "coin": coin, "szi": f"{szi:.4f}",
                "leverage": {"type": "isolated", "value": lev, "rawUsd": "-500.0"} if iso
                else {"type": "cross", "value": lev},
                "entryPx": f"{px:.4f}", "positionValue": f"{abs(szi) * px:.4f}",
                "unrealizedPnl": "1.5", "returnOnEquity": "0.01",
                "liquidationPx": None if rng.random() < 0.2 else f"{px * 0.8:.4f}",
                "marginUsed": "10.0", "maxLeverage": 50,
                "cumFunding": {"allTime": "1.2", "sinceOpen": "0.3", "sinceChange": "0.1"}}})
        summary = {"accountValue": "100000.0", "totalNtlPos": "1.0", "totalRawUsd": "1.0",
                   "totalMarginUsed": "1.0"}
        out.append(json.dumps({"marginSummary": summary, "crossMarginSummary": summary,
                               "crossMaintenanceMarginUsed": "1.0", "withdrawable": "1.0",
                               "assetPositions": positions, "time": 1736499600048}).encode())
    return out


def cpu(n_accounts: int = 5000, n_positions: int = 10, repeat: int = 3) -> dict:
    coins = [f"C{i}" for i in range(200)]
    market = {c: MarketAsset(c, 500.0, 500.0, 1e6, 0.0) for c in coins}
    bodies = synthetic(n_accounts, n_positions, coins)
    best: dict[str, float] = {}
    for _ in range(repeat):
        t = time.process_time()
        decoded = [json.loads(b) for b in bodies]
        t_json = time.process_time() - t
        t = time.process_time()
        samples = [parse_clearinghouse_state(f"0x{i:040x}", d, 0.0)
                   for i, d in enumerate(decoded)]
        t_parse = time.process_time() - t
        t = time.process_time()
        agg = aggregate_samples(samples, market, 0, sample_age_s=1.0)
        t_agg = time.process_time() - t
        for k, v in (("json", t_json), ("validate", t_parse), ("aggregate", t_agg)):
            best[k] = min(best.get(k, v), v)
    best["points"] = len(agg.points)
    return best


def leaderboard(rows: int = 40_000, n: int = 1000) -> dict:
    """Streaming scan vs json.loads of a leaderboard of `rows` rows: time and peak memory."""
    import tracemalloc

    from hltui.process.leaderboard import scan_leaderboard

    rng = random.Random(3)
    doc = json.dumps({"leaderboardRows": [
        {"ethAddress": f"0x{rng.getrandbits(160):040x}",
         "accountValue": f"{rng.lognormvariate(10, 2):.6f}",
         "windowPerformances": [[w, {"pnl": f"{rng.gauss(0, 1e4):.6f}",
                                     "roi": f"{rng.gauss(0, 0.1):.12f}",
                                     "vlm": f"{rng.uniform(0, 1e7):.2f}"}]
                                for w in ("day", "week", "month", "allTime")],
         "prize": 0, "displayName": None} for _ in range(rows)]}).encode()
    out: dict = {"mb": len(doc) / 1e6}
    for name, fn in (("json", lambda: json.loads(doc)),
                     ("scan", lambda: scan_leaderboard(doc, n))):
        tracemalloc.start()
        t = time.process_time()
        fn()
        out[name] = time.process_time() - t
        out[name + "_peak_mb"] = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--window", type=float, default=6.0, help="seconds per simulated minute")
    ap.add_argument("--windows", type=int, default=10, help="simulated minutes per run")
    ap.add_argument("--share", type=float, default=0.5)
    ap.add_argument("--accounts", type=int, default=3000)
    ap.add_argument("--margin", type=float, default=0.03,
                    help="client budget window = server window x (1 + margin)")
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--all-modes", action="store_true", help="also reserve= 1x market")
    args = ap.parse_args()
    print(f"time compression: 60 s -> {args.window:g} s server window ({60 / args.window:g}x), "
          f"client budget window {args.window * (1 + args.margin):g} s; budget share "
          f"{args.share}, {args.accounts} accounts in the address set")
    if not args.skip_throughput:
        modes = [(None, "own share (default)"), (2.0, "reserve= 2x market")]
        if args.all_modes:
            modes.insert(1, (1.0, "reserve= 1x market"))
        for cycles, label in modes:
            r = asyncio.run(throughput(args.window, args.windows, args.share, cycles,
                                       args.accounts, args.margin))
            print(f"{label:>20}: {r['accounts_per_min']:7.1f} accounts/min vs ceiling "
                  f"{r['ceiling_per_min']:7.1f} -> {r['ratio']:.3f}x  "
                  f"| max weight in a window {r['max_window_weight']}/{r['limit']}, "
                  f"429s {r['server_429']}, {r['market_calls']} market cycles "
                  f"in {r['cycles']} cycles ({r['minutes']:.1f} sim-min steady)\n"
                  f"{'':>22}sampler {r['mode']}; process CPU {r['cpu']:.0%} of one core")
    c = cpu()
    total = c["validate"] + c["aggregate"]
    print(f"5,000 accounts x 10 positions ({c['points']} points): json.loads "
          f"{c['json'] * 1000:.0f} ms, validate {c['validate'] * 1000:.0f} ms "
          f"({c['validate'] / c['json']:.1f}x json), aggregate {c['aggregate'] * 1000:.0f} ms "
          f"({c['aggregate'] / c['json']:.1f}x json); validate+aggregate {total * 1000:.0f} ms "
          "CPU")
    lb = leaderboard()
    print(f"leaderboard {lb['mb']:.0f} MB, top 1000: streaming scan {lb['scan'] * 1000:.0f} ms "
          f"CPU, peak {lb['scan_peak_mb']:.1f} MB (beyond the document) vs json.loads "
          f"{lb['json'] * 1000:.0f} ms, peak {lb['json_peak_mb']:.0f} MB "
          f"({lb['json_peak_mb'] / max(lb['scan_peak_mb'], 1e-9):.0f}x the memory)")


if __name__ == "__main__":
    main()
