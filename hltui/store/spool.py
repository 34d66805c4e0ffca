"""Durable append-only spool of line-protocol lines for when the store does not answer.

Layout (`<data_dir>/spool/`): numbered segment files `000000000001.seg`, a `cursor` file
(JSON: segment and byte offset of the first unacknowledged record) and a `lock` file
(one process per spool). A segment is a sequence of records, each framed as
`b"HLS1" | length u32 LE | crc32 u32 LE | payload` where the payload is UTF-8 lines
joined by `\\n`. Every `append` is written with one `write` and fsynced before it
returns, so what `append` acknowledged survives `kill -9` and power loss.

Reading starts at the cursor, oldest first. A record whose frame or CRC does not check
out (a torn tail after a crash, garbage) is skipped with a warning: the scanner resyncs
at the next valid frame, so corruption never blocks what follows. Records are dropped
from disk only after `ack`. The spool is bounded by `max_bytes`: when an append would
exceed it, whole oldest segments are deleted, and the lines lost are counted and logged
as an error.

A new process never appends to an old segment (its tail may be torn): it starts a new one.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import struct
import threading
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

MAGIC = b"HLS1"
HEADER = struct.Struct("<4sII")
SEGMENT_SUFFIX = ".seg"
MAX_SEGMENT_BYTES = 16 * 1024 * 1024
DEFAULT_RECORD_LINES = 5000

_log = logging.getLogger("hltui.spool")

LogFn = Callable[[str, str], None]


def _default_log(level: str, message: str) -> None:
    _log.log(logging.ERROR if level == "error" else logging.WARNING, message)


class SpoolLocked(RuntimeError):
    """Another process holds this spool directory."""


@dataclass(slots=True)
class _Record:
    offset: int
    end: int
    lines: int


@dataclass(slots=True)
class _Segment:
    seq: int
    path: Path
    size: int = 0
    records: list[_Record] = field(default_factory=list)


@dataclass(slots=True)
class SpoolBatch:
    """Lines read from the spool; `ack` it once the store acknowledged them."""

    lines: list[str]
    end: tuple[int, int]  # (segment, offset) just past the last record read


@dataclass(slots=True)
class AppendResult:
    bytes: int
    lines: int
    dropped_lines: int = 0  # older lines deleted to make room (or refused: too large)


def encode_record(lines: Sequence[str]) -> bytes:
    payload = "\n".join(lines).encode("utf-8")
    return HEADER.pack(MAGIC, len(payload), zlib.crc32(payload)) + payload


def _parse_at(data: bytes | memoryview, pos: int) -> int | None:
    """End offset of a valid record starting at `pos`, or None."""
    if len(data) - pos < HEADER.size:
        return None
    magic, length, crc = HEADER.unpack_from(data, pos)
    end = pos + HEADER.size + length
    if magic != MAGIC or end > len(data) or length == 0:
        return None
    if zlib.crc32(data[pos + HEADER.size : end]) != crc:
        return None
    return end


def scan(data: bytes) -> tuple[list[_Record], list[tuple[int, int]]]:
    """Valid records of a segment and the byte ranges skipped as corrupt."""
    records: list[_Record] = []
    bad: list[tuple[int, int]] = []
    view = memoryview(data)
    pos = 0
    while pos < len(data):
        end = _parse_at(view, pos)
        if end is not None:
            lines = data.count(b"\n", pos + HEADER.size, end) + 1
            records.append(_Record(pos, end, lines))
            pos = end
            continue
        nxt = data.find(MAGIC, pos + 1)
        while nxt != -1 and _parse_at(view, nxt) is None:
            nxt = data.find(MAGIC, nxt + 1)
        stop = len(data) if nxt == -1 else nxt
        bad.append((pos, stop))
        pos = stop
    return records, bad


class Spool:
    """Append, read from the cursor, acknowledge; bounded, crash-safe, one process."""

    def __init__(
        self,
        directory: Path | str,
        max_bytes: int,
        *,
        segment_bytes: int | None = None,
        record_lines: int = DEFAULT_RECORD_LINES,
        log: LogFn | None = None,
    ) -> None:
        self.dir = Path(directory)
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes or max(1, min(MAX_SEGMENT_BYTES, max_bytes // 8))
        self.record_lines = record_lines
        self._log = log if log is not None else _default_log
        self._mutex = threading.Lock()
        self.dropped_lines = 0  # since open: deleted unread to stay under max_bytes
        self.corrupt_bytes = 0  # since open: skipped as torn / garbage
        self.appended_lines = 0
        self._segments: list[_Segment] = []
        self._active: _Segment | None = None
        self._fd: int | None = None
        self._cursor = (0, 0)
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock_fd = self._take_lock()
        try:
            self._load()
        except BaseException:
            self.close()
            raise

    # -- opening ---------------------------------------------------------------------------
    def _take_lock(self) -> int:
        fd = os.open(self.dir / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise SpoolLocked(f"spool {self.dir} is in use by another hltui process") from None
        return fd

    def _read_cursor(self) -> tuple[int, int]:
        path = self.dir / "cursor"
        if not path.exists():
            return (0, 0)
        try:
            data = json.loads(path.read_text())
            return (int(data["segment"]), int(data["offset"]))
        except (ValueError, KeyError, TypeError, OSError):
            self._log("warning", f"spool cursor {path} unreadable: replaying every segment "
                                 "(already written points are overwritten, not duplicated)")
            return (0, 0)

    def _load(self) -> None:
        (self.dir / "cursor.tmp").unlink(missing_ok=True)
        self._cursor = self._read_cursor()
        seqs = sorted(
            int(p.stem) for p in self.dir.glob("*" + SEGMENT_SUFFIX) if p.stem.isdigit()
        )
        for seq in seqs:
            path = self._path(seq)
            if seq < self._cursor[0]:
                path.unlink(missing_ok=True)  # acknowledged; a crash came before deletion
                continue
            data = path.read_bytes()
            records, bad = scan(data)
            for start, stop in bad:
                self.corrupt_bytes += stop - start
                where = "tail" if stop == len(data) else "middle"
                self._log("warning", f"spool {path.name}: skipped {stop - start} corrupt bytes "
                                     f"at offset {start} ({where}; torn write or garbage)")
            self._segments.append(_Segment(seq, path, len(data), records))
        if self._segments and self._cursor[0] < self._segments[0].seq:
            self._cursor = (self._segments[0].seq, 0)
        self._next_seq = max([*seqs, self._cursor[0]]) + 1

    def _path(self, seq: int) -> Path:
        return self.dir / f"{seq:012d}{SEGMENT_SUFFIX}"

    # -- introspection -------------------------------------------------------------------
    @property
    def bytes(self) -> int:
        """Bytes on disk (the bounded quantity)."""
        return sum(s.size for s in self._segments)

    def _unread(self, seg: _Segment, start: tuple[int, int] | None = None) -> list[_Record]:
        seq, off = start if start is not None else self._cursor
        if seg.seq < seq:
            return []
        if seg.seq == seq:
            return [r for r in seg.records if r.offset >= off]
        return seg.records

    @property
    def pending_lines(self) -> int:
        with self._mutex:
            return sum(r.lines for s in self._segments for r in self._unread(s))

    @property
    def empty(self) -> bool:
        with self._mutex:
            return not any(self._unread(s) for s in self._segments)

    # -- writing ---------------------------------------------------------------------------
    def append(self, lines: Sequence[str]) -> AppendResult:
        """Append lines durably (fsynced before returning), dropping the oldest if full."""
        lines = [ln for ln in lines if ln]
        for ln in lines:
            if "\n" in ln or "\r" in ln:
                raise ValueError("a line-protocol line must not contain a newline")
        result = AppendResult(0, 0)
        with self._mutex:
            for group in self._records_of(lines):
                blob = encode_record(group)
                if len(blob) > self.max_bytes:
                    result.dropped_lines += len(group)
                    self._log("error", f"spool: a record of {len(blob)} bytes exceeds "
                                       f"HLTUI_SPOOL_MAX_BYTES={self.max_bytes}; "
                                       f"{len(group)} lines dropped")
                    continue
                result.dropped_lines += self._make_room(len(blob))
                self._write(blob, len(group))
                result.bytes += len(blob)
                result.lines += len(group)
            if self._fd is not None and result.bytes:
                os.fsync(self._fd)
        self.dropped_lines += result.dropped_lines
        self.appended_lines += result.lines
        return result

    def _records_of(self, lines: list[str]) -> list[list[str]]:
        groups: list[list[str]] = []
        cur: list[str] = []
        size = 0
        limit = max(1, self.segment_bytes - HEADER.size)
        for ln in lines:
            n = len(ln.encode("utf-8")) + 1
            if cur and (size + n > limit or len(cur) >= self.record_lines):
                groups.append(cur)
                cur, size = [], 0
            cur.append(ln)
            size += n
        if cur:
            groups.append(cur)
        return groups

    def _make_room(self, need: int) -> int:
        dropped = 0
        while self._segments and self.bytes + need > self.max_bytes:
            seg = self._segments[0]
            lost = sum(r.lines for r in self._unread(seg))
            self._delete(seg)
            dropped += lost
            if lost:
                self._log("error", f"spool full (HLTUI_SPOOL_MAX_BYTES={self.max_bytes}): "
                                   f"dropped the {lost} oldest lines ({seg.path.name})")
        if self._segments and self._cursor[0] < self._segments[0].seq:
            self._cursor = (self._segments[0].seq, 0)
        elif not self._segments:
            self._cursor = (self._next_seq, 0)
        return dropped

    def _write(self, blob: bytes, nlines: int) -> None:
        if self._active is None or self._active.size >= self.segment_bytes:
            self._rotate()
        seg = self._active
        assert seg is not None and self._fd is not None
        offset = seg.size
        written = 0
        while written < len(blob):
            written += os.write(self._fd, blob[written:])
        seg.size += len(blob)
        seg.records.append(_Record(offset, offset + len(blob), nlines))

    def _rotate(self) -> None:
        if self._fd is not None:
            os.fsync(self._fd)
            os.close(self._fd)
        seq = self._next_seq
        self._next_seq += 1
        path = self._path(seq)
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._fsync_dir()
        seg = _Segment(seq, path)
        self._segments.append(seg)
        self._active = seg
        if len(self._segments) == 1 and self._cursor[0] < seq:
            self._cursor = (seq, 0)

    def _delete(self, seg: _Segment) -> None:
        if seg is self._active:
            if self._fd is not None:
                os.close(self._fd)
            self._fd = None
            self._active = None
        seg.path.unlink(missing_ok=True)
        self._segments.remove(seg)

    def _fsync_dir(self) -> None:
        fd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    # -- reading and acknowledging ---------------------------------------------------------
    def next_batch(self, max_lines: int = DEFAULT_RECORD_LINES,
                   after: tuple[int, int] | None = None) -> SpoolBatch | None:
        """The oldest unacknowledged records (whole records, about `max_lines` lines).

        `after` (a previous batch's `end`) reads on from there without waiting for that
        batch's `ack`, so a reader can prefetch while the store is busy.
        """
        with self._mutex:
            out: list[str] = []
            end: tuple[int, int] | None = None
            start = max(after, self._cursor) if after is not None else self._cursor
            for seg in self._segments:
                recs = self._unread(seg, start)
                if not recs:
                    continue
                with open(seg.path, "rb") as fh:
                    for rec in recs:
                        if out and len(out) + rec.lines > max_lines:
                            return SpoolBatch(out, end)  # type: ignore[arg-type]
                        fh.seek(rec.offset)
                        blob = fh.read(rec.end - rec.offset)
                        end = (seg.seq, rec.end)
                        if _parse_at(blob, 0) != len(blob):
                            self.corrupt_bytes += len(blob)
                            self._log("warning", f"spool {seg.path.name}: record at "
                                                 f"{rec.offset} changed on disk; skipped")
                            continue
                        out.extend(blob[HEADER.size:].decode("utf-8").split("\n"))
                if out and len(out) >= max_lines:
                    break
            return SpoolBatch(out, end) if end is not None else None

    def ack(self, batch: SpoolBatch) -> None:
        """The store acknowledged `batch`: advance the cursor and delete consumed segments."""
        with self._mutex:
            if batch.end <= self._cursor:
                return
            self._cursor = batch.end
            seq, off = batch.end
            for seg in list(self._segments):
                if seg.seq < seq or (seg.seq == seq and off >= seg.size):
                    self._delete(seg)  # the active one too: the next append starts afresh
            self._save_cursor()

    def _save_cursor(self) -> None:
        tmp = self.dir / "cursor.tmp"
        seq, off = self._cursor
        with open(tmp, "w") as fh:
            json.dump({"segment": seq, "offset": off}, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.dir / "cursor")
        self._fsync_dir()

    def close(self) -> None:
        with self._mutex:
            if self._fd is not None:
                os.fsync(self._fd)
                os.close(self._fd)
                self._fd = None
                self._active = None
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None  # type: ignore[assignment]

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
