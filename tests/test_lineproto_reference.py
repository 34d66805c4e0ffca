"""Our fast serializer must equal influxdb_client's Point serializer byte for byte."""

from __future__ import annotations

import random

from hltui.process.records import Point
from hltui.store.fields import INT_FIELDS
from hltui.store.lineproto import reference_line, to_line

NAMES = ["BTC", "kPEPE", "@107", "a b", "x,y", "k=v", 'q"uote', "it's", "ÆTHER", "日本",
         "sp ace,comma=eq", "#hash", "trail ", "ünï cödé"]
FIELDS = ["mark_price", "funding_rate", "open_interest", "long_traders", "assets",
          "weird key", "k,=v", "max_leverage", "ok"]


def test_fast_serializer_equals_library_on_hostile_inputs() -> None:
    rng = random.Random(11)
    for _ in range(3000):
        fields: dict = {}
        for f in rng.sample(FIELDS, rng.randint(1, len(FIELDS))):
            kind = 0.7 if f in INT_FIELDS else rng.random()
            if kind < 0.6:
                fields[f] = rng.choice([rng.uniform(-1e9, 1e9), rng.random() * 1e-9, 1.0, 0.0,
                                        -2.5, 1e21, 123456789.0, 5e-324])
            elif kind < 0.8:
                fields[f] = rng.randint(-10**12, 10**12)
            elif kind < 0.9:
                fields[f] = rng.random() < 0.5
            else:
                fields[f] = rng.choice(['plain', 'with "quotes"', "back\\slash", "日本"])
        tags = {"asset": rng.choice(NAMES).strip() or "X", "source": rng.choice(["hyperliquid",
                                                                                 "s p"])}
        if rng.random() < 0.3:
            tags["side"] = rng.choice(["long", "short"])
        p = Point(rng.choice(["asset_metrics", "m e,as"]), tags, fields,
                  rng.randint(0, 2_000_000_000_000))
        assert to_line(p) == reference_line(p), p
