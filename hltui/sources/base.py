"""What the engine asks of a source job, and what it gets back.

A job fetches (sources/), validates and derives (process/), and returns points
plus per-item outcomes so a cycle keeps partial results.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from hltui.engine.events import ItemError
from hltui.process.records import Point


@dataclass(slots=True)
class MarketAsset:
    """The official market state of one asset this cycle (shared with later jobs)."""

    name: str
    mark_price: float
    oracle_price: float | None
    open_interest: float  # coins
    funding_rate: float  # hourly fraction
    max_leverage: int | None = None
    delisted: bool = False


@dataclass
class CycleContext:
    """Shared by all jobs in one cycle. `market` is filled by the hyperliquid job first."""

    cycle: int
    now_ms: int
    market: dict[str, MarketAsset] = field(default_factory=dict)
    log: Callable[[str, str], None] = lambda level, msg: None
    paused: Callable[[], bool] = lambda: False
    # engine.batch.Gate (or None): per-item work passes it to run_batches so a pause
    # lets the batch in flight finish and holds the next
    gate: Any = None


@dataclass
class JobResult:
    source: str
    points: list[Point] = field(default_factory=list)
    ok: int = 0  # items (assets/accounts/pages) that succeeded
    failed: int = 0
    errors: list[ItemError] = field(default_factory=list)
    # asset -> fields to merge into the dashboard's in-memory model
    assets: dict[str, dict[str, Any]] = field(default_factory=dict)
    globals: dict[str, Any] = field(default_factory=dict)


class SourceError(Exception):
    """A whole source call failed; `kind` is one of ItemError.kind values."""

    kind = "http"


class SourceJob(Protocol):
    name: str

    async def run(self, ctx: CycleContext) -> JobResult: ...

    async def close(self) -> None: ...


class Retryable(SourceError):
    """Marker: worth retrying (429, 5xx, timeouts, connection errors)."""


class RateLimited(Retryable):
    kind = "rate_limited"

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ServerError(Retryable):
    kind = "http"

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class SourceTimeout(Retryable):
    kind = "timeout"


class ConnectionFailed(Retryable):
    kind = "http"


class ClientHTTPError(SourceError):
    """4xx other than 429: a request we got wrong; never retried."""

    kind = "http"

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class BadPayload(SourceError):
    """The answer did not validate (non-JSON, HTML page, wrong types); never retried."""

    kind = "validation"


class Blocked(SourceError):
    """A browser challenge page or 403 from an anti-bot layer; treated as an outage."""

    kind = "blocked"
