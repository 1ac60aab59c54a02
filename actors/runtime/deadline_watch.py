"""Each worker's watch on the deadlines of the operations it holds.

When an operation's deadline passes, the worker holding any part of it sends ``Cancel``
with the reason ``deadline exceeded`` to the operation actor (wherever it lives; a
duplicate from another worker changes nothing), which stops the operation as for a user's
cancel. Every holder arms the timer, not only the worker that opened the operation: after
a takeover the operation actor may not be rebuilt until a message reaches it, and this is
that message. If even that is lost, the reaper ends the operation a lease period later
(``actors.runtime.operation_end``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import structlog

log = structlog.get_logger(__name__)

DeadlineCallback = Callable[[str], None]


class DeadlineWatch:
    """One timer per held operation with a deadline (``time.time()`` seconds)."""

    def __init__(self, on_deadline: DeadlineCallback) -> None:
        self._on_deadline = on_deadline
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._deadlines: dict[str, float] = {}

    def arm(self, operation_id: str, deadline: float | None) -> None:
        """Call back at ``deadline`` (at once if it has passed); None: no deadline."""
        self.disarm(operation_id)
        if deadline is None:
            return
        delay = max(0.0, deadline - time.time())
        self._deadlines[operation_id] = deadline
        self._timers[operation_id] = asyncio.get_running_loop().call_later(
            delay, self._fire, operation_id)

    def disarm(self, operation_id: str) -> None:
        """Forget an operation's deadline (it ended, or this worker let go of it)."""
        timer = self._timers.pop(operation_id, None)
        if timer is not None:
            timer.cancel()
        self._deadlines.pop(operation_id, None)

    def disarm_all(self) -> None:
        """Forget every deadline."""
        for operation_id in list(self._timers):
            self.disarm(operation_id)

    def overdue(self, grace: float) -> list[str]:
        """Operations whose deadline passed more than ``grace`` seconds ago."""
        now = time.time()
        return [op for op, deadline in self._deadlines.items() if now > deadline + grace]

    def _fire(self, operation_id: str) -> None:
        self._timers.pop(operation_id, None)  # stays in _deadlines: overdue() still sees it
        log.warning("operation_deadline_passed", operation_id=operation_id,
                    deadline=self._deadlines.get(operation_id))
        self._on_deadline(operation_id)
