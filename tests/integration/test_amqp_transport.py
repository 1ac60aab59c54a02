"""The AMQP transport on the real broker: events for plain consumers, dead letters."""

from __future__ import annotations

import asyncio

import aio_pika
import pytest

from actors.transport.amqp import redact_url, shard_of
from actors.wire.events import ActivityStarted, decode_event
from actors.wire.messages import ParentPreDone
from tests import broker


async def next_message(queue, seconds: float = 5.0):
    """The next message of ``queue``, waiting up to ``seconds`` (events are not confirmed)."""
    async with asyncio.timeout(seconds), queue.iterator() as messages:
        async for message in messages:
            await message.ack()
            return message
    raise AssertionError("the queue's consumer ended")


@pytest.fixture
def amqp_url() -> str:
    return broker.broker_url()


async def test_a_plain_amqp_consumer_picks_events_by_routing_key(amqp_url):
    namespace = broker.new_namespace()
    transport = await broker.connect(amqp_url, namespace)
    plain = await aio_pika.connect(amqp_url)
    try:
        channel = await plain.channel()
        queue = await channel.declare_queue(exclusive=True)
        # one resource type, any operation, any state
        await queue.bind(f"{namespace}.events", routing_key="*.OS::Cinder::Volume.*")
        everything = await channel.declare_queue(exclusive=True)
        await everything.bind(f"{namespace}.events", routing_key="#")
        for resource_type in ("OS::Nova::Server", "OS::Cinder::Volume"):
            await transport.publish(
                ActivityStarted(
                    operation_id="op-1",
                    node=0,
                    resource_type=resource_type,
                    resource_id="x",
                    activity="protect_pre",
                    state="pre",
                )
            )
        message = await next_message(queue)
        event = decode_event(message.body)
        assert event.resource_type == "OS::Cinder::Volume"
        assert message.routing_key == "op-1.OS::Cinder::Volume.pre"
        # the broker routes a publish to every bound queue at once: when the catch-all
        # queue holds both events, the filtered queue holds all it will ever get
        await next_message(everything)
        await next_message(everything)
        assert await queue.get(fail=False) is None
    finally:
        await plain.close()
        await transport.close()
        await broker.delete_namespace(amqp_url, namespace)


async def test_an_undecodable_actor_message_is_dead_lettered_and_the_shard_keeps_serving(amqp_url):
    namespace = broker.new_namespace()
    transport = await broker.connect(amqp_url, namespace)
    received: list[object] = []
    arrived = asyncio.Event()

    async def handler(message) -> None:
        received.append(message)
        arrived.set()

    plain = await aio_pika.connect(amqp_url)
    try:
        await transport.consume(handler)
        channel = await plain.channel()
        exchange = await channel.get_exchange(f"{namespace}.actors")
        shard = shard_of("op-2", 3, broker.TEST_SHARDS)
        await exchange.publish(aio_pika.Message(b"{not json"), routing_key=f"shard.{shard}")
        await transport.send(ParentPreDone(operation_id="op-2", to=3, sender=-1))
        await asyncio.wait_for(arrived.wait(), timeout=5)
        assert received == [ParentPreDone(operation_id="op-2", to=3, sender=-1)]
        dead = await channel.get_queue(f"{namespace}.dead")
        dead_letter = await next_message(dead)
        assert dead_letter.body == b"{not json"
    finally:
        await plain.close()
        await transport.close()
        await broker.delete_namespace(amqp_url, namespace)


def test_the_broker_password_never_appears_in_what_we_log():
    assert (
        redact_url("amqp://guest:s3cret@broker:5672/vhost") == "amqp://guest:***@broker:5672/vhost"
    )
    assert "s3cret" not in redact_url("amqps://u:s3cret@h/")
