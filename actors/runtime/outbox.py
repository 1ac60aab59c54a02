"""Messages and events produced by one state change, sent after the change is complete."""

from __future__ import annotations

from actors.transport.base import Transport
from actors.wire.events import Event
from actors.wire.messages import Message


class Outbox:
    """Collects what a synchronous state change wants to send."""

    __slots__ = ("events", "messages")

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.events: list[Event] = []

    def send(self, message: Message) -> None:
        """Queue an actor message."""
        self.messages.append(message)

    def event(self, event: Event) -> None:
        """Queue a progress event."""
        self.events.append(event)

    async def flush(self, transport: Transport) -> None:
        """Publish the events, then send the messages (events first: a subscriber sees a
        resource finish before anything it unlocks starts)."""
        for event in self.events:
            await transport.publish(event)
        if self.messages:
            await transport.send_many(self.messages)
        self.messages = []
        self.events = []
