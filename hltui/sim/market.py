"""A seeded perp market: ~230 assets on a random walk, served in HyperLiquid's shapes.

Deterministic for a seed: the universe, starting prices and every step of the walk
come from `random.Random(seed)`, and the market advances exactly one step per
`metaAndAssetCtxs` served, so the same seed yields the same sequence of payloads.
`awkward=True` (the default) adds what the real API does to parsers: names with
spaces, commas, `=`, quotes and non-ASCII, delisted assets that stay in the list,
`onlyIsolated` assets, and assets without a book (`midPx`/`premium`/`impactPxs` null).
"""

from __future__ import annotations

import math
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hltui.sim import fmt

Clock = Callable[[], float]  # seconds since the epoch, like time.time

# (name, approximate price) of real HyperLiquid perps, in a universe-like order.
_BASE: tuple[tuple[str, float], ...] = (
    ("BTC", 97000), ("ETH", 3500), ("ATOM", 6.5), ("MATIC", 0.5), ("DYDX", 1.5),
    ("SOL", 190), ("AVAX", 35), ("BNB", 690), ("APE", 1.2), ("OP", 1.9), ("LTC", 105),
    ("ARB", 0.75), ("DOGE", 0.32), ("INJ", 22), ("SUI", 4.5), ("kPEPE", 0.0015),
    ("CRV", 0.9), ("LDO", 1.8), ("LINK", 20), ("STX", 1.6), ("RNDR", 7), ("CFX", 0.15),
    ("FTM", 0.7), ("GMX", 28), ("SNX", 2.5), ("XRP", 2.3), ("BCH", 430), ("APT", 9),
    ("AAVE", 330), ("COMP", 80), ("MKR", 1600), ("WLD", 2.2), ("FXS", 3), ("YGG", 0.5),
    ("TRX", 0.25), ("kSHIB", 0.021), ("UNI", 13), ("SEI", 0.4), ("RUNE", 4.5),
    ("CANTO", 0.05), ("ZRO", 5), ("DOT", 6.5), ("FRIEND", 0.1), ("BANANA", 40),
    ("ORDI", 30), ("TIA", 5), ("NEAR", 5), ("SHIA", 0.003), ("PENDLE", 5), ("FET", 1.3),
    ("BLUR", 0.3), ("MAV", 0.2), ("ENS", 35), ("GALA", 0.035), ("ARK", 0.6),
    ("kBONK", 0.03), ("WIF", 2.0), ("ONDO", 1.4), ("JUP", 0.9), ("PYTH", 0.4),
    ("BOME", 0.008), ("ETHFI", 2), ("ENA", 1.0), ("W", 0.3), ("TNSR", 0.6),
    ("MEW", 0.007), ("TAO", 450), ("REZ", 0.04), ("NOT", 0.006), ("IO", 2.5),
    ("ZK", 0.2), ("BLAST", 0.01), ("LISTA", 0.4), ("POPCAT", 0.9), ("RENDER", 7),
    ("AR", 20), ("MOODENG", 0.25), ("GOAT", 0.6), ("GRASS", 3), ("PNUT", 0.8),
    ("XLM", 0.45), ("CHILLGUY", 0.3), ("SAND", 0.7), ("IOTA", 0.35), ("ALGO", 0.4),
    ("HYPE", 25), ("ME", 4.5), ("MOVE", 0.8), ("VIRTUAL", 3.5), ("PENGU", 0.035),
    ("USUAL", 1.0), ("FARTCOIN", 1.2), ("AI16Z", 1.3), ("AIXBT", 0.6), ("ZEREBRO", 0.3),
    ("BIO", 0.6), ("GRIFFAIN", 0.4), ("SPX", 1.2), ("S", 0.6), ("MORPHO", 2.5),
    ("TRUMP", 30), ("MELANIA", 3), ("ANIME", 0.05), ("VINE", 0.1), ("VVV", 5),
    ("JELLY", 0.03), ("BERA", 7), ("TST", 0.1), ("LAYER", 1.5), ("IP", 5), ("OM", 6),
    ("KAITO", 1.5), ("NIL", 0.8), ("PAXG", 2700), ("PROMPT", 0.3), ("BABY", 0.08),
    ("WCT", 0.5), ("HYPER", 0.3), ("ZORA", 0.02), ("INIT", 0.7), ("DOOD", 0.005),
    ("LAUNCHCOIN", 0.15), ("NXPC", 1.5), ("SOPH", 0.06), ("RESOLV", 0.3),
    ("SYRUP", 0.4), ("PUMP", 0.005), ("PROVE", 1.0), ("kFLOKI", 0.15), ("kNEIRO", 0.5),
    ("kDOGS", 0.5), ("kLUNC", 0.1), ("MANTA", 1.2), ("ALT", 0.15), ("JTO", 3),
    ("MEME", 0.02), ("ZETA", 0.8), ("DYM", 3), ("PIXEL", 0.2), ("STRK", 0.6),
    ("ACE", 3), ("XAI", 0.5), ("PEOPLE", 0.05), ("SUPER", 1.2), ("USTC", 0.02),
    ("NTRN", 0.5), ("UMA", 3), ("BADGER", 4), ("POLYX", 0.3), ("GAS", 5), ("MINA", 0.7),
    ("TRB", 70), ("LOOM", 0.07), ("CYBER", 3), ("RSR", 0.015), ("BIGTIME", 0.2),
    ("ILV", 40), ("IMX", 1.5), ("GMT", 0.2), ("CAKE", 2.5), ("POL", 0.5), ("OGN", 0.1),
    ("MAVIA", 1.2), ("SAGA", 2), ("EIGEN", 3.5), ("HBAR", 0.3), ("ETC", 28),
    ("XMR", 200), ("FTT", 2.5), ("KAS", 0.12), ("BSV", 60), ("ZEN", 12), ("FIL", 5),
    ("ICP", 10), ("HMSTR", 0.004), ("NEIROETH", 0.1), ("CATI", 0.4), ("SCR", 0.9),
    ("REQ", 0.15), ("ORBS", 0.03), ("BRETT", 0.15), ("TURBO", 0.008), ("BNT", 0.8),
    ("STG", 0.4), ("LRC", 0.2), ("ZRX", 0.5), ("BLZ", 0.1), ("AVNT", 1.0), ("YZY", 0.6),
    ("WLFI", 0.2), ("LINEA", 0.03), ("ASTER", 1.5), ("XPL", 1.0), ("STBL", 0.2),
    ("0G", 3), ("HEMI", 0.08), ("APEX", 1.0), ("2Z", 0.3), ("MON", 0.03), ("MET", 0.4),
    ("MEGA", 0.5), ("ZEC", 300), ("GRT", 0.1), ("CELO", 0.6), ("ADA", 0.9),
    ("TON", 5.2), ("SHIB", 0.00002), ("AXS", 6), ("THETA", 1.8), ("EGLD", 30),
    ("QNT", 100), ("FLOW", 0.7), ("CHZ", 0.09), ("MANA", 0.5), ("KAVA", 0.5),
    ("XTZ", 1.2), ("NEO", 14), ("DASH", 35), ("ZIL", 0.02), ("ONE", 0.02), ("ROSE", 0.1),
    ("CELR", 0.015), ("SKL", 0.05), ("ANKR", 0.03), ("SUSHI", 1.2), ("1INCH", 0.4),
    ("ENJ", 0.25), ("BAT", 0.2), ("AUDIO", 0.15), ("STORJ", 0.5), ("OCEAN", 0.6),
)

