"""Every operation ends, over the real broker: poison messages, a bounded request queue,
deadlines, and operations whose messages are all lost."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import aio_pika
import msgspec
import pytest

from actors.errors import TransportError
from actors.operations.engine import Engine
from actors.runtime.operation_end import DEADLINE_EXCEEDED
from actors.service.reaper import reap_overdue
from actors.transport.amqp import AmqpTransport, retry
from actors.transport.base import MAX_HANDLER_ATTEMPTS, MessageHandler
from actors.transport.topology import ATTEMPTS_HEADER, REASON_HEADER
from actors.wire.messages import Cancel, Message, ParentPreDone, Start, decode_messages
from actors.wire.requests import ProtectRequest
from plugins.checkpoint.graph import ResourceGraph
from plugins.checkpoint.operation_record import read_operation_record
from plugins.registry import PluginRegistry
from tests import broker
from tests.conftest import write_provider
from tests.fakes import node

HANG = {"Test::Node#child": {"hang_at": "protect_parallel"}}


@pytest.fixture
def amqp_url() -> str:
    return broker.broker_url()


def family() -> ResourceGraph:
    return ResourceGraph([node("parent"), node("child"), node("sibling")], [[1, 2], [], []])


class PoisonAmqp(AmqpTransport):
    """The handler raises every time on the ParentPreDone to the child."""

    attempts = 0

    async def consume(self, handler: MessageHandler) -> None:
        async def poisoned(message: Message):
            if isinstance(message, ParentPreDone) and message.to == 1:
                PoisonAmqp.attempts += 1
                raise RuntimeError("poison on purpose")
            return await handler(message)
        await super().consume(poisoned)


class DroppingAmqp(AmqpTransport):
    """Publishes the Start and no actor message after it."""

    cancel_dropped: asyncio.Event

    async def send_many(self, messages: list[Message]) -> None:
        for message in messages:
            if isinstance(message, Start):
                await super().send_many([message])
            elif isinstance(message, Cancel) and message.reason == DEADLINE_EXCEEDED:
                self.cancel_dropped.set()


@contextlib.asynccontextmanager
async def engine_over(url: str, tmp_path: Path, registry: PluginRegistry,
                      cls: type[AmqpTransport] = AmqpTransport,
                      namespace: str | None = None) -> AsyncIterator[Engine]:
    namespace = namespace or broker.new_namespace()
    transport = await cls.connect(url, namespace=namespace, shards=broker.TEST_SHARDS)
    providers = write_provider(tmp_path / "providers", "recording")
    try:
        async with Engine.embedded(providers, registry=registry, transport=transport,
                                   lease_ttl=5.0) as engine:
            yield engine
    finally:
        await broker.delete_namespace(url, namespace)


async def get_all(url: str, queue_name: str) -> list[aio_pika.abc.AbstractIncomingMessage]:
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel()
        queue = await channel.get_queue(queue_name, ensure=False)
        found = []
        while (message := await queue.get(fail=False, no_ack=True)) is not None:
            found.append(message)
        return found
    finally:
        await connection.close()


async def test_a_shard_message_whose_handler_always_fails_fails_the_operation_and_is_dead_lettered(
        amqp_url, tmp_path, registry, monkeypatch):
    monkeypatch.setattr(retry, "RETRY_DELAY", 0.05)
    PoisonAmqp.attempts = 0
    namespace = broker.new_namespace()
    async with engine_over(amqp_url, tmp_path, registry, PoisonAmqp, namespace) as engine:
        result = await engine.run(ProtectRequest(resources=[]), graph=family(), timeout=30)
        assert result.status == "failed"
        assert PoisonAmqp.attempts == MAX_HANDLER_ATTEMPTS  # counted by the broker
        cause = f"handler failed {MAX_HANDLER_ATTEMPTS} times: RuntimeError: poison on purpose"
        assert result.error is not None and cause in result.error
        assert result.error.startswith("MessageUndeliverable: ParentPreDone")
        assert result.error_resource == "Test::Node#child"
        index, _, _ = await engine.show_checkpoint(result.checkpoint_id)
        assert index.status == "error" and cause in (index.error or "")
        dead = await get_all(amqp_url, f"{namespace}.dead")
        assert len(dead) == 1
        headers = dead[0].headers or {}
        assert f"ParentPreDone to {result.operation_id}/1: {cause}" in str(headers[REASON_HEADER])
        assert headers[ATTEMPTS_HEADER] == MAX_HANDLER_ATTEMPTS
        assert ParentPreDone(operation_id=result.operation_id, to=1, sender=0) in (
            decode_messages(dead[0].body))


async def test_the_request_queue_at_its_maximum_length_sends_the_oldest_to_requests_dead(
        amqp_url):
    namespace = broker.new_namespace()
    transport = await AmqpTransport.connect(amqp_url, namespace=namespace,
                                            shards=broker.TEST_SHARDS, max_queued_requests=3)
    try:
        for number in range(5):  # nobody consumes requests here
            await transport.publish_request(msgspec.json.encode({"request_id": f"r{number}"}),
                                            request_id=f"r{number}")
        dead = await get_all(amqp_url, f"{namespace}.requests.dead")
        assert [m.message_id for m in dead] == ["r0", "r1"]
        assert {(m.headers or {}).get("x-first-death-reason") for m in dead} == {"maxlen"}
        queued = await get_all(amqp_url, f"{namespace}.requests")
        assert [m.message_id for m in queued] == ["r2", "r3", "r4"]
    finally:
        await transport.close()
        await broker.delete_namespace(amqp_url, namespace)


async def test_a_queue_declared_with_other_arguments_is_an_error_naming_it_and_the_fix(amqp_url):
    namespace = broker.new_namespace()
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        # as an older Strongbox declared it: a classic queue
        await channel.declare_queue(f"{namespace}.actors.shard.0", durable=True,
                                    arguments={"x-single-active-consumer": True})
        with pytest.raises(TransportError) as raised:
            await broker.connect(amqp_url, namespace)
        message = str(raised.value)
        assert f"queue '{namespace}.actors.shard.0' exists with other arguments" in message
        assert f"rabbitmqctl delete_queue {namespace}.actors.shard.0" in message
        assert "--namespace" in message and "docs/messaging.md" in message
    finally:
        await connection.close()
        await broker.delete_namespace(amqp_url, namespace)


async def test_an_operation_past_its_deadline_is_cancelled_over_rabbitmq(
        amqp_url, tmp_path, registry):
    async with engine_over(amqp_url, tmp_path, registry) as engine:
        result = await engine.run(ProtectRequest(resources=[], parameters=HANG, deadline=1.0),
                                  graph=family(), timeout=30)
        assert (result.status, result.error) == ("cancelled", DEADLINE_EXCEEDED)
        index, _, _ = await engine.show_checkpoint(result.checkpoint_id)
        assert (index.status, index.error) == ("error", DEADLINE_EXCEEDED)


async def test_an_operation_whose_messages_are_all_lost_ends_by_its_deadline_over_rabbitmq(
        amqp_url, tmp_path, registry):
    DroppingAmqp.cancel_dropped = asyncio.Event()
    async with engine_over(amqp_url, tmp_path, registry, DroppingAmqp) as engine:
        operation = await engine.submit(ProtectRequest(resources=[], deadline=1.0),
                                        graph=family())
        await asyncio.wait_for(DroppingAmqp.cancel_dropped.wait(), timeout=15)
        assert await reap_overdue(engine, grace=0.0) == [operation]
        result = await engine.wait(operation, timeout=10)
        assert (result.status, result.error) == ("cancelled", DEADLINE_EXCEEDED)
        record = await read_operation_record(await engine.bank(engine.provider()), operation)
        assert record is not None and record.status == "cancelled"
        index, _, _ = await engine.show_checkpoint(result.checkpoint_id)
        assert (index.status, index.error) == ("error", DEADLINE_EXCEEDED)
