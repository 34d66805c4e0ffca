"""HyperDash payload validation and derivations (pure; payloads from the simulated site)."""

from __future__ import annotations

import copy
import math

import pytest

from hltui.process.buckets import bucket_width
from hltui.process.hyperdash import (
    MAX_LEVELS_PER_SIDE,
    PayloadError,
    derive,
    position_deltas,
    snapshot_from_graphql,
    snapshot_from_rest,
)
from hltui.process.positioning import Positioning
from hltui.sim.hyperdash import SimHyperDash
from hltui.sources.hyperdash.errors import looks_like_challenge, status_error
from hltui.sources.hyperdash.protocols import GraphqlAdapter, RestAdapter

NOW = 1_767_225_600_000


@pytest.fixture(scope="module")
def site() -> SimHyperDash:
    return SimHyperDash(seed=3, assets=["BTC", "kPEPE", "@107"])


def gql_bodies(site: SimHyperDash, asset: str) -> tuple[dict, dict]:
    book = site.book(asset)
    pos = {"data": {"analytics": {"perpsTickerPositions": site.positions_node(book, 100)}}}
    lev = {"data": {"analytics": {"historicalLiquidationLevel":
                                  site.levels_node(book, None, None)}}}
    return pos, lev


def rest_bodies(site: SimHyperDash, asset: str) -> tuple[dict, dict]:
    rows = [site.summary_row(site.book(a)) for a in site.assets]
    return {"data": rows, "lastUpdated": "x"}, site.rest_liquidations(site.book(asset))


def test_graphql_snapshot_matches_served(site: SimHyperDash) -> None:
    pos, lev = gql_bodies(site, "BTC")
    snap = snapshot_from_graphql("BTC", pos, lev)
    node = pos["data"]["analytics"]["perpsTickerPositions"]
    p = snap.positioning
    assert p.long_notional_usd == node["totalLongNotional"]
    assert p.short_notional_usd == node["totalShortNotional"]
    assert (p.long_traders, p.short_traders) == (node["longCount"], node["shortCount"])
    listed = node["positions"]
    top = sorted((x["notionalSize"] for x in listed), reverse=True)[:10]
    assert p.top10_share == pytest.approx(sum(top) / node["totalNotional"])
    longs = [x for x in listed if x["size"] > 0]
    want = sum(x["size"] * x["entryPrice"] for x in longs) / sum(x["size"] for x in longs)
    assert p.avg_entry_long == pytest.approx(want)
    assert snap.site_price == pytest.approx(site.book("BTC").price)
    liq = lev["data"]["analytics"]["historicalLiquidationLevel"]["liquidations"]
    assert sum(n for _, _, n in snap.levels) == pytest.approx(
        sum(abs(q["amount"]) * q["price"] for q in liq))


def test_rest_snapshot_matches_served(site: SimHyperDash) -> None:
    summary, liq = rest_bodies(site, "kPEPE")
    snap = snapshot_from_rest("kPEPE", summary, liq)
    row = next(r for r in summary["data"] if r["Asset"] == "kPEPE")
    long_is_major = row["Majority Side"] == "LONG"
    assert snap.positioning.long_notional_usd == row[
        "Majority Side Notional" if long_is_major else "Minority Side Notional"]
    assert snap.positioning.long_traders == row["Number Long"]
    assert snap.positioning.top10_share is None  # REST lists no positions
    assert snap.site_price == row["Current Price"]
    longs = sum(float(px) * c for px, w in liq.items() for c in w.values() if c > 0)
    assert sum(n for s, _, n in snap.levels if s == "long") == pytest.approx(longs)


@pytest.mark.parametrize(
    ("mutate", "named"),
    [
        (lambda n: n.pop("totalLongNotional"),
         "perpsTickerPositions: totalLongNotional: Field required"),
        (lambda n: n.update(totalShortNotional="NaN"), "totalShortNotional"),
        (lambda n: n.update(totalShortNotional=-5), "totalShortNotional"),
        (lambda n: n.update(longCount="many"), "longCount"),
        (lambda n: n["positions"][3].update(notionalSize=None), "positions[3].notionalSize"),
        (lambda n: n.update(coin="ETH"), "coin is 'ETH'"),
    ],
)
def test_graphql_bad_shapes_name_the_field(site: SimHyperDash, mutate, named: str) -> None:
    pos, lev = gql_bodies(site, "BTC")
    pos = copy.deepcopy(pos)
    mutate(pos["data"]["analytics"]["perpsTickerPositions"])
    with pytest.raises(PayloadError, match="perpsTickerPositions") as err:
        snapshot_from_graphql("BTC", pos, lev)
    assert named in str(err.value)


