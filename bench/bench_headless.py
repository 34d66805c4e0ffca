"""Headless start-up and memory: `hltui --help` time, start-to-first-cycle time, and RSS
over 200 demo cycles at interval 0 (embedded store in a temp dir, hyperliquid source).

Run: python bench/bench_headless.py [--cycles 200]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

import psutil

PY = sys.executable


def timed(cmd: list[str], env: dict[str, str], until: str | None = None) -> float:
    """Seconds until the process exits, or until a stdout line contains `until`."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env)
    assert proc.stdout is not None
    if until:
        for line in proc.stdout:
            if until in line:
                elapsed = time.perf_counter() - t0
                proc.terminate()
                proc.wait()
                return elapsed
        raise RuntimeError(f"never saw {until!r}")
    proc.communicate()
    return time.perf_counter() - t0


def rss_over_cycles(cycles: int, env: dict[str, str]) -> list[tuple[int, float]]:
    """Sample RSS (MB) of the collector each time it logs a finished cycle."""
    proc = subprocess.Popen(
        [PY, "-m", "hltui", "--headless", "--demo", "--cycles", str(cycles), "--interval", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    ps = psutil.Process(proc.pid)
    samples: list[tuple[int, float]] = []
    assert proc.stdout is not None
    pat = re.compile(r"cycle (\d+):")
    for line in proc.stdout:
        m = pat.search(line)
        if m:
            try:
                samples.append((int(m.group(1)), ps.memory_info().rss / 2**20))
            except psutil.NoSuchProcess:
                break
    proc.wait()
    if proc.returncode != 0:
        raise RuntimeError(f"collector exited {proc.returncode}")
    return samples


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cycles", type=int, default=200)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="hltui-bench-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HLTUI_")}
    # the collector's own start and memory: the official-API source (the demo would also
    # start Chromium for hyperdash; its figures are in bench_hyperdash.py)
    env.update(HLTUI_DATA_DIR=tmp, NO_COLOR="1", HLTUI_SOURCES="hyperliquid")

    bare = statistics.median(timed([PY, "-c", "pass"], env) for _ in range(5))
    helps = statistics.median(timed([PY, "-m", "hltui", "--help"], env) for _ in range(5))
    first = statistics.median(
        timed([PY, "-m", "hltui", "--headless", "--demo", "--interval", "60"], env,
              until="cycle 1:") for _ in range(3))
    print(f"python -c pass          {bare:6.3f} s")
    print(f"hltui --help            {helps:6.3f} s  ({helps / bare:.1f}x bare python; aim < 0.5 s)")
    print(f"start -> first cycle    {first:6.3f} s  ({first / bare:.1f}x bare python; aim < 1 s)")

    samples = rss_over_cycles(args.cycles, env)
    marks = [samples[i] for i in (0, 9, 49, 99, len(samples) - 1) if i < len(samples)]
    print("RSS over demo cycles (interval 0, embedded store):")
    for cycle, rss in marks:
        print(f"  cycle {cycle:4d}: {rss:6.1f} MB")
    tail = [r for _, r in samples[len(samples) // 2:]]
    print(f"  growth over the second half: {tail[-1] - tail[0]:+.1f} MB (aim: flat, < 100 MB)")


if __name__ == "__main__":
    main()
