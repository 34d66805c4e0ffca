"""Quoting for InfluxQL: every identifier and string literal goes through here.

Names come from remote APIs (asset names like `@107`, `kPEPE`, or worse), so a
query is never built from raw text: identifiers are double-quoted and string
literals single-quoted, with backslash and the quote character escaped, which is
how InfluxQL's scanner reads them back (a `\\` escape for `\\`, `"`, `'`).
"""

from __future__ import annotations

from hltui.durations import format_duration


def _check(text: str) -> str:
    if not isinstance(text, str):
        raise TypeError(f"expected str, got {type(text).__name__}")
    if "\n" in text or "\r" in text or "\x00" in text:
        # InfluxQL strings cannot hold a raw newline; such names are refused upstream
        raise ValueError(f"cannot quote a name with a newline or NUL: {text!r}")
    return text


def ident(name: str) -> str:
    """A quoted identifier: database, retention policy, measurement, tag or field key."""
    return '"' + _check(name).replace("\\", "\\\\").replace('"', '\\"') + '"'


def literal(value: str) -> str:
    """A quoted string literal (tag values in WHERE)."""
    return "'" + _check(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def qualified(db: str, rp: str, measurement: str) -> str:
    """`"db"."rp"."measurement"`."""
    return f"{ident(db)}.{ident(rp)}.{ident(measurement)}"


def duration(seconds: float) -> str:
    """An InfluxQL duration literal (`7d`, `90d`, `3600s`): digits and a unit only."""
    text = format_duration(seconds)
    if not text[:-1].isdigit():  # pragma: no cover - format_duration returns <int><unit>
        raise ValueError(f"bad duration {seconds}")
    return text


def time_ms(ms: int) -> str:
    """A time literal in ms (`1700000000000ms`)."""
    return f"{int(ms)}ms"


def interval(seconds: float) -> str:
    """A GROUP BY time() interval in whole seconds or larger units."""
    s = round(seconds)
    if s < 1:
        s = 1
    return format_duration(s)


def tag_equals(key: str, value: str) -> str:
    return f"{ident(key)} = {literal(value)}"
