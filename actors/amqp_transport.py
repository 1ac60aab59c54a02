"""The RabbitMQ transport: the only module that imports aio-pika.

Topology (``<ns>`` is the namespace, ``strongbox`` by default)::

    <ns>.actors          direct exchange   routing key "shard.<n>"
    <ns>.actors.shard.<n>   durable queues, x-single-active-consumer: one worker drives
                            a shard (and so every actor hashed to it) at a time, and the
                            broker hands the shard to another worker when that one dies
    <ns>.dead            fanout exchange -> <ns>.dead queue: messages we cannot decode
    <ns>.events          topic exchange, routing key "<operation>.<resource type>.<state>"

An actor lives on shard ``crc32(operation_id:node) % shards``. Messages bound for one shard
in one ``send_many`` travel as one AMQP message holding a JSON array: the broker's cost is
per AMQP message, so a resource that unlocks 100 children costs one publish per shard, not
100. Every publish of actor messages waits for the broker's confirm; a delivery is acked
only after its handler returned, so its effects (journal entries, outgoing messages) are
durable first. Events are published without waiting for confirms (a lost progress event
costs nothing; the operation's outcome is also in the bank) and are fanned out directly
to subscribers in this process, so a local subscriber never misses its own operation.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
import zlib
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import aiormq
import structlog
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection

from actors.errors import MessageDecodeError, TransportError
from actors.events import Event, decode_event, encode_event
from actors.memory_transport import MemorySubscription
from actors.messages import Message, decode_messages, encode_messages
from actors.transport import EventSubscription, MessageHandler, Transport

log = structlog.get_logger(__name__)

ORIGIN_HEADER = "x-strongbox-origin"


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


class _BrokerSubscription(MemorySubscription):
    """Local events at once; other workers' events once the broker queue is bound."""

    def __init__(self, transport: AmqpTransport, operation_id: str | None) -> None:
        super().__init__(transport, operation_id)  # type: ignore[arg-type]
        self._amqp = transport
        self._binding = asyncio.create_task(self._bind())
        self._queue_name: str | None = None

    async def _bind(self) -> None:
        channel = self._amqp._channel
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        self._queue_name = queue.name
        key = "#" if self.operation_id is None else f"{self.operation_id.replace('.', '_')}.#"
        await queue.bind(self._amqp._events, routing_key=key)
        await queue.consume(self._on_event, no_ack=True)

    async def _on_event(self, message: AbstractIncomingMessage) -> None:
        if message.headers.get(ORIGIN_HEADER) == self._amqp.origin:
            return  # already delivered locally
        try:
            self.offer(decode_event(message.body))
        except Exception as error:  # a foreign publisher's junk must not end the stream
            log.warning("event_undecodable", error=str(error))

    async def close(self) -> None:
        self._binding.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._binding
        await super().close()


