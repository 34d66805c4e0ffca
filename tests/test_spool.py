"""Durable spool: order, acknowledgement, corrupt tails, bound, kill -9 at any point."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hltui.store.spool import HEADER, Spool, SpoolLocked
from tests.helpers.spool_worker import LINES_PER_BATCH, batch_lines

ROOT = Path(__file__).resolve().parents[1]


def lines(prefix: str, n: int) -> list[str]:
    return [f"m,source=t,k={prefix} v={i}i {1_700_000_000_000 + i}" for i in range(n)]


def drain(spool: Spool, max_lines: int = 10_000) -> list[str]:
    out: list[str] = []
    while (b := spool.next_batch(max_lines)) is not None:
        out.extend(b.lines)
        spool.ack(b)
    return out


class Logs(list):
    def __call__(self, level: str, message: str) -> None:
        self.append((level, message))


def test_replays_in_order_across_reopen_and_deletes_only_after_ack(tmp_path):
    d = tmp_path / "spool"
    with Spool(d, 1 << 20) as sp:
        sp.append(lines("a", 3))
        sp.append(lines("b", 2))
        assert sp.pending_lines == 5
        first = sp.next_batch(max_lines=3)
        assert first is not None and first.lines == lines("a", 3)
        # not acknowledged: still there after a reopen
    with Spool(d, 1 << 20) as sp:
        assert sp.pending_lines == 5
        b = sp.next_batch(max_lines=3)
        assert b.lines == lines("a", 3)
        sp.ack(b)
        assert sp.pending_lines == 2
    with Spool(d, 1 << 20) as sp:
        sp.append(lines("c", 1))  # new data goes after the old
        assert drain(sp) == lines("b", 2) + lines("c", 1)
        assert sp.empty and sp.next_batch() is None
        assert sp.bytes == 0
    assert not list(d.glob("*.seg"))


def test_batches_are_whole_records_of_about_max_lines(tmp_path):
    with Spool(tmp_path, 1 << 20, record_lines=4) as sp:
        sp.append(lines("x", 10))  # records of 4, 4, 2
        sizes = []
        while (b := sp.next_batch(max_lines=6)) is not None:
            sizes.append(len(b.lines))
            sp.ack(b)
        assert sizes == [4, 6]


def test_garbage_appended_is_skipped_with_a_warning(tmp_path):
    with Spool(tmp_path, 1 << 20) as sp:
        sp.append(lines("a", 5))
        sp.append(lines("b", 5))
    seg = next(tmp_path.glob("*.seg"))
    with open(seg, "ab") as fh:
        fh.write(b"\x00garbage\xffHLS1\x07\x00\x00\x00not a record")
    logs = Logs()
    with Spool(tmp_path, 1 << 20, log=logs) as sp:
        assert sp.corrupt_bytes > 0
        sp.append(lines("c", 2))
        assert drain(sp) == lines("a", 5) + lines("b", 5) + lines("c", 2)
    assert any(level == "warning" and "corrupt" in msg and "tail" in msg for level, msg in logs)


def test_truncated_mid_record_delivers_the_rest(tmp_path):
    with Spool(tmp_path, 1 << 20) as sp:
        sp.append(lines("a", 5))
        sp.append(lines("b", 5))
    seg = next(tmp_path.glob("*.seg"))
    size = seg.stat().st_size
    os.truncate(seg, size - 17)  # the second record loses its end (a torn write)
    logs = Logs()
    with Spool(tmp_path, 1 << 20, log=logs) as sp:
        assert drain(sp) == lines("a", 5)
    assert logs and logs[0][0] == "warning"
    # truncated inside the header of a record
    with Spool(tmp_path, 1 << 20) as sp:
        sp.append(lines("c", 3))
        sp.append(lines("d", 3))
    seg = sorted(tmp_path.glob("*.seg"))[-1]
    first_len = HEADER.size + len("\n".join(lines("c", 3)).encode())
    os.truncate(seg, first_len + 5)
    with Spool(tmp_path, 1 << 20) as sp:
        assert drain(sp) == lines("c", 3)


def test_corrupt_record_in_the_middle_does_not_block_later_ones(tmp_path):
    with Spool(tmp_path, 1 << 20) as sp:
        for p in "abc":
            sp.append(lines(p, 4))
    seg = next(tmp_path.glob("*.seg"))
    data = bytearray(seg.read_bytes())
    rec = HEADER.size + len("\n".join(lines("a", 4)).encode())
    data[rec + HEADER.size + 10] ^= 0xFF  # flip a byte inside b's payload
    seg.write_bytes(bytes(data))
    logs = Logs()
    with Spool(tmp_path, 1 << 20, log=logs) as sp:
        assert drain(sp) == lines("a", 4) + lines("c", 4)
    assert any("middle" in msg for _, msg in logs)


def test_full_spool_drops_the_oldest_and_reports_how_many(tmp_path):
    logs = Logs()
    per_batch = len(lines("0", 20)[0]) * 20
    with Spool(tmp_path, 8 * 1024, segment_bytes=per_batch, log=logs) as sp:
        dropped = 0
        for i in range(20):
            dropped += sp.append(lines(str(i), 20)).dropped_lines
            assert sp.bytes <= 8 * 1024
        assert dropped > 0 and dropped % 20 == 0
        assert sp.dropped_lines == dropped
        kept = drain(sp)
    assert len(kept) + dropped == 400
    # the newest survive, the oldest went first
    assert kept[-20:] == lines("19", 20)
    first_kept = int(kept[0].split("k=")[1].split()[0])
    assert kept == [ln for i in range(first_kept, 20) for ln in lines(str(i), 20)]
    errors = [msg for level, msg in logs if level == "error"]
    assert errors and all("dropped" in m and "HLTUI_SPOOL_MAX_BYTES" in m for m in errors)
    assert sum(int(m.split("dropped the ")[1].split()[0]) for m in errors) == dropped


def test_a_batch_larger_than_the_whole_spool_is_refused_and_counted(tmp_path):
    logs = Logs()
    with Spool(tmp_path, 1024, log=logs) as sp:
        res = sp.append(["m v=1i " + "x" * 2000])
        assert res.dropped_lines == 1 and res.lines == 0 and sp.bytes == 0
    assert logs[0][0] == "error"


def test_lines_with_newlines_are_refused(tmp_path):
    with Spool(tmp_path, 1 << 20) as sp, pytest.raises(ValueError):
        sp.append(["m v=1i 1\nm v=2i 2"])


def test_one_process_per_spool(tmp_path):
    with Spool(tmp_path, 1 << 20), pytest.raises(SpoolLocked):
        Spool(tmp_path, 1 << 20)
    Spool(tmp_path, 1 << 20).close()  # released on close


def test_unreadable_cursor_replays_everything(tmp_path):
    logs = Logs()
    with Spool(tmp_path, 1 << 20) as sp:
        sp.append(lines("a", 2))
        sp.append(lines("b", 2))
    (tmp_path / "cursor").write_text("{not json")
    with Spool(tmp_path, 1 << 20, log=logs) as sp:
        assert drain(sp) == lines("a", 2) + lines("b", 2)
    assert "cursor" in logs[0][1]


def _worker(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.helpers.spool_worker", *args],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def test_kill_9_while_appending_leaves_a_replayable_spool(tmp_path):
    rng = random.Random(4)
    acked_per_run = []
    for run in range(4):
        proc = _worker("write", str(tmp_path), str(run))
        stop_after = rng.randint(1, 12)
        acked = -1
        for line in proc.stdout:
            acked = int(line.split()[1])
            if acked >= stop_after:
                break
        time.sleep(rng.uniform(0, 0.03))  # land anywhere: mid-write, mid-fsync, between
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        acked_per_run.append(acked)
    with Spool(tmp_path, 1 << 30) as sp:
        got = drain(sp, max_lines=LINES_PER_BATCH * 4)
    # each run: a whole-batch prefix of what it wrote, at least everything acknowledged
    pos = 0
    for run, acked in enumerate(acked_per_run):
        n = 0
        while pos < len(got) and f"run=r{run} " in got[pos]:
            assert got[pos : pos + LINES_PER_BATCH] == batch_lines(run, n)
            pos += LINES_PER_BATCH
            n += 1
        assert n - 1 >= acked
    assert pos == len(got)


def test_kill_9_while_draining_loses_nothing_and_keeps_order(tmp_path):
    with Spool(tmp_path, 1 << 30, segment_bytes=256 * 1024) as sp:
        for n in range(40):
            sp.append(batch_lines(0, n))
    proc = _worker("drain", str(tmp_path))
    assert proc.stdout.readline().strip() == "ready"
    acked_batches = 0
    for line in proc.stdout:
        if line.startswith("acked"):
            acked_batches += 1
            if acked_batches == 13:
                break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    with Spool(tmp_path, 1 << 30) as sp:
        rest = drain(sp, max_lines=LINES_PER_BATCH)
    first = int(rest[0].split("batch=")[1].split("i")[0])
    assert 13 <= first <= 14  # acknowledged batches are gone; at most one is redelivered
    assert rest == [ln for n in range(first, 40) for ln in batch_lines(0, n)]


def test_read_ahead_before_acknowledging(tmp_path):
    with Spool(tmp_path, 1 << 20) as sp:
        for p in "abc":
            sp.append(lines(p, 3))
        first = sp.next_batch(3)
        second = sp.next_batch(3, after=first.end)
        assert (first.lines, second.lines) == (lines("a", 3), lines("b", 3))
        assert sp.pending_lines == 9  # nothing acknowledged yet
        sp.ack(first)
        sp.ack(second)
        assert sp.next_batch(3, after=first.end).lines == lines("c", 3)  # cursor wins
        assert sp.pending_lines == 3
