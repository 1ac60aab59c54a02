"""Names and placement rules of the RabbitMQ topology; no broker code here.

    <ns>.requests.in        fanout exchange -> <ns>.requests: where clients publish requests
                            (a publisher's broker user needs write on this exchange only,
                            never on the default exchange, which reaches every queue)
    <ns>.requests           quorum queue: operation requests as JSON, from any AMQP client;
                            at most ``max_queued_requests`` (the oldest overflow, and a request
                            delivered ``REQUEST_DELIVERY_LIMIT`` times, go to <ns>.requests.dead)
    <ns>.requests.dead      bounded queue (drop-head): requests that could not be carried out,
                            with the reason in the ``x-strongbox-reason`` header (or the
                            broker's ``x-first-death-reason``: ``maxlen``, ``delivery_limit``)
    <ns>.actors             direct exchange, routing key ``shard.<n>``
    <ns>.actors.shard.<n>   quorum queues with single-active-consumer and a delivery limit:
                            one worker drives a shard (and so every actor hashed to it) at a
                            time; the broker hands the shard to another worker when that one
                            dies
    <ns>.dead               fanout exchange -> <ns>.dead bounded queue (drop-head): actor
                            messages we cannot decode or that failed ``MAX_HANDLER_ATTEMPTS``
                            times, with the reason in ``x-strongbox-reason``
    <ns>.events             topic exchange, routing key ``<operation>.<resource type>.<state>``

See docs/messaging.md for the diagram and the reasons.
"""

from __future__ import annotations

import zlib
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

ORIGIN_HEADER: Final = "x-strongbox-origin"
REASON_HEADER: Final = "x-strongbox-reason"
WORKER_HEADER: Final = "x-strongbox-worker"
# who published a dead-lettered request: its user_id, which the broker checked when it
# arrived; the worker republishes it as itself, so the property would name the worker
PUBLISHER_HEADER: Final = "x-strongbox-publisher"
# a Keystone token for requests to OpenStack providers; stripped before a dead letter
AUTH_TOKEN_HEADER: Final = "x-strongbox-auth-token"
DEFAULT_NAMESPACE: Final = "strongbox"
ATTEMPTS_HEADER: Final = "x-strongbox-attempts"
DEFAULT_SHARDS: Final = 16

# The broker's own bound on deliveries of one actor message (a worker dying while it holds
# it counts too). Workers give up earlier, after ``MAX_HANDLER_ATTEMPTS`` handler failures,
# and fail the operation; this catches a message that kills every worker it reaches.
SHARD_DELIVERY_LIMIT: Final = 20
# A request is delivered again while its bank is unreachable (with a growing delay, up to
# 30 s: about eight minutes in all) and when a worker dies holding it.
REQUEST_DELIVERY_LIMIT: Final = 20
# Requests waiting for a worker; a flood beyond this pushes the oldest into
# <ns>.requests.dead instead of raising the broker's memory alarm, which would stop every
# publisher, the workers' actor messages included.
MAX_QUEUED_REQUESTS: Final = 10_000
MAX_QUEUED_REQUEST_BYTES: Final = 256 << 20
# Dead letters are for an operator to look at, not to keep forever: the oldest go first.
MAX_DEAD_LETTERS: Final = 10_000
MAX_DEAD_LETTER_BYTES: Final = 64 << 20


def redact_url(url: str) -> str:
    """The broker URL without its password, for logs and errors."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def shard_of(operation_id: str, node: int, shards: int) -> int:
    """The shard an actor lives on: stable across processes and restarts."""
    return zlib.crc32(f"{operation_id}:{node}".encode()) % shards


def dead_letters(namespace: str) -> str:
    """The exchange, and its queue, of actor messages set aside (with their reason)."""
    return f"{namespace}.dead"


def shard_queue(namespace: str, shard: int) -> str:
    """The queue of one actor shard."""
    return f"{namespace}.actors.shard.{shard}"


def shard_queue_arguments(namespace: str) -> dict[str, Any]:
    """A shard queue: quorum, one active consumer, a delivery limit, dead letters kept."""
    return {"x-queue-type": "quorum", "x-single-active-consumer": True,
            "x-delivery-limit": SHARD_DELIVERY_LIMIT,
            "x-dead-letter-exchange": dead_letters(namespace)}


def request_queue_arguments(namespace: str, max_queued: int = MAX_QUEUED_REQUESTS,
                            ) -> dict[str, Any]:
    """The request queue: quorum, a delivery limit, a bounded length; what it drops (the
    oldest on overflow, one delivered too often) goes to the rejected-requests queue."""
    return {"x-queue-type": "quorum", "x-delivery-limit": REQUEST_DELIVERY_LIMIT,
            "x-max-length": max_queued, "x-max-length-bytes": MAX_QUEUED_REQUEST_BYTES,
            "x-overflow": "drop-head", "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": rejected_requests_queue(namespace)}


def dead_letter_queue_arguments() -> dict[str, Any]:
    """A dead-letter queue: bounded in messages and bytes, the oldest dropped first."""
    return {"x-max-length": MAX_DEAD_LETTERS, "x-max-length-bytes": MAX_DEAD_LETTER_BYTES,
            "x-overflow": "drop-head"}


def requests_queue(namespace: str) -> str:
    """The queue clients publish operation requests to."""
    return f"{namespace}.requests"


def requests_exchange(namespace: str) -> str:
    """The exchange clients publish operation requests to; it feeds the request queue."""
    return f"{namespace}.requests.in"


def rejected_requests_queue(namespace: str) -> str:
    """Where requests that could not be carried out are kept, with their reason."""
    return f"{namespace}.requests.dead"


def events_exchange(namespace: str) -> str:
    """The topic exchange progress events are published to."""
    return f"{namespace}.events"