DELISTED = ("MATIC", "RNDR", "FTM", "CANTO", "FRIEND", "SHIA")
# storable but hostile to naive line protocol / InfluxQL / CSV / UI code
AWKWARD_NAMES = (
    "MY COIN", "A,B", "X=Y", 'QUO"TE', "O'NEIL", "ÆTHER", "日本", "W,X=Y Z",
)
UNSTORABLE_NAME = "BAD\\"
NO_BOOK = ("ÆTHER", "ORBS")  # listed, but no book: midPx/premium/impactPxs null
ONLY_ISOLATED = ("MY COIN", "A,B", "X=Y", 'QUO"TE', "O'NEIL", "ÆTHER", "日本", "W,X=Y Z",
                 "JELLY", "VINE", "DOOD", "STBL")
SPOT_COUNT = 150  # "@N" keys in allMids (spot pairs, "@107" included), plus "PURR/USDC"


@dataclass(slots=True)
class Asset:
    """Mutable state of one perp; floats here, strings only when rendered."""

    index: int
    name: str
    sz_decimals: int
    max_leverage: int
    margin_table_id: int
    only_isolated: bool
    delisted: bool
    no_book: bool
    oracle: float
    mark: float
    mid: float
    premium: float
    funding: float
    open_interest: float  # coins
    day_ntl_vlm: float  # USD
    prev_day_px: float
    sigma: float  # per-step log-return deviation
    spread: float  # impact price half-spread as a share of mid

    @property
    def has_book(self) -> bool:
        return not (self.no_book or self.delisted)


