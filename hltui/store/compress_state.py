"""Where compression stands: a watermark and the windows that need a re-run.

- `watermark_ms`: every window ending at or before it has been compressed.
- `dirty`: starts of windows (before the watermark) that received points after
  they were compressed: late data, spool replay. Writes mark them (`mark_late`),
  the next run re-aggregates them.
- `horizon_ms`: while a run is in progress, the cutoff it works towards; writes into
  windows below it are marked too, so a point landing in a window while it is being
  read is never lost.

Persistence is pluggable: a JSON file in the data dir (InfluxDB store; written
atomically) or a table in the SQLite file (embedded store).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class CompressionState:
    window_ms: int
    watermark_ms: int | None = None
    dirty: set[int] = field(default_factory=set)
    in_progress: set[int] = field(default_factory=set)
    horizon_ms: int | None = None
    saver: Callable[[CompressionState], None] | None = None

    def limit_ms(self) -> int | None:
        marks = [m for m in (self.watermark_ms, self.horizon_ms) if m is not None]
        return max(marks) if marks else None

    def mark_late(self, times_ms: Iterable[int]) -> bool:
        """Mark the windows of points older than the watermark; persist if any new."""
        limit = self.limit_ms()
        if limit is None:
            return False
        w = self.window_ms
        new = {(t // w) * w for t in times_ms if t < limit} - self.dirty
        if not new:
            return False
        self.dirty |= new
        self.save()
        return True

    def persisted_dirty(self) -> list[int]:
        """Windows still to do if the process died now (dirty + the run in flight)."""
        return sorted(self.dirty | self.in_progress)

    def save(self) -> None:
        if self.saver is not None:
            self.saver(self)

    def to_json(self) -> dict:
        return {"window_ms": self.window_ms, "watermark_ms": self.watermark_ms,
                "dirty": self.persisted_dirty()}

    def merge_json(self, data: dict) -> None:
        """Adopt a persisted state (only when it is for the same window size)."""
        if int(data.get("window_ms", 0)) != self.window_ms:
            return
        wm = data.get("watermark_ms")
        if self.watermark_ms is None and isinstance(wm, int):
            self.watermark_ms = wm
        self.dirty |= {int(x) for x in data.get("dirty", []) if isinstance(x, int)}


class JsonStateFile:
    """Atomic JSON persistence (write temp, fsync, rename)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load_into(self, state: CompressionState) -> None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return
        if isinstance(data, dict):
            state.merge_json(data)

    def __call__(self, state: CompressionState) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(state.to_json(), f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
