"""Read the (tens of MB) leaderboard incrementally and keep only what sampling needs.

`LeaderboardScanner` is fed text as it arrives and decodes one row at a time, so
memory holds a small buffer and an address -> account value map, never the whole
document or its object tree. Rows with a bad address or value are counted and
skipped; a document without `leaderboardRows` is refused.
"""

from __future__ import annotations

import codecs
import json
import math
import re
from dataclasses import dataclass, field

ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}\Z")
ROWS_KEY = '"leaderboardRows"'
MAX_ROW_CHARS = 1 << 20  # one row larger than 1 MiB is not a leaderboard row
COMPACT_AT = 1 << 16


class LeaderboardError(ValueError):
    """The document is not a leaderboard (or is cut short)."""


@dataclass(slots=True)
class LeaderboardScan:
    top: list[tuple[str, float]]  # (lowercase address, account value), largest first
    rows: int  # rows read
    valid: int  # distinct valid addresses
    invalid: int  # rows skipped (bad address, value, or not an object)


@dataclass
class LeaderboardScanner:
    """Feed bytes with `feed`, then `finish(n)` for the top `n` accounts by value."""

    _decoder: json.JSONDecoder = field(default_factory=json.JSONDecoder)
    _text: codecs.IncrementalDecoder = field(
        default_factory=lambda: codecs.getincrementaldecoder("utf-8")(errors="replace"))
    _buf: str = ""
    _pos: int = 0
    _phase: str = "seek"  # seek -> rows -> done
    values: dict[str, float] = field(default_factory=dict)
    rows: int = 0
    invalid: int = 0

    def feed(self, data: bytes) -> None:
        self._buf += self._text.decode(data)
        self._advance(eof=False)

    def finish(self, n: int) -> LeaderboardScan:
        self._buf += self._text.decode(b"", final=True)
        self._advance(eof=True)
        if self._phase != "done":
            raise LeaderboardError("leaderboard: the document is cut short (leaderboardRows "
                                   "never closes)" if self._phase == "rows" else
                                   "leaderboard: no leaderboardRows array in the answer")
        ranked = sorted(self.values.items(), key=lambda kv: (-kv[1], kv[0]))
        return LeaderboardScan(ranked[:max(0, n)], self.rows, len(self.values), self.invalid)

    # internals ---------------------------------------------------------------
    def _advance(self, eof: bool) -> None:
        if self._phase == "seek":
            self._seek(eof)
        if self._phase == "rows":
            self._read_rows(eof)
        if self._pos > COMPACT_AT:
            self._buf = self._buf[self._pos:]
            self._pos = 0

    def _seek(self, eof: bool) -> None:
        at = self._buf.find(ROWS_KEY, self._pos)
        if at < 0:
            # keep a tail long enough to hold a key split across chunks
            self._pos = max(self._pos, len(self._buf) - len(ROWS_KEY))
            return
        buf, j = self._buf, at + len(ROWS_KEY)
        for expected in ":[":
            while j < len(buf) and buf[j] in " \t\r\n":
                j += 1
            if j == len(buf):
                self._pos = at  # the rest has not arrived yet (finish() reports EOF)
                return
            if buf[j] != expected:
                raise LeaderboardError("leaderboard: leaderboardRows is not an array")
            j += 1
        self._pos = j
        self._phase = "rows"

    def _read_rows(self, eof: bool) -> None:
        buf = self._buf
        while True:
            i = self._pos
            n = len(buf)
            while i < n and buf[i] in " \t\r\n,":
                i += 1
            self._pos = i
            if i >= n:
                return
            if buf[i] == "]":
                self._pos = i + 1
                self._phase = "done"
                return
            try:
                row, end = self._decoder.raw_decode(buf, i)
            except json.JSONDecodeError as exc:
                if not eof and n - i <= MAX_ROW_CHARS:
                    return  # the row is not complete yet
                if eof and (exc.pos >= n or exc.msg.startswith("Unterminated")):
                    raise LeaderboardError(f"leaderboard: the document is cut short inside "
                                           f"row {self.rows + 1}") from None
                raise LeaderboardError(
                    f"leaderboard: row {self.rows + 1} is not valid JSON") from None
            self._pos = end
            self.rows += 1
            self._take(row)

    def _take(self, row: object) -> None:
        if not isinstance(row, dict):
            self.invalid += 1
            return
        addr = row.get("ethAddress")
        raw = row.get("accountValue")
        if not isinstance(addr, str) or not ADDRESS.match(addr):
            self.invalid += 1
            return
        try:
            value = float(raw) if isinstance(raw, str | int | float) \
                and not isinstance(raw, bool) else math.nan
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            self.invalid += 1
            return
        addr = addr.lower()
        if value > self.values.get(addr, -math.inf):
            self.values[addr] = value


def scan_leaderboard(data: bytes, n: int, chunk: int = 1 << 16) -> LeaderboardScan:
    """Convenience for a document already in memory (tests, cache rebuilds)."""
    scanner = LeaderboardScanner()
    for i in range(0, len(data), chunk):
        scanner.feed(data[i:i + chunk])
    return scanner.finish(n)
