"""How long an operation may run: the request's ``deadline``, else its provider's, else
the default for its type.

The defaults are generous on purpose: a deadline is there to end what is stuck (a lost
message, a hung plugin, a dead worker nobody replaced), not to cut short a large job that
is making progress.

- **protect, restore: 24 hours.** A nightly backup must end before the next night's
  starts; a day covers several TiB at the rates a bank and a cloud's volume backups give.
- **verify: 24 hours.** With ``sample = 1`` it reads back everything a protect wrote.
- **delete: 6 hours.** It writes nothing and moves no data; it only lists and deletes.

The deadline is fixed at submission as an absolute time (``time.time()``), stored in the
operation's spec (a worker taking over arms the same one) and in its deadline entry (the
reaper's list of running operations).
"""

from __future__ import annotations

import time
from typing import Final

from plugins.phases import OperationType
from plugins.provider import Provider

HOUR: Final = 3600.0
DEFAULT_DEADLINES: Final[dict[OperationType, float]] = {
    "protect": 24 * HOUR, "restore": 24 * HOUR, "verify": 24 * HOUR, "delete": 6 * HOUR}


def deadline_seconds(operation: OperationType, requested: float | None,
                     provider: Provider) -> float:
    """Seconds an operation may run: the request's, else the provider's, else the default."""
    if requested is not None:
        return requested
    configured = provider.deadlines.for_operation(operation)
    return configured if configured is not None else DEFAULT_DEADLINES[operation]


def absolute_deadline(operation: OperationType, requested: float | None,
                      provider: Provider, *, now: float | None = None) -> float:
    """When (``time.time()`` seconds) an operation submitted ``now`` must have ended."""
    return (now if now is not None else time.time()) + deadline_seconds(
        operation, requested, provider)
