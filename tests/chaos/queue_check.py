"""The queues after a trial: nothing left in the actor shards or the request queue, and in
the dead-letter queues only what the suite expects.

A request the suite saw refused (its ``RequestRejected``) is set aside in
``<ns>.requests.dead`` with its reason, as it must be: the check takes that dead letter
(matched by its message id, the request id) and expects it to come. Any other dead
letter (a request the suite saw no refusal of, an actor message in ``<ns>.dead``) is a
failed check, named with its reason, and taken too, so that it fails one trial, not every
one after it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aio_pika

from actors.transport.topology import (
    REASON_HEADER,
    dead_letters,
    rejected_requests_queue,
    requests_queue,
    shard_queue,
)

SETTLE = 20.0  # acks trail an end; a dead letter trails its refusal's event (a broker restart)
POLL = 0.1


class ExpectedDeadLetters:
    """The requests the suite saw refused, whose dead letters are due."""

    def __init__(self) -> None:
        self.due: dict[str, str] = {}  # request id -> the refusal's reason
        self.taken: set[str] = set()
        self.count = 0  # the expected dead letters taken

    def expect(self, request_id: str, reason: str) -> None:
        self.due[request_id] = reason

    def take(self, message_id: str | None) -> bool:
        """Whether a dead letter with this message id was expected. A refusal delivered
        again (its ack was lost) is set aside again: a second one is expected too."""
        if message_id is None:
            return False
        if self.due.pop(message_id, None) is not None:
            self.taken.add(message_id)
        elif message_id not in self.taken:
            return False
        self.count += 1
        return True

    def overdue(self) -> dict[str, str]:
        """The dead letters still due, now given up on (one arriving later is taken)."""
        overdue, self.due = self.due, {}
        self.taken.update(overdue)
        return overdue


async def unexpected_in_queues(url: str, namespace: str, shards: int,
                               expected: ExpectedDeadLetters) -> list[str]:
    """Take the expected dead letters; a line for each message that should not be there."""
    problems: list[str] = []
    live = [shard_queue(namespace, n) for n in range(shards)] + [requests_queue(namespace)]
    left: dict[str, int] = {}
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        deadline = asyncio.get_running_loop().time() + SETTLE
        while True:
            problems += await _take_dead_letters(channel, namespace, expected)
            left = {}
            for name in live:
                queue = await channel.declare_queue(name, passive=True)
                if queue.declaration_result.message_count:
                    left[name] = queue.declaration_result.message_count
            if (not left and not expected.due) or asyncio.get_running_loop().time() > deadline:
                break
            # RabbitMQ tells a client nothing when a queue empties or a message arrives in a
            # queue it does not consume: there is no event to wait on, so look again
            await asyncio.sleep(POLL)
    if left:
        problems.append(f"queues not empty: {left}")
    problems += [f"request {request_id} was refused ({reason[:120]}) but not dead-lettered"
                 for request_id, reason in expected.overdue().items()]
    return problems


async def _take_dead_letters(channel: Any, namespace: str,
                             expected: ExpectedDeadLetters) -> list[str]:
    problems = []
    for name in (rejected_requests_queue(namespace), dead_letters(namespace)):
        queue = await channel.declare_queue(name, passive=True)
        while (message := await queue.get(no_ack=False, fail=False)) is not None:
            await message.ack()
            if name == rejected_requests_queue(namespace) and expected.take(message.message_id):
                continue
            headers = message.headers or {}
            reason = headers.get(REASON_HEADER) or headers.get("x-first-death-reason")
            problems.append(f"unexpected dead letter in {name} (message {message.message_id}): "
                            f"{str(reason)[:200]}")
    return problems
