"""No zombies: a protect whose checkpoint lease lapsed, with no worker left to carry it
on, is ended in ``error`` by whichever worker notices.

Every worker that carries a live part of an operation renews the checkpoint's lease
(``ActorHost``), and a worker taking over a dead one's actors renews it too. A lease that
is gone therefore means no worker has touched the operation for a whole lease period.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import structlog

from actors.wire.events import OperationFinished
from banks import metrics
from plugins.checkpoint.checkpoint import CheckpointStatus, checkpoint_lease_key
from plugins.checkpoint.operation_record import read_operation_record, write_operation_record

if TYPE_CHECKING:
    from actors.operations.engine import Engine
    from banks.base import Bank

log = structlog.get_logger(__name__)

ABANDONED = "abandoned: no worker renewed its lease"


async def reap_abandoned(engine: Engine, *, lease_ttl: float) -> list[str]:
    """End every abandoned protect of the engine's providers; return their checkpoint ids."""
    reaped: list[str] = []
    now = time.time()
    for provider in engine.providers.values():
        try:
            store = await engine.store(provider)
            protecting = await store.list(provider.id, status=CheckpointStatus.PROTECTING)
        except Exception as error:  # one provider's bank being down must not stop the rest
            log.warning("reaper_listing_failed", provider_id=provider.id, error=str(error))
            continue
        for index in protecting:
            if now - index.updated_at < lease_ttl:
                continue  # too young to have lost a lease
            if await store.bank.check_lease(checkpoint_lease_key(index.id)) is not None:
                continue
            await store.transition(index.id, CheckpointStatus.ERROR, error=ABANDONED)
            reaped.append(index.id)
            metrics.CHECKPOINTS_REAPED.inc()
            log.warning("checkpoint_reaped", checkpoint_id=index.id,
                        operation_id=index.protect_operation_id, owner=index.owner)
            await _end_record(engine, store.bank, index.protect_operation_id, index.id)
    return reaped


async def _end_record(engine: Engine, bank: Bank, operation_id: str | None,
                      checkpoint_id: str) -> None:
    if not operation_id:
        return
    record = await read_operation_record(bank, operation_id)
    if record is None or record.status != "running":
        return
    record.status = "failed"
    record.error = ABANDONED
    record.finished_at = time.time()
    await write_operation_record(bank, record)
    metrics.OPERATIONS_FINISHED.labels("protect", "failed").inc()
    await engine.host.transport.publish(OperationFinished(
        operation_id=operation_id, operation_type="protect", checkpoint_id=checkpoint_id,
        status="failed", error=ABANDONED, resource_count=record.resource_count,
        duration=record.finished_at - record.started_at))


async def reap_forever(engine: Engine, *, lease_ttl: float) -> None:
    """Reap every lease period, for as long as the worker runs."""
    while True:
        await asyncio.sleep(lease_ttl)
        try:
            await reap_abandoned(engine, lease_ttl=lease_ttl)
        except Exception as error:  # the next round tries again
            metrics.REAPER_RUNS.labels("failed").inc()
            log.warning("reaper_failed", error=str(error))
        else:
            metrics.REAPER_RUNS.labels("ok").inc()
