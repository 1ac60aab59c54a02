"""The request queue as any AMQP client sees it: bad requests set aside, good ones run."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiormq
import pytest

from actors.service.worker import WorkerOptions, run_worker
from actors.transport.amqp import AmqpTransport
from actors.transport.topology import REASON_HEADER, rejected_requests_queue
from actors.wire.events import Event, OperationFinished, OperationStarted, RequestRejected
from actors.wire.requests import CancelRequest, ProtectRequest, ResourceRef
from bench.synthetic import PROJECT, SERVER, VOLUME
from plugins.checkpoint.checkpoint import CheckpointStatus
from tests import broker
from tests.cluster.cluster import Cluster
from tests.cluster.plugin import cluster_registry

pytestmark = pytest.mark.broker


@pytest.fixture(scope="module")
def amqp_url() -> str:
    return broker.broker_url()


@asynccontextmanager
async def worker(url: str, root: Path) -> AsyncIterator[tuple[Cluster, AmqpTransport]]:
    """One worker in this process and a client transport, on a namespace of their own."""
    running = Cluster(url, broker.new_namespace(), root)
    stop, ready = asyncio.Event(), asyncio.Event()
    options = WorkerOptions(amqp_url=url, namespace=running.namespace,
                            shards=broker.TEST_SHARDS, providers_dir=str(running.providers),
                            worker_id="w-test")
    serving = asyncio.create_task(run_worker(options, registry=cluster_registry(),
                                             stop=stop, ready=ready))
    await asyncio.wait({serving, asyncio.ensure_future(ready.wait())},
                       return_when=asyncio.FIRST_COMPLETED)
    if serving.done():
        serving.result()
    client = await running.connect()
    try:
        yield running, client
    finally:
        stop.set()
        await serving
        await running.close()


async def rejected(url: str, namespace: str, count: int) -> list[tuple[bytes, dict]]:
    """Take ``count`` messages from the rejected-requests queue with a plain AMQP client."""
    connection = await aiormq.connect(url)
    channel = await connection.channel()
    deliveries = await consumed(channel, rejected_requests_queue(namespace))
    found: list[tuple[bytes, dict]] = []
    async with asyncio.timeout(30):
        while len(found) < count:
            message = await deliveries.get()
            found.append((message.body, dict(message.header.properties.headers or {})))
    await connection.close()
    return found


async def consumed(channel, queue: str) -> asyncio.Queue:
    """The messages of ``queue`` as they arrive, consumed by a plain aiormq channel."""
    deliveries: asyncio.Queue = asyncio.Queue()

    async def on_message(message) -> None:
        deliveries.put_nowait(message)

    await channel.basic_consume(queue, on_message, no_ack=True)
    return deliveries


async def test_bad_requests_are_set_aside_with_their_reason_and_the_worker_goes_on(
        amqp_url: str, tmp_path: Path) -> None:
    async with worker(amqp_url, tmp_path) as (running, client):
        subscription = client.subscribe()
        await subscription.bound  # type: ignore[attr-defined]
        bad = {
            "malformed": b'{"kind": "protect", "resources": [',
            "unknown kind": json.dumps({"kind": "format", "request_id": "r-kind"}).encode(),
            "wrong version": json.dumps({"kind": "delete", "v": 99, "checkpoint_id": "x",
                                         "request_id": "r-version"}).encode(),
            "unknown type": json.dumps({"kind": "protect", "request_id": "r-type",
                                        "resources": [{"type": "OS::Nova::Nothing",
                                                       "id": "1"}]}).encode(),
            "too large": b'{"kind": "protect", "pad": "' + b"x" * (10 << 20) + b'"}',
        }
        for body in bad.values():
            await client.publish_request(body)
        good = ProtectRequest(resources=[ResourceRef(PROJECT, "2")])
        events: list[Event] = []
        finished = await running.run(good, events=events)
        assert finished.status == "succeeded", finished.error

        answered = await rejected(amqp_url, running.namespace, len(bad))
        reasons = {body[:40]: headers[REASON_HEADER] for body, headers in answered}
        as_text = " | ".join(str(r) for r in reasons.values())
        assert "not valid JSON" in as_text
        assert "format" in as_text and "schema" in as_text  # the unknown kind, named
        assert "version 99" in as_text
        assert "OS::Nova::Nothing" in as_text
        assert "bytes; the limit is" in as_text
        rejections = []
        async with asyncio.timeout(10):
            async for event in subscription:
                if isinstance(event, RequestRejected):
                    rejections.append(event)
                if len(rejections) == len(bad):
                    break
        await subscription.close()
        assert {r.request_id for r in rejections} >= {"r-kind", "r-version", "r-type"}


async def test_the_same_request_twice_gives_one_operation(amqp_url: str, tmp_path: Path) -> None:
    async with worker(amqp_url, tmp_path) as (running, _client):
        request = ProtectRequest(resources=[ResourceRef(PROJECT, "3")])
        events: list[Event] = []
        await running.submit(request)
        finished = await running.run(request, events=events)  # the same request id again
        assert finished.status == "succeeded"
        store = await running.store()
        assert len(await store.list()) == 1


async def test_a_cancel_request_stops_a_running_operation(amqp_url: str, tmp_path: Path) -> None:
    async with worker(amqp_url, tmp_path) as (running, client):
        slow = ProtectRequest(resources=[ResourceRef(PROJECT, "4")],
                              parameters={t: {"delay": 30.0} for t in (SERVER, VOLUME)})
        subscription = client.subscribe(slow.request_id)
        await subscription.bound  # type: ignore[attr-defined]
        await running.submit(slow)
        async with asyncio.timeout(30):
            async for event in subscription:
                if isinstance(event, OperationStarted):
                    break
        await running.submit(CancelRequest(operation_id=slow.request_id))
        async with asyncio.timeout(10):  # the deadline: far less than the 30 s activities
            async for event in subscription:
                if isinstance(event, OperationFinished):
                    break
        await subscription.close()
        assert event.status == "cancelled"
        store = await running.store()
        index = await store.read_index(event.checkpoint_id)
        assert (index.status, index.error) == (CheckpointStatus.ERROR, "cancelled")


@pytest.mark.skipif(shutil.which("amqp-publish") is None, reason="amqp-tools not installed")
async def test_a_plain_amqp_client_publishes_a_request_and_reads_its_events(
        amqp_url: str, tmp_path: Path) -> None:
    async with worker(amqp_url, tmp_path) as (running, _client):
        request_id = str(uuid.uuid4())
        # a consumer that knows nothing of Strongbox: a queue bound to the topic exchange
        connection = await aiormq.connect(amqp_url)
        channel = await connection.channel()
        declared = await channel.queue_declare(exclusive=True)
        await channel.queue_bind(declared.queue, f"{running.namespace}.events",
                                 routing_key=f"{request_id}.#")
        body = json.dumps({"kind": "protect", "request_id": request_id,
                           "resources": [{"type": PROJECT, "id": "2"}]})
        await asyncio.to_thread(subprocess.run, [
            "amqp-publish", "--url", amqp_url.rstrip("/") + "/%2f",
            "-r", f"{running.namespace}.requests", "-p", "-C", "application/json",
            "-b", body], check=True, timeout=30)
        deliveries = await consumed(channel, declared.queue)
        kinds: list[str] = []
        async with asyncio.timeout(60):
            while "operation_finished" not in kinds:
                kinds.append(json.loads((await deliveries.get()).body)["kind"])
        await connection.close()
        # the audit event of the accepted request, and the operation's own events
        assert kinds.count("request_accepted") == 1
        assert next(k for k in kinds if k != "request_accepted") == "operation_started"
        assert kinds.count("activity_finished") == 3 * 7  # 1 project + 2 servers + 4 volumes
        finished = await running.ended(request_id)
        assert finished is not None and finished.status == "succeeded"
