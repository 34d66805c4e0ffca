"""Start and stop a real influxd (Debian's 1.6.x) on free loopback ports.

Used by the session fixture in conftest.py, and by tests that stop and restart
the server mid-run (outage tests). A missing influxd fails loudly: never a skip.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Influxd:
    root: Path
    http_port: int = field(default_factory=free_port)
    rpc_port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def _config(self) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        cfg = self.root / "influxd.toml"
        cfg.write_text(
            f"""reporting-enabled = false
bind-address = "127.0.0.1:{self.rpc_port}"
[meta]
  dir = "{self.root}/meta"
[data]
  dir = "{self.root}/data"
  wal-dir = "{self.root}/wal"
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
  bind-address = "127.0.0.1:{self.http_port}"
  log-enabled = false
[logging]
  level = "warn"
[continuous_queries]
  enabled = false
"""
        )
        return cfg

    def start(self, timeout: float = 20.0) -> Influxd:
        exe = shutil.which("influxd")
        if not exe:
            raise RuntimeError(
                "influxd not found: install Debian's influxdb package "
                "(apt-get install -y influxdb); the README's test command does this"
            )
        cfg = self._config()
        log = open(self.root / "influxd.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [exe, "run", "-config", str(cfg)], stdout=log, stderr=log,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = (self.root / "influxd.log").read_text()[-2000:]
                raise RuntimeError(f"influxd exited: {tail}")
            if self.ping():
                return self
            time.sleep(0.05)
        raise RuntimeError("influxd did not answer /ping in time")

    def ping(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/ping", timeout=0.5) as r:
                return r.status == 204
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.proc = None

    def query(self, q: str, db: str | None = None, epoch: str = "ms") -> dict:
        """Run InfluxQL directly (test-side check, independent of our store code)."""
        import json
        import urllib.parse

        params = {"q": q, "epoch": epoch}
        if db:
            params["db"] = db
        data = urllib.parse.urlencode(params).encode()
        with urllib.request.urlopen(self.url + "/query", data=data, timeout=10) as r:
            return json.loads(r.read())

    def rows(self, q: str, db: str) -> list[dict]:
        """Flatten a SELECT answer to dicts (tags merged in)."""
        out = []
        for res in self.query(q, db).get("results", []):
            if "error" in res:
                raise RuntimeError(res["error"])
            for s in res.get("series", []) or []:
                for v in s["values"]:
                    row = dict(zip(s["columns"], v, strict=True))
                    row.update(s.get("tags", {}) or {})
                    out.append(row)
        return out
