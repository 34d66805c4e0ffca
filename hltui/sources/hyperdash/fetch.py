"""Load one asset's page and collect the JSON responses the page itself fetches.

No HTML is parsed for data: the collector listens to `page.on("response")`,
keeps the first-party JSON answers the protocol adapter recognises, and returns
them decoded. The rendered document is only looked at to tell a challenge page
from a slow one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from hltui.sources.base import BadPayload, ConnectionFailed, SourceError, SourceTimeout
from hltui.sources.hyperdash.errors import (
    BrowserCrashed,
    ChallengePage,
    looks_like_challenge,
    status_error,
)
from hltui.sources.hyperdash.protocols import UNKNOWN, Adapter

if TYPE_CHECKING:  # pragma: no cover
    from playwright.async_api import Page, Response, Route

API_KEY_HEADER = "x-api-key"
IN_PAGE_GRACE_S = 3.0  # an in-page navigation that starts no request by then was ignored
# what a router sees when the user goes to another ticker and back/forward: most SPA
# routers (and plain popstate listeners) fetch the new route's data; a router that
# prefers a hard navigation reloads, which is fine too: its JSON is read all the same
IN_PAGE_NAVIGATE = """(url) => {
  history.pushState(history.state, "", url);
  window.dispatchEvent(new PopStateEvent("popstate", {state: history.state}));
}"""


class InPageIgnored(Exception):
    """The page did not react to an in-page navigation: load the page instead."""


@dataclass(frozen=True, slots=True)
class SiteConfig:
    """Where the site lives and how long a page may take (from Settings)."""

    site_url: str
    page_template: str
    api_url: str | None
    timeout_s: float
    api_key: str | None = field(default=None, repr=False)  # a secret: never in logs

    @classmethod
    def from_settings(cls, settings: Any) -> SiteConfig:
        key = settings.hyperdash_api_key
        return cls(settings.hyperdash_url, settings.hyperdash_page, settings.hyperdash_api_url,
                   settings.hyperdash_page_timeout, key.get_secret_value() if key else None)

    def page_url(self, asset: str) -> str:
        path = self.page_template.format(asset=quote(asset, safe=""))
        return path if "://" in path else self.site_url.rstrip("/") + "/" + path.lstrip("/")

    def first_party(self, url: str) -> bool:
        """The site's own host (or a subdomain of it) or the configured API URL."""
        if self.api_url and url.startswith(self.api_url):
            return True
        host = (urlsplit(url).hostname or "").lower()
        site = (urlsplit(self.site_url).hostname or "").lower()
        return bool(host) and (host == site or host.endswith("." + site))


async def install_api_key(page: Page, site: SiteConfig, adapter: Adapter) -> None:
    """Send the configured key on the requests that need it (first-party only)."""
    if not site.api_key:
        return
    key = site.api_key

    async def add_key(route: Route) -> None:
        req = route.request
        if site.first_party(req.url) and adapter.needs_key(req.url, req.method, req.post_data):
            await route.continue_(headers={**req.headers, API_KEY_HEADER: key})
        else:
            await route.continue_()

    await page.route(lambda url: site.first_party(url), add_key)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


def _playwright_error(exc: BaseException, what: str) -> SourceError:
    msg = _first_line(exc)
    if "net::ERR_" in msg:
        code = msg[msg.index("net::ERR_"):].split()[0]
        return ConnectionFailed(f"{what}: {code}")
    if "closed" in msg.lower() or "crash" in msg.lower():
        return BrowserCrashed(f"{what}: {msg}")
    return SourceError(f"{what}: {msg}")


class _Collector:
    """Futures for the response kinds one asset needs, filled from response events."""

    def __init__(self, asset: str, adapter: Adapter, site: SiteConfig) -> None:
        loop = asyncio.get_running_loop()
        self.asset = asset
        self.adapter = adapter
        self.site = site
        self.futures = {k: loop.create_future() for k in adapter.kinds}
        self.tasks: set[asyncio.Task] = set()
        self.others: list[str] = []  # first-party JSON we did not recognise (diagnostics)
        self.requested = asyncio.Event()  # the page asked for one of our kinds

    def on_request(self, req: Any) -> None:
        if req.method == "OPTIONS" or not self.site.first_party(req.url):
            return
        if req.resource_type == "document" or (
                req.resource_type in ("fetch", "xhr")
                and self.adapter.match(req.url, req.method, req.post_data, self.asset)):
            self.requested.set()

    def label(self, kind: str) -> str:
        return f"{self.adapter.labels.get(kind, kind)} for {self.asset}"

    def on_response(self, resp: Response) -> None:
        req = resp.request
        if req.method == "OPTIONS" or req.resource_type not in ("fetch", "xhr"):
            return
        if not self.site.first_party(resp.url):
            return
        kind = self.adapter.match(resp.url, req.method, req.post_data, self.asset)
        if kind is None:
            self.others.append(urlsplit(resp.url).path)
            return
        if kind != UNKNOWN and self.futures[kind].done():
            return
        task = asyncio.ensure_future(self._read(resp, kind))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def fail_all(self, err: SourceError) -> None:
        for fut in self.futures.values():
            if not fut.done():
                fut.set_exception(err)

    def _settle(self, kind: str, value: Any = None, err: SourceError | None = None) -> None:
        fut = self.futures[kind]
        if fut.done():
            return
        if err is not None:
            fut.set_exception(err)
        else:
            fut.set_result(value)

    async def _read(self, resp: Response, kind: str) -> None:
        from playwright.async_api import Error as PlaywrightError

        label = self.label(kind) if kind != UNKNOWN else f"response for {self.asset}"
        try:
            body = await resp.body()
        except PlaywrightError as exc:
            if kind != UNKNOWN:
                self._settle(kind, err=_playwright_error(exc, f"{label}: reading the body"))
            return
        headers = resp.headers
        text_head = body[:4000].decode("utf-8", errors="replace")
        if resp.status >= 400 or "html" in headers.get("content-type", ""):
            if looks_like_challenge(headers, "", text_head):
                err: SourceError | None = ChallengePage(
                    f"{label}: anti-bot challenge ('verifying your browser') instead of JSON "
                    f"(HTTP {resp.status})")
            else:
                err = status_error(resp.status, label, headers.get("retry-after"))
            if err is not None:
                if kind == UNKNOWN:
                    kind = next((k for k, f in self.futures.items() if not f.done()), "")
                if kind:
                    self._settle(kind, err=err)
                return
        try:
            data = json.loads(body)
        except ValueError as exc:
            if kind == UNKNOWN:
                return
            where = getattr(exc, "msg", str(exc))
            pos = getattr(exc, "pos", None)
            self._settle(kind, err=BadPayload(
                f"{label}: body is not valid JSON ({where} at char {pos} of {len(body)}; "
                f"starts {text_head[:60]!r})"))
            return
        if kind == UNKNOWN:
            found = self.adapter.kind_from_body(data, self.asset)
            if found is None:
                return
            kind = found
        self._settle(kind, data)

    async def wait(self) -> dict[str, Any]:
        pending = set(self.futures.values())
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_EXCEPTION)
            for fut in done:
                if fut.exception() is not None:
                    raise fut.exception()  # type: ignore[misc]
        return {k: f.result() for k, f in self.futures.items()}

    def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        for fut in self.futures.values():
            if fut.done() and not fut.cancelled():
                fut.exception()  # mark retrieved: no "never retrieved" warnings
            else:
                fut.cancel()