def _sz_decimals(price: float) -> int:
    return max(0, min(5, round(math.log10(price))))


def _max_leverage(rank: int, name: str) -> int:
    if name == "BTC":
        return 40
    if name == "ETH":
        return 25
    if rank < 10:
        return 20
    if rank < 40:
        return 10
    if rank < 100:
        return 5
    return 3


def _universe_names(n_assets: int, awkward: bool, unstorable: bool) -> list[str]:
    """Regular names in base order, with the special ones spread evenly among them."""
    specials: list[str] = []
    if awkward:
        specials += list(DELISTED) + list(AWKWARD_NAMES)
    if unstorable:
        specials.append(UNSTORABLE_NAME)
    regular = [n for n, _ in _BASE if n not in DELISTED]
    n_regular = n_assets - len(specials)
    if n_regular < 2:
        raise ValueError(f"n_assets={n_assets} is too small: need at least "
                         f"{len(specials) + 2} with these options")
    regular = regular[:n_regular]
    regular += [f"SIM{i:03d}" for i in range(n_regular - len(regular))]
    out = list(regular)
    step = len(out) / (len(specials) + 1)
    for i, name in enumerate(specials):
        out.insert(min(len(out), int((i + 1) * step) + i), name)
    return out


class Market:
    """The seeded market; one `step()` per metaAndAssetCtxs served."""

    def __init__(
        self,
        seed: int = 7,
        n_assets: int = 230,
        awkward: bool = True,
        unstorable: bool = False,
        clock: Clock | None = None,
        keep_served: int = 50,
    ) -> None:
        self.seed = seed
        self.awkward = awkward
        self.unstorable = unstorable
        self.clock: Clock = clock or time.time
        self.steps = 0
        self._rng = random.Random(seed)
        self._served: deque[tuple[int, Any]] = deque(maxlen=keep_served)
        self._frozen: dict[int, dict[str, Any]] = {}  # rendered ctxs of delisted assets
        base_px = dict(_BASE)
        self.assets: list[Asset] = [
            self._new_asset(i, name, base_px)
            for i, name in enumerate(_universe_names(n_assets, awkward, unstorable))
        ]
        self.by_name: dict[str, Asset] = {a.name: a for a in self.assets}
        self.spot: dict[str, float] = {
            f"@{i}": math.exp(self._rng.uniform(math.log(1e-4), math.log(50)))
            for i in range(1, SPOT_COUNT + 1)
        }
        self.spot["PURR/USDC"] = 0.2 * math.exp(self._rng.gauss(0, 0.05))
        self._universe = [self._universe_entry(a) for a in self.assets]
        self._margin_tables = self._render_margin_tables()

    # -- construction ---------------------------------------------------------------
    def _new_asset(self, index: int, name: str, base_px: dict[str, float]) -> Asset:
        rng = self._rng
        rank = index
        if name in base_px:
            price = base_px[name] * math.exp(rng.gauss(0, 0.02))
        else:
            price = math.exp(rng.uniform(math.log(0.01), math.log(50)))
        sz = _sz_decimals(price)
        delisted = name in DELISTED
        oi_usd = 0.0 if delisted else 4.5e9 * (rank + 1) ** -1.25 * math.exp(rng.gauss(0, 0.4))
        oi_usd = max(oi_usd, 0.0 if delisted else 2e5)
        premium = 0.0 if delisted else rng.gauss(0.00002, 0.0003)
        mark = price * (1 + premium)
        return Asset(
            index=index,
            name=name,
            sz_decimals=sz,
            max_leverage=_max_leverage(rank, name),
            margin_table_id=_max_leverage(rank, name),
            only_isolated=name in ONLY_ISOLATED or delisted,
            delisted=delisted,
            no_book=name in NO_BOOK,
            oracle=price,
            mark=mark,
            mid=mark,
            premium=premium,
            funding=0.0 if delisted else 0.0000125 + rng.gauss(0, 0.00002),
            open_interest=oi_usd / mark,
            day_ntl_vlm=0.0 if delisted else oi_usd * rng.uniform(0.3, 1.6),
            prev_day_px=price * math.exp(rng.gauss(0, 0.03)),
            sigma=rng.uniform(0.0008, 0.003) * (1.0 if rank < 10 else 1.6),
            spread=rng.uniform(0.00005, 0.0004) * (1.0 if rank < 10 else 3.0),
        )

    @staticmethod
    def _universe_entry(a: Asset) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "szDecimals": a.sz_decimals,
            "name": a.name,
            "maxLeverage": a.max_leverage,
            "marginTableId": a.margin_table_id,
        }
        if a.only_isolated:
            entry["onlyIsolated"] = True
        if a.delisted:
            entry["isDelisted"] = True
        return entry

    def _render_margin_tables(self) -> list[Any]:
        ids = sorted({a.margin_table_id for a in self.assets})
        return [
            [i, {"description": "", "marginTiers": [{"lowerBound": "0.0", "maxLeverage": i}]}]
            for i in ids
        ]

    # -- dynamics -------------------------------------------------------------------
    def step(self) -> None:
        """One step of the walk for every listed asset (delisted ones stay frozen)."""
        rng = self._rng
        for a in self.assets:
            if a.delisted:
                continue
            a.oracle *= math.exp(a.sigma * rng.gauss(0, 1))
            a.premium = 0.85 * a.premium + rng.gauss(0, 0.0001)
            a.mark = a.oracle * (1 + a.premium)
            a.mid = a.mark * (1 + rng.gauss(0, a.spread / 4))
            target = 0.0000125 + max(-0.0005, min(0.0005, a.premium)) / 8
            a.funding = 0.9 * a.funding + 0.1 * target + rng.gauss(0, 0.000002)
            a.open_interest *= math.exp(rng.gauss(0, 0.004))
            a.day_ntl_vlm *= math.exp(rng.gauss(0, 0.01))
        for k in self.spot:
            self.spot[k] *= math.exp(rng.gauss(0, 0.002))
        self.steps += 1

    def asset_names(self, include_delisted: bool = False) -> list[str]:
        """Universe names in universe order (listed ones only unless asked)."""
        return [a.name for a in self.assets if include_delisted or not a.delisted]

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    # -- rendering ------------------------------------------------------------------
    def _ctx(self, a: Asset) -> dict[str, Any]:
        sz = a.sz_decimals
        if a.delisted:
            cached = self._frozen.get(a.index)
            if cached is None:
                p = fmt.px(a.mark, sz)
                cached = self._frozen[a.index] = {
                    "funding": "0.0", "openInterest": "0.0",
                    "prevDayPx": fmt.px(a.prev_day_px, sz), "dayNtlVlm": "0.0", "premium": None,
                    "oraclePx": p, "markPx": p, "midPx": None, "impactPxs": None,
                    "dayBaseVlm": "0.0",
                }
            return dict(cached)
        d = fmt.px_decimals(a.mark, sz)  # one scale for all of this asset's prices
        fixed = fmt.fixed
        book = a.has_book
        return {
            "funding": fixed(a.funding, 8),
            "openInterest": fixed(a.open_interest, sz),
            "prevDayPx": fmt.px(a.prev_day_px, sz),
            "dayNtlVlm": fixed(a.day_ntl_vlm, 5),
            "premium": fixed(a.premium, 8) if book else None,
            "oraclePx": fixed(a.oracle, d),
            "markPx": fixed(a.mark, d),
            "midPx": fixed(a.mid, d) if book else None,
            "impactPxs": [fixed(a.mid * (1 - a.spread), d),
                          fixed(a.mid * (1 + a.spread), d)] if book else None,
            "dayBaseVlm": fixed(a.day_ntl_vlm / a.mark, sz),
        }

    def meta(self) -> dict[str, Any]:
        return {"universe": self._universe, "marginTables": self._margin_tables,
                "collateralToken": 0}

    def meta_and_asset_ctxs(self) -> list[Any]:
        """The current `[meta, ctxs]` (does not advance; see `serve_meta_and_asset_ctxs`)."""
        return [self.meta(), [self._ctx(a) for a in self.assets]]

    def serve_meta_and_asset_ctxs(
        self, transform: Callable[[list[Any]], Any] | None = None
    ) -> Any:
        """Advance one step, render, optionally distort (fault switches), record, return."""
        self.step()
        payload: Any = self.meta_and_asset_ctxs()
        if transform is not None:
            payload = transform(payload)
        self._served.append((self.now_ms(), payload))
        return payload

    @property
    def served(self) -> list[tuple[int, Any]]:
        """What metaAndAssetCtxs served, oldest first: (served_at_ms, payload)."""
        return list(self._served)

    def all_mids(self) -> dict[str, str]:
        out = {a.name: fmt.px(a.mid, a.sz_decimals) for a in self.assets if a.has_book}
        out.update({k: fmt.spot_px(v) for k, v in self.spot.items()})
        return out

    def predicted_fundings(self) -> list[Any]:
        """Per listed asset, one entry per venue; other venues list only the majors."""
        now = self.now_ms()
        hour = 3_600_000
        next_hl = (now // hour + 1) * hour
        next_8h = (now // (8 * hour) + 1) * (8 * hour)
        out: list[Any] = []
        for a in self.assets:
            if a.delisted:
                continue
            cex = a.index < 60 and a.name.isascii() and a.name.isalnum()
            bin_rate = a.funding * 8 + 0.00002 * ((a.index * 7919) % 11 - 5) / 5
            venues: list[Any] = [
                ["BinPerp", {"fundingRate": fmt.dec(bin_rate, 8), "nextFundingTime": next_8h,
                             "fundingIntervalHours": 8} if cex else None],
                ["HlPerp", {"fundingRate": fmt.dec(a.funding, 8), "nextFundingTime": next_hl,
                            "fundingIntervalHours": 1}],
            ]
            if a.index % 3 != 2:  # older shape: no interval, sometimes missing entirely
                venues.append(["BybitPerp", {"fundingRate": fmt.dec(bin_rate * 0.9, 8),
                                             "nextFundingTime": next_8h} if cex else None])
            out.append([a.name, venues])
        return out

    def l2_book(self, coin: str, depth: int = 20) -> dict[str, Any] | None:
        """A deterministic book around the mid; `None` for an unknown coin."""
        if coin in self.by_name:
            a = self.by_name[coin]
            mid, sz_dec, tick_share = a.mid, a.sz_decimals, max(a.spread, 0.0001)
            render_px: Callable[[float], str] = lambda x: fmt.px(x, sz_dec)  # noqa: E731
            if not a.has_book:
                return {"coin": coin, "time": self.now_ms(), "levels": [[], []]}
        elif coin in self.spot:
            mid, sz_dec, tick_share, render_px = self.spot[coin], 2, 0.0005, fmt.spot_px
        else:
            return None
        rng = random.Random(f"{self.seed}:{coin}:{self.steps}")
        notional = 5e4 if (coin in self.by_name and self.by_name[coin].index < 10) else 5e3
        sides: list[list[dict[str, Any]]] = [[], []]
        for side, sign in ((0, -1), (1, 1)):
            for lvl in range(depth):
                p = mid * (1 + sign * tick_share * (lvl + 1))
                sz = notional * rng.uniform(0.2, 3.0) * (1 + lvl / 4) / p
                sides[side].append({"px": render_px(p), "sz": fmt.size(sz, sz_dec),
                                    "n": rng.randint(1, 12)})
        return {"coin": coin, "time": self.now_ms(), "levels": sides}
