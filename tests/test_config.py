"""Bad settings stop the program at start with one line naming the setting (exit 2)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hltui.config import ConfigError, load_settings


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    import os

    base = {k: v for k, v in os.environ.items() if not k.startswith("HLTUI_")}
    base.update(env or {})
    return subprocess.run([sys.executable, "-m", "hltui", *args], capture_output=True,
                          text=True, env=base, timeout=60)


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"HLTUI_INFLUX_URL": "not a url"}, "HLTUI_INFLUX_URL"),
        ({"HLTUI_INTERVAL": "-5"}, "HLTUI_INTERVAL"),
        ({"HLTUI_SOURCES": "hyperliquid,bogus"}, "HLTUI_SOURCES"),
        ({"HLTUI_RETENTION_PERIOD": "7x"}, "HLTUI_RETENTION_PERIOD"),
        ({"HLTUI_BATCH_SIZE": "zero"}, "HLTUI_BATCH_SIZE"),
        ({"HLTUI_WATCH_LIST": "0x12"}, "HLTUI_WATCH_LIST"),
    ],
)
def test_bad_value_exits_2_with_one_line(env: dict[str, str], needle: str) -> None:
    res = run_cli("--headless", "--cycles", "1", env=env)
    assert res.returncode == 2, res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, res.stderr
    assert needle in lines[0]
    assert "Traceback" not in res.stderr


def test_token_never_echoed_in_errors() -> None:
    res = run_cli("--headless", env={"HLTUI_INFLUX_TOKEN": "s3cr3t-token-value-xyz",
                                     "HLTUI_INFLUX_URL": "ftp://x"})
    assert res.returncode == 2
    assert "s3cr3t" not in res.stderr + res.stdout


def test_toml_file_and_env_precedence(tmp_path: Path, clean_env: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "hltui.toml"
    cfg.write_text('interval = "30s"\nbatch_size = 7\nsources = ["hyperliquid", "sampled"]\n'
                   'retention_period = "14d"\n')
    s = load_settings(cfg)
    assert (s.interval, s.batch_size, s.sources, s.retention_period) == (
        30.0, 7, ("hyperliquid", "sampled"), 14 * 86400.0)
    monkeypatch.setenv("HLTUI_BATCH_SIZE", "9")
    assert load_settings(cfg).batch_size == 9  # environment wins over the file
    assert load_settings(cfg, interval="5").interval == 5.0  # CLI flag wins over both


def test_unknown_key_in_file_is_named(tmp_path: Path, clean_env: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text("intervall = 5\n")
    with pytest.raises(ConfigError, match="intervall"):
        load_settings(cfg)


def test_missing_config_file(tmp_path: Path) -> None:
    res = run_cli("--config", str(tmp_path / "nope.toml"), "--headless")
    assert res.returncode == 2
    assert "not found" in res.stderr


def test_core_never_imports_textual() -> None:
    code = (
        "import sys\n"
        "import hltui.config, hltui.cli, hltui.headless\n"
        "import hltui.engine.collector, hltui.engine.build, hltui.engine.events\n"
        "import hltui.sources.hyperliquid, hltui.sources.http, hltui.process.hyperliquid\n"
        "import hltui.store.base\n"
        "import pkgutil, importlib, hltui\n"
        "for pkg in ('engine', 'sources', 'process', 'store', 'sim'):\n"
        "    mod = importlib.import_module('hltui.' + pkg)\n"
        "    for info in pkgutil.walk_packages(mod.__path__, mod.__name__ + '.'):\n"
        "        importlib.import_module(info.name)\n"
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
