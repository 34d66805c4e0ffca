"""End to end: `hltui --headless` in a subprocess collects from the simulated exchange over
real HTTP into a real influxd; what is read back equals what the exchange served."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from hltui.sim.server import SimExchangeThread
from tests.helpers.influxd import Influxd


def run_headless(
    *args: str, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("HLTUI_")}
    base.update(env)
    return subprocess.run([sys.executable, "-m", "hltui", "--headless", *args],
                          capture_output=True, text=True, env=base, timeout=timeout)


def served(sim: SimExchangeThread) -> list[dict]:
    with urllib.request.urlopen(sim.url + "/_sim/served") as r:
        return json.loads(r.read())


def active_assets(payload: list) -> dict[str, dict]:
    meta, ctxs = payload
    return {a["name"]: c for a, c in zip(meta["universe"], ctxs, strict=True)
            if not a.get("isDelisted")}


def test_three_cycles_store_what_the_exchange_served(
    influxd: Influxd, influx_db: str, sim_thread: SimExchangeThread, tmp_path: Path
) -> None:
    env = {"HLTUI_INFLUX_URL": influxd.url, "HLTUI_INFLUX_DATABASE": influx_db,
           "HLTUI_HYPERLIQUID_URL": sim_thread.url, "HLTUI_DATA_DIR": str(tmp_path),
           "NO_COLOR": "1"}
    res = run_headless("--cycles", "3", "--interval", "0", env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.count("points written") == 3
    assert "\033[" not in res.stdout  # plain when not a terminal

    snapshots = served(sim_thread)
    assert len(snapshots) == 3
    rows = influxd.rows('SELECT * FROM "asset_metrics"', influx_db)
    by_time: dict[int, dict[str, dict]] = {}
    for r in rows:
        assert r["source"] == "hyperliquid"
        by_time.setdefault(r["time"], {})[r["asset"]] = r
    assert len(by_time) == 3
    for (_, stored), snap in zip(sorted(by_time.items()), snapshots, strict=True):
        expected = active_assets(snap["payload"])
        assert set(stored) == set(expected)  # every active asset, awkward names unchanged
        for name, ctx in expected.items():
            got = stored[name]
            assert got["mark_price"] == float(ctx["markPx"])
            assert got["oracle_price"] == float(ctx["oraclePx"])
            assert got["funding_rate"] == float(ctx["funding"])
            assert got["open_interest"] == float(ctx["openInterest"])
            assert math.isclose(got["open_interest_usd"],
                                float(ctx["openInterest"]) * float(ctx["markPx"]))
            assert got["volume_24h_usd"] == float(ctx["dayNtlVlm"])
            if ctx["premium"] is None:
                assert got["premium"] is None
            else:
                assert got["premium"] == float(ctx["premium"])
    glob = influxd.rows('SELECT * FROM "global_metrics"', influx_db)
    assert len(glob) == 3
    assert {g["assets"] for g in glob} == {len(active_assets(snapshots[0]["payload"]))}


def test_demo_flag_collects_offline_into_demo_database(
    influxd: Influxd, influx_db: str, tmp_path: Path
) -> None:
    env = {"HLTUI_INFLUX_URL": influxd.url, "HLTUI_INFLUX_DATABASE": influx_db,
           "HLTUI_DATA_DIR": str(tmp_path), "HLTUI_HYPERLIQUID_URL": "http://127.0.0.1:9"}
    res = run_headless("--demo", "--cycles", "3", "--interval", "0", env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "SIMULATED" in res.stdout
    demo_db = influx_db + "_demo"
    counts = influxd.rows('SELECT count("mark_price") FROM "asset_metrics" GROUP BY time(1d)',
                          demo_db)
    per_cycle = influxd.rows(
        'SELECT count("assets") FROM "global_metrics" WHERE "source" = \'hyperliquid\'', demo_db)
    assert per_cycle[0]["count"] == 3
    # the demo turns on every source: positioning arrives from the sampled accounts and,
    # Chromium being installed, from the simulated HyperDash site
    sources = {r["source"] for r in influxd.rows(
        'SELECT "long_notional_usd", "source" FROM "asset_metrics"', demo_db)}
    assert sources == {"sampled", "hyperdash"}
    assets = {r["asset"] for r in influxd.rows(
        'SELECT "mark_price", "asset" FROM "asset_metrics"', demo_db)}
    assert len(assets) > 200
    assert sum(c["count"] for c in counts) == 3 * len(assets)
    # nothing went to the real database
    dbs = {v[0] for v in influxd.query("SHOW DATABASES")["results"][0]["series"][0]["values"]}
    assert influx_db not in dbs or not influxd.rows('SELECT * FROM "asset_metrics"', influx_db)


@pytest.mark.parametrize("sim_thread", [{"unstorable": True}], indirect=True)
def test_unstorable_name_refused_and_counted(
    influxd: Influxd, influx_db: str, sim_thread: SimExchangeThread, tmp_path: Path
) -> None:
    env = {"HLTUI_INFLUX_URL": influxd.url, "HLTUI_INFLUX_DATABASE": influx_db,
           "HLTUI_HYPERLIQUID_URL": sim_thread.url, "HLTUI_DATA_DIR": str(tmp_path),
           "NO_COLOR": "1"}
    res = run_headless("--cycles", "1", "--interval", "0", env=env)
    assert res.returncode == 0, res.stdout
    assert "backslash" in res.stdout and "[validation]" in res.stdout
    stored = {r["asset"] for r in influxd.rows('SELECT "mark_price", "asset" FROM '
                                               '"asset_metrics"', influx_db)}
    expected = active_assets(served(sim_thread)[0]["payload"])
    bad = {n for n in expected if n.endswith("\\")}
    assert bad and not (bad & stored)
    assert stored == set(expected) - bad


def test_exchange_down_exits_nonzero_with_clear_message(
    influxd: Influxd, influx_db: str, tmp_path: Path
) -> None:
    env = {"HLTUI_INFLUX_URL": influxd.url, "HLTUI_INFLUX_DATABASE": influx_db,
           "HLTUI_HYPERLIQUID_URL": "http://127.0.0.1:9", "HLTUI_DATA_DIR": str(tmp_path),
           "HLTUI_RETRY_ATTEMPTS": "1", "NO_COLOR": "1"}
    res = run_headless("--cycles", "1", env=env)
    assert res.returncode == 3
    assert "connection failed" in res.stdout
    assert "Traceback" not in res.stdout + res.stderr
