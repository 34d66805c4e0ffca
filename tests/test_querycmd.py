"""`hltui query latest-positions` table: one line per asset, positioning source named."""

from __future__ import annotations

from hltui.querycmd import positions_overview, table


def test_overview_merges_sources_and_prefers_hyperdash_positioning() -> None:
    rows = [
        {"asset": "ETH", "source": "hyperliquid", "time_ms": 1_000, "mark_price": 3500.0,
         "open_interest_usd": 2e9, "funding_rate": 1e-5},
        {"asset": "BTC", "source": "hyperliquid", "time_ms": 1_000, "mark_price": 97000.0,
         "open_interest_usd": 5e9},
        {"asset": "BTC", "source": "sampled", "time_ms": 2_000, "long_notional_usd": 1.0,
         "ls_ratio": 0.5, "coverage": 0.3},
        {"asset": "BTC", "source": "hyperdash", "time_ms": 1_500, "long_notional_usd": 2.0,
         "ls_ratio": 1.5, "long_traders": 10, "short_traders": 7},
        {"asset": "a,b c", "source": "sampled", "time_ms": 900, "long_notional_usd": 3.0,
         "ls_ratio": 2.0},
    ]
    out = positions_overview(rows)
    assert [r["asset"] for r in out] == ["BTC", "ETH", "a,b c"]  # largest OI first
    btc = out[0]
    assert (btc["mark"], btc["ls_ratio"], btc["longs"], btc["positioning"]) == (
        97000.0, 1.5, 10, "hyperdash")
    assert btc["coverage"] is None  # hyperdash has no coverage; not mixed from sampled
    assert out[1]["positioning"] is None and out[1]["ls_ratio"] is None
    assert out[2]["positioning"] == "sampled" and out[2]["mark"] is None
    text = table(out)
    assert text.splitlines()[0].split()[:3] == ["asset", "time", "mark"]
    assert "a,b c" in text and "97,000.00" in text
