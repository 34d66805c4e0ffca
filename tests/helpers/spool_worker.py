"""A process that writes to (or drains) a spool until killed: crash-safety tests.

`python -m tests.helpers.spool_worker write DIR RUN` appends batches of lines tagged
with RUN and the batch number, printing `acked <n>` after each append returned.
`python -m tests.helpers.spool_worker drain DIR` reads batches, prints each line
(`line <text>`) and then `acked` once the batch is acknowledged, slowly.
"""

from __future__ import annotations

import sys
import time

from hltui.store.spool import Spool

LINES_PER_BATCH = 800


def batch_lines(run: int, n: int) -> list[str]:
    return [f"m,source=test,run=r{run} batch={n}i,j={j}i {1_700_000_000_000 + n * 1000 + j}"
            for j in range(LINES_PER_BATCH)]


def write(directory: str, run: int) -> None:
    spool = Spool(directory, max_bytes=1 << 30, segment_bytes=256 * 1024)
    n = 0
    while True:
        spool.append(batch_lines(run, n))
        print(f"acked {n}", flush=True)
        n += 1


def drain(directory: str) -> None:
    spool = Spool(directory, max_bytes=1 << 30, segment_bytes=256 * 1024)
    print("ready", flush=True)
    while (batch := spool.next_batch(max_lines=LINES_PER_BATCH)) is not None:
        print(f"batch {batch.lines[0]}", flush=True)
        spool.ack(batch)
        print("acked", flush=True)
        time.sleep(0.002)
    print("empty", flush=True)
    time.sleep(60)


if __name__ == "__main__":
    if sys.argv[1] == "write":
        write(sys.argv[2], int(sys.argv[3]))
    else:
        drain(sys.argv[2])
