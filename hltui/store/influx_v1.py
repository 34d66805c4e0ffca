"""Provisioning on InfluxDB 1.x: a database and two retention policies (InfluxQL).

`raw` (HLTUI_RETENTION_PERIOD, the DEFAULT policy) and `compressed`
(HLTUI_COMPRESSED_RETENTION). Idempotent: an existing policy whose duration differs
from the setting is ALTERed, so changing a setting takes effect at the next start.
A user without admin rights can still run when an admin created both policies.
"""

from __future__ import annotations

from hltui.store import influxql as q
from hltui.store.base import StoreRejected
from hltui.store.influx_http import InfluxHTTP, QueryError

RAW_RP = "raw"
COMPRESSED_RP = "compressed"


def parse_go_duration(text: str) -> float:
    """Seconds from InfluxDB's `168h0m0s` / `0s` (0 = infinite)."""
    total, num = 0.0, ""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "u": 1e-6, "µ": 1e-6, "ns": 1e-9}
    i = 0
    while i < len(text):
        c = text[i]
        if c.isdigit() or c == ".":
            num += c
            i += 1
            continue
        unit = text[i : i + 2] if text[i : i + 2] in ("ms", "ns") else c
        total += float(num or 0) * units.get(unit, 0)
        num = ""
        i += len(unit)
    return total


def shard_duration(seconds: float) -> float:
    """InfluxDB's own default shard group duration for a policy of this length
    (given explicitly so that shortening a policy never fails on an old shard size)."""
    if seconds < 2 * 86400:
        return 3600
    if seconds <= 180 * 86400:
        return 86400
    return 7 * 86400


async def retention_policies(http: InfluxHTTP, db: str) -> dict[str, dict]:
    """{name: {"duration_s": float, "default": bool}} for the database."""
    res = await http.query(f"SHOW RETENTION POLICIES ON {q.ident(db)}")
    out: dict[str, dict] = {}
    for series in res[0].get("series", []) or []:
        cols = series["columns"]
        for row in series["values"]:
            r = dict(zip(cols, row, strict=False))
            out[r["name"]] = {"duration_s": parse_go_duration(str(r["duration"])),
                              "default": bool(r.get("default"))}
    return out


async def provision_v1(http: InfluxHTTP, db: str, raw_s: float,
                       compressed_s: float) -> list[str]:
    """Create/ALTER the database and both policies. Returns notes for the log."""
    notes: list[str] = []
    try:
        await http.query(f"CREATE DATABASE {q.ident(db)}")
        existing = await retention_policies(http, db)
        for name, seconds, default in ((RAW_RP, raw_s, True), (COMPRESSED_RP, compressed_s, False)):
            notes += await _ensure_rp(http, db, existing.get(name), name, seconds, default)
    except (QueryError, StoreRejected) as exc:
        if "authoriz" not in str(exc).lower() and "403" not in str(exc):
            raise
        # not an admin: fine if an admin created everything already
        try:
            existing = await retention_policies(http, db)
        except StoreRejected:
            existing = {}
        missing = [n for n in (RAW_RP, COMPRESSED_RP) if n not in existing]
        if missing:
            raise StoreRejected(
                f"InfluxDB user may not create database {db!r} or its retention policies "
                f"({exc}); ask an admin to run: CREATE DATABASE {q.ident(db)}; "
                f"CREATE RETENTION POLICY {q.ident(RAW_RP)} ON {q.ident(db)} DURATION "
                f"{q.duration(raw_s)} REPLICATION 1 DEFAULT; CREATE RETENTION POLICY "
                f"{q.ident(COMPRESSED_RP)} ON {q.ident(db)} DURATION "
                f"{q.duration(compressed_s)} REPLICATION 1") from None
        notes.append(f"not an InfluxDB admin: using the existing retention policies of {db!r} "
                     "as they are")
    return notes


async def _ensure_rp(http: InfluxHTTP, db: str, current: dict | None, name: str,
                     seconds: float, default: bool) -> list[str]:
    dur = q.duration(seconds)
    suffix = f" SHARD DURATION {q.duration(shard_duration(seconds))}"
    suffix += " DEFAULT" if default else ""
    if current is None:
        await http.query(f"CREATE RETENTION POLICY {q.ident(name)} ON {q.ident(db)} "
                         f"DURATION {dur} REPLICATION 1{suffix}")
        return [f"created retention policy {name} ({dur}) on {db}"]
    if abs(current["duration_s"] - seconds) > 0.5 or (default and not current["default"]):
        await http.query(f"ALTER RETENTION POLICY {q.ident(name)} ON {q.ident(db)} "
                         f"DURATION {dur}{suffix}")
        return [f"retention policy {name} on {db} set to {dur}"]
    return []
