"""Concurrency limits, the reaper of abandoned protects, and the published JSON Schema."""

from __future__ import annotations

from pathlib import Path

import pytest

from actors.service.reaper import ABANDONED, reap_abandoned
from actors.wire.requests import ProtectRequest
from actors.wire.schemas import render_schema
from plugins.checkpoint.checkpoint import CheckpointStatus, checkpoint_lease_key
from plugins.checkpoint.graph import ResourceGraph
from plugins.checkpoint.operation_record import (
    OperationRecord,
    read_operation_record,
    write_operation_record,
)
from plugins.errors import InvalidPluginOption
from tests.fakes import RecordingProtection, node

REPOSITORY = Path(__file__).resolve().parents[3]


class CountingProtection(RecordingProtection):
    """Counts how many of its activities really run at once (not merely started)."""

    def __init__(self, config=None) -> None:
        super().__init__(config)
        self.now = self.peak = 0

    async def _act(self, resource, activity, parameters) -> None:
        self.now += 1
        self.peak = max(self.peak, self.now)
        try:
            await super()._act(resource, activity, parameters)
        finally:
            self.now -= 1


@pytest.fixture
def counting(registry) -> str:
    registry.register_protection("counting", CountingProtection)
    return "counting"


async def peak_of_flat_run(engine, count: int) -> int:
    graph = ResourceGraph([node(i) for i in range(count)], [[] for _ in range(count)])
    result = await engine.run(
        ProtectRequest(resources=[], parameters={"Test::Node": {"delay": 0.02}}),
        graph=graph, timeout=60)
    assert result.status == "succeeded", result.error
    return engine.provider().plugins["counting"].peak


async def test_a_plugin_limit_bounds_its_running_activities(engine_for, counting) -> None:
    async with engine_for(counting,
                          sections=f"[{counting}]\nmax_concurrent_activities = 2\n") as engine:
        assert await peak_of_flat_run(engine, 12) == 2


async def test_the_worker_limit_bounds_every_plugin(engine_for, counting) -> None:
    async with engine_for(counting, max_running_activities=3) as engine:
        assert await peak_of_flat_run(engine, 12) == 3


@pytest.mark.parametrize("value", ["0", "-1", "2.5", "many"])
def test_a_bad_plugin_limit_is_named(value: str) -> None:
    with pytest.raises(InvalidPluginOption, match="max_concurrent_activities"):
        RecordingProtection({"max_concurrent_activities": value})


async def test_an_abandoned_protect_is_ended_and_a_live_one_is_left(engine_for) -> None:
    async with engine_for("recording") as engine:
        provider = engine.provider()
        store = await engine.store(provider)
        graph = ResourceGraph([node(0)], [[]])
        for checkpoint_id, operation_id in (("abandoned", "op-a"), ("alive", "op-b")):
            await store.create(checkpoint_id=checkpoint_id, provider_id=provider.id,
                               project_id=None, graph=graph, operation_id=operation_id,
                               owner="gone-worker")
            await write_operation_record(store.bank, OperationRecord(
                id=operation_id, type="protect", provider_id=provider.id,
                checkpoint_id=checkpoint_id, status="running", started_at=0.0,
                resource_count=1))
        await store.bank.acquire_lease(checkpoint_lease_key("alive"), "operation:op-b", 60)

        reaped = await reap_abandoned(engine, lease_ttl=0.0)

        assert reaped == ["abandoned"]
        index = await store.read_index("abandoned")
        assert (index.status, index.error) == (CheckpointStatus.ERROR, ABANDONED)
        assert (await store.read_index("alive")).status == CheckpointStatus.PROTECTING
        record = await read_operation_record(store.bank, "op-a")
        assert record is not None and record.status == "failed"


def test_the_documented_schema_is_the_generated_one() -> None:
    documented = (REPOSITORY / "docs" / "schema.json").read_text()
    assert documented == render_schema(), "run: strongbox schema > docs/schema.json"
    for name in ("ProtectRequest", "CancelRequest", "OperationFinished", "RequestRejected"):
        assert f'"{name}"' in documented
