"""An event subscription over the broker: local events at once, other workers' once bound."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

import structlog
from aio_pika.abc import AbstractIncomingMessage

from actors.errors import TransportError
from actors.transport.amqp import retry
from actors.transport.memory import MemorySubscription
from actors.transport.topology import ORIGIN_HEADER
from actors.wire.events import decode_event, routing_part

if TYPE_CHECKING:
    from actors.transport.amqp.link import AmqpLink

log = structlog.get_logger(__name__)


class BrokerSubscription(MemorySubscription):
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

    def __init__(self, transport: AmqpLink, operation_id: str | None) -> None:
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
                    await asyncio.sleep(retry.RETRY_DELAY)  # the connection's reconnect interval
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


__all__ = ["BrokerSubscription"]
