"""InfluxQL quoting: hostile text stays data, checked by the real InfluxQL parser."""

from __future__ import annotations

import urllib.request

import pytest

from hltui.store import influxql as q
from tests.helpers.influxd import Influxd

HOSTILE = ["x' OR asset='BTC", '"; DROP DATABASE "d', "ends with \\", "\\' OR '1'='1",
           'both \' and " and \\"', "é✓ 漢字", "@107", "kPEPE", "", " "]


def test_quoting_escapes_backslash_and_quote() -> None:
    assert q.ident('a"b\\c') == '"a\\"b\\\\c"'
    assert q.literal("x' OR asset='BTC") == "'x\\' OR asset=\\'BTC'"
    assert q.literal("ends\\") == "'ends\\\\'"
    assert q.qualified("db", "raw", 'we"ird') == '"db"."raw"."we\\"ird"'
    assert q.duration(7 * 86400) == "1w" and q.duration(90 * 86400) == "90d"
    assert q.time_ms(1700000000000) == "1700000000000ms"
    with pytest.raises(ValueError):
        q.literal("new\nline")


def _write(server: Influxd, db: str, body: str) -> None:
    req = urllib.request.Request(f"{server.url}/write?db={db}&precision=ms",
                                 data=body.encode(), method="POST")
    with urllib.request.urlopen(req) as r:
        assert r.status == 204


def test_literals_and_identifiers_round_trip_through_the_parser(influxd: Influxd,
                                                                influx_db: str) -> None:
    influxd.query(f"CREATE DATABASE {q.ident(influx_db)}")
    lines = []
    for i, text in enumerate(HOSTILE):
        # string field values: the line-protocol escape for \ and " is the library's job
        # elsewhere; written by hand here to keep the test independent of our serializer
        escaped = text.replace("\\", "\\\\").replace('"', '\\"')
        lines.append(f'hostile,we"ird=k{i} s="{escaped}",n={i} {1_700_000_000_000 + i}')
    _write(influxd, influx_db, "\n".join(lines))
    for i, text in enumerate(HOSTILE):
        rows = influxd.rows(f"SELECT * FROM {q.qualified(influx_db, 'autogen', 'hostile')} "
                            f"WHERE {q.ident('s')} = {q.literal(text)}", influx_db)
        assert [(r["n"], r["s"]) for r in rows] == [(i, text)], text
        cond = q.tag_equals('we"ird', f"k{i}")
        rows = influxd.rows(f"SELECT * FROM {q.ident('hostile')} WHERE {cond}", influx_db)
        assert [r["s"] for r in rows] == [text]
    # the database survived every attempt
    dbs = [v[0] for v in influxd.query("SHOW DATABASES")["results"][0]["series"][0]["values"]]
    assert influx_db in dbs
