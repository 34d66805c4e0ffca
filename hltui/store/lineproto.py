"""Point -> InfluxDB line protocol (ms precision) through influxdb_client's serializer.

Escaping is the library's job (never string concatenation). Two things it does not
do, done here: it silently drops NaN/inf fields and empty tag values and it does not
escape backslashes, so such points are refused with a reason instead of being
stored mangled. Field types are fixed by name (`fields.INT_FIELDS`): a field is
never written once as `1i` and once as `1.0`.

Importing `influxdb_client` costs ~0.3 s (its package __init__ loads every API
service), so the Point class is imported on first use, or ahead of time in a
worker thread by `warm_up()` when a store opens.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Iterable, Sequence
from typing import Any

from hltui.process.records import Point
from hltui.store.fields import INT_FIELDS

_lock = threading.Lock()
_point_cls: Any = None
_ms: Any = None


class SerializationError(ValueError):
    """A point that cannot be written faithfully; the message says why."""


def _load() -> tuple[Any, Any]:
    global _point_cls, _ms
    if _point_cls is None:
        with _lock:
            if _point_cls is None:
                from influxdb_client.client.write.point import Point as IPoint
                from influxdb_client.domain.write_precision import WritePrecision

                _ms = WritePrecision.MS
                _point_cls = IPoint
    return _point_cls, _ms


def warm_up() -> None:
    """Import the serializer now (call from a worker thread at store open)."""
    _load()


_UNSAFE = re.compile("[\x00-\x1f\x7f\u2028\u2029\ufeff\\\\]")
_checked_names: set[str] = set()  # field names repeat every point: check each once


def _check_name(kind: str, text: str) -> None:
    if not isinstance(text, str) or not text:
        raise SerializationError(f"empty {kind}")
    bad = _UNSAFE.search(text)
    if bad is None:
        return
    if bad.group() == "\\":
        raise SerializationError(f"{kind} {text!r} contains a backslash, which InfluxDB "
                                 "versions store differently")
    raise SerializationError(f"{kind} {text!r} contains a control character")


def coerce_field(name: str, value: Any, int_fields: frozenset[str] = INT_FIELDS) -> Any:
    """The value as it is stored: ints for `int_fields`, floats for other numbers."""
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise SerializationError(f"field {name} is not a finite number: {value}")
        if name in int_fields:
            if isinstance(value, float) and not value.is_integer():
                raise SerializationError(f"field {name} must be a whole number, got {value}")
            return int(value)
        return float(value)
    raise SerializationError(f"field {name} has unsupported type {type(value).__name__}")


def coerce_fields(fields: dict[str, Any],
                  int_fields: frozenset[str] = INT_FIELDS) -> dict[str, Any]:
    out = {}
    for k, v in fields.items():
        if v is None:
            continue
        if k not in _checked_names:
            _check_name("field name", k)
            _checked_names.add(k)
        out[k] = coerce_field(k, v, int_fields)
    if not out:
        raise SerializationError("point has no fields")
    return out


def check_point(p: Point) -> None:
    """Refuse what the serializer would drop or mangle (never rename, never strip)."""
    _check_name("measurement", p.measurement)
    if p.measurement.startswith("#"):
        raise SerializationError(f"measurement {p.measurement!r} starts with '#'")
    for k, v in p.tags.items():
        _check_name("tag key", k)
        _check_name(f"tag {k}", v)
    if not isinstance(p.time_ms, int) or isinstance(p.time_ms, bool):
        raise SerializationError(f"time_ms must be an int, got {p.time_ms!r}")


def reference_line(p: Point, int_fields: frozenset[str] = INT_FIELDS) -> str:
    """The line as influxdb_client's Point serializes it: the reference `to_line` must
    equal byte for byte (tests/test_lineproto.py checks this on hostile inputs)."""
    check_point(p)
    fields = coerce_fields(p.fields, int_fields)
    IPoint, ms = _load()
    ip = IPoint(p.measurement)
    for k, v in p.tags.items():
        ip.tag(k, v)
    for k, v in fields.items():
        ip.field(k, v)
    ip.time(p.time_ms, ms)
    return ip.to_line_protocol()


_tables: tuple[dict[int, str], dict[int, str], dict[int, str]] | None = None
_escaped_keys: dict[str, str] = {}
_orders: dict[tuple[str, ...], list[tuple[str, str]]] = {}  # field order per key set


def _escape_tables() -> tuple[dict[int, str], dict[int, str], dict[int, str]]:
    """influxdb_client's own escape tables (measurement, key/tag, string field)."""
    global _tables
    if _tables is None:
        from influxdb_client.client.write import point as lib

        _tables = (lib._ESCAPE_MEASUREMENT, lib._ESCAPE_KEY, lib._ESCAPE_STRING)
    return _tables


def _key(name: str, table: dict[int, str]) -> str:
    try:
        return _escaped_keys[name]
    except KeyError:
        out = _escaped_keys[name] = name.translate(table)
        return out


def to_line(p: Point, int_fields: frozenset[str] = INT_FIELDS) -> str:
    """One line of line protocol with a ms timestamp. Raises SerializationError.

    Same output as the library's Point (same escape tables, same number formatting),
    without building a Point per record: one snapshot is ~230 points x ~18 fields and
    the Point object path costs several times the JSON parse of the snapshot."""
    check_point(p)
    meas_t, key_t, str_t = _escape_tables()
    parts = [p.measurement.translate(meas_t)]
    for k in sorted(p.tags):
        parts.append(f",{_key(k, key_t)}={p.tags[k].translate(key_t)}")
    fields = p.fields
    keys = tuple(fields)
    order = _orders.get(keys)
    if order is None:
        for k in keys:
            if k not in _checked_names:
                _check_name("field name", k)
                _checked_names.add(k)
        order = _orders[keys] = [(k, _key(k, key_t) + "=") for k in sorted(keys)]
    values = []
    for k, prefix in order:
        v = fields[k]
        if v is None:
            continue
        if type(v) is float and k not in int_fields and v - v == 0.0:  # finite float
            s = repr(v)
        else:
            v = coerce_field(k, v, int_fields)
            t = type(v)
            if t is float:
                s = repr(v)
            elif t is bool:
                s = "true" if v else "false"
            elif t is int:
                s = f"{v}i"
            else:
                s = '"' + str(v).translate(str_t) + '"'
        if s[-2:] == ".0":
            s = s[:-2]
        values.append(prefix + s)
    if not values:
        raise SerializationError("point has no fields")
    parts.append(" ")
    parts.append(",".join(values))
    parts.append(f" {p.time_ms}")
    return "".join(parts)


def to_lines(
    points: Iterable[Point], int_fields: frozenset[str] = INT_FIELDS
) -> tuple[list[str], list[tuple[str, str]]]:
    """Serialize many points: (lines, rejected [(description, reason)])."""
    lines: list[str] = []
    rejected: list[tuple[str, str]] = []
    for p in points:
        try:
            lines.append(to_line(p, int_fields))
        except SerializationError as exc:
            rejected.append((describe(p), str(exc)))
    return lines, rejected


def describe(p: Point) -> str:
    """A short, log-safe description of a point (used where no line exists)."""
    return f"{p.measurement} {p.tags!r} @{p.time_ms}"


def line_time_ms(line: str) -> int | None:
    """The timestamp (ms) at the end of a line we serialized; None if absent."""
    head, _, tail = line.rstrip().rpartition(" ")
    if head and tail.lstrip("-").isdigit():
        return int(tail)
    return None


def lines_times(lines: Sequence[str]) -> list[int]:
    return [t for t in (line_time_ms(x) for x in lines) if t is not None]
