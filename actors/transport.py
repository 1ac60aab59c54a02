"""The transport seam: how actor messages and events travel.

Actors only ever call ``send`` and ``publish``; a worker calls ``consume`` once with the
function that delivers a message to its actor. ``MemoryTransport`` carries everything in
one process (the embedded default); ``AmqpTransport`` carries it over RabbitMQ. The
actor code does not know which one it runs on.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Awaitable, Callable
from types import TracebackType

from actors.events import Event
from actors.messages import Message

MessageHandler = Callable[[Message], Awaitable[None]]


class EventSubscription(abc.ABC):
    """An async iterator of events, optionally for one operation; close it when done."""

    @abc.abstractmethod
    def __aiter__(self) -> AsyncIterator[Event]:
        """Iterate over events as they arrive."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Stop receiving events."""

    async def __aenter__(self) -> EventSubscription:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()


class Transport(abc.ABC):
    """Carries actor messages to mailboxes and events to subscribers."""

    @abc.abstractmethod
    async def send(self, message: Message) -> None:
        """Deliver ``message`` to the mailbox of ``(message.operation_id, message.to)``.

        Raises:
            TransportError: if it could not be handed over.
        """

    async def send_many(self, messages: list[Message]) -> None:
        """Deliver several messages; a transport may batch them.

        Raises:
            TransportError: if they could not be handed over.
        """
        for message in messages:
            await self.send(message)

    @abc.abstractmethod
    async def publish(self, event: Event) -> None:
        """Publish a progress event to every subscriber.

        Raises:
            TransportError: if it could not be handed over.
        """

    @abc.abstractmethod
    def subscribe(self, operation_id: str | None = None) -> EventSubscription:
        """Receive events (of one operation, or all) from now on."""

    @abc.abstractmethod
    async def consume(self, handler: MessageHandler) -> None:
        """Start delivering mailbox messages to ``handler``, one at a time per actor."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Stop consuming and release resources."""

    async def __aenter__(self) -> Transport:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()
