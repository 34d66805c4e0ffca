from tests.helpers.influxd import Influxd


def test_influxd_answers_and_stores(influxd: Influxd) -> None:
    influxd.query('CREATE DATABASE "fixture_check"')
    import urllib.request

    req = urllib.request.Request(
        influxd.url + "/write?db=fixture_check&precision=ms", data=b"m,t=a v=1 1700000000000",
        method="POST",
    )
    with urllib.request.urlopen(req) as r:
        assert r.status == 204
    rows = influxd.rows('SELECT "v" FROM "m"', "fixture_check")
    assert rows == [{"time": 1700000000000, "v": 1}]
