"""Counting how often this worker was asked to retry one request, so retries end.

A request whose handler says "retry" (its bank is unreachable) is nacked with requeue
and comes back with the broker's ``redelivered`` flag set. Counting in a header would
mean republishing the request, and a republished message carries the worker's broker
user, not the publisher's: the identity the policy judges would be lost. So each worker
counts the retries it asked for itself, keyed by the message's publisher, id and body.
A request is therefore tried at most ``max_attempts`` times per worker that sees it
(and a worker restart starts its count afresh): bounded, never endless.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Final

# More requests than this retrying at once on one worker is an outage, not a backlog to
# track precisely: the oldest counts are forgotten (those requests get a few more tries).
MAX_TRACKED: Final = 10_000


def attempt_key(body: bytes, message_id: str | None, user_id: str | None) -> str:
    """What identifies one request across its redeliveries."""
    return f"{user_id}\0{message_id}\0{hashlib.sha256(body).hexdigest()}"


class RequestAttempts:
    """Retries asked for per request, forgetting the oldest beyond ``limit``."""

    def __init__(self, limit: int = MAX_TRACKED) -> None:
        self.limit = limit
        self._counts: OrderedDict[str, int] = OrderedDict()

    def attempt(self, key: str) -> int:
        """The number of this redelivery: 1 more than the retries asked for so far."""
        return self._counts.get(key, 0) + 1

    def retried(self, key: str, attempt: int) -> None:
        """The delivery numbered ``attempt`` was sent back to be tried again."""
        self._counts[key] = attempt
        self._counts.move_to_end(key)
        while len(self._counts) > self.limit:
            self._counts.popitem(last=False)

    def settled(self, key: str) -> None:
        """The request was accepted or set aside: forget it."""
        self._counts.pop(key, None)

    def __len__(self) -> int:
        return len(self._counts)