async def _document_challenge(page: Page) -> bool:
    with contextlib.suppress(Exception):
        title = await page.title()
        text = await page.evaluate(
            "() => document.body ? document.body.innerText.slice(0, 4000) : ''")
        return looks_like_challenge({}, title, text)
    return False


async def fetch_asset(page: Page, asset: str, site: SiteConfig, adapter: Adapter, *,
                      in_page: bool = False) -> dict[str, Any]:
    """Show the asset on `page` and return {kind: decoded JSON} for every kind the
    protocol needs, read from the responses the page fetched.

    `in_page=False` loads the asset's page; `in_page=True` changes the route of the
    site page already shown (history navigation, no reload) and raises InPageIgnored
    when the page starts no request for it. Raises ChallengePage / Blocked,
    SourceTimeout, BadPayload, ConnectionFailed, BrowserCrashed.
    """
    from playwright.async_api import Error as PlaywrightError
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    url = site.page_url(asset)
    col = _Collector(asset, adapter, site)

    def on_crash(_: Any) -> None:
        col.fail_all(BrowserCrashed(f"page for {asset}: the renderer crashed"))

    def on_close(_: Any) -> None:
        col.fail_all(BrowserCrashed(f"page for {asset}: closed under us (browser gone)"))

    page.on("request", col.on_request)
    page.on("response", col.on_response)
    page.on("crash", on_crash)
    page.on("close", on_close)
    try:
        async with asyncio.timeout(site.timeout_s):
            if in_page:
                try:
                    await page.evaluate(IN_PAGE_NAVIGATE, url)
                except PlaywrightError as exc:
                    raise _playwright_error(exc, f"page for {asset}") from None
                try:
                    async with asyncio.timeout(min(IN_PAGE_GRACE_S, site.timeout_s / 2)):
                        await col.requested.wait()
                except TimeoutError:
                    raise InPageIgnored(url) from None
            else:
                try:
                    nav = await page.goto(url, wait_until="commit",
                                          timeout=site.timeout_s * 1000)
                except PlaywrightTimeout:
                    raise TimeoutError from None
                except PlaywrightError as exc:
                    raise _playwright_error(exc, f"page {url}") from None
                if nav is not None:
                    await _check_document(page, nav, url)
            return await col.wait()
    except TimeoutError:
        if await _document_challenge(page):
            raise ChallengePage(f"page for {asset}: anti-bot challenge ('verifying your "
                                f"browser') at {url}") from None
        missing = [adapter.labels[k] for k, f in col.futures.items() if not f.done()]
        hint = ""
        if col.others:
            hint = f"; the page fetched other JSON: {', '.join(sorted(set(col.others))[:3])}"
        raise SourceTimeout(f"page for {asset}: no {' / '.join(missing) or 'answer'} "
                            f"within {site.timeout_s:g}s ({url}){hint}") from None
    finally:
        page.remove_listener("request", col.on_request)
        page.remove_listener("response", col.on_response)
        page.remove_listener("crash", on_crash)
        page.remove_listener("close", on_close)
        col.close()


async def _check_document(page: Page, nav: Response, url: str) -> None:
    """The page itself: a challenge or an error status stops here, before any JSON."""
    headers = nav.headers
    if nav.status < 400 and headers.get("cf-mitigated", "").lower() != "challenge":
        return
    with contextlib.suppress(Exception):
        await page.wait_for_load_state("domcontentloaded", timeout=5000)
    title, text = "", ""
    with contextlib.suppress(Exception):
        title = await page.title()
        text = await page.evaluate(
            "() => document.body ? document.body.innerText.slice(0, 4000) : ''")
    if looks_like_challenge(headers, title, text):
        raise ChallengePage(f"page {url}: anti-bot challenge ('verifying your browser', "
                            f"HTTP {nav.status}, title {title[:40]!r})")
    err = status_error(nav.status, f"page {url}", headers.get("retry-after"))
    if err is not None:
        raise err
