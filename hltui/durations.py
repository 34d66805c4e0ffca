"""Human durations (`7d`, `24h`, `90s`) used by retention and scheduling settings."""

from __future__ import annotations

import re

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")


def parse_duration(text: str | int | float) -> float:
    """Return seconds for `1h30m`, `7d`, `90` (bare numbers are seconds).

    Raises ValueError with a message that says what is accepted.
    """
    if isinstance(text, bool):
        raise ValueError("expected a duration like 7d, 24h, 30m or 90s")
    if isinstance(text, int | float):
        seconds = float(text)
    else:
        s = text.strip().lower().replace(" ", "")
        if not s:
            raise ValueError("empty duration; expected e.g. 7d, 24h, 30m, 90s")
        try:
            seconds = float(s)
        except ValueError:
            pos, seconds = 0, 0.0
            for m in _PART.finditer(s):
                if m.start() != pos:
                    break
                seconds += float(m.group(1)) * _UNITS[m.group(2)]
                pos = m.end()
            if pos != len(s):
                raise ValueError(
                    f"malformed duration {text!r}; expected e.g. 7d, 24h, 30m, 90s"
                ) from None
    if seconds != seconds or seconds < 0:
        raise ValueError(f"duration must be a non-negative number, got {text!r}")
    return seconds


def format_duration(seconds: float) -> str:
    """Shortest exact form (`604800` -> `7d`), used in logs and InfluxQL."""
    s = round(seconds)
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if s and s % size == 0:
            return f"{s // size}{unit}"
    return f"{s}s"
