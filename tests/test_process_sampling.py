"""Sampled positioning, pure part: clearinghouseState validation, aggregation, the
streaming leaderboard scanner. Payloads follow SOURCES.md §1 field for field."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import pytest

from hltui.process.buckets import bucket_width
from hltui.process.leaderboard import LeaderboardError, scan_leaderboard
from hltui.process.records import ASSET_METRICS, GLOBAL_METRICS, LIQUIDATION_LEVELS
from hltui.process.sampling import (
    PayloadError,
    aggregate_samples,
    parse_clearinghouse_state,
)

A1 = "0x" + "a1" * 20
A2 = "0x" + "b2" * 20
A3 = "0x" + "c3" * 20


@dataclass
class Mkt:
    mark_price: float
    open_interest: float


def pos(coin: str, szi: str, value: str, entry: str | None = "100.0",
        liq: str | None = "50.0", lev: dict | None = None, **extra) -> dict:
    p = {"coin": coin, "szi": szi, "leverage": lev or {"type": "cross", "value": 20},
         "entryPx": entry, "positionValue": value, "unrealizedPnl": "0.0",
         "returnOnEquity": "0.0", "liquidationPx": liq, "marginUsed": "1.0",
         "maxLeverage": 50,
         "cumFunding": {"allTime": "1.2", "sinceOpen": "0.3", "sinceChange": "0.1"}}
    p.update(extra)
    return {"type": "oneWay", "position": p}


def state(*positions: dict, value: str = "1000.0", time: int | None = 1736499600048) -> dict:
    summary = {"accountValue": value, "totalNtlPos": "0.0", "totalRawUsd": "0.0",
               "totalMarginUsed": "0.0"}
    out = {"marginSummary": summary, "crossMarginSummary": summary,
           "crossMaintenanceMarginUsed": "0.0", "withdrawable": "0.0",
           "assetPositions": list(positions)}
    if time is not None:
        out["time"] = time
    return out


# -- clearinghouseState ---------------------------------------------------------------

def test_parses_long_and_short_with_sign_of_szi() -> None:
    s = parse_clearinghouse_state(A1, state(pos("BTC", "0.5", "48500.0", "97000.0", "80000.0"),
                                            pos("ETH", "-2.0", "7000.0", "3500.0", "4000.0")),
                                  1.0)
    assert not s.errors and not s.vanished and s.account_value == 1000.0
    btc, eth = (sp.position for sp in s.positions)
    assert (btc.coin, btc.size, btc.notional_usd, btc.entry_price, btc.liquidation_price) == \
        ("BTC", 0.5, 48500.0, 97000.0, 80000.0)
    assert (eth.size, eth.notional_usd, eth.liquidation_price) == (-2.0, 7000.0, 4000.0)


def test_null_liquidation_px_keeps_the_position_without_a_level() -> None:
    s = parse_clearinghouse_state(A1, state(pos("BTC", "1.0", "97000.0", liq=None)), 1.0)
    assert s.positions[0].position.liquidation_price is None
    agg = aggregate_samples([s], {"BTC": Mkt(97000.0, 10.0)}, 0)
    assert agg.assets["BTC"]["long_notional_usd"] == 97000.0
    assert not [p for p in agg.points if p.measurement == LIQUIDATION_LEVELS]


def test_isolated_and_cross_leverage_both_parse_and_isolated_is_counted() -> None:
    iso = {"type": "isolated", "value": 10, "rawUsd": "-500.0"}
    s = parse_clearinghouse_state(A1, state(pos("BTC", "0.1", "9700.0", lev=iso),
                                            pos("ETH", "1.0", "3500.0")), 1.0)
    assert not s.errors
    assert [sp.isolated for sp in s.positions] == [True, False]
    agg = aggregate_samples([s], {"BTC": Mkt(97000.0, 1.0), "ETH": Mkt(3500.0, 1.0)}, 0)
    assert agg.assets["BTC"]["isolated_positions"] == 1
    assert agg.assets["ETH"]["isolated_positions"] == 0


def test_zero_size_is_counted_and_left_out() -> None:
    s = parse_clearinghouse_state(A1, state(pos("BTC", "0.0", "0.0"), pos("ETH", "1", "3500")),
                                  1.0)
    assert s.zero_size == 1 and [sp.position.coin for sp in s.positions] == ["ETH"]
    agg = aggregate_samples([s], {"BTC": Mkt(97000.0, 1.0), "ETH": Mkt(3500.0, 1.0)}, 0)
    assert "BTC" not in agg.assets
    assert agg.globals["zero_size_positions"] == 1


def test_older_response_without_cum_funding_max_leverage_time() -> None:
    old = pos("BTC", "1.0", "97000.0")
    del old["position"]["cumFunding"], old["position"]["maxLeverage"]
    s = parse_clearinghouse_state(A1, state(old, time=None), 1.0)
    assert not s.errors and len(s.positions) == 1


@pytest.mark.parametrize("payload", [None, state(value="0.0")])
def test_vanished_account_null_or_empty(payload: dict | None) -> None:
    s = parse_clearinghouse_state(A1, payload, 1.0)
    assert s.vanished and not s.positions
    other = parse_clearinghouse_state(A2, state(pos("BTC", "1", "97000")), 1.0)
    agg = aggregate_samples([s, other], {"BTC": Mkt(97000.0, 1.0)}, 0)
    assert agg.globals["vanished_accounts"] == 1 and agg.globals["sampled_accounts"] == 1
    assert agg.assets["BTC"]["long_traders"] == 1


def test_funded_account_without_positions_is_not_vanished() -> None:
    s = parse_clearinghouse_state(A1, state(value="2500.0"), 1.0)
    assert not s.vanished and not s.positions


@pytest.mark.parametrize(
    ("bad", "needle"),
    [
        ({"coin": "BTC", "szi": "NaN", "positionValue": "1.0"}, "szi"),
        ({"coin": "BTC", "szi": "1.0", "positionValue": "-5.0"}, "positionValue"),
        ({"szi": "1.0", "positionValue": "5.0"}, "coin"),
        ({"coin": "BTC", "szi": "abc", "positionValue": "5.0"}, "szi"),
        ({"coin": "BTC", "szi": "1", "positionValue": "5", "entryPx": "0"}, "entryPx"),
        ({"coin": "BTC", "szi": "1", "positionValue": "5", "leverage": {"type": "cross"}},
         "leverage.value"),
    ],
)
def test_bad_position_fails_alone(bad: dict, needle: str) -> None:
    s = parse_clearinghouse_state(
        A1, state({"type": "oneWay", "position": bad}, pos("ETH", "1", "3500")), 1.0)
    assert [sp.position.coin for sp in s.positions] == ["ETH"]
    assert len(s.errors) == 1 and needle in s.errors[0].message
    assert s.errors[0].kind == "validation" and s.errors[0].source == "sampled"


def test_entry_without_position_object_and_duplicate_coin_are_reported() -> None:
    s = parse_clearinghouse_state(A1, state({"type": "oneWay"}, pos("ETH", "1", "3500"),
                                            pos("ETH", "2", "7000")), 1.0)
    assert [sp.position.size for sp in s.positions] == [1.0]
    assert len(s.errors) == 2


@pytest.mark.parametrize("payload", [[], "null", {"marginSummary": {}}, {"assetPositions": 3}])
def test_not_an_account_state_is_a_payload_error(payload: object) -> None:
    with pytest.raises(PayloadError, match="clearinghouseState"):
        parse_clearinghouse_state(A1, payload, 1.0)


# -- aggregation ----------------------------------------------------------------------

def _samples() -> list:
    return [
        parse_clearinghouse_state(A1, state(
            pos("BTC", "2.0", "200000.0", "90000.0", "70000.0"),
            pos("kPEPE", "-1000000", "1500.0", "0.0016", "0.0021")), 1.0),
        parse_clearinghouse_state(A2, state(
            pos("BTC", "1.0", "100000.0", "120000.0", "70100.0"),
            pos("BTC2", "1.0", "5.0")), 2.0),
        parse_clearinghouse_state(A3, state(
            pos("BTC", "-0.5", "50000.0", "100000.0", None)), 3.0),
    ]


MARKET = {"BTC": Mkt(100000.0, 35.0), "kPEPE": Mkt(0.0015, 2e9), "ETH": Mkt(3500.0, 1e4)}


def test_per_asset_sums_counts_entries_and_coverage() -> None:
    agg = aggregate_samples(_samples(), MARKET, 1_000, sample_age_s=2.5)
    btc = agg.assets["BTC"]
    assert btc["long_notional_usd"] == 300000.0 and btc["short_notional_usd"] == 50000.0
    assert btc["ls_ratio"] == 6.0
    assert (btc["long_traders"], btc["short_traders"]) == (2, 1)
    assert btc["avg_entry_long"] == pytest.approx((2 * 90000 + 1 * 120000) / 3)
    assert btc["avg_entry_short"] == 100000.0
    assert btc["top10_share"] == 1.0  # fewer than 10 positions
    assert btc["coverage"] == pytest.approx(350000.0 / (35.0 * 100000.0))
    pts = {p.tags["asset"]: p for p in agg.points if p.measurement == ASSET_METRICS}
    assert pts["BTC"].tags == {"asset": "BTC", "source": "sampled"}
    assert pts["BTC"].fields == btc and pts["BTC"].time_ms == 1_000
    assert "ETH" not in agg.assets  # nobody sampled holds it


def test_unknown_coin_is_counted_and_reported_not_aggregated() -> None:
    agg = aggregate_samples(_samples(), MARKET, 0)
    assert "BTC2" not in agg.assets and agg.unknown_coins == {"BTC2": 1}
    assert agg.globals["unknown_coin_positions"] == 1
    assert any(e.item == "BTC2" and "absent from the current universe" in e.message
               for e in agg.errors)


def test_global_point() -> None:
    agg = aggregate_samples(_samples(), MARKET, 7, sample_age_s=2.5)
    (g,) = [p for p in agg.points if p.measurement == GLOBAL_METRICS]
    assert g.tags == {"source": "sampled"} and g.time_ms == 7
    f = g.fields
    assert f["long_notional_usd"] == 300000.0
    assert f["short_notional_usd"] == 50000.0 + 1500.0
    assert f["total_notional_usd"] == 351500.0
    assert f["global_ls_ratio"] == pytest.approx(300000.0 / 51500.0)
    assert (f["long_positions"], f["short_positions"], f["assets"]) == (2, 2, 2)
    assert f["sampled_accounts"] == 3 and f["sample_age_s"] == 2.5
    assert f["coverage"] == pytest.approx(351500.0 / (3.5e6 + 0.0015 * 2e9))


def test_liquidation_levels_scale_with_price_per_side() -> None:
    agg = aggregate_samples(_samples(), MARKET, 0)
    levels = [p for p in agg.points if p.measurement == LIQUIDATION_LEVELS]
    btc = [p for p in levels if p.tags["asset"] == "BTC"]
    w = bucket_width(100000.0)
    assert w == 500.0
    # 70000 and 70100 share a $500 bucket: both longs, |szi| x liquidationPx summed
    assert len(btc) == 1
    assert btc[0].tags["side"] == "long" and btc[0].fields["price"] == 70250.0
    assert btc[0].fields["notional_usd"] == pytest.approx(2 * 70000.0 + 1 * 70100.0)
    assert btc[0].tags["bucket"] == "70250"
    (pepe,) = [p for p in levels if p.tags["asset"] == "kPEPE"]
    assert pepe.tags["side"] == "short"
    assert pepe.fields["notional_usd"] == pytest.approx(1e6 * 0.0021)
    pw = bucket_width(0.0015)
    assert pw <= 1e-5  # a kPEPE bucket is a sliver of a cent, not $500
    assert abs(pepe.fields["price"] - 0.0021) <= pw / 2 + 1e-15
    assert len({p.series_key() for p in levels}) == len(levels)  # no two levels collide


def test_without_market_data_everything_aggregates_with_implied_marks() -> None:
    agg = aggregate_samples(_samples(), {}, 0)
    assert {"BTC", "kPEPE", "BTC2"} <= set(agg.assets)
    assert all("coverage" not in f for f in agg.assets.values())
    assert "coverage" not in agg.globals
    assert [p for p in agg.points if p.measurement == LIQUIDATION_LEVELS]


def test_awkward_names_pass_unstorable_refused() -> None:
    s = parse_clearinghouse_state(A1, state(pos('W,X=Y "Z"', "1", "10"),
                                            pos("BAD\\", "1", "10")), 1.0)
    agg = aggregate_samples([s], {'W,X=Y "Z"': Mkt(10.0, 5.0), "BAD\\": Mkt(10.0, 5.0)}, 0)
    assert 'W,X=Y "Z"' in agg.assets and "BAD\\" not in agg.assets
    assert any("backslash" in e.message for e in agg.errors)


def test_top10_share_counts_the_ten_largest() -> None:
    samples = [parse_clearinghouse_state(f"0x{i:040x}", state(pos("ETH", "1", str(v))), 0)
               for i, v in enumerate([100.0] * 10 + [1.0] * 20, start=1)]
    agg = aggregate_samples(samples, {"ETH": Mkt(100.0, 100.0)}, 0)
    assert agg.assets["ETH"]["top10_share"] == pytest.approx(1000.0 / 1020.0)
    assert math.isclose(agg.assets["ETH"]["coverage"], 1020.0 / 10000.0)


# -- leaderboard ----------------------------------------------------------------------

def _board(rows: list) -> bytes:
    return json.dumps({"leaderboardRows": rows}).encode()


def _row(addr: str, value: object) -> dict:
    return {"ethAddress": addr, "accountValue": value,
            "windowPerformances": [["day", {"pnl": "1.0", "roi": "0.1", "vlm": "3.0"}]],
            "prize": 0, "displayName": 'a "quoted", name'}


@pytest.mark.parametrize("chunk", [1, 7, 64, 1 << 16])
def test_leaderboard_top_n_in_any_chunking(chunk: int) -> None:
    rows = [_row(f"0x{i:040x}", f"{i * 10.5:.2f}") for i in range(1, 60)]
    rows.insert(3, _row(f"0x{'AB' * 20}", "1e9"))  # mixed case is lowered
    scan = scan_leaderboard(b'{"other": [1, 2], ' + _board(rows)[1:], 5, chunk=chunk)
    assert scan.top[0] == ("0x" + "ab" * 20, 1e9)
    assert [v for _, v in scan.top[1:]] == [59 * 10.5, 58 * 10.5, 57 * 10.5, 56 * 10.5]
    assert scan.rows == 60 and scan.valid == 60 and scan.invalid == 0


def test_leaderboard_bad_rows_are_skipped_and_duplicates_merged() -> None:
    rows = [_row("0x123", "5"), _row(A1, "NaN"), _row(A1, "x"), _row(A2, None), "row", 7,
            _row(A3, "10"), _row(A3.upper().replace("0X", "0x"), "20"), _row(A2, "3")]
    scan = scan_leaderboard(_board(rows), 10)
    assert scan.top == [(A3, 20.0), (A2, 3.0)]
    assert scan.invalid == 6 and scan.valid == 2


@pytest.mark.parametrize(
    ("doc", "needle"),
    [
        (b"<html><body>Just a moment...</body></html>", "no leaderboardRows"),
        (b'{"leaderboardRows": {"a": 1}}', "not an array"),
        (_board([_row(A1, "1")])[:-10], "cut short inside row 1"),
        (_board([_row(A1, "1")])[:-2], "cut short .leaderboardRows never"),
        (b'{"leaderboardRows": [{"ethAddress": "0x1", oops}]}', "not valid JSON"),
    ],
)
def test_leaderboard_that_is_not_one_is_refused(doc: bytes, needle: str) -> None:
    with pytest.raises(LeaderboardError, match=needle):
        scan_leaderboard(doc, 10, chunk=5)
