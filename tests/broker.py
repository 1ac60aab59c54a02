"""The real RabbitMQ broker for tests: find it, or skip (never under CI), and clean up."""

from __future__ import annotations

import asyncio
import os
import uuid

import aio_pika
import pytest

from actors.transport.amqp import AmqpTransport

DEFAULT_URL = "amqp://guest:guest@127.0.0.1:5672/"
TEST_SHARDS = 6


def broker_url() -> str:
    """The broker URL, or skip the test; under CI a missing broker fails instead."""
    url = os.environ.get("STRONGBOX_AMQP_URL", DEFAULT_URL)

    async def probe() -> None:
        connection = await asyncio.wait_for(aio_pika.connect(url), timeout=5)
        await connection.close()

    try:
        asyncio.run(probe())
    except Exception as error:
        reason = f"no RabbitMQ broker answers at {url.split('@')[-1]}: {type(error).__name__}"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI is set: the broker tier may not be skipped)")
        pytest.skip(f"{reason}; start one with 'rabbitmq-server -detached'")
    return url


def new_namespace() -> str:
    """A namespace of queues and exchanges for one test alone."""
    return f"strongbox-test-{uuid.uuid4().hex[:10]}"


async def connect(url: str, namespace: str) -> AmqpTransport:
    """A transport with few shards, as the tests use it."""
    return await AmqpTransport.connect(url, namespace=namespace, shards=TEST_SHARDS)


async def delete_namespace(url: str, namespace: str) -> None:
    """Remove every queue and exchange a test's namespace declared."""
    connection = await aio_pika.connect(url)
    channel = await connection.channel()
    for shard in range(TEST_SHARDS):
        await channel.queue_delete(f"{namespace}.actors.shard.{shard}")
    for name in ("dead", "requests", "requests.dead"):
        await channel.queue_delete(f"{namespace}.{name}")
    for name in ("actors", "events", "dead", "presence", "requests.in"):
        await channel.exchange_delete(f"{namespace}.{name}")
    await connection.close()
