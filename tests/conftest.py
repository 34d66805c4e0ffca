"""Shared fixtures: a real influxd per session, a fresh database per test."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest

from tests.helpers.influxd import Influxd

pytest_plugins = ("tests.helpers.sim_fixtures",)

_db_counter = itertools.count()


@pytest.fixture(scope="session")
def influxd(tmp_path_factory: pytest.TempPathFactory):
    server = Influxd(tmp_path_factory.mktemp("influxd")).start()
    yield server
    server.stop()


@pytest.fixture
def influx_db(influxd: Influxd) -> str:
    """A database name unique to this test (the store provisions it)."""
    return f"t{os.getpid()}_{next(_db_counter)}"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No HLTUI_* from the developer's shell; data dir inside tmp."""
    for k in list(os.environ):
        if k.startswith("HLTUI_"):
            monkeypatch.delenv(k)
    monkeypatch.setenv("HLTUI_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


@pytest.fixture(scope="module")
def own_influxd(tmp_path_factory: pytest.TempPathFactory):
    """An influxd for one module alone: outage tests stop and restart it."""
    server = Influxd(tmp_path_factory.mktemp("influxd-own")).start()
    yield server
    server.stop()


@pytest.fixture
def up(own_influxd: Influxd) -> Influxd:
    """`own_influxd`, started again if an earlier test left it stopped."""
    if not own_influxd.ping():
        own_influxd.start()
    return own_influxd
