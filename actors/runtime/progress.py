"""Rate-limited progress events for data-moving activities."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from actors.transport.base import Transport
from actors.wire.events import ActivityProgress


class ProgressReporter:
    """Turns ``context.progress(done, total)`` calls into at most one event per interval.

    Plugins may call it from a worker thread (a generator step, a plain function): the
    event is handed to the loop thread-safely.
    """

    __slots__ = ("_fields", "_interval", "_last", "_last_sent", "_loop", "_tasks", "_transport")

    def __init__(self, transport: Transport, fields: dict[str, Any], interval: float) -> None:
        self._transport = transport
        self._fields = fields
        self._interval = interval
        self._loop = asyncio.get_running_loop()
        self._last: tuple[int, int | None] | None = None
        self._last_sent = 0.0
        # the loop holds tasks weakly: an unreferenced publish could vanish mid-flight
        self._tasks: set[asyncio.Task[None]] = set()

    def __call__(self, done: int, total: int | None = None) -> None:
        self._last = (done, total)
        now = time.monotonic()
        if now - self._last_sent >= self._interval:
            self._last_sent = now
            self._emit(done, total)

    @property
    def done(self) -> int:
        """The last ``done`` reported (bytes moved so far), 0 if none was."""
        return self._last[0] if self._last is not None else 0

    def finish(self) -> None:
        """Send the last reported value, so subscribers see the final count."""
        if self._last is not None:
            self._last_sent = time.monotonic()
            self._emit(*self._last)

    def _emit(self, done: int, total: int | None) -> None:
        event = ActivityProgress(**self._fields, bytes_done=done, bytes_total=total)
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._spawn(event)
        else:
            self._loop.call_soon_threadsafe(self._spawn, event)

    def _spawn(self, event: ActivityProgress) -> None:
        task = self._loop.create_task(self._transport.publish(event))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
