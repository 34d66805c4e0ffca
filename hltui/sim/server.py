"""The simulated exchange over real HTTP (aiohttp.web on 127.0.0.1).

`POST {url}/info` answers like HyperLiquid's info API (SOURCES.md §1), weighted and
rate limited like the real one; `GET {url}/Mainnet/leaderboard` serves the
leaderboard. Control endpoints for tests and subprocesses live under `/_sim/`:
`GET|POST /_sim/faults`, `GET|DELETE /_sim/stats`, `GET /_sim/served?last=N`,
`POST /_sim/accounts` ({"vanish": n} | {"vanish_fraction": f} | {"restore": true}).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import threading
from collections.abc import Callable
from typing import Any

from aiohttp import web

from hltui.sim import faults as F
from hltui.sim import history
from hltui.sim.accounts import AccountBook
from hltui.sim.market import Clock, Market
from hltui.sim.ratelimit import (
    LIMIT,
    WINDOW_S,
    SimStats,
    SlidingWindow,
    base_weight,
    extra_weight,
    retry_after_header,
)

DESERIALIZE = "Failed to deserialize the JSON body into the target type: "
ADDRESS_RE = re.compile(r"0x[0-9a-fA-F]{40}")
NO_FIELDS = ("meta", "metaAndAssetCtxs", "predictedFundings", "allMids")
KNOWN_TYPES = (*NO_FIELDS, "fundingHistory", "candleSnapshot", "clearinghouseState", "l2Book")
HTML_PAGE = (
    "<!DOCTYPE html>\n<html><head><title>503 Service Temporarily Unavailable</title></head>"
    "<body><center><h1>503 Service Temporarily Unavailable</h1></center><hr>"
    "<center>cloudfront</center></body></html>\n"
)
MALFORMED = '[{"universe":[{"szDecimals":5,"name":"BTC","maxLeverage":40},{"szDeci'


class BadRequest(ValueError):
    """A body the real API would refuse with 422 (text/plain)."""


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def _int_field(body: dict[str, Any], key: str, required: bool = True) -> int | None:
    v = body.get(key)
    if v is None:
        if required:
            raise BadRequest(f"missing field `{key}`")
        return None
    if not isinstance(v, int) or isinstance(v, bool) or v < 0:
        raise BadRequest(f"{key}: invalid type: expected u64")
    return v


def _str_field(body: dict[str, Any], key: str) -> str:
    v = body.get(key)
    if v is None:
        raise BadRequest(f"missing field `{key}`")
    if not isinstance(v, str):
        raise BadRequest(f"{key}: invalid type: expected a string")
    return v


def parse_body(raw: bytes) -> dict[str, Any]:
    """The request body, checked as strictly as the real deserializer does."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise BadRequest(f"expected value: {e}") from None
    if not isinstance(body, dict):
        raise BadRequest("invalid type: expected internally tagged enum InfoRequest")
    t = body.get("type")
    if not isinstance(t, str):
        raise BadRequest("missing field `type`")
    if t not in KNOWN_TYPES:
        raise BadRequest(f"type: unknown variant `{t}`, expected one of "
                         + ", ".join(f"`{k}`" for k in KNOWN_TYPES))
    if t == "fundingHistory":
        _str_field(body, "coin")
        start, end = _int_field(body, "startTime"), _int_field(body, "endTime", False)
        if end is not None and start is not None and end < start:
            raise BadRequest("endTime before startTime")
    elif t == "candleSnapshot":
        req = body.get("req")
        if not isinstance(req, dict):
            raise BadRequest("missing field `req`")
        _str_field(req, "coin")
        if _str_field(req, "interval") not in history.INTERVALS_MS:
            raise BadRequest(f"req.interval: unknown variant `{req['interval']}`")
        _int_field(req, "startTime")
        _int_field(req, "endTime")
    elif t == "clearinghouseState":
        if not ADDRESS_RE.fullmatch(_str_field(body, "user")):
            raise BadRequest("user: invalid address")
    elif t == "l2Book":
        _str_field(body, "coin")
    return body


