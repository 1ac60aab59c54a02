"""The RabbitMQ transport: the only module that imports aio-pika.

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
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Coroutine
from functools import partial
from typing import Any
from urllib.parse import unquote, urlsplit

import aio_pika
import aiormq
import structlog
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection

from actors.errors import MessageDecodeError, OperationUnavailable, TransportError
from actors.transport.base import (
    MAX_HANDLER_ATTEMPTS,
    EventSubscription,
    IncomingRequest,
    MessageHandler,
    RequestHandler,
    ResetHandler,
    Transport,
)
from actors.transport.memory import MemorySubscription
from actors.transport.request_attempts import RequestAttempts, attempt_key
from actors.transport.shard_balance import PRESENCE_INTERVAL, Membership, ShardState, shard_owner
from actors.transport.topology import (
    ATTEMPTS_HEADER,
    AUTH_TOKEN_HEADER,
    MAX_QUEUED_REQUESTS,
    ORIGIN_HEADER,
    PUBLISHER_HEADER,
    REASON_HEADER,
    WORKER_HEADER,
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
from actors.wire.events import Event, decode_event, encode_event, event_kind, routing_part
from actors.wire.messages import Message, decode_messages, encode_messages
from banks import metrics

log = structlog.get_logger(__name__)

__all__ = ["AmqpTransport", "redact_url", "shard_of"]

RETRY_DELAY = 1.0
MAX_RETRY_DELAY = 30.0


class _BrokerSubscription(MemorySubscription):
    """Local events at once; other workers' events once the broker queue is bound.

    Each subscription has a channel of its own: cancelling an AMQP call makes aiormq
    close its channel, which must never be the one actor messages are published on.

    ``bound`` always completes: when the queue is bound, or with a ``TransportError``
    (and the stream ends) if it cannot be. A subscription made while the link is down
    (the broker restarting) waits for the link and binds then; aio-pika re-declares the
    queue, its binding and its consumer after each later reconnect. Events published
    while the link was down are lost: a client that must see an operation's end reads
    its record too, or bounds its wait.
    """

    def __init__(self, transport: AmqpTransport, operation_id: str | None) -> None:
        super().__init__(transport, operation_id)  # type: ignore[arg-type]
        self._amqp = transport
        self._channel: Any = None
        self.queue_name: str | None = None  # the broker queue, once declared
        self.bound: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        # whoever never awaits ``bound`` must not get "exception was never retrieved"
        self.bound.add_done_callback(_retrieve)
        self._binding = asyncio.create_task(self._bind())

    async def _bind(self) -> None:
        try:
            while True:
                await self._amqp._connection.ready()  # the link is up (or back)
                try:
                    await self._open()
                except _LINK_ERRORS as error:
                    if _cancelled_here():
                        raise
                    # the link went between ready() and our calls: wait for the next one
                    log.info("event_subscription_rebinding", operation_id=self.operation_id,
                             error=f"{type(error).__name__}: {error}")
                    await self._discard_channel()
                    await asyncio.sleep(RETRY_DELAY)  # the connection's reconnect interval
                    continue
                self.bound.set_result(None)
                return
        except BaseException as error:
            if not self.bound.done():
                self.bound.set_exception(TransportError(
                    f"the event subscription could not be bound: {type(error).__name__}: "
                    f"{error}"))
                self._queue.put_nowait(None)  # the stream ends: nothing will come
            await self._discard_channel()
            if isinstance(error, asyncio.CancelledError):
                raise
            log.warning("event_subscription_failed", operation_id=self.operation_id,
                        error=f"{type(error).__name__}: {error}")

    async def _open(self) -> None:
        self._channel = await self._amqp._connection.channel()
        queue = await self._channel.declare_queue(exclusive=True, auto_delete=True)
        self.queue_name = queue.name
        key = "#" if self.operation_id is None else f"{routing_part(self.operation_id)}.#"
        await queue.bind(self._amqp._events, routing_key=key)
        await queue.consume(self._on_event, no_ack=True)

    async def _discard_channel(self) -> None:
        """Close our channel even while the link is down: a robust channel that was not
        closed is reopened, its queue and consumer restored, with the next link."""
        channel, self._channel = self._channel, None
        if channel is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(channel.close(), timeout=10)

    async def _on_event(self, message: AbstractIncomingMessage) -> None:
        if message.headers.get(ORIGIN_HEADER) == self._amqp.origin:
            return  # already delivered locally
        try:
            self.offer(decode_event(message.body))
        except Exception as error:  # a foreign publisher's junk must not end the stream
            log.warning("event_undecodable", error=str(error))

    async def close(self) -> None:
        with contextlib.suppress(Exception):  # let a binding in flight finish, not cancel it
            await asyncio.wait_for(asyncio.shield(self._binding), timeout=10)
        if not self._binding.done():  # still waiting for a link: give up on it
            self._binding.cancel()
            await asyncio.gather(self._binding, return_exceptions=True)
        await self._discard_channel()  # drops the consumer and its auto-delete queue
        await super().close()


# What a lost link raises from a channel's calls (aiormq's "no transport" and "connection
# was not opened" are RuntimeErrors); a refused or missing exchange is not among them.
_LINK_ERRORS = (ConnectionError, RuntimeError, asyncio.CancelledError)


def _cancelled_here() -> bool:
    """Whether this task is being cancelled (aiormq also cancels the calls of a link that
    dropped, which is no reason to stop)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _retrieve(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()


class AmqpTransport(Transport):
    """Actor mailboxes on shard queues, requests on a queue, events on a topic exchange.

    Use ``await AmqpTransport.connect(url)``; close it with ``await transport.close()``.
    """

    durable = True

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
        self.origin = uuid.uuid4().hex
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

    async def _on_delivery(self, state: ShardState, delivery: AbstractIncomingMessage) -> None:
        state.inflight += 1
        if state.activated_at is None:
            state.activated_at = time.monotonic()
        if self._members and shard_owner(state.index, self._members) != self.worker_id:
            state.wants_resubscribe = True  # we drive a shard another worker should
        state.buffer.put_nowait((self._generation, delivery))

    async def _process_shard(self, state: ShardState, handler: MessageHandler) -> None:
        # one shard, one message at a time: every actor of the shard sees its messages in order
        while True:
            generation, delivery = await state.buffer.get()
            if generation != self._generation:
                continue  # came on a link that is gone: the broker delivers it again
            await self._deliver(state, delivery, handler)

    async def _deliver(self, state: ShardState, delivery: AbstractIncomingMessage,
                       handler: MessageHandler) -> None:
        try:
            batch = decode_messages(delivery.body)
        except MessageDecodeError as error:
            log.error("actor_message_undecodable", queue=delivery.routing_key,
                      reason=error.reason, size=len(error.raw))
            metrics.MESSAGES_DEAD_LETTERED.labels("actors").inc()
            await self._answer(state, delivery.reject(requeue=False))  # to the dead letters
            return
        settlements: list[Awaitable[None]] = []
        given_up: list[tuple[Message, str]] = []
        for message in batch:
            try:
                settled = await handler(message)
            except OperationUnavailable as error:
                # its bank is unreachable: keep the message for later, not for the void
                log.warning("actor_message_requeued", operation_id=message.operation_id,
                            error=str(error))
                metrics.MESSAGES_REQUEUED.inc()
                await asyncio.sleep(RETRY_DELAY)
                await self._answer(state, delivery.reject(requeue=True))
                return
            except Exception as error:
                # A handler bug: try the delivery again (the broker counts it in
                # x-delivery-count; the actors ignore what they have already seen), then
                # set it aside and fail its operation: a message is never silently lost.
                attempt = _delivery_count(delivery) + 1
                reason = f"{type(error).__name__}: {error}"
                log.exception("message_handler_failed", kind=type(message).__name__,
                              operation_id=message.operation_id, node=message.to,
                              attempt=attempt, attempts=MAX_HANDLER_ATTEMPTS)
                if attempt < MAX_HANDLER_ATTEMPTS:
                    await asyncio.sleep(RETRY_DELAY)
                    await self._answer(state, delivery.reject(requeue=True))
                    return
                given_up.append((message, f"handler failed {attempt} times: {reason}"))
                continue
            if settled is not None:
                settlements.append(settled)
        if given_up and not await self._set_aside(state, delivery, given_up):
            return
        if not settlements:
            await self._answer(state, delivery.ack())
            return
        self._track(self._ack_when_settled(state, delivery, settlements))

    async def _set_aside(self, state: ShardState, delivery: AbstractIncomingMessage,
                         given_up: list[tuple[Message, str]]) -> bool:
        """Dead-letter a delivery with the reason, and fail the operations it was for.

        Returns whether that worked; if not, the delivery is requeued (and counted).
        """
        reason = "; ".join(f"{type(m).__name__} to {m.operation_id}/{m.to}: {why}"
                           for m, why in given_up)
        try:
            await self._publish(dead_letters(self.namespace), "", delivery.body,
                                persistent=True, mandatory=False,
                                headers={REASON_HEADER: reason[:4000],
                                         WORKER_HEADER: self.worker_id,
                                         ATTEMPTS_HEADER: _delivery_count(delivery) + 1})
            for message, why in given_up:
                log.error("actor_message_dead_lettered", operation_id=message.operation_id,
                          node=message.to, kind=type(message).__name__, reason=why)
                await self.give_up(message, why)
        except Exception as error:  # not set aside: it comes back, and is counted
            log.error("actor_dead_letter_failed", error=f"{type(error).__name__}: {error}")
            await self._answer(state, delivery.reject(requeue=True))
            return False
        return True

    async def _ack_when_settled(self, state: ShardState, delivery: AbstractIncomingMessage,
                                settlements: list[Awaitable[None]]) -> None:
        outcomes = await asyncio.gather(*settlements, return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, asyncio.CancelledError):
                return  # the work was dropped (link lost, shutdown): let it be redelivered
            if isinstance(outcome, BaseException):
                log.error("settlement_failed", error=f"{type(outcome).__name__}: {outcome}")
        await self._answer(state, delivery.ack())

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

    # -- spreading shards over workers ------------------------------------------------

    async def _join_presence(self) -> None:
        self._presence = await self._channel.declare_exchange(
            f"{self.namespace}.presence", aio_pika.ExchangeType.FANOUT)
        queue = await self._channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(self._presence)
        await queue.consume(self._on_presence, no_ack=True)
        self._consumers.append(asyncio.create_task(self._announce(), name="presence"))

    async def _announce(self) -> None:
        while True:
            with contextlib.suppress(Exception):  # a missed heartbeat is only a delay
                await self._presence.publish(aio_pika.Message(self.worker_id.encode()),
                                             routing_key="")
            await asyncio.sleep(PRESENCE_INTERVAL)

    async def _on_presence(self, message: AbstractIncomingMessage) -> None:
        self._membership.saw(message.body.decode(errors="replace"), time.monotonic())

    async def _balance(self) -> None:
        while True:
            await asyncio.sleep(PRESENCE_INTERVAL / 2)
            members = self._membership.live(time.monotonic())
            if members != self._members:
                self._members = members
                log.info("cluster_members", worker=self.worker_id, members=len(members),
                         owned=sum(shard_owner(s.index, members) == self.worker_id
                                   for s in self._shards))
                for state in self._shards:
                    state.wants_resubscribe = shard_owner(state.index, members) != self.worker_id
            for state in self._shards:
                if state.wants_resubscribe and not state.moving and state.quiescent:
                    state.moving = True
                    self._track(self._resubscribe(state), name="resubscribe")

    async def _resubscribe(self, state: ShardState) -> None:
        """Step to the back of the shard's line of consumers, once nothing of it is ours."""
        try:
            if state.consumer_tag is not None:
                await state.queue.cancel(state.consumer_tag)
                state.consumer_tag = None
            # deliveries that crossed our cancel; a rare, short wait on a plain counter
            while not state.quiescent:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            index = state.index
            for handler in self._reset_handlers:
                handler(lambda operation_id, node: shard_of(operation_id, node,
                                                            self.shards) == index)
            state.activated_at = None
            state.consumer_tag = await state.queue.consume(partial(self._on_delivery, state))
            log.debug("shard_handed_on", worker=self.worker_id, shard=index)
        except Exception as error:  # the link broke meanwhile: the reset handles it
            log.info("shard_resubscribe_failed", shard=state.index, error=str(error))
        finally:
            state.wants_resubscribe = False
            state.moving = False

    # -- requests ---------------------------------------------------------------------

    async def publish_request(self, body: bytes, *, request_id: str | None = None,
                              auth_token: str | None = None) -> None:
        """Put a JSON request on the request queue and wait for the broker's confirm.

        ``auth_token``: a Keystone token, for requests to OpenStack providers.

        Raises:
            TransportError: if the broker did not take it.
        """
        try:
            await self._requests.publish(
                aio_pika.Message(body, content_type="application/json", message_id=request_id,
                                 headers={AUTH_TOKEN_HEADER: auth_token} if auth_token else {},
                                 user_id=self.user,  # the broker checks it is ours
                                 delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                routing_key=requests_queue(self.namespace))
        except (aiormq.exceptions.AMQPError, aio_pika.exceptions.AMQPException,
                ConnectionError) as error:
            raise TransportError(f"publishing the request failed: {type(error).__name__}: "
                                 f"{error}") from error

    async def consume_requests(self, handler: RequestHandler, *, concurrency: int = 4) -> None:
        """Carry out requests from the request queue, ``concurrency`` at a time."""
        channel = await self._connection.channel(publisher_confirms=True)
        await channel.set_qos(prefetch_count=concurrency)
        queue = await self._declare_queue(
            requests_queue(self.namespace),
            request_queue_arguments(self.namespace, self.max_queued_requests), channel)
        self._consumers.append(asyncio.create_task(
            self._consume_requests(channel, queue, handler), name="consume-requests"))

    async def _consume_requests(self, channel: Any, queue: Any, handler: RequestHandler) -> None:
        async with queue.iterator() as deliveries:
            async for delivery in deliveries:
                self._track(self._handle_request(channel, delivery, handler), name="request")

    async def _handle_request(self, channel: Any, delivery: AbstractIncomingMessage,
                              handler: RequestHandler) -> None:
        # only a redelivered request can have been retried: hash the body only then
        key = (attempt_key(delivery.body, delivery.message_id, delivery.user_id)
               if delivery.redelivered else None)
        attempt = self._request_attempts.attempt(key) if key is not None else 1
        # a quorum queue counts deliveries over every worker: the larger count wins
        attempt = max(attempt, _delivery_count(delivery) + 1)
        try:
            token = (delivery.headers or {}).get(AUTH_TOKEN_HEADER)
            if isinstance(token, bytes):
                token = token.decode("ascii", "replace")
            verdict = await handler(IncomingRequest(
                delivery.body, delivery.message_id, delivery.user_id,
                token if isinstance(token, str) else None,
                content_type=delivery.content_type, attempt=attempt))
        except Exception as error:  # a bug in intake: set the request aside, keep serving
            log.exception("request_handler_failed")
            metrics.REQUESTS_REJECTED.labels("internal").inc()
            await self._reject_request(channel, delivery, f"internal error: {error}")
            return
        if verdict.retry:  # bounded: the handler rejects once ``attempt`` is too many
            key = key or attempt_key(delivery.body, delivery.message_id, delivery.user_id)
            self._request_attempts.retried(key, attempt)
            # longer each time: the retries must outlast a short outage of the bank
            # (1 + 2 + ... + 30 s), within the request queue's delivery limit
            await asyncio.sleep(min(RETRY_DELAY * 2 ** (attempt - 1), MAX_RETRY_DELAY))
            await self._answer(None, delivery.reject(requeue=True))
            return
        if key is not None:
            self._request_attempts.settled(key)
        if verdict.accepted:
            await self._answer(None, delivery.ack())
        else:
            await self._reject_request(channel, delivery, verdict.reason or "rejected")

    async def _reject_request(self, channel: Any, delivery: AbstractIncomingMessage,
                              reason: str) -> None:
        headers = dict(delivery.headers or {})
        headers.pop(AUTH_TOKEN_HEADER, None)  # a secret: never kept in the dead letters
        headers[REASON_HEADER] = reason[:4000]
        headers[WORKER_HEADER] = self.worker_id
        if delivery.user_id:
            headers[PUBLISHER_HEADER] = delivery.user_id
        try:
            await channel.default_exchange.publish(
                aio_pika.Message(delivery.body, headers=headers,
                                 content_type=delivery.content_type,
                                 message_id=delivery.message_id,
                                 delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                routing_key=rejected_requests_queue(self.namespace))
        except Exception as error:  # not set aside: leave it unacked, it comes back
            log.error("request_dead_letter_failed", error=f"{type(error).__name__}: {error}")
            return
        metrics.MESSAGES_DEAD_LETTERED.labels("requests").inc()
        await self._answer(None, delivery.ack())

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
        subscription = _BrokerSubscription(self, operation_id)
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


def _delivery_count(delivery: AbstractIncomingMessage) -> int:
    """How many times the broker delivered this message before (quorum queues count)."""
    count = (delivery.headers or {}).get("x-delivery-count", 0)
    return count if isinstance(count, int) else 0
