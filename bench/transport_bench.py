"""Broker throughput: raw aio-pika round trips against Strongbox actor transitions.

One run, one broker, printed as a table:

- **raw**: messages published with confirms (64 in flight), consumed and acked, one by
  one, on a queue of their own: the broker's round trip rate on this machine;
- **strongbox, N workers**: a no-op protect of a 10,000-resource graph (a project with
  3,333 servers of 2 volumes each) requested through the queue and carried out by N
  worker processes; a transition is one activity of one resource finishing (three per
  resource), each driven by actor messages through the broker. Each case runs twice:
  with a client watching only the outcome (bound to ``<operation>.operation.*``, as a
  plain AMQP client waiting for the result would), and with one receiving every event
  (as ``strongbox protect --wait`` does).

The raw rate is measured before and after each run and the two averaged; each case runs
three times (``--repeat``) and the median ratio to raw, with its spread, is what to compare
across machines. Run: ``make bench-transport``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import aio_pika

from actors.transport.topology import events_exchange
from actors.wire.events import OperationFinished, decode_event
from actors.wire.requests import ProtectRequest, ResourceRef
from bench.synthetic import PROJECT
from tests import broker
from tests.cluster.cluster import Cluster

RAW_MESSAGES = 10_000


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


async def strongbox_transitions(url: str, workers: int, servers: int,
                                all_events: bool) -> tuple[float, int]:
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
            if all_events:
                finished = await cluster.run(request, timeout=1800)
            else:
                finished = await _run_watching_outcome(cluster, request)
            elapsed = time.perf_counter() - began
            if finished.status != "succeeded":
                raise RuntimeError(f"bench operation failed: {finished.error}")
            return 3 * finished.resource_count / elapsed, finished.resource_count
        finally:
            await cluster.close()


async def _run_watching_outcome(cluster: Cluster, request: ProtectRequest) -> OperationFinished:
    """Publish the request and wait for its ``operation_finished`` event only, bound the
    way a plain AMQP client waiting for the outcome would bind (``<operation>.operation.*``)."""
    connection = await aio_pika.connect(cluster.url)
    try:
        channel = await connection.channel()
        exchange = await channel.get_exchange(events_exchange(cluster.namespace))
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchange, routing_key=f"{request.request_id}.operation.*")
        await cluster.submit(request)
        async with queue.iterator() as deliveries:
            async for delivery in deliveries:
                event = decode_event(delivery.body)
                if isinstance(event, OperationFinished):
                    return event
    finally:
        await connection.close()
    raise RuntimeError("the event queue closed before the operation finished")


async def main(servers: int, worker_counts: list[int], repeat: int) -> None:
    url = os.environ.get("STRONGBOX_AMQP_URL", broker.DEFAULT_URL)
    # The raw rate is measured right before and right after each Strongbox run and the two
    # averaged, so that a machine busy with other work skews both sides alike; each case
    # runs ``repeat`` times and the median ratio is reported with the spread.
    rows: list[tuple[str, str, float, float, list[float]]] = []
    raw_before = await raw_round_trips(url, RAW_MESSAGES)
    for workers in worker_counts:
        for all_events in (False, True):
            rates, raws, ratios = [], [], []
            for _ in range(repeat):
                rate, resources = await strongbox_transitions(url, workers, servers, all_events)
                raw_after = await raw_round_trips(url, RAW_MESSAGES)
                raw = (raw_before + raw_after) / 2
                rates.append(rate)
                raws.append(raw)
                ratios.append(rate / raw)
                raw_before = raw_after
            watching = "every event" if all_events else "the outcome"
            rows.append((f"strongbox, {workers} worker(s), watching {watching}", str(resources),
                         statistics.median(rates), statistics.median(raws), ratios))
    print(f"{'case':<46} {'resources':>9} {'per second':>10} {'raw then':>9} {'vs raw':>7} "
          f"{'spread':>11}")
    for name, resources, rate, raw, ratios in rows:
        print(f"{name:<46} {resources:>9} {rate:>10,.0f} {raw:>9,.0f} "
              f"{statistics.median(ratios):>7.2f} {min(ratios):>5.2f}-{max(ratios):.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--servers", type=int, default=3333,
                        help="servers in the project (resources = 1 + 3 x servers)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 3],
                        help="worker counts to measure")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of each case; the median ratio is reported")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.servers, arguments.workers, arguments.repeat))
