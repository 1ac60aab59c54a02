"""A bound on the bytes a plugin's transfers hold at once on one worker.

Several images or volumes of one operation move at once (up to the plugin's
``max_concurrent_activities``); each holds a few chunks in memory. The budget caps their
sum: a transfer asks for a chunk's bytes before it fetches or reads it and gives them
back once the chunk has been handed on, waiting while the budget is spent. An asyncio
semaphore counted in bytes rather than in slots.

A request larger than the whole budget is granted as the whole budget (alone), so one
big chunk can never wait forever.
"""

from __future__ import annotations

import asyncio
from collections import deque


class ByteBudget:
    """At most ``limit`` bytes held at once; FIFO, so a large request is not starved."""

    def __init__(self, limit: int) -> None:
        if limit <= 0:
            raise ValueError(f"byte budget {limit} must be positive")
        self.limit = limit
        self.in_use = 0
        self.peak = 0
        self._waiters: deque[tuple[int, asyncio.Future[None]]] = deque()

    def _grant(self, size: int) -> int:
        return min(size, self.limit)

    async def acquire(self, size: int) -> None:
        """Wait until ``size`` bytes fit, then take them.

        Raises:
            CancelledError: if cancelled while waiting (nothing is taken).
        """
        size = self._grant(size)
        if not self._waiters and self.in_use + size <= self.limit:
            self._take(size)
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((size, waiter))
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.release(size)  # granted just as we were cancelled: give it back
            else:
                if (size, waiter) in self._waiters:
                    self._waiters.remove((size, waiter))
                self._wake()
            raise

    def release(self, size: int) -> None:
        """Give back ``size`` bytes taken by :meth:`acquire`."""
        self.in_use -= self._grant(size)
        self._wake()

    def _take(self, size: int) -> None:
        self.in_use += size
        self.peak = max(self.peak, self.in_use)

    def _wake(self) -> None:
        while self._waiters:
            size, waiter = self._waiters[0]
            if waiter.done():
                self._waiters.popleft()
                continue
            if self.in_use + size > self.limit:
                return
            self._waiters.popleft()
            self._take(size)
            waiter.set_result(None)


__all__ = ["ByteBudget"]
