"""Pytest fixtures for the simulated exchange.

Use them from a test module by registering this module as a plugin (preferred: an
explicit import makes ruff report F811 on every test that takes the fixture):

    pytest_plugins = ("tests.helpers.sim_fixtures",)

(or `from tests.helpers.sim_fixtures import sim  # noqa: F401` plus `# noqa: F811` on
each test using it).

- `sim`: an async `SimExchange(seed=7)` started in the test's event loop, per test.
- `sim_thread`: a sync `SimExchangeThread(seed=7)` in a background thread, per test
  (for synchronous tests and subprocess tests: pass `sim_thread.url` to the child).
Both use the defaults (seed 7, 230 assets, 500 accounts; ~50 ms to build); build your
own `SimExchange(...)` for other sizes, a fixed clock or a compressed rate-limit window.
Parametrize through indirect params: `@pytest.mark.parametrize("sim", [{"seed": 3}],
indirect=True)` passes keyword arguments to the constructor.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio

from hltui.sim.server import SimExchange, SimExchangeThread

DEFAULTS: dict[str, Any] = {"seed": 7, "n_assets": 230, "n_accounts": 500}


def _kwargs(request: pytest.FixtureRequest) -> dict[str, Any]:
    return {**DEFAULTS, **getattr(request, "param", {})}


@pytest_asyncio.fixture
async def sim(request: pytest.FixtureRequest) -> AsyncIterator[SimExchange]:
    async with SimExchange(**_kwargs(request)) as exchange:
        yield exchange


@pytest.fixture
def sim_thread(request: pytest.FixtureRequest) -> Iterator[SimExchangeThread]:
    server = SimExchangeThread(**_kwargs(request)).start()
    try:
        yield server
    finally:
        server.stop()