def test_graphql_errors_and_missing_nodes(site: SimHyperDash) -> None:
    pos, lev = gql_bodies(site, "BTC")
    with pytest.raises(PayloadError, match="GraphQL error: boom"):
        snapshot_from_graphql("BTC", {"data": None, "errors": [{"message": "boom"}]}, lev)
    with pytest.raises(PayloadError, match=r"data\.analytics: field missing"):
        snapshot_from_graphql("BTC", {"data": {}}, lev)
    with pytest.raises(PayloadError, match="expected a JSON object, got list"):
        snapshot_from_graphql("BTC", pos, [])
    bad = copy.deepcopy(lev)
    bad["data"]["analytics"]["historicalLiquidationLevel"]["liquidations"][0]["price"] = "inf"
    with pytest.raises(PayloadError, match=r"liquidations\[0\]\.price"):
        snapshot_from_graphql("BTC", pos, bad)


def test_rest_bad_shapes_name_the_field(site: SimHyperDash) -> None:
    summary, liq = rest_bodies(site, "BTC")
    bad = copy.deepcopy(summary)
    del bad["data"][0]["Majority Side Notional"]
    with pytest.raises(PayloadError, match=r"summary: data\[0\]\.Majority Side Notional: "
                                           "Field required"):
        snapshot_from_rest("BTC", bad, liq)
    # another asset's broken row does not fail this one
    assert snapshot_from_rest("kPEPE", bad, rest_bodies(site, "kPEPE")[1]).positioning
    with pytest.raises(PayloadError, match="no row for asset 'DOGE'"):
        snapshot_from_rest("DOGE", summary, liq)
    with pytest.raises(PayloadError, match="key 'abc' is not a price"):
        snapshot_from_rest("BTC", summary, {"abc": {"0x1": 1.0}})
    with pytest.raises(PayloadError, match="liquidation-data-v2"):
        snapshot_from_rest("BTC", summary, {"9000": {"0x1": "NaN"}})
    bad = copy.deepcopy(summary)
    bad["data"][0]["Majority Side"] = "UP"
    with pytest.raises(PayloadError, match="expected LONG or SHORT, got 'UP'"):
        snapshot_from_rest("BTC", bad, liq)


def test_tolerant_where_sources_md_is_unsure(site: SimHyperDash) -> None:
    summary, liq = rest_bodies(site, "BTC")
    loose = copy.deepcopy(summary)
    row = loose["data"][0]
    row.update({"OI Coverage": "35.2", "L/S Ratio": None, "Majority Side P/L": 12.5,
                "Brand New Field": {"x": 1}, "Number Long": "5123"})
    major = row["Majority Side Notional"]
    row["Majority Side Notional"] = str(major)
    snap = snapshot_from_rest("BTC", loose, liq)
    assert snap.positioning.long_traders == 5123
    got = snap.positioning.long_notional_usd if row["Majority Side"] == "LONG" else \
        snap.positioning.short_notional_usd
    assert got == major


def test_derive_records_and_bucket_width_scales(site: SimHyperDash) -> None:
    for asset in ("BTC", "kPEPE"):
        pos, lev = gql_bodies(site, asset)
        snap = snapshot_from_graphql(asset, pos, lev)
        mark = site.book(asset).price
        d = derive(snap, mark, None, NOW)
        metrics, levels = d.points[0], d.points[1:]
        assert metrics.measurement == "asset_metrics"
        assert metrics.tags == {"asset": asset, "source": "hyperdash"}
        assert "long_notional_delta_usd" not in metrics.fields  # first snapshot: no delta
        assert d.fields["liq_bucket_width"] == bucket_width(mark)
        assert d.fields["liq_bucket_width"] / mark < 0.02  # scales with price, not $500
        for side in ("long", "short"):
            pts = [p for p in levels if p.tags["side"] == side]
            assert [p.time_ms for p in pts] == list(range(NOW, NOW + len(pts)))
            total = sum(p.fields["notional_usd"] for p in pts)
            assert pts[-1].fields["cumulative_usd"] == pytest.approx(total)
            assert d.fields[f"liq_{side}_notional_usd"] == pytest.approx(total)
            assert len(pts) <= MAX_LEVELS_PER_SIDE
            for p in pts:
                assert p.tags == {"asset": asset, "side": side, "source": "hyperdash"}


def test_derive_falls_back_to_the_site_price(site: SimHyperDash) -> None:
    pos, lev = gql_bodies(site, "@107")
    snap = snapshot_from_graphql("@107", pos, lev)
    d = derive(snap, None, None, NOW)
    assert d.fields["liq_bucket_width"] == bucket_width(snap.site_price)
    snap.site_price = None
    with pytest.raises(PayloadError, match="no price to scale"):
        derive(snap, float("nan"), None, NOW)


