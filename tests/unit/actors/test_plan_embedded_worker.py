"""An embedded ``strongbox worker`` (no broker) runs a plan every two seconds: one protect
per slot, and retention leaves exactly the checkpoints the policy keeps."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import msgspec

from actors.operations.engine import Engine
from actors.plans.access import LOCAL
from actors.plans.book import PlanBook
from actors.plans.slot_ids import slot_request_id
from actors.service.worker import WorkerOptions, run_worker
from actors.wire.requests import PlanUpdateRequest
from plugins.checkpoint.checkpoint import CheckpointIndex, CheckpointStatus
from plugins.checkpoint.operation_spec import OperationSpec
from tests.conftest import write_provider
from tests.helpers.plans import create_request, directory_sections, make_source

SLOTS = 4


async def plan_specs(engine: Engine, plan_id: str) -> list[OperationSpec]:
    bank = await engine.bank(engine.provider())
    specs = []
    async for key in bank.list_all("/operations/"):
        if key.endswith("/spec"):
            spec = msgspec.json.decode(await bank.get(key), type=OperationSpec)
            if spec.plan_id == plan_id:
                specs.append(spec)
    return specs


async def plan_checkpoints(engine: Engine, plan_id: str) -> list[CheckpointIndex]:
    """Every checkpoint the plan wrote, deleted ones included (their index stays)."""
    bank = await engine.bank(engine.provider())
    found = []
    async for key in bank.list_all("/checkpoints/"):
        if key.endswith("/index"):
            index = msgspec.json.decode(await bank.get(key), type=CheckpointIndex)
            if index.plan_id == plan_id:
                found.append(index)
    return sorted(found, key=lambda i: i.created_at)


async def test_an_embedded_worker_runs_each_slot_once_and_retention_keeps_the_last_two(
        tmp_path: Path) -> None:
    source = make_source(tmp_path)
    providers = write_provider(tmp_path / "providers", "noop", bank="filesystem",
                               sections=directory_sections(tmp_path / "bank"))
    stop = asyncio.Event()
    async with Engine.embedded(providers) as engine:
        book = PlanBook(engine)
        plan = await book.create(create_request(source, every=2, keep_last=2), LOCAL)
        worker = asyncio.create_task(run_worker(
            WorkerOptions(amqp_url=None, providers_dir=str(providers), worker_id="embedded",
                          plan_grace=10.0), stop=stop))
        try:
            async with asyncio.timeout(60):
                while True:
                    if (await book.find(plan.id, LOCAL))[0].history.scheduled >= SLOTS:
                        break
                    await asyncio.sleep(0.2)
                # no new slot from here; let the last run end and retention act on it
                await book.update(PlanUpdateRequest(plan=plan.id, schedule=None), LOCAL)
                while True:
                    current = (await book.find(plan.id, LOCAL))[0]
                    indices = await plan_checkpoints(engine, plan.id)
                    run = current.history.last_run
                    settled = run is not None and run.status == "succeeded" and all(
                        i.status in ("available", "deleted") for i in indices)
                    if settled and sum(i.status == "available" for i in indices) == 2:
                        break
                    await asyncio.sleep(0.2)
        finally:
            stop.set()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        history = current.history
        specs = await plan_specs(engine, plan.id)
        protects = [s for s in specs if s.type == "protect"]
        # one protect per scheduled slot, each the slot's own operation
        assert history.scheduled >= SLOTS and history.missed == 0
        assert len(protects) == history.scheduled
        assert len({s.id for s in protects}) == len(protects)
        assert history.last_run is not None and history.last_run.slot is not None
        assert history.last_run.operation_id == slot_request_id(plan.id, history.last_run.slot)
        # one checkpoint per protect; retention kept the newest two and deleted the rest
        assert len(indices) == len(protects)
        kept = [i.id for i in indices if i.status == CheckpointStatus.AVAILABLE]
        assert kept == [i.id for i in indices[-2:]]
        assert all(i.status == CheckpointStatus.DELETED for i in indices[:-2])
        assert history.retention_deleted == len(indices) - 2
