"""The neutral record every source produces and every store accepts."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

FieldValue = float | int | bool | str

# measurement names are part of the public contract (ARCHITECTURE.md)
ASSET_METRICS = "asset_metrics"
LIQUIDATION_LEVELS = "liquidation_levels"
GLOBAL_METRICS = "global_metrics"
COLLECTOR_STATS = "collector_stats"


@dataclass(slots=True)
class Point:
    """One measurement at one time: tags identify the series, fields hold numbers.

    `time_ms` is milliseconds since the epoch (UTC); stores write with ms precision.
    Every point carries a `source` tag (ARCHITECTURE.md).
    """

    measurement: str
    tags: dict[str, str]
    fields: dict[str, FieldValue]
    time_ms: int
    extra: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def series_key(self) -> tuple[str, tuple[tuple[str, str], ...]]:
        return self.measurement, tuple(sorted(self.tags.items()))


_UNSAFE_NAME = re.compile("[\\x00-\\x1f\\x7f\\u2028\\u2029\\ufeff\\\\]")


class InvalidAssetName(ValueError):
    """An asset name the database cannot store faithfully (refused, never renamed)."""


def check_asset_name(name: str) -> str:
    """Refuse names that line protocol or InfluxDB 1.x/2.x would store differently.

    A trailing backslash corrupts a line; control characters (newline, tab, NUL)
    cannot be escaped in line protocol; empty names cannot be a tag value; 1.x
    and 2.x disagree about `\\\\`, so backslashes are refused everywhere.
    """
    if not isinstance(name, str) or not name or not name.strip():
        raise InvalidAssetName("empty asset name")
    if len(name) > 128:
        raise InvalidAssetName(f"asset name longer than 128 characters: {name[:32]!r}...")
    bad = _UNSAFE_NAME.search(name)
    if bad is not None and bad.group() == "\\":
        raise InvalidAssetName(f"asset name {name!r} contains a backslash, which InfluxDB "
                               "versions store differently")
    if bad is not None:
        raise InvalidAssetName(f"asset name {name!r} contains a control character")
    if name != name.strip():
        raise InvalidAssetName(f"asset name {name!r} has leading or trailing whitespace")
    return name


def finite_fields(fields: dict[str, FieldValue | None]) -> dict[str, FieldValue]:
    """Drop None; refuse NaN/inf so a bad number never reaches a store."""
    out: dict[str, FieldValue] = {}
    for k, v in fields.items():
        if v is None:
            continue
        if isinstance(v, float) and not math.isfinite(v):
            raise ValueError(f"field {k} is not a finite number: {v}")
        out[k] = v
    return out
