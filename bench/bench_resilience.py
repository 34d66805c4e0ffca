"""Resilience figures, measured side by side in one run (python bench/bench_resilience.py).

1. Spool replay throughput into a real influxd vs a bare line-protocol POST of the same
   bytes (same batch size, fresh databases, alternating order): aim >= 0.8x.
2. Overhead per call of the breaker and breaker + retry wrappers with no failures (µs).
3. Time from InfluxDB coming back to the spool being empty after a 1-hour outage at a
   10-second interval (360 cycles x 230 assets, plus global and stats points).
"""

from __future__ import annotations

import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hltui.config import Settings  # noqa: E402
from hltui.engine.breaker import CircuitBreaker  # noqa: E402
from hltui.engine.retry import call_with_retry, retrying  # noqa: E402
from hltui.process.records import ASSET_METRICS, COLLECTOR_STATS, GLOBAL_METRICS, Point  # noqa: E402
from hltui.store import lineproto  # noqa: E402
from hltui.store.durable import DurableWriter  # noqa: E402
from hltui.store.influx import InfluxStore  # noqa: E402
from hltui.store.spool import Spool  # noqa: E402
from tests.helpers.influxd import Influxd  # noqa: E402

ASSETS = 230
INTERVAL_S = 10
OUTAGE_CYCLES = 360
BATCH = 5000


def cycle_points(t_ms: int, rng: random.Random) -> list[Point]:
    pts = [Point(ASSET_METRICS, {"asset": f"A{i}", "source": "hyperliquid"},
                 {"mark_price": rng.uniform(0.01, 1e5), "oracle_price": rng.uniform(0.01, 1e5),
                  "funding_rate": rng.uniform(-1e-4, 1e-4), "open_interest": rng.uniform(0, 1e6),
                  "open_interest_usd": rng.uniform(0, 1e9), "volume_24h_usd": rng.uniform(0, 1e9),
                  "premium": rng.uniform(-1e-3, 1e-3)}, t_ms)
           for i in range(ASSETS)]
    pts.append(Point(GLOBAL_METRICS, {"source": "hyperliquid"},
                     {"total_notional_usd": 1e10, "assets": ASSETS}, t_ms))
    for src in ("hyperliquid", "collector"):
        pts.append(Point(COLLECTOR_STATS, {"source": src},
                         {"success_rate": 1.0, "cycle_ms": 80.0, "ok": ASSETS, "failed": 0,
                          "points_written": ASSETS, "spooled": 0}, t_ms))
    return pts


def outage_lines(now_ms: int, cycles: int) -> list[str]:
    rng = random.Random(1)
    start = now_ms - cycles * INTERVAL_S * 1000
    lines: list[str] = []
    for c in range(cycles):
        got, refused = lineproto.to_lines(cycle_points(start + c * INTERVAL_S * 1000, rng))
        assert not refused
        lines += got
    return lines


async def bare_post(url: str, db: str, lines: list[str]) -> float:
    """Plain POST /write of the same lines in the same batches: the floor to compare with."""
    import aiohttp

    async with aiohttp.ClientSession() as s:
        await (await s.post(f"{url}/query", data={"q": f'CREATE DATABASE "{db}"'})).read()
        await (await s.post(f"{url}/query", data={
            "q": f'CREATE RETENTION POLICY "raw" ON "{db}" DURATION 7d REPLICATION 1 DEFAULT'
        })).read()
        t0 = time.perf_counter()
        for i in range(0, len(lines), BATCH):
            body = "\n".join(lines[i : i + BATCH]).encode()
            async with s.post(f"{url}/write", params={"db": db, "rp": "raw", "precision": "ms"},
                              data=body) as r:
                await r.read()
                assert r.status == 204, r.status
        return time.perf_counter() - t0


async def spool_replay(url: str, db: str, lines: list[str], tmp: Path) -> tuple[float, int]:
    """Spool `lines` (untimed), then time DurableWriter's replay until the spool is empty."""
    data = tmp / db
    settings = Settings(influx_url=url, influx_database=db, data_dir=data)
    store = InfluxStore(settings)
    await store.open()
    spool = Spool(data / "spool", 1 << 31, record_lines=BATCH)
    for i in range(0, len(lines), 2 * BATCH):  # outage-time appends, one per cycle batch
        spool.append(lines[i : i + 2 * BATCH])
    writer = DurableWriter(store, spool, CircuitBreaker("store"), batch_size=BATCH)
    t0 = time.perf_counter()
    assert await writer.replay()
    elapsed = time.perf_counter() - t0
    assert spool.empty
    replayed = writer.replayed
    writer.close()
    await store.close()
    return elapsed, replayed


