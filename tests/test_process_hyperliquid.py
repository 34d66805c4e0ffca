"""Validation of official info API payloads: every documented field, nulls, delisted
assets, and each kind of bad input counted per asset while the rest continues."""

from __future__ import annotations

import copy
import json

import pytest

from hltui.process.hyperliquid import (
    PayloadError,
    derive_points,
    parse_meta_and_ctxs,
    parse_predicted_fundings,
)

CTX = {"funding": "0.0000125", "openInterest": "28450.1", "prevDayPx": "95100.0",
       "dayNtlVlm": "2345678901.1", "premium": "0.00021", "oraclePx": "97010.0",
       "markPx": "97020.0", "midPx": "97015.5", "impactPxs": ["97010.0", "97021.0"],
       "dayBaseVlm": "24310.5"}


def payload(*names: str) -> list:
    universe = [{"name": n, "szDecimals": 2, "maxLeverage": 20} for n in names]
    return [{"universe": universe, "marginTables": []}, [dict(CTX) for _ in names]]


def test_every_documented_field_parses() -> None:
    p = payload("BTC")
    p[0]["universe"][0].update(onlyIsolated=True, marginTableId=52)
    m = parse_meta_and_ctxs(p)
    assert not m.errors
    c = m.rows[0].ctx
    assert (c.funding, c.openInterest, c.prevDayPx, c.dayNtlVlm, c.premium) == (
        0.0000125, 28450.1, 95100.0, 2345678901.1, 0.00021)
    assert (c.oraclePx, c.markPx, c.midPx, c.impactPxs, c.dayBaseVlm) == (
        97010.0, 97020.0, 97015.5, [97010.0, 97021.0], 24310.5)
    assert m.rows[0].asset.onlyIsolated and m.rows[0].asset.marginTableId == 52
    points, per_asset, glob = derive_points(m, {}, 1_700_000_000_000)
    f = per_asset["BTC"]
    assert f["open_interest_usd"] == pytest.approx(28450.1 * 97020.0)
    assert f["change_24h"] == pytest.approx(97020.0 / 95100.0 - 1)
    assert isinstance(f["max_leverage"], int)
    assert [p.measurement for p in points] == ["asset_metrics", "global_metrics"]
    assert points[0].tags == {"asset": "BTC", "source": "hyperliquid"}
    assert glob["assets"] == 1


def test_nullable_fields_and_delisted() -> None:
    p = payload("BTC", "OLD", "THIN")
    p[0]["universe"][1]["isDelisted"] = True
    p[1][2].update(midPx=None, premium=None, impactPxs=None)
    m = parse_meta_and_ctxs(p)
    assert [r.asset.name for r in m.rows] == ["BTC", "THIN"]
    assert m.delisted == ["OLD"] and not m.errors
    _, per_asset, _ = derive_points(m, {}, 0)
    assert "premium" not in per_asset["THIN"] and "mid_price" not in per_asset["THIN"]


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda c: c.update(markPx="NaN"), "markPx"),
        (lambda c: c.update(markPx="-3"), "markPx"),
        (lambda c: c.update(openInterest="-1"), "openInterest"),
        (lambda c: c.update(funding={"x": 1}), "funding"),
        (lambda c: c.pop("oraclePx"), "oraclePx"),
        (lambda c: c.update(dayNtlVlm="abc"), "dayNtlVlm"),
        (lambda c: c.update(impactPxs="97000"), "impactPxs"),
    ],
)
def test_bad_asset_is_counted_and_others_continue(mutate, needle: str) -> None:
    p = payload("BTC", "ETH", "SOL")
    mutate(p[1][1])
    m = parse_meta_and_ctxs(p)
    assert [r.asset.name for r in m.rows] == ["BTC", "SOL"]
    assert len(m.errors) == 1
    err = m.errors[0]
    assert err.item == "ETH" and err.kind == "validation" and needle in err.message


@pytest.mark.parametrize(
    "name", ["a b", "x,y", "k=v", 'q"uote', "it's", "ÆTHER", "日本", "kPEPE", "@107"])
def test_awkward_names_accepted(name: str) -> None:
    m = parse_meta_and_ctxs(payload(name))
    assert [r.asset.name for r in m.rows] == [name]


@pytest.mark.parametrize("name", ["ends\\", "new\nline", "", " pad", "tab\t"])
def test_unstorable_names_refused_not_renamed(name: str) -> None:
    m = parse_meta_and_ctxs(payload("BTC", name))
    assert [r.asset.name for r in m.rows] == ["BTC"]
    assert len(m.errors) == 1 and m.errors[0].kind == "validation"


@pytest.mark.parametrize(
    ("bad", "needle"),
    [
        ({"universe": []}, "2-element"),
        ([{"universe": "x"}, []], "universe"),
        ([{"universe": [{"name": "BTC", "szDecimals": 1, "maxLeverage": 2}]}, []], "aligned"),
        ([{"universe": []}, {"a": 1}], "ctxs"),
        ("<html>", "2-element"),
    ],
)
def test_bad_envelope_raises_clear_error(bad, needle: str) -> None:
    with pytest.raises(PayloadError, match=needle):
        parse_meta_and_ctxs(bad)


def test_predicted_fundings_shapes() -> None:
    raw = [
        ["BTC", [["HlPerp", {"fundingRate": "0.0000125", "nextFundingTime": 1736510400000,
                             "fundingIntervalHours": 1}],
                 ["BinPerp", {"fundingRate": "0.0001", "nextFundingTime": 1736510400000}],
                 ["BybitPerp", None]]],
        ["ETH", [["HlPerp", {"fundingRate": "-0.00002", "nextFundingTime": 1736510400000}]]],
        ["BAD", [["HlPerp", {"fundingRate": {"no": 1}}]]],
        "garbage",
    ]
    out, errors = parse_predicted_fundings(raw)
    assert out["BTC"].rate == 0.0000125 and out["BTC"].interval_hours == 1
    assert out["ETH"].rate == -0.00002 and out["ETH"].interval_hours is None
    assert {e.item for e in errors} == {"BAD", "#3"}


def test_processing_does_not_mutate_input() -> None:
    p = payload("BTC", "ETH")
    before = json.dumps(p)
    parse_meta_and_ctxs(copy.deepcopy(p))
    assert json.dumps(p) == before
