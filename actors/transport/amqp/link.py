"""What every part of the AMQP transport stands on: the link's state, publishing, answering.

:class:`AmqpLink` holds the connection, the declared exchanges and queues and the shards'
state; the parts of the transport (shard deliveries, shards spread over workers, the
request queue) are its subclasses, joined in ``transport.AmqpTransport``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Coroutine
from typing import Any

import aiormq
import structlog
from aio_pika.abc import AbstractRobustConnection

from actors.errors import TransportError
from actors.transport.base import MessageHandler, ResetHandler, Transport
from actors.transport.memory import MemorySubscription
from actors.transport.request_attempts import RequestAttempts
from actors.transport.shard_balance import Membership, ShardState
from actors.transport.topology import MAX_QUEUED_REQUESTS

log = structlog.get_logger(__name__)


class AmqpLink(Transport):
    """The state and the primitives the transport's parts share (see the module)."""

    def __init__(self, connection: AbstractRobustConnection, *, namespace: str,
                 shards: int, prefetch: int, worker_id: str,
                 max_queued_requests: int = MAX_QUEUED_REQUESTS) -> None:
        self._connection = connection
        self.max_queued_requests = max_queued_requests
        # the broker user this connection logged in as: the user_id of what it publishes
        self.user = "guest"
        self.namespace = namespace
        self.shards = shards
        self.prefetch = prefetch
        self.worker_id = worker_id
        self.origin = uuid.uuid4().hex  # marks our own events when they come back
        self._subscriptions: set[MemorySubscription] = set()
        self._consumers: list[asyncio.Task[None]] = []
        self._channel: Any = None
        self._actors: Any = None
        self._events: Any = None
        self._dead: Any = None
        self._requests: Any = None
        self._queues: list[Any] = []
        self._pending: set[asyncio.Task[Any]] = set()
        self._shards: list[ShardState] = []
        self._generation = 0  # links to the broker lost so far
        self._handler: MessageHandler | None = None
        self._processors: dict[int, asyncio.Task[None]] = {}
        self._membership = Membership(worker_id)
        self._members: list[str] = []
        self._presence: Any = None
        self._reset_handlers: list[ResetHandler] = []
        self._request_attempts = RequestAttempts()
        self._closing = False
        self._connected = False
        self.sent = 0
        self.published = 0
        self._published_count = 0

    async def _declare_queue(self, name: str, arguments: dict[str, Any],
                             channel: Any = None) -> Any:
        """Declare one durable queue of the topology.

        Raises:
            TransportError: naming the queue and the fix, if it exists with other arguments.
        """
        try:
            return await (channel or self._channel).declare_queue(
                name, durable=True, arguments=arguments)
        except aiormq.exceptions.ChannelPreconditionFailed as error:
            raise TransportError(
                f"queue {name!r} exists with other arguments than this worker declares "
                f"({error}); it was made by an older Strongbox or with other limits. Stop "
                f"every worker of namespace {self.namespace!r}, then delete the queue "
                f"(rabbitmqctl delete_queue {name}; its messages are lost) and start the "
                f"workers again, or start them on a new --namespace: see 'Upgrading a "
                f"namespace' in docs/messaging.md") from None

    async def _publish(self, exchange: str, routing_key: str, body: bytes, *,
                       persistent: bool, mandatory: bool,
                       headers: dict[str, Any] | None = None) -> None:
        """Publish on the confirmed channel and wait for the broker's confirm.

        Straight to aiormq with ``wait=False``: aio-pika's ``Exchange.publish`` holds the
        channel's lock until the socket has drained each frame, so every publish (and
        every event) cost a turn of the event loop and a write of its own; this way frames
        queue up in order behind one another and only the confirm is awaited.
        """
        self._published_count += 1
        properties = aiormq.spec.Basic.Properties(
            content_type="application/json", headers=headers,
            delivery_mode=2 if persistent else 1,
            # aiormq keys returned messages by id; a counter is cheaper than its uuid4
            message_id=f"{self.origin}-{self._published_count}")
        channel = await self._channel.get_underlay_channel()
        await channel.basic_publish(body, exchange=exchange, routing_key=routing_key,
                                    properties=properties, mandatory=mandatory, wait=False)

    async def _answer(self, state: ShardState | None, answer: Awaitable[None]) -> None:
        try:
            await answer
        except Exception as error:  # the channel it came on is gone: it is redelivered
            log.info("delivery_answer_lost", error=f"{type(error).__name__}: {error}")
        finally:
            if state is not None and state.inflight > 0:
                state.inflight -= 1

    def _track(self, work: Coroutine[Any, Any, None], name: str = "settle") -> None:
        task = asyncio.create_task(work, name=name)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)


__all__ = ["AmqpLink"]
