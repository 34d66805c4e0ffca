"""Store benchmarks: InfluxDB (a real influxd started here) and the embedded store,
side by side, in one run.

1. asset_history over 7 days of 10-second raw data for one asset (~60k points),
   downsampled to <= 300 points, against a bare query of the same aggregate
   (InfluxQL over HTTP / SQL on the SQLite file): time and ratio.
2. compression of one day of N assets (default 230) at 10-second resolution:
   windows/s, aggregates written, time.

    python bench/bench_store.py [--assets 230] [--repeat 15]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hltui.config import Settings  # noqa: E402
from hltui.process.records import ASSET_METRICS, Point  # noqa: E402
from hltui.store.factory import make_store  # noqa: E402
from tests.helpers.influxd import Influxd  # noqa: E402

HOUR = 3_600_000
STEP = 10_000
FIELDS = ("mark_price", "oracle_price", "funding_rate", "open_interest", "premium")


def fields_for(i: int, k: int) -> dict[str, float]:
    return {"mark_price": 100.0 + k + (i % 500) * 0.01, "oracle_price": 100.0 + k,
            "funding_rate": (i % 13) * 1e-6, "open_interest": 1000.0 + i % 1000,
            "premium": (i % 7) * 1e-5}


def raw_lines(asset: str, k: int, start: int, end: int) -> list[str]:
    out = []
    for i, t in enumerate(range(start, end, STEP)):
        f = fields_for(i, k)
        out.append(f"asset_metrics,asset={asset},source=bench "
                   + ",".join(f"{n}={v!r}" for n, v in f.items()) + f" {t}")
    return out


def raw_points(asset: str, k: int, start: int, end: int) -> list[Point]:
    return [Point(ASSET_METRICS, {"asset": asset, "source": "bench"}, fields_for(i, k), t)
            for i, t in enumerate(range(start, end, STEP))]


async def fill(store, asset_sets, kind: str) -> float:
    t0 = time.perf_counter()
    for asset, k, start, end in asset_sets:
        if kind == "influx":
            lines = raw_lines(asset, k, start, end)
            for i in range(0, len(lines), 50_000):
                await store.write_lines(lines[i : i + 50_000])
        else:
            for s in range(start, end, 50_000 * STEP):
                await store.write(raw_points(asset, k, s, min(end, s + 50_000 * STEP)))
    return time.perf_counter() - t0


LASTS = ("mark_price", "oracle_price", "open_interest")


def bare_influxql(db: str, start: int, end: int, width_s: int) -> str:
    sel = ", ".join(f'{"last" if f in LASTS else "mean"}("{f}") AS "{f}"' for f in FIELDS)
    return (f'SELECT {sel} FROM "{db}"."raw"."asset_metrics" WHERE "asset" = \'BTC\' AND '
            f"time >= {start}ms AND time < {end}ms GROUP BY time({width_s}s) fill(none)")


def bare_sqlite(conn: sqlite3.Connection, start: int, end: int, width_s: int) -> int:
    """The same aggregate in one statement: AVG, and `last` as bare columns of MAX(t)."""
    mid = conn.execute("SELECT id FROM measurements WHERE name='asset_metrics'").fetchone()[0]
    cols = dict(conn.execute("SELECT name, col FROM fields WHERE measurement_id=?", (mid,)))
    sid = conn.execute("SELECT id FROM series WHERE measurement_id=? AND asset='BTC'",
                       (mid,)).fetchone()[0]
    w = width_s * 1000
    sel = ", ".join(f"AVG({cols[f]})" if f not in LASTS else cols[f] for f in FIELDS)
    return len(conn.execute(f"SELECT (t/{w})*{w} b, {sel}, MAX(t) FROM raw_{mid} "
                            "WHERE series_id = ? AND t >= ? AND t < ? GROUP BY b",
                            (sid, start, end)).fetchall())


async def interleaved(ours, bare, repeat: int) -> tuple[float, float]:
    """Median seconds of each, runs alternating so drift on a shared machine hits both."""
    await ours()
    await bare()
    a, b = [], []
    for _ in range(repeat):
        for fn, acc in ((ours, a), (bare, b)):
            t = time.perf_counter()
            await fn()
            acc.append(time.perf_counter() - t)
    return statistics.median(a), statistics.median(b)


async def bench_kind(kind: str, root: Path, server: Influxd | None, args) -> dict:
    now = (int(time.time() * 1000) // HOUR) * HOUR + 30 * 60_000
    kw: dict = {"data_dir": root / kind, "retention_period": "8d"}
    if kind == "influx":
        assert server is not None
        kw.update(influx_url=server.url, influx_database="bench")
    settings = Settings(**kw)
    store = make_store(settings)
    await store.open()
    out: dict = {}
    # 1. read: 7 days of 10 s data for one asset
    start7 = now - 7 * 24 * HOUR
    out["write_7d_s"] = await fill(store, [("BTC", 0, start7, now)], kind)
    series = await store.asset_history("BTC", 24 * 7, 300, now_ms=now)
    width = (series.times_ms[1] - series.times_ms[0]) // 1000
    out["points"] = len(series.times_ms)

    async def ours():
        return await store.asset_history("BTC", 24 * 7, 300, now_ms=now)

    if kind == "influx":
        import aiohttp

        assert server is not None
        session = aiohttp.ClientSession()
        q = bare_influxql("bench", start7, now + 1, width)

        async def bare():
            async with session.post(server.url + "/query",
                                    data={"q": q, "db": "bench", "epoch": "ms"}) as r:
                return json.loads(await r.read())
    else:
        conn = sqlite3.connect(str(root / kind / "hltui.sqlite"))

        async def bare():
            return bare_sqlite(conn, start7, now + 1, width)

    out["history_s"], out["bare_s"] = await interleaved(ours, bare, args.repeat)
    if kind == "influx":
        await session.close()
    else:
        conn.close()
    # 2. compression: one day of N assets, older than the minimum age
    day_end = (now - 25 * HOUR) // HOUR * HOUR
    day_start = day_end - 24 * HOUR
    assets = [(f"A{k:03d}", k, day_start, day_end) for k in range(args.assets)]
    out["write_day_s"] = await fill(store, assets, kind)
    out["day_points"] = args.assets * (24 * HOUR // STEP)
    # compress only the day: the 7-day asset above is older windows too, so start
    # from a watermark at the day's start
    store.state.watermark_ms = day_start  # type: ignore[attr-defined]
    store.state.dirty.clear()  # type: ignore[attr-defined]
    t = time.perf_counter()
    report = await store.compress(day_end + 24 * HOUR)
    out["compress_s"] = time.perf_counter() - t
    out["windows"] = report.windows
    out["aggregates"] = report.points
    await store.close()
    return out


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--assets", type=int, default=230)
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        server = Influxd(root / "influxd").start()
        try:
            res = {k: await bench_kind(k, root, server if k == "influx" else None, args)
                   for k in ("influx", "embedded")}
        finally:
            server.stop()
    i, e = res["influx"], res["embedded"]
    print(f"asset_history, 7 d of 10 s raw data ({7 * 8640} points, one asset) "
          f"-> {i['points']} points")
    for name, r in (("InfluxDB", i), ("embedded", e)):
        print(f"  {name:9s} store {r['history_s'] * 1000:7.1f} ms   bare query "
              f"{r['bare_s'] * 1000:7.1f} ms   ratio {r['history_s'] / r['bare_s']:.2f}x"
              f"   (loading the data took {r['write_7d_s']:.1f} s)")
    print(f"compression, one day of {args.assets} assets at 10 s ({i['day_points']:,} points)")
    for name, r in (("InfluxDB", i), ("embedded", e)):
        print(f"  {name:9s} {r['windows']} windows, {r['aggregates']:,} aggregates in "
              f"{r['compress_s']:.2f} s = {r['windows'] / r['compress_s']:.1f} windows/s "
              f"({r['day_points'] / r['compress_s']:,.0f} raw points/s; loading took "
              f"{r['write_day_s']:.1f} s)")
    print(f"embedded / InfluxDB: history {e['history_s'] / i['history_s']:.2f}x, "
          f"compression {e['compress_s'] / i['compress_s']:.2f}x")


if __name__ == "__main__":
    asyncio.run(main())
