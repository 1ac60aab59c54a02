"""Malformed input at scale: 10,000 generated bad requests through the real broker to two
real worker processes. Every one is accounted for (dead-lettered with a reason, or told it
duplicates an operation), every refusal has its ``RequestRejected`` event, no worker
dies or loops, and both still serve a valid request afterwards.

``STRONGBOX_FUZZ_REQUESTS`` sets how many (the long version: e.g. 100000).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import Counter
from pathlib import Path

import aiormq
import pytest
import structlog
from aiormq.abc import DeliveredMessage

from actors.transport.topology import (
    PUBLISHER_HEADER,
    REASON_HEADER,
    WORKER_HEADER,
    events_exchange,
    rejected_requests_queue,
    requests_exchange,
    requests_queue,
)
from actors.wire.requests import ProtectRequest, ResourceRef
from bench.synthetic import PROJECT
from tests import broker
from tests.cluster.cluster import Cluster
from tests.cluster.fuzz import Bad, generate

pytestmark = pytest.mark.broker

log = structlog.get_logger(__name__)

COUNT = int(os.environ.get("STRONGBOX_FUZZ_REQUESTS", "10000"))
DUPLICATES = 20
BATCH = 500  # publishes in flight at once, each confirmed by the broker
# what a worker logs when it crashed a handler or loops on a message it cannot place
TROUBLE = ("request_handler_failed", "request_intake_failed", "actor_message_requeued",
           "operation_load_failed", "Traceback")


@pytest.fixture(scope="module")
def amqp_url() -> str:
    return broker.broker_url()


async def publish_all(url: str, namespace: str, requests: list[Bad]) -> None:
    """Publish every request, ``BATCH`` at a time, each confirmed by the broker."""
    connection = await aiormq.connect(url)
    channel = await connection.channel(publisher_confirms=True)
    for start in range(0, len(requests), BATCH):
        await asyncio.gather(*(
            channel.basic_publish(
                bad.body, exchange=requests_exchange(namespace),
                routing_key=requests_queue(namespace),
                properties=aiormq.spec.Basic.Properties(
                    content_type=bad.content_type, delivery_mode=2, user_id="guest"))
            for bad in requests[start:start + BATCH]))
    await connection.close()


class Outcomes:
    """What came back: dead letters and request events, consumed by a plain AMQP client."""

    def __init__(self) -> None:
        self.dead: list[DeliveredMessage] = []
        self.events: Counter[str] = Counter()
        self.rejected_ids: list[str | None] = []
        self.changed = asyncio.Event()

    async def on_dead(self, message: DeliveredMessage) -> None:
        self.dead.append(message)
        self.changed.set()

    async def on_event(self, message: DeliveredMessage) -> None:
        event = json.loads(message.body)
        if event["kind"].startswith("request_"):
            self.events[event["kind"]] += 1
            if event["kind"] == "request_rejected":
                self.rejected_ids.append(event.get("request_id"))
            self.changed.set()

    async def until(self, done, timeout: float) -> None:
        async with asyncio.timeout(timeout):
            while not done():
                self.changed.clear()
                await self.changed.wait()


async def test_ten_thousand_malformed_requests_are_each_refused_with_a_reason_and_an_event(
        amqp_url: str, tmp_path: Path) -> None:
    cluster = Cluster(amqp_url, broker.new_namespace(), tmp_path)
    try:
        workers = [cluster.start_worker(), cluster.start_worker()]
        await cluster.wait_ready()
        await cluster.connect()
        first = ProtectRequest(resources=[ResourceRef(PROJECT, "2")])
        assert (await cluster.run(first)).status == "succeeded"

        outcomes = Outcomes()
        connection = await aiormq.connect(amqp_url)
        channel = await connection.channel()
        declared = await channel.queue_declare(exclusive=True)
        await channel.queue_bind(declared.queue, events_exchange(cluster.namespace),
                                 routing_key="#")
        await channel.basic_consume(declared.queue, outcomes.on_event, no_ack=True)
        await channel.basic_consume(rejected_requests_queue(cluster.namespace),
                                    outcomes.on_dead, no_ack=True)

        requests = generate(seed=12, count=COUNT, duplicate_of=first.request_id,
                            duplicates=DUPLICATES)
        started = time.monotonic()
        await publish_all(amqp_url, cluster.namespace, requests)
        published = time.monotonic()
        await outcomes.until(lambda: (len(outcomes.dead) + outcomes.events["request_duplicate"]
                                      >= len(requests)
                                      and outcomes.events["request_rejected"]
                                      >= len(outcomes.dead)), timeout=240)
        answered = time.monotonic()
        # the measurement: shown with -o log_cli=true -o log_cli_level=INFO
        log.info("fuzz_measured", requests=len(requests), publish_s=published - started,
                 answered_s=answered - started, dead=len(outcomes.dead),
                 events=dict(outcomes.events))

        # every request accounted for: refused with a reason, or told it is a duplicate
        assert len(outcomes.dead) + outcomes.events["request_duplicate"] == len(requests)
        assert outcomes.events["request_duplicate"] == DUPLICATES
        assert outcomes.events["request_accepted"] == 0  # no generated request started anything
        assert outcomes.events["request_rejected"] == len(outcomes.dead)
        reasons = [str(m.header.properties.headers[REASON_HEADER]) for m in outcomes.dead]
        assert all(reasons) and not [r for r in reasons if r.startswith("internal error")]
        assert {m.header.properties.headers[WORKER_HEADER] for m in outcomes.dead} <= {
            w.encode() for w in workers} | set(workers)
        # the publisher the broker vouched for, kept although a worker republished it
        assert {m.header.properties.headers[PUBLISHER_HEADER]
                for m in outcomes.dead} <= {"guest", b"guest"}
        families = Counter(bad.family for bad in requests)
        assert families["deep nesting"] and families["10 kB id"] and families["100k resources"]
        assert sum("nested too deeply" in r or "nested deeper" in r for r in reasons)
        assert sum("OperationNotFound" in r for r in reasons)
        assert sum("content type" in r for r in reasons) == families["wrong content type"]

        # nobody crashed, nobody loops, and both still serve
        assert all(cluster.workers[w].poll() is None for w in workers)
        for worker in workers:
            logged = cluster.log_of(worker)
            assert not [t for t in TROUBLE if t in logged], logged[-3000:]
        for attempt in range(2):  # one each, whichever takes it
            again = ProtectRequest(resources=[ResourceRef(PROJECT, str(3 + attempt))])
            assert (await cluster.run(again, timeout=60)).status == "succeeded"
        await connection.close()
    finally:
        await cluster.close()
