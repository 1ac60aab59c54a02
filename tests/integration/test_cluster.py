"""Several worker processes share one operation over the real broker."""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

import pytest

from actors.wire.events import ActivityFinished, Event
from actors.wire.requests import ProtectRequest, ResourceRef, RestoreRequest
from bench.synthetic import PROJECT, SERVER, VOLUME
from plugins.checkpoint.checkpoint import CheckpointStatus
from plugins.checkpoint.operation_record import read_operation_record
from plugins.checkpoint.operation_spec import read_spec
from tests import broker
from tests.cluster.cluster import Cluster, Milestone, cluster
from tests.cluster.plugin import expected_bytes, restored_name
from tests.cluster.tcp_proxy import TcpProxy
from tests.ordering import check_seed_orderings

pytestmark = pytest.mark.broker

SERVERS = 100  # 1 project + 100 servers + 200 volumes = 301 resources


@pytest.fixture(scope="module")
def amqp_url() -> str:
    return broker.broker_url()


def protect_request(delay: float) -> ProtectRequest:
    return ProtectRequest(resources=[ResourceRef(PROJECT, str(SERVERS))],
                          parameters={t: {"delay": delay} for t in (PROJECT, SERVER, VOLUME)})


async def check_restore(running: Cluster, checkpoint_id: str, target: Path) -> None:
    """Restore the checkpoint and compare every resource's bytes."""
    await asyncio.to_thread(target.mkdir)
    store = await running.store()
    graph = await store.read_graph(checkpoint_id)
    parameters = {t: {"target": str(target)} for t in graph.types()}
    finished = await running.run(RestoreRequest(checkpoint_id=checkpoint_id,
                                                parameters=parameters))
    assert finished.status == "succeeded", finished.error
    restored = await asyncio.to_thread(read_all, target)
    for resource in graph.nodes:
        assert restored.get(restored_name(resource.key)) == expected_bytes(resource.key), (
            resource.key)


def read_all(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in directory.iterdir()}


async def test_three_workers_share_one_operation_and_keep_the_orderings(
        amqp_url: str, tmp_path: Path) -> None:
    async with cluster(amqp_url, tmp_path, 3) as running:
        events: list[Event] = []
        finished = await running.run(protect_request(0.002), events=events)
        assert finished.status == "succeeded", finished.error
        store = await running.store()
        graph = await store.read_graph(finished.checkpoint_id)
        assert len(graph) == 1 + SERVERS * 3
        workers = {e.worker for e in events if isinstance(e, ActivityFinished)}
        assert len(workers) >= 2, f"only {workers} ran activities"
        # across processes, the order is the order of the events' own clocks
        check_seed_orderings(graph, sorted(events, key=lambda e: e.at), "protect")
        await check_restore(running, finished.checkpoint_id, tmp_path / "restored")


@pytest.mark.parametrize("round_number", range(10))
async def test_a_worker_killed_mid_operation_loses_nothing(
        amqp_url: str, tmp_path: Path, round_number: int) -> None:
    chooser = random.Random(round_number)
    async with cluster(amqp_url, tmp_path, 3) as running:
        request = protect_request(0.01)
        # a random moment of the operation: after 1 to 95% of its 903 activities
        milestone = Milestone(chooser.randint(10, 860))
        operation = asyncio.create_task(running.run(request, timeout=180, milestone=milestone))
        await milestone.wait()
        victim = chooser.choice(sorted(running.workers))
        midway = time.time()  # activities remain: the operation ends after this
        running.kill(victim)
        finished = await operation
        assert finished.status == "succeeded", f"{finished.error} (killed {victim})"
        # the operation's real start, even when its operation actor was taken over
        record = await read_operation_record(await running.bank(), request.request_id)
        assert record is not None and record.started_at < midway
        assert finished.duration >= midway - record.started_at
        store = await running.store()
        index = await store.read_index(finished.checkpoint_id)
        assert index.status == CheckpointStatus.AVAILABLE
        await check_restore(running, finished.checkpoint_id, tmp_path / "restored")


async def test_an_operation_survives_its_worker_losing_the_broker(
        amqp_url: str, tmp_path: Path) -> None:
    proxy = TcpProxy("127.0.0.1", 5672)
    await proxy.start()
    through_proxy = amqp_url.replace("127.0.0.1:5672", f"127.0.0.1:{proxy.port}")
    assert through_proxy != amqp_url, "the test broker URL must name 127.0.0.1:5672"
    try:
        async with cluster(amqp_url, tmp_path, 0) as running:
            running.start_worker(through_proxy)
            await running.wait_ready()
            milestone = Milestone(100)  # of 903 activities
            operation = asyncio.create_task(
                running.run(protect_request(0.01), timeout=180, milestone=milestone))
            await milestone.wait()
            assert proxy.cut() > 0, "the worker had no connection through the proxy"
            finished = await operation
            assert finished.status == "succeeded", finished.error
            worker_log = running.log_of("w1")
            assert "broker_connection_lost" in worker_log
            await check_restore(running, finished.checkpoint_id, tmp_path / "restored")
    finally:
        await proxy.close()


async def test_the_deadline_survives_the_death_of_the_worker_that_took_the_request(
        amqp_url: str, tmp_path: Path) -> None:
    async with cluster(amqp_url, tmp_path, 2, lease_ttl=3.0) as running:
        # activities that would run a minute; the operation may run 4 seconds
        request = ProtectRequest(resources=[ResourceRef(PROJECT, "2")], deadline=4.0,
                                 parameters={t: {"delay": 60.0} for t in (PROJECT, SERVER, VOLUME)})
        operation = asyncio.create_task(running.run(request, timeout=60))
        submitter = None
        async with asyncio.timeout(30):
            while submitter is None:  # polling other processes' logs
                submitter = next((w for w in running.workers if any(
                    "operation_submitted" in line and request.request_id in line
                    for line in running.log_of(w).splitlines())), None)
                await asyncio.sleep(0.1)
        running.kill(submitter)
        finished = await operation
        assert (finished.status, finished.error) == ("cancelled", "deadline exceeded"), (
            f"killed {submitter}")
        spec = await read_spec(await running.bank(), request.request_id)
        assert spec is not None and spec.deadline == pytest.approx(spec.submitted_at + 4.0,
                                                                   abs=2.0)
