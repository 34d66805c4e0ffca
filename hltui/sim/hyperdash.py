"""A simulated HyperDash on localhost: pages whose own JavaScript fetches the JSON.

Two listeners (site and API host, so the page's calls are cross-origin as on the
real site, with CORS). `GET /ticker/{asset}` serves an HTML page that fetches,
depending on `protocol`, the legacy REST endpoints (`{api}/summary` and
`{site}/api/liquidation-data-v2?ticker=`, the latter checking `X-Api-Key`) or
the GraphQL queries `perpsTickerPositions` and `historicalLiquidationLevel`
(`POST {api}/graphql`, the liquidation query checking the key). The page is a
single-page app: a history navigation (popstate) to another ticker makes it fetch
that ticker's JSON without a reload. Every view of an asset (its positions query,
or its liquidation call on REST, which the page makes before `summary`) moves that
asset's book one step, deterministic per seed; what was served is kept in
`served` as ground truth for tests.

Fault modes, global (`mode`) or per asset (`faults[asset]`):
`challenge` (the page and the API answer an anti-bot interstitial), `forbidden`
(the API answers 403), `hang` (the asset's API call never answers), `slow` (it answers after
`slow_s`), `broken_json` (truncated body), `bad_shape` (a required field
renamed), `error_500`.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import math
import random
import socket
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

MODES = ("challenge", "forbidden", "hang", "slow", "broken_json", "bad_shape", "error_500")
DEFAULT_ASSETS = ("BTC", "ETH", "SOL", "HYPE", "kPEPE", "@107", "DOGE", "XRP")
KNOWN_PRICES = {"BTC": 97020.0, "ETH": 3412.5, "SOL": 187.3, "HYPE": 24.71, "kPEPE": 0.01565,
                "DOGE": 0.3412, "XRP": 2.318}
LEVERAGES = (2, 3, 5, 10, 20, 25, 40)
# the simulated site's public key (like the one the real front end sends); not a secret
SIM_PUBLIC_KEY = "-".join(("sim", "public", "key", "0001"))

POSITIONS_QUERY = (
    "query TickerPositions($coin: String!, $limit: Int, $offset: Int) { analytics { "
    "perpsTickerPositions(coin: $coin, limit: $limit, offset: $offset) { coin "
    "totalLongNotional totalShortNotional totalNotional longCount shortCount totalCount "
    "hasMore timestamp positions { address size notionalSize entryPrice liquidationPrice "
    "unrealizedPnl fundingPnl accountValue } } } }"
)
LEVELS_QUERY = (
    "query LiquidationLevels($coin: String!, $min: Float, $max: Float, $timestamp: String) "
    "{ analytics { historicalLiquidationLevel(coin: $coin, min: $min, max: $max, "
    "timestamp: $timestamp) { coin min max liquidations { amount price } } } }"
)

PAGE_JS = """
const CFG = JSON.parse(document.getElementById("cfg").textContent);
const keyHeaders = CFG.sendKey ? {"X-Api-Key": CFG.key} : {};
async function getJSON(url, opts) {
  const r = await fetch(url, opts);
  if (!r.ok) throw new Error("HTTP " + r.status);
  return r.json();
}
function gql(query, variables, extra) {
  return getJSON(CFG.api + "/graphql", {method: "POST",
    headers: Object.assign({"Content-Type": "application/json"}, extra || {}),
    body: JSON.stringify({query, variables})});
}
function coinFromPath() {
  return decodeURIComponent(location.pathname.split("/").pop());
}
async function view(coin) {
  const out = document.getElementById("out");
  out.textContent = "loading " + coin;
  const price = CFG.prices[coin] || 1;
  try {
    if (CFG.protocol === "graphql") {
      await Promise.all([
        gql(CFG.positionsQuery, {coin, limit: CFG.limit, offset: 0}),
        gql(CFG.levelsQuery, {coin, min: price * 0.5, max: price * 1.5, timestamp: null},
            keyHeaders)]);
    } else {
      await getJSON(CFG.site + "/api/liquidation-data-v2?ticker=" + encodeURIComponent(coin)
                    + "&days=7", {headers: keyHeaders});
      await getJSON(CFG.api + "/summary");
    }
    out.textContent = "loaded " + coin;
  } catch (e) {
    out.textContent = "error: " + e.message;
  }
}
// a single-page app: the router re-fetches on history navigation
window.addEventListener("popstate", () => view(coinFromPath()));
view(CFG.coin);
"""

CHALLENGE_HTML = """<!doctype html><html><head><title>Just a moment...</title></head>
<body><h1>hyperdash (simulated)</h1><p>Verifying your browser before accessing the site.
This may take a few seconds.</p><div id="cf-chl-widget"></div></body></html>"""


def _sig(x: float, digits: int = 6) -> float:
    """Round to significant digits (a site's price tick)."""
    if x == 0:
        return 0.0
    return round(x, digits - 1 - math.floor(math.log10(abs(x))))


@dataclass
class Book:
    """One asset's simulated positions at one version."""

    asset: str
    version: int
    price: float
    positions: list[dict[str, Any]]

    def side(self, long: bool) -> list[dict[str, Any]]:
        return [p for p in self.positions if (p["size"] > 0) == long]

    def totals(self) -> tuple[float, float]:
        longs = sum(p["notionalSize"] for p in self.positions if p["size"] > 0)
        shorts = sum(p["notionalSize"] for p in self.positions if p["size"] < 0)
        return longs, shorts


class SimHyperDash:
    """The simulated site. `async with SimHyperDash(...) as sim:` or `start()`/`close()`."""

    def __init__(self, seed: int = 7, assets: Iterable[str] | None = None,
                 protocol: str = "graphql", *,
                 prices: Mapping[str, float] | Callable[[str], float | None] | None = None,
                 api_key: str = SIM_PUBLIC_KEY, page_sends_key: bool = True,
                 positions_limit: int = 100, max_positions: int = 300) -> None:
        if protocol not in ("graphql", "rest"):
            raise ValueError("protocol must be 'graphql' or 'rest'")
        self.seed = seed
        self.assets = list(assets or DEFAULT_ASSETS)
        self.protocol = protocol
        self.api_key = api_key
        self.page_sends_key = page_sends_key
        self.positions_limit = positions_limit
        self.max_positions = max_positions
        # a callable follows a live market (the simulated exchange's marks in --demo)
        self._price_feed = prices if callable(prices) else None
        self._prices: dict[str, float] = {} if callable(prices) else dict(prices or {})
        self.mode: str | None = None
        self.faults: dict[str, str] = {}
        self.slow_s = 1.0
        self.hang_s = 3600.0
        self.served: dict[str, dict[str, Any]] = {}  # ground truth, per asset
        self.page_loads: Counter[str] = Counter()  # full page loads per asset
        self.views: Counter[str] = Counter()  # asset views (loads and in-page navigations)
        self.requests: Counter[str] = Counter()
        self._books: dict[str, Book] = {}
        self._rows: dict[tuple[str, int], dict[str, Any]] = {}  # summary rows per version
        self._runner: web.AppRunner | None = None
        self._closing: asyncio.Event | None = None
        self.site_url = ""
        self.api_url = ""

    # ---- lifecycle ---------------------------------------------------------------------

    async def start(self) -> SimHyperDash:
        self._closing = asyncio.Event()
        app = web.Application(middlewares=[_cors])
        app.router.add_get("/", self._index)
        app.router.add_get("/ticker/{asset}", self._page)
        app.router.add_get("/api/liquidation-data-v2", self._rest_liquidations)
        app.router.add_get("/summary", self._rest_summary)
        app.router.add_post("/graphql", self._graphql)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None,
                                     shutdown_timeout=1.0)
        await self._runner.setup()
        ports = []
        for _ in range(2):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            ports.append(sock.getsockname()[1])
            await web.SockSite(self._runner, sock).start()
        self.site_url = f"http://127.0.0.1:{ports[0]}"
        self.api_url = f"http://127.0.0.1:{ports[1]}"
        return self

    async def close(self) -> None:
        if self._closing is not None:
            self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> SimHyperDash:
        return await self.start()

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    @property
    def url(self) -> str:
        """The site's base URL (what HLTUI_HYPERDASH_URL points at)."""
        return self.site_url

    def settings_overrides(self) -> dict[str, Any]:
        """Settings that point the hyperdash source at this simulation."""
        return {"hyperdash_url": self.site_url, "hyperdash_api_url": self.api_url,
                "hyperdash_protocol": self.protocol, "hyperdash_page": "/ticker/{asset}"}

    def fault_for(self, asset: str | None) -> str | None:
        return self.faults.get(asset or "", self.mode)

    # ---- the market ----------------------------------------------------------------------

    def price_of(self, asset: str) -> float:
        if self._price_feed is not None:
            live = self._price_feed(asset)
            if live is not None and live > 0:
                return float(live)
        if asset not in self._prices:
            known = KNOWN_PRICES.get(asset)
            rng = random.Random(f"hyperdash-price:{self.seed}:{asset}")
            self._prices[asset] = known or _sig(10 ** rng.uniform(-3, 4.5), 5)
        return self._prices[asset]

    def book(self, asset: str) -> Book:
        if asset not in self._books:
            self._books[asset] = self._generate(asset, 0)
        return self._books[asset]

    def _advance(self, asset: str) -> Book:
        version = self._books[asset].version + 1 if asset in self._books else 0
        self._rows.pop((asset, version - 1), None)
        self._books[asset] = self._generate(asset, version)
        return self._books[asset]

    def _generate(self, asset: str, version: int) -> Book:
        rng = random.Random(f"hyperdash:{self.seed}:{asset}:{version}")
        price = _sig(self.price_of(asset) * (1 + rng.uniform(-0.01, 0.01)))
        positions = []
        for long in (True, False):
            for _ in range(rng.randint(10, self.max_positions)):
                notional = round(math.exp(rng.gauss(9.5, 1.6)), 2)
                entry = _sig(price * (1 + rng.gauss(0, 0.04)))
                lev = rng.choice(LEVERAGES)
                liq = _sig(entry * (1 - 0.9 / lev) if long else entry * (1 + 0.9 / lev))
                size = notional / price * (1 if long else -1)
                positions.append({
                    "address": f"0x{rng.getrandbits(160):040x}",
                    "size": size,
                    "notionalSize": notional,
                    "entryPrice": entry,
                    "liquidationPrice": liq,
                    "unrealizedPnl": round((price - entry) * size, 2),
                    "fundingPnl": round(rng.gauss(0, 20), 2),
                    "accountValue": round(notional / lev * rng.uniform(1.0, 3.0), 2),
                })
        positions.sort(key=lambda p: p["notionalSize"], reverse=True)
        return Book(asset, version, price, positions)

    # ---- payloads ------------------------------------------------------------------------

    def positions_node(self, book: Book, limit: int, offset: int = 0) -> dict[str, Any]:
        longs, shorts = book.totals()
        page = book.positions[offset:offset + limit]
        return {
            "coin": book.asset,
            "totalLongNotional": longs,
            "totalShortNotional": shorts,
            "totalNotional": longs + shorts,
            "longCount": len(book.side(True)),
            "shortCount": len(book.side(False)),
            "totalCount": len(book.positions),
            "hasMore": offset + limit < len(book.positions),
            "timestamp": "2026-01-01T00:00:00Z",
            "positions": page,
        }

    def levels_node(self, book: Book, lo: float | None, hi: float | None) -> dict[str, Any]:
        sums: dict[tuple[float, bool], float] = {}
        for p in book.positions:
            liq = p["liquidationPrice"]
            if (lo is not None and liq < lo) or (hi is not None and liq > hi):
                continue
            key = (_sig(liq, 4), p["size"] > 0)
            sums[key] = sums.get(key, 0.0) + p["size"]
        return {"coin": book.asset, "min": lo, "max": hi,
                "liquidations": [{"amount": a, "price": px} for (px, _), a in sorted(sums.items())]}

    def summary_row(self, book: Book) -> dict[str, Any]:
        key = (book.asset, book.version)
        if key not in self._rows:
            self._rows[key] = self._summary_row(book)
        row = dict(self._rows[key])
        if self.fault_for(book.asset) == "bad_shape":
            row["Majority Notional"] = row.pop("Majority Side Notional")
        return row

    def _summary_row(self, book: Book) -> dict[str, Any]:
        longs, shorts = book.totals()

        def entry(long: bool) -> float | None:
            side = book.side(long)
            w = sum(abs(p["size"]) for p in side)
            return sum(abs(p["size"]) * p["entryPrice"] for p in side) / w if w else None

        major_long = longs >= shorts
        major, minor = (longs, shorts) if major_long else (shorts, longs)
        row = {
            "Asset": book.asset,
            "OI Coverage": round(100 * (longs + shorts) / ((longs + shorts) * 2.7), 2),
            "Total Notional": longs + shorts,
            "Majority Side": "LONG" if major_long else "SHORT",
            "Minority Side": "SHORT" if major_long else "LONG",
            "L/S Ratio": major / minor if minor else None,
            "Majority Side Notional": major,
            "Majority Side Entry": entry(major_long),
            "Majority Side P/L": f"${major * 0.013:,.0f}",
            "Minority Side Notional": minor,
            "Minority Side Entry": entry(not major_long),
            "Minority Side P/L": f"-${minor * 0.008:,.0f}",
            "Current Price": book.price,
            "Number Long": len(book.side(True)),
            "Number Short": len(book.side(False)),
            "Open Interest": (longs + shorts) * 1.9,
        }
        return row

    def rest_liquidations(self, book: Book) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        for p in book.positions:
            out.setdefault(repr(_sig(p["liquidationPrice"], 6)), {})[p["address"]] = p["size"]
        return out

    # ---- handlers ------------------------------------------------------------------------

    async def _index(self, request: web.Request) -> web.Response:
        links = "".join(f'<li><a href="/ticker/{html.escape(a)}">{html.escape(a)}</a></li>'
                        for a in self.assets)
        return web.Response(text=f"<!doctype html><title>HyperDash (simulated)</title>"
                                 f"<ul>{links}</ul>", content_type="text/html")

    async def _page(self, request: web.Request) -> web.Response:
        asset = request.match_info["asset"]
        self.requests["page"] += 1
        if self.fault_for(asset) == "challenge":
            return _challenge()
        if asset not in self.assets:
            return web.Response(status=404, text="unknown ticker", content_type="text/plain")
        self.page_loads[asset] += 1
        cfg = {"protocol": self.protocol, "coin": asset,
               "prices": {a: self.price_of(a) for a in self.assets},
               "api": self.api_url, "site": self.site_url, "key": self.api_key,
               "sendKey": self.page_sends_key, "limit": self.positions_limit,
               "positionsQuery": POSITIONS_QUERY, "levelsQuery": LEVELS_QUERY}
        cfg_json = json.dumps(cfg).replace("</", "<\\/")
        body = (f'<!doctype html><html><head><meta charset="utf-8"><title>'
                f"{html.escape(asset)} · HyperDash (simulated)</title></head><body>"
                f'<h1>{html.escape(asset)}</h1><div id="out">loading</div>'
                f'<script id="cfg" type="application/json">{cfg_json}</script>'
                f"<script>{PAGE_JS}</script></body></html>")
        return web.Response(text=body, content_type="text/html",
                            headers={"Cache-Control": "no-store"})

    async def _fault_response(self, asset: str | None, *, asset_specific: bool
                              ) -> web.StreamResponse | None:
        """The faulty answer for this call, or None to answer normally."""
        mode = self.fault_for(asset)
        if mode == "challenge":
            return _challenge()
        if mode == "forbidden":
            return web.Response(status=403, text="Forbidden", content_type="text/plain")
        if not asset_specific or mode is None:
            return None
        if mode == "hang":
            assert self._closing is not None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), self.hang_s)
            return web.Response(status=504, text="gave up", content_type="text/plain")
        if mode == "slow":
            await asyncio.sleep(self.slow_s)
        if mode == "error_500":
            return web.Response(status=500, text="null", content_type="application/json")
        return None

    def _key_ok(self, request: web.Request) -> bool:
        return request.headers.get("X-Api-Key") == self.api_key

    def _json(self, data: Any, asset: str | None) -> web.Response:
        text = json.dumps(data)
        if self.fault_for(asset) == "broken_json":
            text = text[: max(1, len(text) // 2)]
        return web.Response(text=text, content_type="application/json",
                            headers={"Cache-Control": "no-store"})

    async def _rest_summary(self, request: web.Request) -> web.StreamResponse:
        self.requests["summary"] += 1
        if (fault := await self._fault_response(None, asset_specific=False)) is not None:
            return fault
        rows = []
        for asset in self.assets:
            row = self.summary_row(self.book(asset))
            rows.append(row)
            self.served.setdefault(asset, {})["summary_row"] = row
        return web.json_response({"data": rows, "lastUpdated": "2026-01-01T00:00:00Z"},
                                 headers={"Cache-Control": "no-store"})

    async def _rest_liquidations(self, request: web.Request) -> web.StreamResponse:
        self.requests["liquidations"] += 1
        asset = request.query.get("ticker", "")
        if (fault := await self._fault_response(asset, asset_specific=True)) is not None:
            return fault
        if not self._key_ok(request):
            return web.json_response({"error": "missing or invalid X-Api-Key"}, status=401)
        if asset not in self.assets:
            return web.json_response({"error": "unknown ticker"}, status=404)
        self.views[asset] += 1
        data = self.rest_liquidations(self._advance(asset))
        self.served.setdefault(asset, {})["liquidations"] = data
        return self._json(data, asset)

    async def _graphql(self, request: web.Request) -> web.StreamResponse:
        try:
            req = await request.json()
            query, variables = str(req["query"]), dict(req.get("variables") or {})
        except (ValueError, KeyError, TypeError):
            return web.json_response({"errors": [{"message": "bad request"}]}, status=400)
        asset = str(variables.get("coin", ""))
        positions = "perpsTickerPositions" in query
        self.requests["positions" if positions else "levels"] += 1
        fault = await self._fault_response(asset, asset_specific=positions)
        if fault is not None:
            return fault
        if asset not in self.assets:
            return web.json_response({"data": {"analytics": None},
                                      "errors": [{"message": f"unknown coin {asset}"}]})
        if positions:
            self.views[asset] += 1
            book = self._advance(asset)
            node = self.positions_node(book, int(variables.get("limit") or 100),
                                       int(variables.get("offset") or 0))
            if self.fault_for(asset) == "bad_shape":
                node["totalLong"] = node.pop("totalLongNotional")
            self.served.setdefault(asset, {})["positions"] = node
            return self._json({"data": {"analytics": {"perpsTickerPositions": node}}}, asset)
        if not self._key_ok(request):
            return web.json_response({"errors": [{"message": "missing or invalid X-Api-Key"}]},
                                     status=401)
        node = self.levels_node(self.book(asset), variables.get("min"), variables.get("max"))
        self.served.setdefault(asset, {})["liquidations"] = node
        return self._json({"data": {"analytics": {"historicalLiquidationLevel": node}}}, None)


def _challenge() -> web.Response:
    """What Cloudflare answers a client it wants to verify."""
    return web.Response(status=403, text=CHALLENGE_HTML, content_type="text/html",
                        headers={"cf-mitigated": "challenge", "Cache-Control": "no-store"})


@web.middleware
async def _cors(request: web.Request, handler: Any) -> web.StreamResponse:
    """The site calls its API host cross-origin, as hyperdash.com does."""
    if request.method == "OPTIONS":
        resp: web.StreamResponse = web.Response(status=204)
    else:
        resp = await handler(request)
    resp.headers["Access-Control-Allow-Origin"] = "*"
    resp.headers["Access-Control-Allow-Headers"] = "Content-Type, X-Api-Key"
    resp.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
    resp.headers["Access-Control-Max-Age"] = "600"
    return resp


class SimHyperDashThread:
    """The simulated site on its own event loop in a thread (demo, bench, sync callers)."""

    def __init__(self, **kwargs: Any) -> None:
        self.sim = SimHyperDash(**kwargs)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="sim-hyperdash",
                                        daemon=True)

    def start(self) -> SimHyperDash:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.sim.start(), self._loop).result(10)
        return self.sim

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        asyncio.run_coroutine_threadsafe(self.sim.close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def __enter__(self) -> SimHyperDash:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
