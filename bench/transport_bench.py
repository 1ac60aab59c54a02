"""Broker throughput: raw aio-pika round trips against Strongbox actor transitions.

One run, one broker, printed as a table:

- **raw**: messages published with confirms (64 in flight), consumed and acked, one by
  one, on a queue of their own: the broker's round trip rate on this machine;
- **strongbox, N workers**: a no-op protect of a 10,000-resource graph (a project with
  3,333 servers of 2 volumes each) requested through the queue and carried out by N
  worker processes; a transition is one activity of one resource finishing (three per
  resource), each driven by actor messages through the broker.

The ratio to the raw rate is what to compare across machines. Run: ``make bench-transport``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from pathlib import Path

import aio_pika

from actors.requests import ProtectRequest, ResourceRef
from bench.synthetic import PROJECT
from tests import broker
from tests.cluster.cluster import Cluster

RAW_MESSAGES = 20_000


async def raw_round_trips(url: str, count: int) -> float:
    """Round trips per second: publish with confirm, consume, ack."""
    connection = await aio_pika.connect(url)
    channel = await connection.channel(publisher_confirms=True)
    await channel.set_qos(prefetch_count=64)
    queue = await channel.declare_queue(f"bench-raw-{uuid.uuid4().hex[:8]}", auto_delete=True)
    done = asyncio.Event()
    received = 0

    async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        nonlocal received
        await message.ack()
        received += 1
        if received == count:
            done.set()

    await queue.consume(on_message)
    in_flight = asyncio.Semaphore(64)

    async def publish(number: int) -> None:
        async with in_flight:
            await channel.default_exchange.publish(
                aio_pika.Message(b'{"n": %d}' % number,
                                 delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                routing_key=queue.name)

    began = time.perf_counter()
    await asyncio.gather(*(publish(n) for n in range(count)))
    await done.wait()
    elapsed = time.perf_counter() - began
    await queue.delete(if_unused=False, if_empty=False)
    await connection.close()
    return count / elapsed


async def strongbox_transitions(url: str, workers: int, servers: int) -> tuple[float, int]:
    """Activity completions per second for a no-op protect on ``workers`` processes."""
    with tempfile.TemporaryDirectory(prefix="strongbox-bench-") as root:
        cluster = Cluster(url, broker.new_namespace(), Path(root), plugin="noop")
        try:
            for _ in range(workers):
                cluster.start_worker()
            await cluster.connect()
            await cluster.wait_ready()
            await cluster.wait_balanced()
            request = ProtectRequest(resources=[ResourceRef(PROJECT, str(servers))])
            began = time.perf_counter()
            finished = await cluster.run(request, timeout=1800)
            elapsed = time.perf_counter() - began
            if finished.status != "succeeded":
                raise RuntimeError(f"bench operation failed: {finished.error}")
            return 3 * finished.resource_count / elapsed, finished.resource_count
        finally:
            await cluster.close()


async def main(servers: int) -> None:
    url = os.environ.get("STRONGBOX_AMQP_URL", broker.DEFAULT_URL)
    raw = await raw_round_trips(url, RAW_MESSAGES)
    rows = [("raw aio-pika round trips", "-", raw)]
    for workers in (1, 3):
        rate, resources = await strongbox_transitions(url, workers, servers)
        rows.append((f"strongbox, {workers} worker(s)", str(resources), rate))
    print(f"{'case':<30} {'resources':>10} {'per second':>12} {'vs raw':>8}")
    for name, resources, rate in rows:
        print(f"{name:<30} {resources:>10} {rate:>12,.0f} {rate / raw:>8.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--servers", type=int, default=3333,
                        help="servers in the project (resources = 1 + 3 x servers)")
    asyncio.run(main(parser.parse_args().servers))
