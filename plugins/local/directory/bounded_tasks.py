"""Running one coroutine per item with at most N at a time, failing like a plain call."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

T = TypeVar("T")


async def run_bounded(
    items: Iterable[T], handle: Callable[[T], Awaitable[None]], concurrency: int
) -> None:
    """Await ``handle(item)`` for every item, ``concurrency`` at a time.

    ``concurrency`` workers share one iterator rather than one task per item, so a tree
    of a million files costs a handful of tasks. The first failure cancels the rest and
    is re-raised as itself, not wrapped in an ``ExceptionGroup``, so callers and logs see
    the error that named the path.

    Raises:
        Exception: the first exception ``handle`` raised.
    """
    iterator = iter(items)

    async def worker() -> None:
        # next() is synchronous, so two workers on one loop never take the same item
        for item in iterator:
            await handle(item)

    failure: BaseException | None = None
    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(max(1, concurrency)):
                group.create_task(worker())
    except BaseExceptionGroup as failures:
        failure = _first_leaf(failures)
    if failure is not None:
        # raised outside the except block, so its own cause and traceback stay as they were
        raise failure


def _first_leaf(group: BaseExceptionGroup[BaseException]) -> BaseException:
    first = group.exceptions[0]
    while isinstance(first, BaseExceptionGroup):
        first = first.exceptions[0]
    return first
