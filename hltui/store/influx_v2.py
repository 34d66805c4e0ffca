"""Provisioning on InfluxDB 2.x: two buckets and their DBRP mappings.

2.x has no retention policies; it serves the v1 API through DBRP mappings that
map (database, retention policy) to a bucket. hltui creates:

| bucket | retention | DBRP mapping |
|---|---|---|
| `<db>/raw` | HLTUI_RETENTION_PERIOD | db=`<db>`, rp=`raw` (default) |
| `<db>/compressed` | HLTUI_COMPRESSED_RETENTION | db=`<db>`, rp=`compressed` |

so the data path (`/write?db=<db>&rp=raw`, InfluxQL `"<db>"."raw"."asset_metrics"`)
is identical on 1.x and 2.x. A changed retention setting updates the bucket's
expiry rule. Needs HLTUI_INFLUX_TOKEN with permission to read/write buckets and
DBRPs, and HLTUI_INFLUX_ORG (else the token's first organization is used).

This runs influxdb-client's synchronous BucketsApi/DBRPsService in a worker thread
(it is called once per start). It cannot be exercised against a real server here
(only 1.x is installable); keep it small and obvious.
"""

from __future__ import annotations

import asyncio

from hltui.store.base import StoreRejected, StoreUnavailable

TIERS = (("raw", True), ("compressed", False))


def bucket_name(db: str, tier: str) -> str:
    return f"{db}/{tier}"


def _provision_sync(url: str, token: str, org: str | None, db: str,
                    durations: dict[str, float], timeout_s: float) -> list[str]:
    from influxdb_client import BucketRetentionRules, InfluxDBClient
    from influxdb_client.domain.dbrp_create import DBRPCreate
    from influxdb_client.domain.dbrp_update import DBRPUpdate
    from influxdb_client.service.dbr_ps_service import DBRPsService

    notes: list[str] = []
    with InfluxDBClient(url=url, token=token, org=org, timeout=int(timeout_s * 1000)) as client:
        orgs = client.organizations_api().find_organizations(org=org) if org else \
            client.organizations_api().find_organizations()
        if not orgs:
            raise StoreRejected(f"InfluxDB 2.x: organization {org!r} not found; "
                                "set HLTUI_INFLUX_ORG")
        org_id = orgs[0].id
        buckets = client.buckets_api()
        dbrps = DBRPsService(client.api_client)
        for tier, default in TIERS:
            name = bucket_name(db, tier)
            seconds = int(durations[tier])
            rule = BucketRetentionRules(type="expire", every_seconds=seconds)
            bucket = buckets.find_bucket_by_name(name)
            if bucket is None:
                bucket = buckets.create_bucket(bucket_name=name, retention_rules=rule, org=org_id)
                notes.append(f"created bucket {name} (expiry {seconds} s)")
            else:
                current = [r.every_seconds for r in (bucket.retention_rules or [])]
                if current != [seconds]:
                    bucket.retention_rules = [rule]
                    buckets.update_bucket(bucket)
                    notes.append(f"bucket {name} expiry set to {seconds} s")
            found = dbrps.get_dbrps(org_id=org_id, db=db, rp=tier).content or []
            if not found:
                dbrps.post_dbrp(DBRPCreate(org_id=org_id, bucket_id=bucket.id, database=db,
                                           retention_policy=tier, default=default))
                notes.append(f"mapped db={db} rp={tier} to bucket {name}")
            else:
                m = found[0]
                if m.bucket_id != bucket.id:
                    notes.append(f"DBRP db={db} rp={tier} points at another bucket "
                                 f"({m.bucket_id}); hltui leaves it as it is")
                elif bool(m.default) != default:
                    dbrps.patch_dbrp_id(m.id, DBRPUpdate(default=default), org_id=org_id)
    return notes


async def provision_v2(url: str, token: str | None, org: str | None, db: str,
                       raw_s: float, compressed_s: float, timeout_s: float) -> list[str]:
    """Create or update both buckets and DBRP mappings; returns log notes."""
    if not token:
        raise StoreRejected("InfluxDB 2.x needs HLTUI_INFLUX_TOKEN (an API token with "
                            "bucket and DBRP permissions)")
    try:
        return await asyncio.to_thread(
            _provision_sync, url, token, org, db,
            {"raw": raw_s, "compressed": compressed_s}, timeout_s)
    except (StoreRejected, StoreUnavailable):
        raise
    except Exception as exc:  # influxdb_client raises ApiException / urllib3 errors
        status = getattr(exc, "status", None)
        reason = getattr(exc, "reason", None) or type(exc).__name__
        if status in (401, 403):
            raise StoreRejected(f"InfluxDB 2.x refused bucket provisioning (HTTP {status} "
                                f"{reason}): the token needs write access to buckets and "
                                "DBRPs") from None
        if status is None or status >= 500:
            raise StoreUnavailable(f"InfluxDB 2.x provisioning failed: {reason}") from None
        raise StoreRejected(f"InfluxDB 2.x provisioning failed (HTTP {status} {reason})") from None
