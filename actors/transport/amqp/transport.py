"""The RabbitMQ transport, joined from its parts: the only package that imports aio-pika.

Topology in ``actors.transport.topology`` and docs/messaging.md. An actor lives on shard
``crc32(operation_id:node) % shards``. Messages bound for one shard in one ``send_many``
travel as one AMQP message holding a JSON array: the broker's cost is per AMQP message,
so a resource that unlocks 100 children costs one publish per shard, not 100.

Every publish of actor messages waits for the broker's confirm. A delivery is acked only
when the handler's settlement completes, that is when the activity it started has ended
and been journaled and the messages that follow from it are confirmed; if this worker
dies first, the broker gives the delivery (and the shard) to another worker, which
rebuilds the actor from the journal. Events are published without waiting for confirms
(a lost progress event costs nothing; the outcome is also in the bank) and are fanned
out directly to subscribers in this process.

The parts, each a subclass of ``link.AmqpLink``: ``deliveries`` (a shard's deliveries),
``spreading`` (shards over workers), ``requests`` (the request queue); ``subscription``
is an event subscription over the broker. Here: connecting, declaring the topology,
losing the link, sending actor messages, consuming shards, events, closing.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from functools import partial
from typing import Any
from urllib.parse import unquote, urlsplit

import aio_pika
import aiormq
import structlog

from actors.errors import TransportError
from actors.transport.amqp.deliveries import ShardDeliveries
from actors.transport.amqp.requests import RequestIntake
from actors.transport.amqp.spreading import ShardSpreading
from actors.transport.amqp.subscription import BrokerSubscription
from actors.transport.base import (
    EventSubscription,
    MessageHandler,
    ResetHandler,
)
from actors.transport.shard_balance import ShardState
from actors.transport.topology import (
    MAX_QUEUED_REQUESTS,
    ORIGIN_HEADER,
    dead_letter_queue_arguments,
    dead_letters,
    events_exchange,
    redact_url,
    rejected_requests_queue,
    request_queue_arguments,
    requests_exchange,
    requests_queue,
    shard_of,
    shard_queue,
    shard_queue_arguments,
)
from actors.wire.events import Event, encode_event, event_kind
from actors.wire.messages import Message, encode_messages
from banks import metrics

log = structlog.get_logger(__name__)

__all__ = ["AmqpTransport"]


class AmqpTransport(ShardDeliveries, ShardSpreading, RequestIntake):
    """Actor mailboxes on shard queues, requests on a queue, events on a topic exchange.

    Use ``await AmqpTransport.connect(url)``; close it with ``await transport.close()``.
    """

    durable = True

    @classmethod
    async def connect(cls, url: str, *, namespace: str = "strongbox", shards: int = 16,
                      prefetch: int = 64, worker_id: str = "",
                      client: bool = False,
                      max_queued_requests: int = MAX_QUEUED_REQUESTS) -> AmqpTransport:
        """Connect and declare the topology (a worker), or only look it up (``client``).

        A client publishes requests and follows events; its broker user needs no right on
        the actor queues, and the workers must have declared the topology first.

        ``max_queued_requests`` bounds the request queue; every worker of a namespace must
        declare the same (the broker refuses a queue declared with other arguments).

        Raises:
            TransportError: naming the broker (never its password) if it cannot be reached;
                for a client, if no worker has declared the namespace's topology; for a
                worker, naming the queue and what to do, if a queue of the namespace exists
                with other arguments (made by an older Strongbox, or other limits).
        """
        try:
            connection = await aio_pika.connect_robust(url, reconnect_interval=1.0)
        except (OSError, aiormq.exceptions.AMQPError) as error:
            raise TransportError(f"cannot reach the broker at {redact_url(url)}: "
                                 f"{type(error).__name__}") from None
        transport = cls(connection, namespace=namespace, shards=shards, prefetch=prefetch,
                        worker_id=worker_id or f"client-{uuid.uuid4().hex[:12]}",
                        max_queued_requests=max_queued_requests)
        transport.user = unquote(urlsplit(url).username or "") or "guest"  # AMQP's default
        connection.close_callbacks.add(transport._on_connection_lost)
        connection.reconnect_callbacks.add(transport._on_reconnected)
        transport._connected = True
        metrics.BROKER_CONNECTED.set(1)
        try:
            if client:
                await transport._look_up()
            else:
                await transport._declare()
        except TransportError:
            transport._closing = True
            await connection.close()
            raise
        return transport

    async def _look_up(self) -> None:
        """A client's topology: the request and event exchanges, declared by the workers."""
        self._channel = await self._connection.channel(publisher_confirms=True)
        try:
            self._requests = await self._channel.get_exchange(requests_exchange(self.namespace))
            self._events = await self._channel.get_exchange(events_exchange(self.namespace))
        except aiormq.exceptions.ChannelNotFoundEntity:
            raise TransportError(f"namespace {self.namespace!r} has no request exchange: no "
                                 f"worker has started on it yet") from None

    async def _declare(self) -> None:
        self._channel = await self._connection.channel(publisher_confirms=True)
        await self._channel.set_qos(prefetch_count=self.prefetch)
        ns = self.namespace
        self._actors = await self._channel.declare_exchange(
            f"{ns}.actors", aio_pika.ExchangeType.DIRECT, durable=True)
        # Events share the actor messages' channel: RabbitMQ keeps order within a channel
        # only, and a subscriber must see a resource's last events before the operation's
        # end, which another worker publishes after our ChildPostDone reaches it.
        self._events = await self._channel.declare_exchange(
            events_exchange(ns), aio_pika.ExchangeType.TOPIC, durable=True)
        self._dead = await self._channel.declare_exchange(
            dead_letters(ns), aio_pika.ExchangeType.FANOUT, durable=True)
        dead = await self._declare_queue(dead_letters(ns), dead_letter_queue_arguments())
        await dead.bind(self._dead)
        requests = await self._declare_queue(
            requests_queue(ns), request_queue_arguments(ns, self.max_queued_requests))
        self._requests = await self._channel.declare_exchange(
            requests_exchange(ns), aio_pika.ExchangeType.FANOUT, durable=True)
        await requests.bind(self._requests)
        await self._declare_queue(rejected_requests_queue(ns), dead_letter_queue_arguments())
        self._queues = []
        for shard in range(self.shards):
            queue = await self._declare_queue(shard_queue(ns, shard), shard_queue_arguments(ns))
            await queue.bind(self._actors, routing_key=f"shard.{shard}")
            self._queues.append(queue)

    # -- losing the link --------------------------------------------------------------

    def on_reset(self, handler: ResetHandler) -> None:
        self._reset_handlers.append(handler)

    @property
    def connected(self) -> bool:
        """Whether the broker connection is up now (it reconnects by itself when lost)."""
        return self._connected and not self._closing

    def _on_reconnected(self, *args: Any) -> None:
        self._connected = True
        metrics.BROKER_CONNECTED.set(1)
        log.info("broker_reconnected", worker=self.worker_id)

    def _on_connection_lost(self, *args: Any) -> None:
        if self._closing:
            return
        if self._connected:
            metrics.BROKER_CONNECTION_LOSSES.inc()
        self._connected = False
        metrics.BROKER_CONNECTED.set(0)
        # Our unacked deliveries are going back to their queues and the shards may be
        # given to other workers: forget when we got them, and drop what we built on them.
        log.warning("broker_connection_lost", worker=self.worker_id)
        self._generation += 1
        for state in self._shards:
            state.activated_at = None
            state.inflight = 0
            while not state.buffer.empty():
                state.buffer.get_nowait()
        for task in list(self._pending):
            task.cancel()
        # A shard may be in the middle of handling a delivery of the lost link (and may
        # wait forever on that link): stop it, drop everything built so far, start afresh.
        for task in self._processors.values():
            task.cancel()
        for handler in self._reset_handlers:
            handler(None)
        if self._handler is not None:
            self._start_processors(self._handler)

    def activated_at(self, operation_id: str, node: int) -> float:
        shard = shard_of(operation_id, node, self.shards)
        if self._shards and self._shards[shard].activated_at is not None:
            return self._shards[shard].activated_at  # type: ignore[return-value]
        return time.monotonic()

    # -- actor messages ---------------------------------------------------------------

    async def send(self, message: Message) -> None:
        await self.send_many([message])

    async def send_many(self, messages: list[Message]) -> None:
        by_shard: dict[int, list[Message]] = defaultdict(list)
        for message in messages:
            by_shard[shard_of(message.operation_id, message.to, self.shards)].append(message)
        try:
            await asyncio.gather(*(
                self._publish(self._actors.name, f"shard.{shard}", encode_messages(batch),
                              persistent=True, mandatory=True)
                for shard, batch in by_shard.items()))
        except (aiormq.exceptions.AMQPError, aio_pika.exceptions.AMQPException,
                ConnectionError, RuntimeError) as error:
            raise TransportError(f"publishing {len(messages)} actor messages failed: "
                                 f"{type(error).__name__}: {error}") from error
        self.sent += len(messages)

    async def consume(self, handler: MessageHandler) -> None:
        if self._shards:
            raise RuntimeError("AmqpTransport.consume was already called")
        self._shards = [ShardState(index, queue) for index, queue in enumerate(self._queues)]
        self._handler = handler
        for state in self._shards:
            state.buffer = asyncio.Queue()
            state.consumer_tag = await state.queue.consume(partial(self._on_delivery, state))
        self._start_processors(handler)
        await self._join_presence()
        self._consumers.append(asyncio.create_task(self._balance(), name="shard-balance"))

    def _start_processors(self, handler: MessageHandler) -> None:
        for state in self._shards:
            self._processors[state.index] = asyncio.create_task(
                self._process_shard(state, handler), name=f"consume-{state.queue.name}")

    async def _process_shard(self, state: ShardState, handler: MessageHandler) -> None:
        # one shard, one message at a time: every actor of the shard sees its messages in order
        while True:
            generation, delivery = await state.buffer.get()
            if generation != self._generation:
                continue  # came on a link that is gone: the broker delivers it again
            await self._deliver(state, delivery, handler)

    # -- events -----------------------------------------------------------------------

    async def publish(self, event: Event) -> None:
        self.published += 1
        metrics.EVENTS_PUBLISHED.inc(event_kind(event))
        for subscription in self._subscriptions:
            subscription.offer(event)
        self._track(self._publish_event(event), name="event-publish")

    async def _publish_event(self, event: Event) -> None:
        try:
            # an event nobody is bound to is dropped, not returned to us
            await self._publish(self._events.name, event.routing_key, encode_event(event),
                                persistent=False, mandatory=False,
                                headers={ORIGIN_HEADER: self.origin})
        except Exception as error:  # an event lost to a broken link is not fatal
            log.warning("event_publish_failed", kind=type(event).__name__, error=str(error))

    def subscribe(self, operation_id: str | None = None) -> EventSubscription:
        subscription = BrokerSubscription(self, operation_id)
        self._subscriptions.add(subscription)
        return subscription

    async def events(self, operation_id: str | None = None) -> AsyncIterator[Event]:
        """Every event (from any worker) of one operation or all, from now on."""
        async with self.subscribe(operation_id) as subscription:
            async for event in subscription:
                yield event

    async def close(self, *, delete: bool = False) -> None:
        """Stop consuming; with ``delete``, remove this namespace's queues and exchanges.

        Deliveries whose work has not settled are not acked: the broker gives them to
        another worker.
        """
        self._closing = True
        metrics.BROKER_CONNECTED.set(0)
        self._consumers.extend(self._processors.values())
        self._processors = {}
        for task in self._consumers:
            task.cancel()
        for task in self._consumers:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._consumers = []
        for task in list(self._pending):
            if not task.get_name().startswith("event"):
                task.cancel()
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        for subscription in list(self._subscriptions):
            await subscription.close()
        if delete and self._channel is not None and not self._channel.is_closed:
            ns = self.namespace
            for queue in self._queues:
                await queue.delete(if_unused=False, if_empty=False)
            for name in (dead_letters(ns), requests_queue(ns), rejected_requests_queue(ns)):
                await self._channel.queue_delete(name)
            for exchange in (self._actors, self._events, self._dead, self._presence,
                             self._requests):
                if exchange is not None:
                    await exchange.delete()
        await self._connection.close()


