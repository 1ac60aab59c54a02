"""The chaos suite's queue check takes the dead letter of a request it saw refused, and
fails on one it did not expect (on a private node, with a real worker refusing)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from actors.wire.events import RequestRejected
from actors.wire.requests import ProtectRequest, ResourceRef
from tests.chaos.broker_node import BrokerNode
from tests.chaos.cluster import PROVIDER_ID, SHARDS, ChaosCluster
from tests.chaos.queue_check import ExpectedDeadLetters, unexpected_in_queues
from tests.chaos.trials import run_dir

pytestmark = pytest.mark.broker


async def refuse(cluster: ChaosCluster, request: ProtectRequest) -> RequestRejected:
    """Submit ``request`` (which a worker must refuse) and return its refusal."""
    assert cluster.client is not None
    subscription = cluster.client.subscribe(request.request_id)
    try:
        await subscription.bound  # type: ignore[attr-defined]
        await cluster.submit(request)
        async with asyncio.timeout(60):
            async for event in subscription:
                if isinstance(event, RequestRejected):
                    return event
    finally:
        await subscription.close()
    raise AssertionError("the subscription ended without the refusal")


async def test_a_refused_requests_dead_letter_is_taken_and_an_unexpected_one_fails(
        tmp_path: Path) -> None:
    if not BrokerNode.available():
        if os.environ.get("CI"):
            pytest.fail("the chaos suite needs rabbitmq-server, rabbitmqctl and root (CI)")
        pytest.skip("the chaos suite needs rabbitmq-server, rabbitmqctl and root")
    node = BrokerNode()
    try:
        await asyncio.to_thread(node.start)
        cluster = ChaosCluster(run_dir(tmp_path), node, workers=1)
        try:
            await cluster.start()
            seen, unseen = (ProtectRequest(resources=[ResourceRef("No::Such", "x")],
                                           provider_id=PROVIDER_ID) for _ in range(2))
            expected = ExpectedDeadLetters()
            expected.expect(seen.request_id, (await refuse(cluster, seen)).reason)
            await refuse(cluster, unseen)  # refused too, but the check is not told

            problems = await unexpected_in_queues(node.url, cluster.namespace, SHARDS, expected)

            assert len(problems) == 1, problems
            assert f"requests.dead (message {unseen.request_id})" in problems[0]
            assert "No::Such" in problems[0]  # the dead letter's reason
            assert (expected.count, expected.due) == (1, {})
            # both were taken: the next check finds nothing
            assert await unexpected_in_queues(node.url, cluster.namespace, SHARDS,
                                              expected) == []
        finally:
            await cluster.close()
    finally:
        await asyncio.to_thread(node.remove)
