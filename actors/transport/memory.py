"""The in-process transport: asyncio queues, the embedded default and the unit-test seam."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator

import structlog

from actors.transport.base import (
    MAX_HANDLER_ATTEMPTS,
    EventSubscription,
    MessageHandler,
    Transport,
)
from actors.wire.events import Event, event_kind
from actors.wire.messages import Message
from banks import metrics

log = structlog.get_logger(__name__)


class MemorySubscription(EventSubscription):
    """Events queued for one subscriber."""

    def __init__(self, transport: MemoryTransport, operation_id: str | None) -> None:
        self.operation_id = operation_id
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self._transport = transport

    def offer(self, event: Event) -> None:
        if self.operation_id is None or event.operation_id == self.operation_id:
            self._queue.put_nowait(event)

    async def __aiter__(self) -> AsyncIterator[Event]:
        while (event := await self._queue.get()) is not None:
            yield event

    async def close(self) -> None:
        self._transport._subscriptions.discard(self)
        self._queue.put_nowait(None)


class MemoryTransport(Transport):
    """One mailbox queue for the process; handlers run one message at a time.

    ``join()`` waits until every mailbox is empty and re-raises the first exception a
    handler raised, so a test fails loudly instead of hanging.
    """

    def __init__(self) -> None:
        self._mailbox: deque[Message] = deque()
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._subscriptions: set[MemorySubscription] = set()
        self._consumer: asyncio.Task[None] | None = None
        self._failure: BaseException | None = None
        self.sent = 0
        self.published = 0

    async def send(self, message: Message) -> None:
        self._mailbox.append(message)
        self.sent += 1
        self._idle.clear()
        self._wakeup.set()

    async def send_many(self, messages: list[Message]) -> None:
        if messages:
            self._mailbox.extend(messages)
            self.sent += len(messages)
            self._idle.clear()
            self._wakeup.set()

    async def publish(self, event: Event) -> None:
        self.published += 1
        metrics.EVENTS_PUBLISHED.inc(event_kind(event))
        for subscription in self._subscriptions:
            subscription.offer(event)

    def subscribe(self, operation_id: str | None = None) -> MemorySubscription:
        subscription = MemorySubscription(self, operation_id)
        self._subscriptions.add(subscription)
        return subscription

    async def consume(self, handler: MessageHandler) -> None:
        if self._consumer is not None:
            raise RuntimeError("MemoryTransport.consume was already called")
        self._consumer = asyncio.create_task(self._run(handler), name="memory-transport")

    async def _run(self, handler: MessageHandler) -> None:
        mailbox = self._mailbox
        while True:
            while mailbox:
                await self._deliver(mailbox.popleft(), handler)
            self._idle.set()
            self._wakeup.clear()
            await self._wakeup.wait()

    async def _deliver(self, message: Message, handler: MessageHandler) -> None:
        """Hand one message over, trying again on failure; give it up after the last try."""
        for attempt in range(1, MAX_HANDLER_ATTEMPTS + 1):
            try:
                await handler(message)  # nothing to settle: no other worker to hand to
                return
            except Exception as error:
                # A handler bug must not stall every other actor: record and go on.
                log.exception("message_handler_failed", message_kind=type(message).__name__,
                              operation_id=message.operation_id, attempt=attempt)
                if self._failure is None:
                    self._failure = error
                reason = f"{type(error).__name__}: {error}"
        await self.give_up(message, f"handler failed {MAX_HANDLER_ATTEMPTS} times: {reason}")

    async def join(self, timeout: float | None = None) -> None:
        """Wait until no message is queued, then re-raise the first handler failure.

        Raises:
            TimeoutError: if the mailboxes are not empty within ``timeout``.
        """
        async with asyncio.timeout(timeout):
            await self._idle.wait()
        if self._failure is not None:
            raise self._failure

    async def close(self) -> None:
        if self._consumer is not None:
            self._consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._consumer
            self._consumer = None
        for subscription in list(self._subscriptions):
            await subscription.close()
