"""Event subscriptions across a broker restart, on the chaos suite's private RabbitMQ node
(restarting the shared broker would disturb every other test on the machine).

A long-lived client (the chaos suite, an application embedding the transport) subscribes
at any moment, also while its link is down and aio-pika is reconnecting; the subscription
must bind once the link is back, never wait forever.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

import aio_pika
import aiormq
import pytest

from actors.transport.amqp import AmqpTransport
from actors.transport.topology import events_exchange
from actors.wire.events import Event, OperationFinished, encode_event
from tests.chaos.broker_node import BrokerNode

pytestmark = pytest.mark.broker

SHARDS = 2


@pytest.fixture(scope="module")
def node() -> Iterator[BrokerNode]:
    if not BrokerNode.available():
        if os.environ.get("CI"):
            pytest.fail("a private broker node needs rabbitmq-server, rabbitmqctl and root (CI)")
        pytest.skip("a private broker node needs rabbitmq-server, rabbitmqctl and root")
    broker = BrokerNode()
    broker.start()
    yield broker
    broker.remove()


def finished(operation_id: str) -> OperationFinished:
    return OperationFinished(operation_id=operation_id, operation_type="protect",
                             checkpoint_id="c-1", status="succeeded")


async def publish_from_elsewhere(url: str, namespace: str, event: Event) -> None:
    """Publish ``event`` as another worker would, on a fresh connection."""
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.get_exchange(events_exchange(namespace))
        await exchange.publish(aio_pika.Message(encode_event(event)),
                               routing_key=event.routing_key)


async def reconnected(transport: AmqpTransport) -> asyncio.Event:
    """Set once the transport's connection is back and its channels are restored."""
    back = asyncio.Event()
    transport._connection.reconnect_callbacks.add(lambda *_: back.set())
    return back


async def test_a_subscription_made_while_the_broker_is_down_binds_when_it_is_back(
        node: BrokerNode) -> None:
    namespace = "reconnect-bind"
    worker = await AmqpTransport.connect(node.url, namespace=namespace, shards=SHARDS)
    client = await AmqpTransport.connect(node.url, namespace=namespace, client=True)
    try:
        await asyncio.to_thread(node.stop)
        subscription = client.subscribe("op-1")  # the link is down: it waits for one
        await asyncio.to_thread(node.start)
        async with asyncio.timeout(60):
            await subscription.bound  # type: ignore[attr-defined]
        sent = finished("op-1")
        await publish_from_elsewhere(node.url, namespace, sent)
        async with asyncio.timeout(30):
            event = await anext(aiter(subscription))
        assert event == sent
        await subscription.close()
    finally:
        await client.close()
        await worker.close(delete=True)


async def test_a_subscription_closed_while_the_broker_is_down_is_not_restored(
        node: BrokerNode) -> None:
    namespace = "reconnect-close"
    worker = await AmqpTransport.connect(node.url, namespace=namespace, shards=SHARDS)
    client = await AmqpTransport.connect(node.url, namespace=namespace, client=True)
    try:
        subscription = client.subscribe("op-2")
        async with asyncio.timeout(30):
            await subscription.bound  # type: ignore[attr-defined]
        queue = subscription.queue_name  # type: ignore[attr-defined]
        back = await reconnected(client)
        await asyncio.to_thread(node.stop)
        await subscription.close()  # while the link is down
        await asyncio.to_thread(node.start)
        async with asyncio.timeout(60):
            await back.wait()
        connection = await aio_pika.connect(node.url)
        async with connection:
            channel = await connection.channel()
            with pytest.raises(aiormq.exceptions.ChannelNotFoundEntity):
                await channel.declare_queue(queue, passive=True)
    finally:
        await client.close()
        await worker.close(delete=True)
