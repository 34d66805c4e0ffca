"""The official info API client: one reused aiohttp session, a timeout on every call,
request weights charged to the shared budget, HTTP outcomes mapped to typed errors."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from hltui.engine.breaker import CircuitBreaker
from hltui.engine.retry import call_with_retry
from hltui.sources.base import (
    BadPayload,
    ClientHTTPError,
    ConnectionFailed,
    RateLimited,
    ServerError,
    SourceTimeout,
)
from hltui.sources.budget import WeightBudget, request_weight

USER_AGENT = "hltui/0.1 (+https://github.com/hltui)"


def _snippet(text: str, n: int = 60) -> str:
    text = " ".join(text.split())
    return text[:n] + ("..." if len(text) > n else "")


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def decode_json(body: bytes, what: str) -> Any:
    """Parse a JSON body or raise BadPayload saying what came instead."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        text = body.decode("utf-8", "replace")
        looks = "an HTML page" if text.lstrip()[:1] == "<" else "non-JSON text"
        raise BadPayload(f"{what}: answer is {looks}: {_snippet(text)!r}") from None


class InfoClient:
    """POST {base}/info. Created once per process; `close()` releases the session.

    Every attempt passes through `breaker` (one per source) and is retried by the
    engine's policy (`attempts`): 429 (waiting at least Retry-After), 5xx, timeouts
    and connection errors; never other 4xx or payloads that do not parse.
    """

    def __init__(self, base_url: str, timeout: float, budget: WeightBudget, *,
                 breaker: CircuitBreaker | None = None, attempts: int = 1,
                 on_retry: Callable[[BaseException, float, int], None] | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.budget = budget
        self.breaker = breaker
        self.attempts = attempts
        self.on_retry = on_retry
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                headers={"User-Agent": USER_AGENT},
            )
        return self._session

    async def info(self, body: dict[str, Any], reserve: int = 0) -> Any:
        """One info request; raises a SourceError subclass on anything but a JSON 200."""
        what = str(body.get("type"))

        async def attempt() -> Any:
            await self.budget.acquire(request_weight(body), reserve=reserve)
            return await self._guarded("POST", f"{self.base_url}/info", what, body)

        return await self._with_retry(attempt)

    async def get_json(self, url: str, what: str) -> Any:
        """GET a JSON document outside the info API (leaderboard)."""
        return await self._with_retry(lambda: self._guarded("GET", url, what, None))

    async def _with_retry(self, attempt: Callable[[], Awaitable[Any]]) -> Any:
        if self.attempts <= 1:
            return await attempt()
        return await call_with_retry(attempt, attempts=self.attempts, on_retry=self.on_retry)

    async def _guarded(self, method: str, url: str, what: str,
                       json_body: dict[str, Any] | None) -> Any:
        if self.breaker is None:
            return await self._request(method, url, what, json_body)
        return await self.breaker.call(self._request, method, url, what, json_body,
                                       wait_probe=True)

    async def _request(
        self, method: str, url: str, what: str, json_body: dict[str, Any] | None = None
    ) -> Any:
        try:
            async with self.session.request(method, url, json=json_body) as resp:
                body = await resp.read()
                status = resp.status
                retry_after = _retry_after(resp.headers.get("Retry-After"))
        except TimeoutError:
            raise SourceTimeout(f"{what}: no answer within {self.timeout:g}s") from None
        except aiohttp.ClientConnectionError as exc:
            raise ConnectionFailed(f"{what}: connection failed: {exc}") from None
        except aiohttp.ClientError as exc:
            raise ConnectionFailed(f"{what}: {type(exc).__name__}: {exc}") from None
        if status == 429:
            self.budget.penalize(retry_after or 1.0)
            raise RateLimited(f"{what}: rate limited (429)", retry_after)
        if status >= 400:
            text = _snippet(body.decode("utf-8", "replace"))
            if status >= 500:
                raise ServerError(f"{what}: server error {status}: {text!r}", status)
            raise ClientHTTPError(f"{what}: refused with {status}: {text!r}", status)
        return decode_json(body, what)

    async def stream(
        self,
        url: str,
        what: str,
        consume: Callable[[bytes], None],
        *,
        total_timeout: float | None = None,
        chunk_size: int = 1 << 16,
    ) -> int:
        """GET a large document (the leaderboard) and hand it to `consume` chunk by chunk,
        so it is never held whole in memory. Returns the bytes read.

        Not charged to the info-API weight budget (another host); a 429 here does not
        penalize it either. `sock_read` is the request timeout; `total_timeout` bounds
        the whole download (None: unbounded while data keeps arriving).
        """
        timeout = aiohttp.ClientTimeout(total=total_timeout, sock_connect=self.timeout,
                                        sock_read=self.timeout)
        size = 0
        try:
            async with self.session.get(url, timeout=timeout) as resp:
                if resp.status != 200:
                    body = await resp.content.read(4096)
                    text = _snippet(body.decode("utf-8", "replace"))
                    if resp.status == 429:
                        raise RateLimited(f"{what}: rate limited (429)",
                                          _retry_after(resp.headers.get("Retry-After")))
                    if resp.status >= 500:
                        raise ServerError(f"{what}: server error {resp.status}: {text!r}",
                                          resp.status)
                    raise ClientHTTPError(f"{what}: refused with {resp.status}: {text!r}",
                                          resp.status)
                async for chunk in resp.content.iter_chunked(chunk_size):
                    size += len(chunk)
                    consume(chunk)
        except TimeoutError:
            raise SourceTimeout(f"{what}: stalled or slower than the timeout") from None
        except aiohttp.ClientConnectionError as exc:
            raise ConnectionFailed(f"{what}: connection failed: {exc}") from None
        except aiohttp.ClientPayloadError as exc:
            raise ConnectionFailed(f"{what}: download cut short: {exc}") from None
        return size

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
