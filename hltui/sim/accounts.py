"""A seeded book of accounts holding known positions in the market's coins.

Serves `clearinghouseState` per address and the leaderboard in their documented
shapes, and exposes the ground truth (`positions()`) so tests can compute exact
expected aggregates. Positions are fixed when the book is built (values at the
market's prices then), so the truth never drifts while the market walks.

What real responses do and this book does too: signed `szi`, `liquidationPx` null
for well-collateralized cross accounts, isolated leverage with `rawUsd`, zero-size
positions, coins that are not (or no longer) in the universe, older responses that
lack `cumFunding`/`maxLeverage`/`time`, leaderboard rows in no particular order,
leaderboard addresses whose account is empty ("ghosts"), and accounts that vanish.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from hltui.sim import fmt
from hltui.sim.market import Asset, Market

# coins some accounts still report but the universe does not list
NOT_IN_UNIVERSE: dict[str, tuple[float, int]] = {"LUNA": (0.42, 1), "OLDCOIN": (1.7, 1)}
DISPLAY_NAMES = ("whale.eth", "Ærik", 'say "hi"', "a,b=c d", "日本トレーダー", "O'Brien")


class PositionTruth(NamedTuple):
    """One served position, as floats parsed from the very strings served."""

    address: str
    coin: str
    szi: float
    positionValue: float
    entryPx: float | None
    liquidationPx: float | None


@dataclass
class Account:
    address: str
    account_value: float
    old_format: bool
    positions: list[dict[str, Any]] = field(default_factory=list)  # rendered "position"s
    state: dict[str, Any] = field(default_factory=dict)  # rendered, without "time"


def _empty_summary() -> dict[str, str]:
    return {"accountValue": "0.0", "totalNtlPos": "0.0", "totalRawUsd": "0.0",
            "totalMarginUsed": "0.0"}


class AccountBook:
    """`n_accounts` seeded accounts (default seed: the market's)."""

    def __init__(self, market: Market, n_accounts: int = 500, seed: int | None = None,
                 n_ghosts: int | None = None) -> None:
        self.market = market
        self.seed = market.seed if seed is None else seed
        self._rng = random.Random(f"accounts:{self.seed}")
        self.vanished: set[str] = set()
        listed = [a for a in market.assets if not a.delisted]
        weights = [1.0 / (a.index + 3) ** 0.9 for a in listed]
        self.accounts: dict[str, Account] = {}
        for _ in range(n_accounts):
            acct = self._new_account(listed, weights)
            self.accounts[acct.address] = acct
        self._cover_every_coin(listed)
        for acct in self.accounts.values():
            self._render(acct)
        n_ghosts = max(1, n_accounts // 100) if n_ghosts is None else n_ghosts
        self.ghosts = [self._address() for _ in range(n_ghosts)] if n_accounts else []
        self._leaderboard = self._render_leaderboard()

    # -- construction -----------------------------------------------------------------
    def _address(self) -> str:
        while True:
            a = f"0x{self._rng.getrandbits(160):040x}"
            if a not in self.accounts:
                return a

    def _new_account(self, listed: list[Asset], weights: list[float]) -> Account:
        rng = self._rng
        tier = rng.random()
        if tier < 0.02:
            value, n_pos = math.exp(rng.uniform(math.log(5e6), math.log(5e7))), rng.randint(3, 10)
        elif tier < 0.12:
            value, n_pos = math.exp(rng.uniform(math.log(5e5), math.log(5e6))), rng.randint(1, 8)
        elif tier < 0.45:
            value, n_pos = math.exp(rng.uniform(math.log(5e4), math.log(5e5))), rng.randint(0, 6)
        else:
            value, n_pos = math.exp(rng.uniform(math.log(1e3), math.log(5e4))), rng.randint(0, 4)
        acct = Account(address=self._address(), account_value=value,
                       old_format=rng.random() < 0.1)
        coins: list[Asset] = []
        for a in rng.choices(listed, weights, k=n_pos):
            if a not in coins:
                coins.append(a)
        margin_budget = value * rng.uniform(0.15, 0.8)
        for a in coins:
            acct.positions.append(self._position(a, margin_budget / len(coins)))
        if rng.random() < 0.03:
            acct.positions.append(self._unlisted_position(rng.choice(sorted(NOT_IN_UNIVERSE))))
        return acct

    def _position(self, a: Asset, margin: float, zero: bool | None = None) -> dict[str, Any]:
        """Raw numbers of one position (rendered later, once account totals are known)."""
        rng = self._rng
        isolated = a.only_isolated or rng.random() < 0.25
        lev = rng.randint(1, a.max_leverage)
        long_share = 0.35 + 0.3 * random.Random(f"{self.seed}:bias:{a.name}").random()
        side = 1 if rng.random() < long_share else -1
        if zero is None:
            zero = rng.random() < 0.02
        szi = 0.0 if zero else side * round(margin * lev / a.mark, a.sz_decimals)
        if szi == 0 and not zero:
            szi = side * 10.0 ** -a.sz_decimals
        return {"asset": a, "coin": a.name, "szi": szi, "lev": lev, "isolated": isolated,
                "entry": a.mark * math.exp(self._entry_drift(lev)), "mark": a.mark,
                "sz_decimals": a.sz_decimals, "max_leverage": a.max_leverage}

    def _entry_drift(self, lev: int) -> float:
        """Log distance mark/entry, kept well inside the liquidation distance (0.9/lev)."""
        bound = 0.5 / lev
        return max(-bound, min(bound, self._rng.gauss(0, 0.25 / lev)))

    def _unlisted_position(self, coin: str) -> dict[str, Any]:
        price, sz = NOT_IN_UNIVERSE[coin]
        rng = self._rng
        return {"asset": None, "coin": coin, "szi": round(rng.uniform(-5e4, 5e4), sz),
                "lev": 3, "isolated": False, "entry": price * 1.3, "mark": price,
                "sz_decimals": sz, "max_leverage": 3}

    def _cover_every_coin(self, listed: list[Asset]) -> None:
        """Every listed coin (odd names included) is held by at least three accounts."""
        held = {p["coin"] for acct in self.accounts.values() for p in acct.positions}
        pool = sorted(self.accounts)
        if not pool:
            return
        for a in listed:
            if a.name in held:
                continue
            for addr in self._rng.sample(pool, min(3, len(pool))):
                acct = self.accounts[addr]
                acct.positions.append(self._position(a, acct.account_value * 0.05, zero=False))

    # -- rendering --------------------------------------------------------------------
    def _render(self, acct: Account) -> None:
        rng = self._rng
        rendered: list[dict[str, Any]] = []
        ntl = raw_signed = margin_used = cross_margin = cross_ntl = iso_margin = 0.0
        for p in acct.positions:
            sz_dec = p["sz_decimals"]
            szi_s = fmt.size(p["szi"], sz_dec)
            szi = float(szi_s)
            mark_s = fmt.px(p["mark"], sz_dec)
            entry_s = fmt.px(p["entry"], sz_dec)
            entry = float(entry_s)
            value = abs(szi) * float(mark_s)
            upnl = szi * (float(mark_s) - entry)
            lev = p["lev"]
            used = value / lev
            roe = upnl / (abs(szi) * entry / lev) if szi else 0.0
            liq = self._liquidation_px(szi, entry, lev, p["isolated"], acct.account_value)
            if p["isolated"]:
                raw_usd = -szi * entry + abs(szi) * entry / lev  # margin posted at entry
                leverage: dict[str, Any] = {"type": "isolated", "value": lev,
                                            "rawUsd": fmt.dec(raw_usd, 6)}
                iso_margin += used
            else:
                leverage = {"type": "cross", "value": lev}
                cross_margin += used
                cross_ntl += value
            ntl += value
            raw_signed += szi * float(mark_s)
            margin_used += used
            pos: dict[str, Any] = {
                "coin": p["coin"], "szi": szi_s, "leverage": leverage, "entryPx": entry_s,
                "positionValue": fmt.dec(value, 6), "unrealizedPnl": fmt.dec(upnl, 6),
                "returnOnEquity": fmt.dec(roe, 10),
                "liquidationPx": None if liq is None else fmt.px(liq, sz_dec),
                "marginUsed": fmt.dec(used, 6),
            }
            if not acct.old_format:
                pos["maxLeverage"] = p["max_leverage"]
                f = rng.gauss(0, value * 0.002)
                pos["cumFunding"] = {"allTime": fmt.dec(f * 3, 6), "sinceOpen": fmt.dec(f, 6),
                                     "sinceChange": fmt.dec(f / 2, 6)}
            rendered.append(pos)
        # margins never exceed the account: scale account value up if leverage overshot
        acct.account_value = max(acct.account_value, margin_used * 1.05)
        av = acct.account_value
        summary = {"accountValue": fmt.dec(av, 6), "totalNtlPos": fmt.dec(ntl, 6),
                   "totalRawUsd": fmt.dec(av - raw_signed, 6),
                   "totalMarginUsed": fmt.dec(margin_used, 6)}
        cross_av = av - iso_margin
        cross = {"accountValue": fmt.dec(cross_av, 6), "totalNtlPos": fmt.dec(cross_ntl, 6),
                 "totalRawUsd": fmt.dec(cross_av - raw_signed, 6),
                 "totalMarginUsed": fmt.dec(cross_margin, 6)}
        acct.state = {
            "marginSummary": summary,
            "crossMarginSummary": cross,
            "crossMaintenanceMarginUsed": fmt.dec(cross_margin / 2, 6),
            "withdrawable": fmt.dec(max(0.0, av - margin_used), 6),
            "assetPositions": [{"type": "oneWay", "position": p} for p in rendered],
        }

    def _liquidation_px(self, szi: float, entry: float, lev: int, isolated: bool,
                        account_value: float) -> float | None:
        """Null when the position cannot be liquidated (e.g. 1x long, rich cross account)."""
        if szi == 0:
            return None
        if not isolated and self._rng.random() < 0.25:
            return None
        room = 0.9 / lev * (1.0 if isolated else self._rng.uniform(1.0, 2.5))
        liq = entry * (1 - room) if szi > 0 else entry * (1 + room)
        return liq if liq > 0 else None

    def _render_leaderboard(self) -> dict[str, Any]:
        rng = random.Random(f"leaderboard:{self.seed}")
        rows: list[dict[str, Any]] = []
        entries = [(a.address, a.account_value) for a in self.accounts.values()]
        # ghosts span the whole range, so a top-N sample meets empty accounts too
        entries += [(g, math.exp(rng.uniform(math.log(1e3), math.log(2e7))))
                    for g in self.ghosts]
        for addr, value in entries:
            perf = []
            for window, scale in (("day", 0.02), ("week", 0.06), ("month", 0.15),
                                  ("allTime", 0.6)):
                roi = rng.gauss(0.0, scale)
                perf.append([window, {"pnl": fmt.dec(value * roi, 6), "roi": fmt.dec(roi, 12),
                                      "vlm": fmt.dec(value * rng.uniform(0, 40) * scale, 2)}])
            name = rng.choice(DISPLAY_NAMES) if rng.random() < 0.1 else None
            rows.append({"ethAddress": addr, "accountValue": fmt.dec(value, 6),
                         "windowPerformances": perf, "prize": 0, "displayName": name})
        rng.shuffle(rows)
        return {"leaderboardRows": rows}

    # -- API --------------------------------------------------------------------------
    @property
    def addresses(self) -> list[str]:
        """Addresses that hold an account (vanished ones included)."""
        return list(self.accounts)

    def leaderboard(self) -> dict[str, Any]:
        """`{"leaderboardRows": [...]}` in no particular order (ghost rows included)."""
        return self._leaderboard

    def clearinghouse_state(self, user: str) -> dict[str, Any]:
        """The account's state; an empty one for unknown or vanished addresses."""
        acct = self.accounts.get(user.lower())
        now = self.market.now_ms()
        if acct is None or acct.address in self.vanished:
            return {"marginSummary": _empty_summary(), "crossMarginSummary": _empty_summary(),
                    "crossMaintenanceMarginUsed": "0.0", "withdrawable": "0.0",
                    "assetPositions": [], "time": now}
        if acct.old_format:
            return acct.state
        return {**acct.state, "time": now}

    def top_addresses(self, n: int) -> list[str]:
        """The leaderboard's top `n` by accountValue (what a sampler should pick);
        ghosts included, ties broken by address."""
        rows = self._leaderboard["leaderboardRows"]
        ranked = sorted(rows, key=lambda r: (-float(r["accountValue"]), r["ethAddress"]))
        return [r["ethAddress"] for r in ranked[:n]]

    def positions(self, coin: str | None = None, include_vanished: bool = False,
                  addresses: Iterable[str] | None = None) -> list[PositionTruth]:
        """Ground truth of every served position (zero sizes and unlisted coins included:
        filter with `szi != 0` and the market's universe as a consumer would).
        `addresses` limits it to a sample (e.g. `top_addresses(100)`)."""
        wanted = None if addresses is None else {a.lower() for a in addresses}
        out: list[PositionTruth] = []
        for acct in self.accounts.values():
            if acct.address in self.vanished and not include_vanished:
                continue
            if wanted is not None and acct.address not in wanted:
                continue
            for ap in acct.state["assetPositions"]:
                p = ap["position"]
                if coin is not None and p["coin"] != coin:
                    continue
                liq = p["liquidationPx"]
                out.append(PositionTruth(acct.address, p["coin"], float(p["szi"]),
                                         float(p["positionValue"]), float(p["entryPx"]),
                                         None if liq is None else float(liq)))
        return out

    def vanish(self, count: int | None = None, fraction: float | None = None,
               addresses: list[str] | None = None) -> list[str]:
        """Make accounts answer an empty state from now on; returns the addresses chosen
        (deterministic for a seed)."""
        if addresses is not None:
            chosen = [a.lower() for a in addresses if a.lower() in self.accounts]
        else:
            pool = sorted(set(self.accounts) - self.vanished)
            if fraction is not None:
                if not 0 <= fraction <= 1:
                    raise ValueError("fraction must be within [0, 1]")
                count = round(len(self.accounts) * fraction)
            if count is None or count < 0:
                raise ValueError("give count >= 0, fraction, or addresses")
            rng = random.Random(f"vanish:{self.seed}:{len(self.vanished)}")
            chosen = rng.sample(pool, min(count, len(pool)))
        self.vanished.update(chosen)
        return chosen

    def restore(self) -> None:
        self.vanished.clear()
