"""The InfluxDB v1-compatible HTTP API (`/ping`, `/write`, `/query`) over aiohttp.

Served natively by 1.x, by 2.x through its v1 compatibility API (token auth, DBRP
mappings) and by 3.x, so one code path covers every version. This module maps
HTTP outcomes to the store's errors:

- connection refused, timeout, 5xx                  -> StoreUnavailable (spool, retry)
- 400/422 on /write (partial write)                 -> WriteResult with the refused lines
- 401/403/404 and other 4xx, statement errors       -> StoreRejected (tell the user what to do)

The token and password are sent in headers only and never appear in messages.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from hltui.store.base import StoreRejected, StoreUnavailable, WriteResult

_DROPPED = re.compile(r"dropped=(\d+)")


class WriteInterrupted(StoreUnavailable):
    """The store went away part-way through a multi-batch write.

    `written` lines were acknowledged; `pending` were not (write them again later:
    a rewrite of the same series and timestamp is idempotent).
    """

    def __init__(self, message: str, written: int, pending: list[str],
                 rejected: list[tuple[str, str]]) -> None:
        super().__init__(message)
        self.written = written
        self.pending = pending
        self.rejected = rejected


class QueryError(StoreRejected):
    """InfluxDB answered a query with a statement error."""


def _error_text(body: str) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return body.strip()[:500]
    if isinstance(data, dict) and "error" in data:
        return str(data["error"])
    if isinstance(data, dict) and "message" in data:  # 2.x style
        return str(data["message"])
    return body.strip()[:500]


class InfluxHTTP:
    """A thin async client for the v1 API. One aiohttp session, reused."""

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._headers: dict[str, str] = {}
        self._auth: Any = None
        self._token = token
        self._username = username
        self._password = password
        self._session: Any = None

    # -- session -----------------------------------------------------------
    async def start(self) -> None:
        import aiohttp

        if self._session is not None and not self._session.closed:
            return
        if self._token:
            self._headers["Authorization"] = f"Token {self._token}"
        elif self._username:
            self._auth = aiohttp.BasicAuth(self._username, self._password or "")
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.timeout),
            headers=self._headers,
            auth=self._auth,
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def __repr__(self) -> str:  # never show credentials
        return f"InfluxHTTP({self.url!r})"

    async def _request(self, method: str, path: str, **kw: Any) -> tuple[int, str, Any]:
        import aiohttp

        if self._session is None:
            await self.start()
        try:
            async with self._session.request(method, self.url + path, **kw) as resp:
                body = await resp.text(errors="replace")
                return resp.status, body, resp.headers
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
            raise StoreUnavailable(f"InfluxDB at {self.url} is unreachable: "
                                   f"{type(exc).__name__}: {exc}") from None
        except TimeoutError:
            raise StoreUnavailable(f"InfluxDB at {self.url} did not answer within "
                                   f"{self.timeout:g} s") from None
        except aiohttp.ClientError as exc:
            raise StoreUnavailable(f"InfluxDB at {self.url}: {type(exc).__name__}: "
                                   f"{exc}") from None

    # -- endpoints ---------------------------------------------------------
    async def ping(self) -> str:
        """The server version from `X-Influxdb-Version` ('' if absent)."""
        status, body, headers = await self._request("GET", "/ping")
        if status >= 500:
            raise StoreUnavailable(f"InfluxDB /ping answered HTTP {status}")
        if status in (401, 403):
            raise StoreRejected(self._auth_message(status, _error_text(body)))
        if status >= 400:
            raise StoreRejected(f"InfluxDB /ping answered HTTP {status}: {_error_text(body)}")
        return headers.get("X-Influxdb-Version", "") or ""

    async def query(self, q: str, db: str | None = None) -> list[dict[str, Any]]:
        """Run InfluxQL (POST, epoch=ms); returns the `results` list.
        A statement error raises QueryError."""
        data = {"q": q, "epoch": "ms"}
        if db:
            data["db"] = db
        status, body, _ = await self._request("POST", "/query", data=data)
        if status >= 500:
            raise StoreUnavailable(f"InfluxDB /query answered HTTP {status}: "
                                   f"{_error_text(body)}")
        if status in (401, 403):
            raise StoreRejected(self._auth_message(status, _error_text(body)))
        if status >= 400:
            raise QueryError(f"InfluxDB refused the query (HTTP {status}): {_error_text(body)}")
        try:
            results = json.loads(body).get("results", [])
        except (ValueError, AttributeError):
            raise StoreUnavailable(f"InfluxDB /query answered non-JSON: {body[:200]!r}") from None
        for res in results:
            if "error" in res:
                raise QueryError(f"InfluxDB: {res['error']}")
        return results

    async def write_lines(self, lines: Sequence[str], db: str, rp: str | None,
                          batch_size: int = 5000) -> WriteResult:
        """Write line protocol (ms precision) in batches; partial writes are resolved
        line by line. Raises StoreUnavailable/WriteInterrupted/StoreRejected."""
        result = WriteResult(0)
        lines = list(lines)
        for i in range(0, len(lines), batch_size):
            batch = lines[i : i + batch_size]
            try:
                got = await self._write_resolving(batch, db, rp)
            except StoreUnavailable as exc:
                if result.written == 0 and not result.rejected:
                    raise
                raise WriteInterrupted(str(exc), result.written, lines[i:],
                                       result.rejected) from None
            result.written += got.written
            result.rejected.extend(got.rejected)
        return result

    async def _post_write(self, lines: Sequence[str], db: str,
                          rp: str | None) -> tuple[int, str]:
        params = {"db": db, "precision": "ms"}
        if rp:
            params["rp"] = rp
        body = ("\n".join(lines)).encode("utf-8")
        status, text, _ = await self._request("POST", "/write", params=params, data=body)
        return status, text

    async def _write_resolving(self, lines: Sequence[str], db: str,
                               rp: str | None) -> WriteResult:
        status, text = await self._post_write(lines, db, rp)
        if status in (200, 204):
            return WriteResult(len(lines))
        err = _error_text(text)
        if status in (400, 422):
            return await self._resolve_partial(lines, db, rp, err)
        if status == 413 and len(lines) > 1:
            mid = len(lines) // 2
            a = await self._write_resolving(lines[:mid], db, rp)
            b = await self._write_resolving(lines[mid:], db, rp)
            return WriteResult(a.written + b.written, a.rejected + b.rejected)
        raise self._status_error(status, err, db, rp)

    async def _resolve_partial(self, lines: Sequence[str], db: str, rp: str | None,
                               err: str) -> WriteResult:
        """Find which lines the server refused: from the error text when it names
        them (parse errors), else by bisection (rewrites are idempotent)."""
        if len(lines) == 1:
            return WriteResult(0, [(lines[0], err)])
        m = _DROPPED.search(err)
        if m and int(m.group(1)) == len(lines) and "unable to parse" not in err:
            return WriteResult(0, [(line, err) for line in lines])
        if err.startswith("partial write: unable to parse") and m and m.group(1) == "0":
            bad = [line for line in lines if f"unable to parse '{line}': " in err]
            if bad:
                reasons = {line: _parse_reason(err, line) for line in bad}
                return WriteResult(len(lines) - len(bad), [(b, reasons[b]) for b in bad])
        mid = len(lines) // 2
        out = WriteResult(0)
        for half in (lines[:mid], lines[mid:]):
            status, text = await self._post_write(half, db, rp)
            if status in (200, 204):
                out.written += len(half)
                continue
            herr = _error_text(text)
            if status not in (400, 422):
                raise self._status_error(status, herr, db, rp)
            sub = await self._resolve_partial(half, db, rp, herr)
            out.written += sub.written
            out.rejected.extend(sub.rejected)
        return out

    # -- messages ----------------------------------------------------------
    def _auth_message(self, status: int, err: str) -> str:
        how = ("check HLTUI_INFLUX_TOKEN (a token with read/write access to the buckets)"
               if self._token else
               "check HLTUI_INFLUX_USERNAME / HLTUI_INFLUX_PASSWORD" if self._username else
               "the server requires authentication: set HLTUI_INFLUX_TOKEN (2.x/3.x) or "
               "HLTUI_INFLUX_USERNAME and HLTUI_INFLUX_PASSWORD (1.x)")
        return f"InfluxDB at {self.url} refused the credentials (HTTP {status}: {err}); {how}"

    def _status_error(self, status: int, err: str, db: str, rp: str | None) -> Exception:
        low = err.lower()
        if "retention policy not found" in low:
            return StoreRejected(
                f"InfluxDB has no retention policy {rp!r} in database {db!r} ({err}); "
                "hltui creates it at start when the user may (admin on 1.x), or create it: "
                f'CREATE RETENTION POLICY "{rp}" ON "{db}" DURATION 7d REPLICATION 1')
        if status in (401, 403):
            return StoreRejected(self._auth_message(status, err))
        if status == 404:
            return StoreRejected(
                f"InfluxDB has no database/bucket {db!r} ({err}); hltui creates it at start "
                "when allowed: on 1.x give the user admin rights or run "
                f'CREATE DATABASE "{db}"; on 2.x create buckets "{db}/raw" and '
                f'"{db}/compressed" with DBRP mappings (see docs/storage.md)')
        if status >= 500:
            return StoreUnavailable(f"InfluxDB answered HTTP {status}: {err}")
        return StoreRejected(f"InfluxDB refused the write (HTTP {status}): {err}")


def _parse_reason(err: str, line: str) -> str:
    start = err.find(f"unable to parse '{line}': ")
    rest = err[start + len(f"unable to parse '{line}': "):]
    for stop in ("\n", " dropped="):
        cut = rest.find(stop)
        if cut >= 0:
            rest = rest[:cut]
    return f"unable to parse: {rest}"

