"""When the AMQP transport tries again, and how it counts the tries.

One module, so that the pauses are the same everywhere in the transport (and a test can
shorten them in one place).
"""

from __future__ import annotations

from aio_pika.abc import AbstractIncomingMessage

# a pause before a delivery or a binding is tried again (the connection's reconnect interval)
RETRY_DELAY = 1.0
# the longest pause before a request is tried again (they double from RETRY_DELAY)
MAX_RETRY_DELAY = 30.0


def delivery_count(delivery: AbstractIncomingMessage) -> int:
    """How many times the broker delivered this message before (quorum queues count)."""
    count = (delivery.headers or {}).get("x-delivery-count", 0)
    return count if isinstance(count, int) else 0
