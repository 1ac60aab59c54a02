"""The transport seam: how actor messages and events travel.

Actors only ever call ``send`` and ``publish``; a worker calls ``consume`` once with the
function that delivers a message to its actor. ``MemoryTransport`` carries everything in
one process (the embedded default); ``AmqpTransport`` carries it over RabbitMQ. The
actor code does not know which one it runs on.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType

import structlog

from actors.wire.events import Event
from actors.wire.messages import Message

log = structlog.get_logger(__name__)

# A handler applies a message and returns what must finish before the message may be
# forgotten (acked): the activity it started and the journal entries and messages that
# follow from it. None means the message's effect is already complete.
Settlement = Awaitable[None] | None
MessageHandler = Callable[[Message], Awaitable[Settlement]]
# Called with a predicate ``(operation_id, node) -> bool`` naming the actors to drop, or
# None for every actor.
ActorFilter = Callable[[str, int], bool]
ResetHandler = Callable[[ActorFilter | None], None]
# Called with a message whose handler failed ``MAX_HANDLER_ATTEMPTS`` times and the reason:
# the message is set aside (dead-lettered), so its operation must be failed, not left
# waiting for it.
UndeliverableHandler = Callable[[Message, str], Awaitable[None]]
# Handler failures of one message before it is given up: enough to ride out a bank or
# broker hiccup, few enough that a poison message fails its operation within seconds.
MAX_HANDLER_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class RequestVerdict:
    """What became of one request from the request queue.

    ``accepted``: it is carried out (or was already: a duplicate). Otherwise ``reason``
    says why not; ``retry`` asks for it to be delivered again later (the bank was
    unreachable, say) instead of being set aside as rejected.
    """

    accepted: bool
    reason: str | None = None
    retry: bool = False


@dataclass(frozen=True, slots=True)
class IncomingRequest:
    """One request as it came off the queue: its bytes and what the broker says of it.

    ``user_id`` is the publisher's broker user when the message carries one: RabbitMQ
    refuses a message whose ``user_id`` is not the publishing connection's own user, so
    a present ``user_id`` is an identity the broker vouched for. ``content_type`` is as
    the publisher set it (None if not). ``attempt`` counts this worker's deliveries of
    the same request after a retry verdict (1 for a first delivery; see the transport).
    """

    body: bytes
    message_id: str | None = None
    user_id: str | None = None
    auth_token: str | None = field(default=None, repr=False)  # a secret: never shown
    content_type: str | None = None
    attempt: int = 1


RequestHandler = Callable[[IncomingRequest], Awaitable[RequestVerdict]]


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
    """Carries actor messages to mailboxes and events to subscribers.

    ``durable`` transports keep a message until its handler's settlement completes and
    hand it to another worker if this one dies first; their actors must therefore make a
    message's cause durable before sending it, and rebuild state from the journal.
    """

    durable: bool = False

    @property
    def connected(self) -> bool:
        """Whether the link to the other workers is up (always, in one process)."""
        return True

    def activated_at(self, operation_id: str, node: int) -> float:
        """When (monotonic seconds) this worker began to receive the mailbox of this actor.

        An actor whose mailbox came to this worker after the operation did may have been
        driven by another worker before: the host then rebuilds it from the journal.
        """
        return 0.0

    def on_reset(self, handler: ResetHandler) -> None:  # noqa: B027 - optional hook
        """Call ``handler`` when this worker lost its mailboxes (the broker link broke):
        their unacked messages go to other workers, so local actor state is stale."""

    def on_undeliverable(self, handler: UndeliverableHandler) -> None:
        """Call ``handler`` for each message given up after ``MAX_HANDLER_ATTEMPTS``."""
        self._undeliverable_handlers().append(handler)

    def _undeliverable_handlers(self) -> list[UndeliverableHandler]:
        found: list[UndeliverableHandler] | None = self.__dict__.get("_undeliverable")
        if found is None:
            found = self.__dict__["_undeliverable"] = []
        return found

    async def give_up(self, message: Message, reason: str) -> None:
        """Tell every ``on_undeliverable`` handler that ``message`` is given up."""
        for handler in self._undeliverable_handlers():
            try:
                await handler(message, reason)
            except Exception as error:  # the deadline still ends the operation
                log.error("undeliverable_handler_failed", operation_id=message.operation_id,
                          error=f"{type(error).__name__}: {error}")

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
