"""How fast the simulated exchange answers, measured side by side in one run.

Prints per-request times of the in-process work (step + render + JSON) and of full
HTTP round trips for the heavy (metaAndAssetCtxs, 230 assets) and light (allMids,
clearinghouseState) requests, with ratios against the in-process render.

    python bench/sim_http.py [--rounds 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Awaitable, Callable

import aiohttp

from hltui.sim.server import SimExchange


def per_call_ms(fn: Callable[[], object], n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n * 1000


async def per_call_ms_async(fn: Callable[[], Awaitable[object]], n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        await fn()
    return (time.perf_counter() - t0) / n * 1000


async def main(rounds: int) -> None:
    async with SimExchange(seed=7, weight_limit=10**9) as sim, aiohttp.ClientSession() as s:
        m = sim.market
        addrs = sim.book.addresses

        async def info(body: dict) -> bytes:
            async with s.post(f"{sim.url}/info", json=body) as r:
                return await r.read()

        i = iter(range(10**9))
        cases: dict[str, Callable[[], Awaitable[object]]] = {
            "http metaAndAssetCtxs": lambda: info({"type": "metaAndAssetCtxs"}),
            "http allMids": lambda: info({"type": "allMids"}),
            "http clearinghouseState": lambda: info(
                {"type": "clearinghouseState", "user": addrs[next(i) % len(addrs)]}),
        }
        results: dict[str, list[float]] = {k: [] for k in ("in-process step+render+json",
                                                           *cases)}
        for _ in range(3):  # interleave repeats: the machine is shared and noisy
            results["in-process step+render+json"].append(per_call_ms(
                lambda: json.dumps(m.serve_meta_and_asset_ctxs(), ensure_ascii=False), rounds))
            for name, fn in cases.items():
                results[name].append(await per_call_ms_async(fn, rounds))
        base = statistics.median(results["in-process step+render+json"])
        print(f"{len(m.assets)} assets, {len(addrs)} accounts, {rounds} calls x 3 repeats")
        for name, xs in results.items():
            med = statistics.median(xs)
            print(f"{name:32s} {med:7.3f} ms/call  x{med / base:5.2f} of in-process render")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=200)
    asyncio.run(main(ap.parse_args().rounds))
