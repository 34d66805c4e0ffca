"""How a browser-read source fails, told apart so the engine and the user can act.

A challenge page and a 403 are outages (`Blocked`, the breaker opens), a missing
browser is a setup problem (one line naming what to install and what to set), a
hung response is a timeout and a body that is not the expected JSON is a bad payload.
"""

from __future__ import annotations

from collections.abc import Mapping

from hltui.sources.base import (
    Blocked,
    ClientHTTPError,
    RateLimited,
    ServerError,
    SourceError,
)


class ChallengePage(Blocked):
    """An anti-bot interstitial ("Just a moment...", "verifying your browser")."""


class BrowserUnavailable(SourceError):
    """No usable Chromium: the message says what to install and which setting to set."""

    kind = "internal"


class BrowserCrashed(SourceError):
    """The browser or the page died mid-request; the manager relaunches next time."""

    kind = "internal"


# lower-case markers seen on Cloudflare and similar interstitials
CHALLENGE_MARKERS = (
    "just a moment",
    "verifying you are human",
    "verifying your browser",
    "checking your browser",
    "checking if the site connection is secure",
    "attention required",
    "cf-chl-",
    "challenge-platform",
    "enable javascript and cookies to continue",
)


def looks_like_challenge(headers: Mapping[str, str], title: str = "", text: str = "") -> bool:
    """True for an anti-bot challenge: Cloudflare's header or a known page marker."""
    lowered = {k.lower(): v for k, v in headers.items()}
    if lowered.get("cf-mitigated", "").lower() == "challenge":
        return True
    haystack = f"{title}\n{text[:4000]}".lower()
    return any(m in haystack for m in CHALLENGE_MARKERS)


def status_error(status: int, what: str, retry_after: str | None = None) -> SourceError | None:
    """The error for a non-2xx status of a page or an API response (None when fine)."""
    if status < 400:
        return None
    if status == 403:
        return Blocked(f"{what}: HTTP 403 Forbidden (refused by the site or its anti-bot layer)")
    if status == 429:
        try:
            after = float(retry_after) if retry_after else None
        except ValueError:
            after = None
        return RateLimited(f"{what}: HTTP 429 Too Many Requests", after)
    if status >= 500:
        return ServerError(f"{what}: HTTP {status}", status)
    hint = ""
    if status == 401:
        hint = " (API key refused: set HLTUI_HYPERDASH_API_KEY)"
    elif status == 404:
        hint = " (check HLTUI_HYPERDASH_URL / HLTUI_HYPERDASH_PAGE)"
    return ClientHTTPError(f"{what}: HTTP {status}{hint}", status)
