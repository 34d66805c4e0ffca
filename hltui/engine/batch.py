"""Per-item work in batches with bounded concurrency: partial results, never all-or-nothing.

Items (assets, accounts, pages) run `batch_size` at a time, at most `max_concurrency`
concurrently. An item that raises becomes an `ItemError` with its kind and reason; the
rest of its batch and the batches after it carry on. A `Gate` pauses between batches:
the batch in flight completes, the next one waits for `resume()`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from hltui.engine.events import ItemError

I = TypeVar("I")  # noqa: E741 - item
T = TypeVar("T")

MAX_REASON = 300


class Waitable(Protocol):
    async def wait(self) -> object: ...


class Gate:
    """Open unless paused; `wait()` returns at once when open, else at `resume()`."""

    def __init__(self) -> None:
        self._open = asyncio.Event()
        self._open.set()

    @property
    def paused(self) -> bool:
        return not self._open.is_set()

    def pause(self) -> None:
        self._open.clear()

    def resume(self) -> None:
        self._open.set()

    async def wait(self) -> None:
        await self._open.wait()


@dataclass(slots=True)
class ItemOutcome(Generic[I, T]):
    item: I
    value: T | None = None
    error: ItemError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(slots=True)
class BatchResult(Generic[I, T]):
    """Per-item outcomes in input order."""

    outcomes: list[ItemOutcome[I, T]] = field(default_factory=list)
    batches: int = 0

    @property
    def values(self) -> list[T]:
        return [o.value for o in self.outcomes if o.error is None]  # type: ignore[misc]

    @property
    def succeeded(self) -> list[tuple[I, T]]:
        return [(o.item, o.value) for o in self.outcomes if o.error is None]  # type: ignore[misc]

    @property
    def errors(self) -> list[ItemError]:
        return [o.error for o in self.outcomes if o.error is not None]

    @property
    def ok(self) -> int:
        return sum(1 for o in self.outcomes if o.error is None)

    @property
    def failed(self) -> int:
        return len(self.outcomes) - self.ok


def error_kind(exc: BaseException) -> str:
    """The ItemError kind of an exception (validation | http | timeout | ... | internal)."""
    kind = getattr(exc, "kind", None)
    if isinstance(kind, str):
        return kind
    from pydantic import ValidationError

    if isinstance(exc, ValidationError | ValueError | KeyError | TypeError | IndexError):
        return "validation"
    if isinstance(exc, TimeoutError):
        return "timeout"
    return "internal"


def item_error(source: str, item: str, exc: BaseException) -> ItemError:
    reason = " ".join(str(exc).split()) or type(exc).__name__
    if len(reason) > MAX_REASON:
        reason = reason[: MAX_REASON - 1] + "…"
    return ItemError(source=source, item=item, kind=error_kind(exc), message=reason)


def chunks(items: Sequence[I], size: int) -> Iterable[Sequence[I]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def run_batches(
    items: Sequence[I],
    fn: Callable[[I], Awaitable[T]],
    *,
    source: str,
    batch_size: int,
    max_concurrency: int,
    key: Callable[[I], str] = str,
    gate: Waitable | None = None,
) -> BatchResult[I, T]:
    """Apply `fn` to every item; return each item's value or its `ItemError`.

    Cancellation propagates (the cycle is being stopped); every other exception is
    captured for its item alone.
    """
    if batch_size < 1 or max_concurrency < 1:
        raise ValueError("batch_size and max_concurrency must be at least 1")
    result: BatchResult[I, T] = BatchResult()
    limit = asyncio.Semaphore(max_concurrency)

    async def one(item: I) -> ItemOutcome[I, T]:
        async with limit:
            try:
                return ItemOutcome(item, value=await fn(item))
            except Exception as exc:
                return ItemOutcome(item, error=item_error(source, key(item), exc))

    for batch in chunks(items, batch_size):
        if gate is not None:
            await gate.wait()
        result.outcomes.extend(await asyncio.gather(*(one(item) for item in batch)))
        result.batches += 1
    return result
