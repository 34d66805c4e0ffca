"""One contract suite for both stores: a real influxd (session fixture) and the
embedded SQLite store. Same inputs, same answers; a few checks are store-specific
where the mechanism differs (partial writes, how retention is enforced)."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from statistics import fmean
from typing import Any

import pytest

from hltui.config import Settings
from hltui.process.records import ASSET_METRICS, GLOBAL_METRICS, LIQUIDATION_LEVELS, Point
from hltui.store.base import Store, StoreRejected, StoreUnavailable
from hltui.store.factory import make_store
from tests.helpers.influxd import Influxd, free_port
from tests.helpers.storedata import (
    AGGS,
    ASSETS,
    GLOBAL_AGGS,
    HOSTILE,
    HOUR,
    NOW_MS,
    asset_point,
    expected_buckets,
    expected_hourly,
    ten_days,
)
from tests.helpers.tiers import approx_equal, influx_tier, sqlite_tier

ROOT = Path(__file__).resolve().parents[1]
CUTOFF = (NOW_MS - 24 * HOUR) // HOUR * HOUR  # end of the last compressible hour


@dataclass
class Harness:
    kind: str
    tmp: Path
    server: Influxd | None = None
    db: str | None = None
    stores: list[Store] = field(default_factory=list)

    def settings(self, **kw: Any) -> Settings:
        values: dict[str, Any] = {"data_dir": self.tmp / "data", "retention_period": "30d"}
        if self.kind == "influx":
            assert self.server is not None
            values.update(influx_url=self.server.url, influx_database=self.db)
        values.update(kw)
        return Settings(**values)

    async def store(self, **kw: Any) -> Store:
        s = make_store(self.settings(**kw))
        await s.open()
        self.stores.append(s)
        return s

    def tier(self, tier: str, measurement: str) -> dict[tuple, dict]:
        if self.kind == "influx":
            assert self.server is not None and self.db is not None
            rp = "raw" if tier == "raw" else "compressed"
            return influx_tier(self.server, self.db, rp, measurement)
        return sqlite_tier(self.tmp / "data" / "hltui.sqlite", tier, measurement)

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HLTUI_")}
        env.update(HLTUI_DATA_DIR=str(self.tmp / "data"), HLTUI_RETENTION_PERIOD="30d",
                   PYTHONPATH=str(ROOT))
        if self.kind == "influx":
            assert self.server is not None and self.db is not None
            env.update(HLTUI_INFLUX_URL=self.server.url, HLTUI_INFLUX_DATABASE=self.db)
        return env


@pytest.fixture(params=["influx", "embedded"])
async def h(request: pytest.FixtureRequest, clean_env: Path):
    harness = Harness(request.param, clean_env)
    if request.param == "influx":
        harness.server = request.getfixturevalue("influxd")
        harness.db = request.getfixturevalue("influx_db")
    yield harness
    for s in harness.stores:
        await s.close()


@pytest.fixture
async def hi(clean_env: Path, influxd: Influxd, influx_db: str):
    """InfluxDB only: for mechanisms the embedded store does not have."""
    harness = Harness("influx", clean_env, influxd, influx_db)
    yield harness
    for s in harness.stores:
        await s.close()


def _tags(asset: str) -> tuple:
    return (("asset", asset), ("source", "hyperliquid"))


# -- writes ---------------------------------------------------------------------

async def test_label_names_the_store(h: Harness) -> None:
    store = await h.store()
    if h.kind == "influx":
        assert h.server is not None and h.server.url in store.label and f"db={h.db}" in store.label
    else:
        assert store.label == f"embedded {h.tmp / 'data' / 'hltui.sqlite'}"


async def test_hostile_names_round_trip_and_cannot_alter_reads(h: Harness) -> None:
    store = await h.store()
    t = NOW_MS - 60_000
    points = [asset_point(name, i, t) for i, name in enumerate(HOSTILE)]
    points += [asset_point("BTC", 99, t)]
    points += [Point(LIQUIDATION_LEVELS, {"asset": name, "side": "long", "source": "hd"},
                     {"price": 10.0 + i, "notional_usd": 5.0}, t) for i, name in enumerate(HOSTILE)]
    res = await store.write(points)
    assert res.rejected == [] and res.written == len(points)

    assert set(await store.assets()) == {*HOSTILE, "BTC"}
    latest = {r["asset"]: r for r in await store.latest_positions()}
    assert set(latest) == {*HOSTILE, "BTC"}
    for i, name in enumerate(HOSTILE):
        assert latest[name]["source"] == "hyperliquid"
        assert latest[name]["mark_price"] == points[i].fields["mark_price"]
        hist = await store.asset_history(name, 1, now_ms=NOW_MS)
        assert len(hist.times_ms) == 1  # its own point, never BTC's
        assert hist.values["open_interest"] == [points[i].fields["open_interest"]]
        liq = await store.liquidation_map(name)
        assert [r["price"] for r in liq] == [10.0 + i]
    # names that look like injections match nothing they spell
    assert (await store.asset_history("BTC' OR '1'='1", 1, now_ms=NOW_MS)).times_ms == []
    assert await store.liquidation_map('" OR 1=1 --') == []
    if h.kind == "influx":  # the database is still there
        assert h.server is not None
        dbs = h.server.query("SHOW DATABASES")["results"][0]["series"][0]["values"]
        names = [v[0] for v in dbs]
        assert h.db in names


async def test_field_types_are_fixed_by_name(h: Harness) -> None:
    store = await h.store()
    t = NOW_MS - 60_000
    ok = Point(ASSET_METRICS, _tags_dict("BTC"), {"mark_price": 100, "long_traders": 5.0}, t)
    ok2 = Point(ASSET_METRICS, _tags_dict("ETH"), {"mark_price": 2.5, "long_traders": 7}, t)
    bad = [
        Point(ASSET_METRICS, _tags_dict("NAN"), {"mark_price": float("nan")}, t),
        Point(ASSET_METRICS, _tags_dict("HALF"), {"long_traders": 2.5}, t),
        Point(ASSET_METRICS, _tags_dict("back\\slash"), {"mark_price": 1.0}, t),
        Point(ASSET_METRICS, _tags_dict("EMPTY"), {}, t),
        Point(ASSET_METRICS, {"asset": "", "source": "x"}, {"mark_price": 1.0}, t),
    ]
    res = await store.write([ok, *bad, ok2])
    assert res.written == 2
    reasons = [r for _, r in res.rejected]
    assert len(reasons) == 5
    assert "finite" in reasons[0] and "whole number" in reasons[1]
    assert "backslash" in reasons[2] and "no fields" in reasons[3] and "empty" in reasons[4]
    rows = {r["asset"]: r for r in await store.latest_positions()}
    assert set(rows) == {"BTC", "ETH"}
    assert rows["BTC"]["mark_price"] == 100.0 and isinstance(rows["BTC"]["mark_price"], float)
    assert rows["BTC"]["long_traders"] == 5 and isinstance(rows["BTC"]["long_traders"], int)
    assert isinstance(rows["ETH"]["long_traders"], int)
    # a string where a number was stored is refused like InfluxDB's type conflict
    res = await store.write([Point(ASSET_METRICS, _tags_dict("BTC"), {"mark_price": "x"},
                                   t + 1)])
    assert res.written == 0 and "conflict" in res.rejected[0][1]


def _tags_dict(asset: str) -> dict[str, str]:
    return {"asset": asset, "source": "hyperliquid"}


async def test_influx_partial_write_names_refused_lines(hi: Harness) -> None:
    h = hi
    store = await h.store()
    t = NOW_MS - 60_000
    good = [f"asset_metrics,asset=A{i},source=s mark_price={i}.5 {t}" for i in range(7)]
    lines = [*good[:3], "not line protocol", *good[3:5],
             f"asset_metrics,asset=A1,source=s mark_price=1i {t + 1}", *good[5:],
             f"asset_metrics,asset=OLD,source=s mark_price=1.5 {NOW_MS - 40 * 24 * HOUR}"]
    res = await store.write_lines(lines)
    assert res.written == 7
    refused = dict(res.rejected)
    assert set(refused) == {lines[3], lines[6], lines[-1]}
    assert "parse" in refused[lines[3]]
    assert "type conflict" in refused[lines[6]]
    assert "retention" in refused[lines[-1]]
    assert len(h.tier("raw", ASSET_METRICS)) == 7


async def test_store_down_raises_unavailable_then_recovers(h: Harness, tmp_path: Path) -> None:
    if h.kind == "embedded":
        # an embedded store whose file cannot be created is unavailable, not a crash
        blocker = tmp_path / "blocker"
        blocker.write_text("a file where the data dir should be")
        store = make_store(h.settings(data_dir=blocker / "sub"))
        with pytest.raises(StoreUnavailable):
            await store.open()
        return
    closed = make_store(h.settings(influx_url=f"http://127.0.0.1:{free_port()}"))
    with pytest.raises(StoreUnavailable):
        await closed.open()
    assert await closed.ping() is False
    with pytest.raises(StoreUnavailable):
        await closed.write([asset_point("BTC", 1, NOW_MS - 1000)])
    await closed.close()

    second = Influxd(tmp_path / "influxd2").start()
    try:
        store = make_store(h.settings(influx_url=second.url))
        await store.open()
        assert (await store.write([asset_point("BTC", 1, NOW_MS - 2000)])).written == 1
        second.stop()
        assert await store.ping() is False
        with pytest.raises(StoreUnavailable):
            await store.write([asset_point("BTC", 2, NOW_MS - 1000)])
        second.start()
        assert (await store.write([asset_point("BTC", 2, NOW_MS - 1000)])).written == 1
        await store.close()
    finally:
        second.stop()


async def test_influx_missing_database_or_policy_is_rejected_with_guidance(
        hi: Harness) -> None:
    h = hi
    from hltui.store.influx_http import InfluxHTTP

    assert h.server is not None and h.db is not None
    await h.store()
    http = InfluxHTTP(h.server.url)
    try:
        with pytest.raises(StoreRejected, match="no database"):
            await http.write_lines(["m v=1 1"], "no_such_db_here", None)
        with pytest.raises(StoreRejected, match="no retention policy"):
            await http.write_lines(["m v=1 1"], h.db, "no_such_rp")
    finally:
        await http.close()


# -- compression ----------------------------------------------------------------

def _check_compressed(h: Harness, points: list[Point]) -> None:
    for measurement, aggs in ((ASSET_METRICS, AGGS), (GLOBAL_METRICS, GLOBAL_AGGS)):
        want = expected_hourly(points, measurement, aggs, before_ms=CUTOFF)
        got = h.tier("compressed", measurement)
        assert set(got) == set(want), (measurement, len(got), len(want))
        for key, row in want.items():
            for f, v in row.items():
                assert approx_equal(got[key][f], v), (measurement, key, f, got[key][f], v)


async def test_compression_one_aggregate_per_series_hour_idempotent_late_data(
        h: Harness) -> None:
    store = await h.store()
    points = ten_days()
    assert (await store.write(points)).written == len(points)
    seen: list[tuple[int, int]] = []
    report = await store.compress(NOW_MS, progress=lambda d, t: seen.append((d, t)))
    hours = (CUTOFF - (NOW_MS - 10 * 24 * HOUR) // HOUR * HOUR) // HOUR
    assert report.windows == hours
    assert report.points == hours * (len(ASSETS) + 1)  # one per series per hour
    assert report.watermark_ms == CUTOFF
    assert seen[0] == (0, hours) and seen[-1] == (hours, hours)
    _check_compressed(h, points)
    hi = h.tier("compressed", ASSET_METRICS)
    some = next(iter(hi.values()))
    assert some["mark_price_low"] <= some["mark_price"] <= some["mark_price_high"]

    before = h.tier("compressed", ASSET_METRICS)
    again = await store.compress(NOW_MS)
    assert (again.windows, again.points) == (0, 0)
    assert h.tier("compressed", ASSET_METRICS) == before

    # a late point inside an already-compressed hour: that hour, and only it, changes
    late_hour = CUTOFF - 50 * HOUR
    late = asset_point("BTC", 5000, late_hour + 59 * 60_000)
    assert (await store.write([late])).written == 1
    points.append(late)
    rerun = await store.compress(NOW_MS)
    assert rerun.windows == 1
    after = h.tier("compressed", ASSET_METRICS)
    changed = {k for k in after if after[k] != before[k]}
    assert changed == {(_tags("BTC"), late_hour)}
    assert after[(_tags("BTC"), late_hour)]["mark_price"] == late.fields["mark_price"]
    _check_compressed(h, points)


async def test_compression_state_survives_a_new_process(h: Harness) -> None:
    store = await h.store()
    points = ten_days(days=3)
    await store.write(points)
    await store.compress(NOW_MS)
    await store.close()
    h.stores.remove(store)
    reopened = await h.store()
    assert (await reopened.compress(NOW_MS)).windows == 0
    late = asset_point("@107", 1, CUTOFF - 5 * HOUR)
    await reopened.write([late])
    assert (await reopened.compress(NOW_MS)).windows == 1


async def test_kill_during_compression_then_rerun_gives_the_same_result(h: Harness) -> None:
    store = await h.store()
    points = ten_days()
    await store.write(points)
    await store.close()
    h.stores.remove(store)
    script = (
        "import asyncio, sys\n"
        "from hltui.config import load_settings\n"
        "from hltui.store.factory import make_store\n"
        "async def main():\n"
        "    s = make_store(load_settings()); await s.open()\n"
        "    def progress(done, total):\n"
        "        print(f'progress {done} {total}', flush=True)\n"
        f"    await s.compress({NOW_MS}, progress=progress)\n"
        "    print('finished', flush=True)\n"
        "asyncio.run(main())\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], env=h.env(), cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    killed_at = None
    for line in proc.stdout:
        parts = line.split()
        if parts and parts[0] == "progress" and int(parts[1]) > 0:
            proc.send_signal(signal.SIGKILL)  # mid-run: the next chunk is in flight
            killed_at = int(parts[1]), int(parts[2])
            break
    proc.wait(30)
    assert killed_at is not None and killed_at[0] < killed_at[1], proc.stderr.read()
    assert proc.returncode == -signal.SIGKILL
    partial = h.tier("compressed", ASSET_METRICS)
    assert 0 < len(partial) < len(expected_hourly(points, ASSET_METRICS, AGGS, CUTOFF))

    store = await h.store()
    report = await store.compress(NOW_MS)
    assert 0 < report.windows < killed_at[1] + 1  # resumed from the watermark
    _check_compressed(h, points)


# -- retention ------------------------------------------------------------------

async def test_retention(h: Harness) -> None:
    if h.kind == "influx":
        assert h.server is not None
        await h.store(retention_period="7d")
        rps = _policies(h.server, h.db)
        assert rps["raw"] == ("168h0m0s", True) and rps["compressed"] == ("2160h0m0s", False)
        await h.store(retention_period="3d", compressed_retention="30d")  # settings changed
        rps = _policies(h.server, h.db)
        assert rps["raw"] == ("72h0m0s", True) and rps["compressed"] == ("720h0m0s", False)
        await h.store(retention_period="3d", compressed_retention="30d")  # idempotent
        assert _policies(h.server, h.db) == rps
        return
    store = await h.store()
    points = ten_days()
    await store.write(points)
    await store.compress(NOW_MS)
    compressed = h.tier("compressed", ASSET_METRICS)
    short = await h.store(retention_period="7d")
    removed = await short.apply_retention(NOW_MS)
    raw = h.tier("raw", ASSET_METRICS)
    assert removed > 0
    assert min(t for _, t in raw) >= NOW_MS - 7 * 24 * HOUR
    assert h.tier("compressed", ASSET_METRICS) == compressed
    tiny = await h.store(retention_period="7d", compressed_retention="5d")
    await tiny.apply_retention(NOW_MS)
    assert min(t for _, t in h.tier("compressed", ASSET_METRICS)) >= NOW_MS - 5 * 24 * HOUR


def _policies(server: Influxd, db: str | None) -> dict[str, tuple[str, bool]]:
    res = server.query(f'SHOW RETENTION POLICIES ON "{db}"')
    s = res["results"][0]["series"][0]
    return {r[0]: (r[1], r[4]) for r in s["values"]}


# -- reads ----------------------------------------------------------------------

async def _stitched_store(h: Harness) -> tuple[Store, list[Point]]:
    """10 days of raw data compressed, then read with a 7-day raw tier."""
    store = await h.store()
    points = ten_days()
    await store.write(points)
    await store.compress(NOW_MS)
    reader = await h.store(retention_period="7d")
    if h.kind == "embedded":
        await reader.apply_retention(NOW_MS)  # raw older than 7 days really gone
    return reader, points


async def test_asset_history_stitches_tiers_without_gaps_or_duplicates(h: Harness) -> None:
    store, points = await _stitched_store(h)
    start = NOW_MS - 24 * 30 * HOUR
    hourly = await store.asset_history("BTC", 24 * 30, max_points=800, now_ms=NOW_MS)
    t = hourly.times_ms
    assert len(t) <= 800 and len(set(t)) == len(t)
    assert all(b - a == HOUR for a, b in itertools.pairwise(t))  # no missing hour
    first_data = (NOW_MS - 10 * 24 * HOUR) // HOUR * HOUR
    assert t[0] == first_data and t[-1] == NOW_MS // HOUR * HOUR
    want = expected_buckets(points, ASSET_METRICS, AGGS, dict(_tags("BTC")), start,
                            NOW_MS + 1, HOUR)
    assert t == sorted(want)
    for i, b in enumerate(t):
        for f in AGGS:
            assert approx_equal(hourly.values[f][i], want[b][f]), (b, f)
    assert isinstance(hourly.values["long_traders"][0], float)  # averaged

    default = await store.asset_history("BTC", 24 * 30, now_ms=NOW_MS)
    d = default.times_ms
    assert 0 < len(d) <= 300 and len(set(d)) == len(d)
    step = d[1] - d[0]
    assert step % HOUR == 0 and all(b - a == step for a, b in itertools.pairwise(d))
    want3 = expected_buckets(points, ASSET_METRICS, AGGS, dict(_tags("BTC")), start,
                             NOW_MS + 1, step)
    # buckets older than the raw tier are built from hourly aggregates: a mean there is
    # the mean of the hours' means (documented in docs/storage.md), which differs from
    # the raw mean only where an hour is partly filled (the first hour of data here)
    boundary = -(-(NOW_MS - 7 * 24 * HOUR) // step) * step
    for b in want3:
        if b < boundary:
            hours = [want[h] for h in range(b, b + step, HOUR) if h in want]
            want3[b]["funding_rate"] = fmean(x["funding_rate"] for x in hours)
    for i, b in enumerate(d):
        assert approx_equal(default.values["mark_price"][i], want3[b]["mark_price"])
        assert approx_equal(default.values["funding_rate"][i], want3[b]["funding_rate"])


async def test_history_recent_window_is_raw_and_downsampled(h: Harness) -> None:
    store = await h.store()
    points = ten_days(days=2)
    await store.write(points)
    s = await store.asset_history("@107", 6, max_points=30, now_ms=NOW_MS)
    assert 0 < len(s.times_ms) <= 30
    width = s.times_ms[1] - s.times_ms[0]
    want = expected_buckets(points, ASSET_METRICS, AGGS, dict(_tags("@107")),
                            NOW_MS - 6 * HOUR, NOW_MS + 1, width)
    assert s.times_ms == sorted(want)
    for i, b in enumerate(s.times_ms):
        assert approx_equal(s.values["funding_rate"][i], want[b]["funding_rate"])
        assert s.values["mark_price"][i] == want[b]["mark_price"]
    g = await store.global_metrics(24, max_points=24, now_ms=NOW_MS)
    assert 0 < len(g.times_ms) <= 24
    assert set(g.values) == {"assets", "long_positions", "total_notional_usd"}
    assert all(v == 3 and isinstance(v, int) for v in g.values["assets"])


async def test_history_merges_sources_and_last_skips_missing_fields(h: Harness) -> None:
    """Two sources write different fields for one asset: `last` is the newest value of
    each field, even when the newest point of the bucket lacks it."""
    store = await h.store()
    t0 = NOW_MS // HOUR * HOUR - HOUR
    pts = [Point(ASSET_METRICS, {"asset": "SOL", "source": "hyperliquid"},
                 {"mark_price": 10.0 + i, "funding_rate": 1e-5 * i}, t0 + i * 600_000)
           for i in range(6)]
    pts += [Point(ASSET_METRICS, {"asset": "SOL", "source": "hyperdash"},
                  {"long_notional_usd": 5e6 + i, "long_traders": 3 + i},
                  t0 + i * 600_000 + 1000) for i in range(6)]
    assert (await store.write(pts)).written == 12
    s = await store.asset_history("SOL", 2, max_points=4, now_ms=NOW_MS)
    i = s.times_ms.index(t0)
    assert s.values["mark_price"][i] == 15.0
    assert approx_equal(s.values["long_notional_usd"][i], 5e6 + 2.5)
    assert approx_equal(s.values["long_traders"][i], 5.5)
    only = await store.asset_history("SOL", 2, max_points=4, source="hyperliquid",
                                     now_ms=NOW_MS)
    assert only.values["long_notional_usd"][only.times_ms.index(t0)] is None
    assert only.values["mark_price"][only.times_ms.index(t0)] == 15.0


async def test_liquidation_map_returns_the_latest_snapshot(h: Harness) -> None:
    store = await h.store()

    def snapshot(t0: int, prices: list[float], source: str = "hyperdash") -> list[Point]:
        pts = []
        for side in ("long", "short"):
            for k, p in enumerate(prices):
                pts.append(Point(LIQUIDATION_LEVELS, {"asset": "kPEPE", "side": side,
                                                      "source": source},
                                 {"price": p, "notional_usd": 10.0 * (k + 1)}, t0 + k))
        return pts

    old = snapshot(NOW_MS - 120_000, [1.0, 2.0, 3.0, 4.0, 5.0])
    new = snapshot(NOW_MS - 60_000, [7.0, 8.0])
    other = snapshot(NOW_MS - 30_000, [9.0], source="sampled")
    await store.write(old + new + other)
    rows = await store.liquidation_map("kPEPE")
    assert [(r["source"], r["side"], r["price"]) for r in rows] == [
        ("hyperdash", "long", 7.0), ("hyperdash", "long", 8.0),
        ("hyperdash", "short", 7.0), ("hyperdash", "short", 8.0),
        ("sampled", "long", 9.0), ("sampled", "short", 9.0)]
    only = await store.liquidation_map("kPEPE", source="sampled")
    assert {r["source"] for r in only} == {"sampled"}
    assert await store.liquidation_map("NOPE") == []


async def test_both_stores_give_the_same_answers(influxd: Influxd, influx_db: str,
                                                 clean_env: Path) -> None:
    answers = []
    for kind in ("influx", "embedded"):
        h = Harness(kind, clean_env / kind, influxd, influx_db)
        try:
            store, _ = await _stitched_store(h)
            answers.append({
                "latest": await store.latest_positions(),
                "assets": await store.assets(),
                "history": await store.asset_history("x' OR asset='BTC", 24 * 12,
                                                     now_ms=NOW_MS),
                "global": await store.global_metrics(48, 50, now_ms=NOW_MS),
            })
        finally:
            for s in h.stores:
                await s.close()
    a, b = answers
    assert a["assets"] == b["assets"] and a["latest"] == b["latest"]
    for key in ("history", "global"):
        assert a[key].times_ms == b[key].times_ms
        assert a[key].values.keys() == b[key].values.keys()
        for f in a[key].values:
            assert all(approx_equal(x, y) for x, y in zip(a[key].values[f], b[key].values[f],
                                                          strict=True)), (key, f)


# -- hltui query / compress ---------------------------------------------------------

async def test_query_command(h: Harness, capsys: pytest.CaptureFixture) -> None:
    from hltui.querycmd import run_compress, run_query

    store = await h.store()
    await store.write(ten_days(days=2) + [asset_point(n, 1, NOW_MS - 5000) for n in HOSTILE])
    await store.write([Point(LIQUIDATION_LEVELS, {"asset": "BTC", "side": "long", "source": "hd"},
                             {"price": 90.0, "notional_usd": 1e6}, NOW_MS - 1000)])
    await store.close()
    h.stores.remove(store)
    settings = h.settings()

    async def run(*args: Any, **kw: Any) -> tuple[int, str, str]:
        # a command-line entry point: it runs its own event loop, so not on this one
        code = await asyncio.to_thread(run_query, settings, *args, **kw)
        out, err = capsys.readouterr()
        return code, out, err

    code, out, err = await run("latest-positions")
    assert code == 0 and err == ""
    header = out.splitlines()[0].split()
    assert header[:3] == ["asset", "time", "mark"] and "positioning" in header
    assert "x' OR asset='BTC" in out
    code, out, _ = await run("latest-positions", as_json=True)
    rows = json.loads(out)
    assert code == 0 and {r["asset"] for r in rows} == {*ASSETS, *HOSTILE}
    code, out, _ = await run("asset-history", "x' OR asset='BTC", hours=6, as_json=True)
    data = json.loads(out)
    assert code == 0 and 0 < len(data["times_ms"]) <= 300 and "mark_price" in data["values"]
    code, out, err = await run("asset-history", "BTC' OR '1'='1", hours=6)
    assert code == 1 and out == "" and "unknown asset" in err and "Traceback" not in err
    code, out, err = await run("liquidation-map", "NOPE", as_json=True)
    assert code == 1 and "unknown asset" in err
    code, out, _ = await run("liquidation-map", "BTC")
    assert code == 0 and "90" in out and "long" in out
    code, out, _ = await run("global-metrics", hours=2, as_json=True)
    assert code == 0 and json.loads(out)["values"]["assets"][0] == 3
    code, _, err = await run("what-is-this")
    assert code == 2 and "unknown query" in err

    assert await asyncio.to_thread(run_compress, settings) == 0
    out = capsys.readouterr().out
    assert "windows" in out and "points" in out

    env = h.env()
    env["HLTUI_RETENTION_PERIOD"] = "30d"
    proc = subprocess.run([sys.executable, "-m", "hltui", "query", "asset-history",
                           "\"; DROP DATABASE x", "--json"], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "unknown asset" in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    proc = subprocess.run([sys.executable, "-m", "hltui", "query", "latest-positions", "--json"],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert {r["asset"] for r in json.loads(proc.stdout)} == {*ASSETS, *HOSTILE}


def test_query_on_unreachable_store_is_one_clear_line(clean_env: Path,
                                                      capsys: pytest.CaptureFixture) -> None:
    from hltui.querycmd import run_query

    settings = Settings(influx_url=f"http://127.0.0.1:{free_port()}")
    assert run_query(settings, "latest-positions") == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unreachable" in err and "Traceback" not in err


def test_sync_read_api(clean_env: Path) -> None:
    from hltui.store import read

    settings = Settings(data_dir=clean_env / "data")

    now = int(time.time() * 1000)  # these reads use the real clock

    async def fill() -> None:
        s = make_store(settings)
        await s.open()
        await s.write([asset_point("BTC", i, now - 60_000 * (i + 1)) for i in range(5)])
        await s.close()

    asyncio.run(fill())
    assert [r["asset"] for r in read.latest_positions(settings)] == ["BTC"]
    assert len(read.asset_history("BTC", 1, settings=settings).times_ms) >= 1
    assert read.liquidation_map("BTC", settings=settings) == []
    assert read.assets(settings) == ["BTC"]