class SimExchange:
    """One simulated exchange: market, accounts, rate limit, faults, HTTP server."""

    def __init__(
        self,
        seed: int = 7,
        n_assets: int = 230,
        n_accounts: int = 500,
        *,
        awkward: bool = True,
        unstorable: bool = False,
        weight_limit: int = LIMIT,
        window_s: float = WINDOW_S,
        clock: Clock | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        market: Market | None = None,
        book: AccountBook | None = None,
        setup_app: Callable[[web.Application], None] | None = None,
    ) -> None:
        self.market = market or Market(seed=seed, n_assets=n_assets, awkward=awkward,
                                       unstorable=unstorable, clock=clock)
        self._book = book
        self._n_accounts = n_accounts
        self.window = SlidingWindow(weight_limit, window_s)
        self.stats = SimStats()
        self.faults = F.Faults()
        self.host = host
        self._port = port
        self._setup_app = setup_app
        self._runner: web.AppRunner | None = None
        self._closing: asyncio.Event | None = None
        self._leaderboard: bytes | None = None

    @property
    def book(self) -> AccountBook:
        """Built on first use: most demo runs never sample accounts (saves ~0.2 s at start)."""
        if self._book is None:
            self._book = AccountBook(self.market, n_accounts=self._n_accounts)
        return self._book

    # -- lifecycle ----------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._runner is None:
            raise RuntimeError("SimExchange is not started")
        return self._port

    @property
    def url(self) -> str:
        """Base URL: POST {url}/info."""
        return f"http://{self.host}:{self.port}"

    @property
    def info_url(self) -> str:
        return f"{self.url}/info"

    @property
    def leaderboard_url(self) -> str:
        return f"{self.url}/Mainnet/leaderboard"

    @property
    def weight_log(self) -> list[tuple[float, int]]:
        return list(self.stats.weight_log)

    def build_app(self) -> web.Application:
        app = web.Application(client_max_size=1 << 20)
        app.router.add_post("/info", self._info)
        app.router.add_get("/Mainnet/leaderboard", self._leaderboard_get)
        app.router.add_get("/_sim/faults", self._faults_get)
        app.router.add_post("/_sim/faults", self._faults_post)
        app.router.add_get("/_sim/stats", self._stats_get)
        app.router.add_delete("/_sim/stats", self._stats_delete)
        app.router.add_get("/_sim/served", self._served_get)
        app.router.add_post("/_sim/accounts", self._accounts_post)
        if self._setup_app is not None:
            self._setup_app(app)
        return app

    async def start(self) -> SimExchange:
        self._closing = asyncio.Event()
        runner = web.AppRunner(self.build_app(), access_log=None, shutdown_timeout=0.5,
                               handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self._port)
        await site.start()
        self._runner = runner
        sockets = site._server.sockets if site._server else ()  # type: ignore[union-attr]
        self._port = sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._closing is not None:
            self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> SimExchange:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- helpers ------------------------------------------------------------------------
    def _respond(self, status: int, body: bytes | str, content_type: str,
                 headers: dict[str, str] | None = None) -> web.Response:
        self.stats.status(status)
        data = body.encode() if isinstance(body, str) else body
        return web.Response(status=status, body=data, content_type=content_type,
                            charset="utf-8", headers=headers)

    def _json(self, payload: Any, status: int = 200) -> web.Response:
        return self._respond(status, _dumps(payload), "application/json")

    async def _hang(self, seconds: float) -> None:
        assert self._closing is not None
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._closing.wait(), seconds)

    async def _transport_fault(self, req_type: str) -> web.Response | None:
        """Delay faults, then answer-instead faults; None when the request goes through."""
        delay = self.faults.take(req_type, F.DELAY)
        if delay is not None:
            self.stats.fault(delay.name)
            await self._hang(float(delay.params["seconds"]))
        f = self.faults.take(req_type, F.TRANSPORT)
        if f is None:
            return None
        self.stats.fault(f.name)
        if f.name == "rate_limit":
            return self._respond(429, "null", "application/json",
                                 {"Retry-After": str(f.params["retry_after"])})
        if f.name == "http500":
            return self._respond(500, "null", "application/json")
        if f.name == "http502":
            return self._respond(502, "<html><body><h1>502 Bad Gateway</h1></body></html>",
                                 "text/html")
        if f.name == "malformed":
            return self._respond(200, MALFORMED, "application/json")
        return self._respond(int(f.params["status"]), HTML_PAGE, "text/html")  # html

    def _payload_transform(self, req_type: str) -> Callable[[Any], Any] | None:
        steps: list[Callable[[Any], Any]] = []
        for name in F.PAYLOAD:
            f = self.faults.take(req_type, (name,))
            if f is None:
                continue
            self.stats.fault(name)
            p = f.params
            if name == "wrong_types":
                steps.append(F.to_numbers if p["mode"] == "numbers" else F.first_list_to_object)
            elif name == "misaligned":
                steps.append(lambda x, d=p["drop"]: F.misalign(x, d))
            else:
                steps.append(lambda x, p=p: F.bad_asset(x, p["asset"], p["field"], p["value"]))
        if not steps:
            return None

        def apply(payload: Any) -> Any:
            for s in steps:
                payload = s(payload)
            return payload

        return apply

    # -- /info --------------------------------------------------------------------------
    def _produce(self, body: dict[str, Any], transform: Callable[[Any], Any] | None
                 ) -> tuple[Any, int]:
        """(payload, items counted for extra weight)."""
        t = body["type"]
        m = self.market
        if t == "metaAndAssetCtxs":
            return m.serve_meta_and_asset_ctxs(transform), 0
        if t == "meta":
            payload: Any = m.meta()
        elif t == "predictedFundings":
            payload = m.predicted_fundings()
        elif t == "allMids":
            payload = m.all_mids()
        elif t == "l2Book":
            payload = m.l2_book(body["coin"])
        elif t == "clearinghouseState":
            payload = self.book.clearinghouse_state(body["user"])
        elif t == "fundingHistory":
            payload = history.funding_history(m, body["coin"], body["startTime"],
                                              body.get("endTime"))
        elif t == "candleSnapshot":
            r = body["req"]
            payload = history.candle_snapshot(m, r["coin"], r["interval"], r["startTime"],
                                              r["endTime"])
        else:  # pragma: no cover - parse_body refused it
            raise BadRequest(f"unknown type {t}")
        n_items = len(payload) if isinstance(payload, list) else 0
        return (transform(payload) if transform else payload), n_items

    async def _info(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            body = parse_body(raw)
        except BadRequest as e:
            self.stats.request("<invalid>")
            return self._respond(422, DESERIALIZE + str(e), "text/plain")
        t = body["type"]
        self.stats.request(t)
        answered = await self._transport_fault(t)
        if answered is not None:
            if answered.status != 429:
                self._charge(base_weight(t))
            return answered
        weight = base_weight(t)
        wait = self.window.retry_after(weight)
        if wait is not None:
            return self._respond(429, "null", "application/json",
                                 {"Retry-After": retry_after_header(wait)})
        payload, n_items = self._produce(body, self._payload_transform(t))
        self._charge(weight + extra_weight(t, n_items))
        return self._json(payload)

    def _charge(self, weight: int) -> None:
        t, in_window = self.window.charge(weight)
        self.stats.weight(t, weight, in_window)

    # -- leaderboard --------------------------------------------------------------------
    async def _leaderboard_get(self, request: web.Request) -> web.Response:
        self.stats.request(F.LEADERBOARD)
        answered = await self._transport_fault(F.LEADERBOARD)
        if answered is not None:
            return answered
        transform = self._payload_transform(F.LEADERBOARD)
        if transform is not None:
            return self._json(transform(self.book.leaderboard()))
        if self._leaderboard is None:
            self._leaderboard = _dumps(self.book.leaderboard())
        return self._respond(200, self._leaderboard, "application/json")

    # -- control ------------------------------------------------------------------------
    async def _faults_get(self, request: web.Request) -> web.Response:
        return web.json_response(self.faults.active())

    async def _faults_post(self, request: web.Request) -> web.Response:
        try:
            self.faults.set_from_json(json.loads(await request.read()))
        except (ValueError, TypeError) as e:
            return web.Response(status=400, text=str(e))
        return web.json_response(self.faults.active())

    async def _stats_get(self, request: web.Request) -> web.Response:
        d = self.stats.to_dict()
        d["window_weight"] = self.window.used()
        d["weight_limit"] = self.window.limit
        d["window_s"] = self.window.window_s
        d["steps"] = self.market.steps
        return web.json_response(d)

    async def _stats_delete(self, request: web.Request) -> web.Response:
        self.stats.reset()
        self.window.reset()
        return web.json_response({"reset": True})

    async def _served_get(self, request: web.Request) -> web.Response:
        served = self.market.served
        last = request.query.get("last")
        if last is not None:
            if not last.isdigit():
                return web.Response(status=400, text="last must be a non-negative integer")
            served = served[len(served) - int(last):] if int(last) else []
        body = [{"served_at_ms": ts, "payload": p} for ts, p in served]
        return web.Response(body=_dumps(body), content_type="application/json",
                            charset="utf-8")

    async def _accounts_post(self, request: web.Request) -> web.Response:
        try:
            spec = json.loads(await request.read())
            if not isinstance(spec, dict):
                raise ValueError("expected a JSON object")
            if spec.get("restore"):
                self.book.restore()
            vanished: list[str] = []
            if "vanish" in spec:
                vanished = self.book.vanish(count=int(spec["vanish"]))
            if "vanish_fraction" in spec:
                vanished = self.book.vanish(fraction=float(spec["vanish_fraction"]))
        except (ValueError, TypeError) as e:
            return web.Response(status=400, text=str(e))
        return web.json_response({"vanished": vanished,
                                  "vanished_total": len(self.book.vanished)})


class SimExchangeThread:
    """The same server on its own event loop in a background thread (sync tests)."""

    def __init__(self, **kwargs: Any) -> None:
        self.sim = SimExchange(**kwargs)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._stop: asyncio.Event | None = None

    def __getattr__(self, name: str) -> Any:  # market, book, faults, stats, window, ...
        if name == "sim":
            raise AttributeError(name)
        return getattr(self.sim, name)

    @property
    def url(self) -> str:
        return self.sim.url

    @property
    def leaderboard_url(self) -> str:
        return self.sim.leaderboard_url

    def start(self, timeout: float = 10.0) -> SimExchangeThread:
        self._thread = threading.Thread(target=self._run, name="sim-exchange", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("simulated exchange did not start in time")
        if self._error is not None:
            raise RuntimeError(f"simulated exchange failed to start: {self._error}")
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        finally:
            loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        try:
            await self.sim.start()
        except BaseException as e:
            self._error = e
            self._ready.set()
            return
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await self.sim.stop()

    def stop(self, timeout: float = 10.0) -> None:
        if self._loop is not None and self._stop is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def __enter__(self) -> SimExchangeThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