async def replay_vs_post(server: Influxd, tmp: Path) -> None:
    lines = outage_lines(int(time.time() * 1000), 400)  # ~93k lines
    mb = sum(len(x) + 1 for x in lines) / 1e6
    bare, replay = [], []
    for rep in range(5):
        order = ("bare", "replay") if rep % 2 == 0 else ("replay", "bare")
        for what in order:
            db = f"bench_{what}_{rep}"
            if what == "bare":
                bare.append(await bare_post(server.url, db, lines))
            else:
                secs, n = await spool_replay(server.url, db, lines, tmp)
                assert n == len(lines)
                replay.append(secs)
    b, r = statistics.median(bare), statistics.median(replay)
    print(f"1. replay vs bare POST: {len(lines)} lines ({mb:.1f} MB), batches of {BATCH}, "
          f"{len(bare)} runs each, alternating")
    print(f"   bare POST    median {b:.3f} s  {len(lines) / b:>10,.0f} lines/s"
          f"  (best {min(bare):.3f} s)")
    print(f"   spool replay median {r:.3f} s  {len(lines) / r:>10,.0f} lines/s"
          f"  (best {min(replay):.3f} s)")
    print(f"   ratio replay/bare throughput: median {b / r:.2f}x, best-of "
          f"{min(bare) / min(replay):.2f}x (aim >= 0.8x)")


async def wrapper_overhead() -> None:
    n = 50_000

    async def work() -> int:
        return 1

    br = CircuitBreaker("bench")

    async def bare() -> None:
        for _ in range(n):
            await work()

    async def breaker() -> None:
        for _ in range(n):
            await br.call(work)

    async def breaker_retry() -> None:
        for _ in range(n):
            await call_with_retry(br.call, work, attempts=4)

    async def breaker_retry_ctl() -> None:
        for _ in range(n):
            async for attempt in retrying(4):
                with attempt:
                    await br.call(work)

    times: dict[str, list[float]] = {}
    for _ in range(3):
        for name, fn in (("bare await", bare), ("breaker.call", breaker),
                         ("breaker + retry (call_with_retry)", breaker_retry),
                         ("breaker + retry (async for)", breaker_retry_ctl)):
            t0 = time.perf_counter()
            await fn()
            times.setdefault(name, []).append((time.perf_counter() - t0) / n * 1e6)
    base = min(times["bare await"])
    print(f"2. wrapper overhead per call, no failures ({n} calls, best of 3)")
    for name, vals in times.items():
        us = min(vals)
        extra = "" if name == "bare await" else f"  (+{us - base:.1f} µs)"
        print(f"   {name:36s} {us:6.2f} µs{extra}")


async def outage_recovery(server: Influxd, tmp: Path) -> None:
    now = int(time.time() * 1000)
    start = now - OUTAGE_CYCLES * INTERVAL_S * 1000
    rng = random.Random(1)
    data = tmp / "outage"
    settings = Settings(influx_url=server.url, influx_database="bench_outage", data_dir=data)
    store = InfluxStore(settings)
    await store.open()
    breaker = CircuitBreaker("store", threshold=5, reset=30.0)
    spool = Spool(data / "spool", 1 << 31, record_lines=BATCH)
    writer = DurableWriter(store, spool, breaker, batch_size=BATCH)
    server.stop()
    t0 = time.perf_counter()
    for c in range(OUTAGE_CYCLES):  # the outage: every cycle's write is spooled
        out = await writer.write(cycle_points(start + c * INTERVAL_S * 1000, rng))
        assert out.spooled and not out.written
    spool_s = time.perf_counter() - t0
    lines = spool.pending_lines
    server.start()
    breaker.probe_now()  # as if the breaker's reset had passed
    t0 = time.perf_counter()
    out = await writer.write(cycle_points(now, rng))  # the first cycle after the outage
    back = time.perf_counter() - t0
    assert spool.empty and out.written and writer.replayed == lines
    print(f"3. 1-hour outage at {INTERVAL_S}s: {OUTAGE_CYCLES} cycles, {lines:,} lines spooled")
    print(f"   spooling during the outage: {spool_s / OUTAGE_CYCLES * 1000:.2f} ms per cycle "
          "(serialize + append + fsync)")
    print(f"   InfluxDB back -> spool empty (+ the new cycle written): {back:.2f} s")
    writer.close()
    await store.close()


async def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        server = Influxd(tmp / "influxd").start()
        try:
            await replay_vs_post(server, tmp)
            await wrapper_overhead()
            await outage_recovery(server, tmp)
        finally:
            server.stop()


if __name__ == "__main__":
    asyncio.run(main())
