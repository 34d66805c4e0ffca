"""Processing one 230-asset metaAndAssetCtxs snapshot (validate + derive + serialize to line
protocol) as a ratio to `json.loads` of the same bytes, measured side by side in one run.

Run: python bench/bench_process.py
"""

from __future__ import annotations

import json
import statistics
import time

from hltui.process.hyperliquid import derive_points, parse_meta_and_ctxs, parse_predicted_fundings
from hltui.sim.market import Market
from hltui.store.lineproto import to_lines


def best_of(fn, repeat: int = 7, number: int = 50) -> float:
    """Median of `repeat` runs of `number` calls, seconds per call."""
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        runs.append((time.perf_counter() - t0) / number)
    return statistics.median(runs)


def main() -> None:
    market = Market(seed=7, n_assets=230)
    market.step()
    raw = json.dumps(market.meta_and_asset_ctxs()).encode()
    pred_raw = json.dumps(market.predicted_fundings()).encode()
    n_assets = len(json.loads(raw)[0]["universe"])

    def loads_only() -> None:
        json.loads(raw)
        json.loads(pred_raw)

    def validate_only() -> None:
        parse_meta_and_ctxs(json.loads(raw))
        parse_predicted_fundings(json.loads(pred_raw))

    def full() -> None:
        parsed = parse_meta_and_ctxs(json.loads(raw))
        pred, _ = parse_predicted_fundings(json.loads(pred_raw))
        points, _, _ = derive_points(parsed, pred, 1_700_000_000_000)
        to_lines(points)

    full()  # warm imports
    # interleave so drift on a shared machine hits every variant alike
    a, b, c = [], [], []
    for _ in range(5):
        a.append(best_of(loads_only, 3))
        b.append(best_of(validate_only, 3))
        c.append(best_of(full, 3))
    base, val, tot = statistics.median(a), statistics.median(b), statistics.median(c)
    print(f"snapshot: {n_assets} assets, {len(raw) + len(pred_raw)} bytes")
    print(f"json.loads                      {base * 1e3:8.3f} ms   1.00x")
    print(f"loads + validate                {val * 1e3:8.3f} ms  {val / base:5.2f}x")
    print(f"loads + validate + derive + LP  {tot * 1e3:8.3f} ms  {tot / base:5.2f}x  (aim < 10x)")


if __name__ == "__main__":
    main()
