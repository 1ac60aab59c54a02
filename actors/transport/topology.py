"""Names and placement rules of the RabbitMQ topology; no broker code here.

    <ns>.requests.in        fanout exchange -> <ns>.requests: where clients publish requests
                            (a publisher's broker user needs write on this exchange only,
                            never on the default exchange, which reaches every queue)
    <ns>.requests           durable queue: operation requests as JSON, from any AMQP client
    <ns>.requests.dead      durable queue: requests that could not be carried out, with
                            the reason in the ``x-strongbox-reason`` header
    <ns>.actors             direct exchange, routing key ``shard.<n>``
    <ns>.actors.shard.<n>   durable queues with single-active-consumer: one worker drives
                            a shard (and so every actor hashed to it) at a time; the broker
                            hands the shard to another worker when that one dies
    <ns>.dead               fanout exchange -> <ns>.dead queue: actor messages we cannot decode
    <ns>.events             topic exchange, routing key ``<operation>.<resource type>.<state>``

See docs/messaging.md for the diagram and the reasons.
"""

from __future__ import annotations

import zlib
from typing import Final
from urllib.parse import urlsplit, urlunsplit

ORIGIN_HEADER: Final = "x-strongbox-origin"
REASON_HEADER: Final = "x-strongbox-reason"
WORKER_HEADER: Final = "x-strongbox-worker"
# a Keystone token for requests to OpenStack providers; stripped before a dead letter
AUTH_TOKEN_HEADER: Final = "x-strongbox-auth-token"
DEFAULT_NAMESPACE: Final = "strongbox"
DEFAULT_SHARDS: Final = 16


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