def test_position_deltas() -> None:
    a = Positioning(100.0, 50.0, 10, 5)
    b = Positioning(160.0, 40.0, 12, 4)
    assert position_deltas(None, b) == {}
    d = position_deltas(a, b)
    assert d["long_notional_delta_usd"] == 60.0
    assert d["short_notional_delta_usd"] == -10.0
    assert (d["long_traders_delta"], d["short_traders_delta"]) == (2, -1)
    assert d["ls_ratio_delta"] == pytest.approx(4.0 - 2.0)
    assert "ls_ratio_delta" not in position_deltas(Positioning(1.0, 0.0), b)
    assert all(math.isfinite(v) for v in d.values())


def test_challenge_detection_and_status_errors() -> None:
    assert looks_like_challenge({"CF-Mitigated": "challenge"})
    assert looks_like_challenge({}, "Just a moment...", "")
    assert looks_like_challenge({}, "", "Verifying your browser before accessing")
    assert not looks_like_challenge({"content-type": "text/html"}, "BTC · HyperDash", "BTC")
    assert "403" in str(status_error(403, "page"))
    assert type(status_error(403, "x")).__name__ == "Blocked"
    assert type(status_error(429, "x", "2")).__name__ == "RateLimited"
    assert type(status_error(502, "x")).__name__ == "ServerError"
    assert "HLTUI_HYPERDASH_API_KEY" in str(status_error(401, "x"))
    assert status_error(200, "x") is None


def test_adapters_recognise_their_responses() -> None:
    g, r = GraphqlAdapter(), RestAdapter()
    body = '{"query": "query { analytics { perpsTickerPositions(coin: $c) { coin } } }", ' \
           '"variables": {"coin": "BTC"}}'
    assert g.match("https://api.x/graphql", "POST", body, "BTC") == "positions"
    assert g.match("https://api.x/graphql", "POST", body, "ETH") is None
    assert g.match("https://api.x/graphql", "POST", '{"extensions": {}}', "BTC") == "?"
    assert g.kind_from_body({"data": {"analytics": {"historicalLiquidationLevel":
                                                    {"coin": "BTC"}}}}, "BTC") == "liquidations"
    assert r.match("https://api.x/summary", "GET", None, "BTC") == "summary"
    url = "https://x/api/liquidation-data-v2?ticker=%40107&days=7"
    assert r.match(url, "GET", None, "@107") == "liquidations"
    assert r.match(url, "GET", None, "BTC") is None
    assert r.needs_key(url, "GET", None) and not r.needs_key("https://api.x/summary", "GET", None)


def test_sim_is_deterministic_per_seed() -> None:
    a, b = SimHyperDash(seed=7, assets=["BTC"]), SimHyperDash(seed=7, assets=["BTC"])
    other = SimHyperDash(seed=8, assets=["BTC"])
    assert a.book("BTC") == b.book("BTC")
    assert a.book("BTC").positions != other.book("BTC").positions
    assert a._advance("BTC") == b._advance("BTC") != a._generate("BTC", 0)


def test_sim_thread_serves_the_page_the_api_and_the_faults() -> None:
    import json
    import urllib.error
    import urllib.request

    from hltui.sim.hyperdash import SimHyperDashThread

    def get(url: str, **headers: str) -> tuple[int, dict, str]:
        req = urllib.request.Request(url, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, dict(r.headers), r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read().decode()

    runner = SimHyperDashThread(seed=7, assets=["BTC", "@107"], protocol="rest")
    with runner as sim:
        status, _, page = get(sim.site_url + "/ticker/%40107")
        assert status == 200 and "popstate" in page and '"coin": "@107"' in page
        liq = sim.site_url + "/api/liquidation-data-v2?ticker=%40107&days=7"
        assert get(liq)[0] == 401  # the API key is checked
        status, _, body = get(liq, **{"X-Api-Key": sim.api_key})
        assert status == 200 and json.loads(body) == sim.served["@107"]["liquidations"]
        rows = json.loads(get(sim.api_url + "/summary")[2])["data"]
        assert [r["Asset"] for r in rows] == ["BTC", "@107"]
        sim.mode = "challenge"
        status, headers, body = get(sim.site_url + "/ticker/BTC")
        assert status == 403 and headers.get("cf-mitigated") == "challenge"
        assert looks_like_challenge(headers, "", body)
        sim.mode = "forbidden"
        status, headers, body = get(sim.api_url + "/summary")
        assert status == 403 and not looks_like_challenge(headers, "", body)
