"""Simulated HyperLiquid on localhost (demo and tests).

`SimExchange` (async) / `SimExchangeThread` (sync) serve the info API and the
leaderboard over real HTTP; `Market` and `AccountBook` hold the seeded state and
the ground truth tests compare against. Imports are lazy so `import hltui.sim`
stays cheap (aiohttp loads only when a server is used).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hltui.sim.accounts import AccountBook, PositionTruth
    from hltui.sim.market import Market
    from hltui.sim.server import SimExchange, SimExchangeThread

__all__ = ["AccountBook", "Market", "PositionTruth", "SimExchange", "SimExchangeThread"]

_WHERE = {
    "AccountBook": "hltui.sim.accounts", "PositionTruth": "hltui.sim.accounts",
    "Market": "hltui.sim.market",
    "SimExchange": "hltui.sim.server", "SimExchangeThread": "hltui.sim.server",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(name)