class AmqpTransport(Transport):
    """Actor mailboxes on shard queues and events on a topic exchange.

    Use ``await AmqpTransport.connect(url)``; close it with ``await transport.close()``.
    """

    def __init__(self, connection: AbstractRobustConnection, *, namespace: str,
                 shards: int, prefetch: int) -> None:
        self._connection = connection
        self.namespace = namespace
        self.shards = shards
        self.prefetch = prefetch
        self.origin = uuid.uuid4().hex
        self._subscriptions: set[MemorySubscription] = set()
        self._consumers: list[asyncio.Task[None]] = []
        self._channel: Any = None
        self._actors: Any = None
        self._events: Any = None
        self._dead: Any = None
        self._pending_events: set[asyncio.Task[None]] = set()
        self.sent = 0
        self.published = 0

    @classmethod
    async def connect(cls, url: str, *, namespace: str = "strongbox", shards: int = 16,
                      prefetch: int = 64) -> AmqpTransport:
        """Connect and declare the topology.

        Raises:
            TransportError: naming the broker (never its password) if it cannot be reached.
        """
        try:
            connection = await aio_pika.connect_robust(url)
        except (OSError, aiormq.exceptions.AMQPError) as error:
            raise TransportError(f"cannot reach the broker at {redact_url(url)}: "
                                 f"{type(error).__name__}") from None
        transport = cls(connection, namespace=namespace, shards=shards, prefetch=prefetch)
        await transport._declare()
        return transport

    async def _declare(self) -> None:
        self._channel = await self._connection.channel(publisher_confirms=True)
        await self._channel.set_qos(prefetch_count=self.prefetch)
        ns = self.namespace
        self._actors = await self._channel.declare_exchange(
            f"{ns}.actors", aio_pika.ExchangeType.DIRECT, durable=True)
        self._events = await self._channel.declare_exchange(
            f"{ns}.events", aio_pika.ExchangeType.TOPIC, durable=True)
        self._dead = await self._channel.declare_exchange(
            f"{ns}.dead", aio_pika.ExchangeType.FANOUT, durable=True)
        dead = await self._channel.declare_queue(f"{ns}.dead", durable=True)
        await dead.bind(self._dead)
        self._queues = []
        for shard in range(self.shards):
            queue = await self._channel.declare_queue(
                f"{ns}.actors.shard.{shard}", durable=True,
                arguments={"x-single-active-consumer": True,
                           "x-dead-letter-exchange": f"{ns}.dead"})
            await queue.bind(self._actors, routing_key=f"shard.{shard}")
            self._queues.append(queue)

    # -- actor messages ---------------------------------------------------------------

    async def send(self, message: Message) -> None:
        await self.send_many([message])

    async def send_many(self, messages: list[Message]) -> None:
        by_shard: dict[int, list[Message]] = defaultdict(list)
        for message in messages:
            by_shard[shard_of(message.operation_id, message.to, self.shards)].append(message)
        try:
            await asyncio.gather(*(
                self._actors.publish(
                    aio_pika.Message(encode_messages(batch), content_type="application/json",
                                     delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                    routing_key=f"shard.{shard}")
                for shard, batch in by_shard.items()))
        except (aiormq.exceptions.AMQPError, ConnectionError) as error:
            raise TransportError(f"publishing {len(messages)} actor messages failed: "
                                 f"{type(error).__name__}: {error}") from error
        self.sent += len(messages)

    async def consume(self, handler: MessageHandler) -> None:
        if self._consumers:
            raise RuntimeError("AmqpTransport.consume was already called")
        for queue in self._queues:
            self._consumers.append(asyncio.create_task(self._consume_shard(queue, handler),
                                                       name=f"consume-{queue.name}"))

    async def _consume_shard(self, queue: Any, handler: MessageHandler) -> None:
        # one shard, one message at a time: every actor of the shard sees its messages in order
        async with queue.iterator() as deliveries:
            async for delivery in deliveries:
                await self._deliver(delivery, handler)

    async def _deliver(self, delivery: AbstractIncomingMessage, handler: MessageHandler) -> None:
        try:
            batch = decode_messages(delivery.body)
        except MessageDecodeError as error:
            log.error("actor_message_undecodable", queue=delivery.routing_key,
                      reason=error.reason, size=len(error.raw))
            await delivery.reject(requeue=False)  # to the dead-letter queue, not back
            return
        for message in batch:
            try:
                await handler(message)
            except Exception:  # a handler bug must not block the shard: log, go on
                log.exception("message_handler_failed", kind=type(message).__name__)
        await delivery.ack()

    # -- events -----------------------------------------------------------------------

    async def publish(self, event: Event) -> None:
        self.published += 1
        for subscription in self._subscriptions:
            subscription.offer(event)
        task = asyncio.create_task(self._publish_event(event))
        self._pending_events.add(task)
        task.add_done_callback(self._pending_events.discard)

    async def _publish_event(self, event: Event) -> None:
        try:
            await self._events.publish(
                aio_pika.Message(encode_event(event), content_type="application/json",
                                 headers={ORIGIN_HEADER: self.origin}),
                routing_key=event.routing_key)
        except Exception as error:  # an event lost to a broken link is not fatal
            log.warning("event_publish_failed", kind=type(event).__name__, error=str(error))

    def subscribe(self, operation_id: str | None = None) -> EventSubscription:
        subscription = _BrokerSubscription(self, operation_id)
        self._subscriptions.add(subscription)
        return subscription

    async def events(self, operation_id: str | None = None) -> AsyncIterator[Event]:
        """Every event (from any worker) of one operation or all, from now on."""
        async with self.subscribe(operation_id) as subscription:
            async for event in subscription:
                yield event

    async def close(self, *, delete: bool = False) -> None:
        """Stop consuming; with ``delete``, remove this namespace's queues and exchanges."""
        for task in self._consumers:
            task.cancel()
        for task in self._consumers:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._consumers = []
        if self._pending_events:
            await asyncio.gather(*self._pending_events, return_exceptions=True)
        for subscription in list(self._subscriptions):
            await subscription.close()
        if delete and self._channel is not None and not self._channel.is_closed:
            for queue in self._queues:
                await queue.delete(if_unused=False, if_empty=False)
            await self._channel.queue_delete(f"{self.namespace}.dead")
            for exchange in (self._actors, self._events, self._dead):
                await exchange.delete()
        await self._connection.close()
