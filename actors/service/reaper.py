"""No zombies: whichever worker notices ends an operation nobody will end.

- A protect whose checkpoint lease lapsed, with no worker left to carry it on, ends in
  ``error`` (``abandoned``). Every worker that carries a live part of an operation renews
  the checkpoint's lease (``ActorHost``), and a worker taking over a dead one's actors
  renews it too. A lease that is gone therefore means no worker has touched the operation
  for a whole lease period.
- Any operation still running a lease period past its deadline ends ``cancelled`` with
  the reason ``deadline exceeded``. At the deadline itself every worker holding a part of
  it sends the operation actor a ``Cancel``; if the operation is still running a lease
  period later, that actor is gone or silent (every message lost, its worker dead with
  nothing left to wake a successor), and the workers holding parts of it have let go.
  Running operations are found by their deadline entries (``/deadlines/``), not by
  listing every operation ever run.

Either way nobody is left to run the aborts of the operation's quiesced resources (their
pre finished, their post did not): the reaping worker runs them from the journal before it
ends the operation (``actors.runtime.owed_aborts``), and lists those that failed in the
record's and ``OperationFinished``'s ``abort_failures``. One worker reaps an operation: it
holds a lease while it does (the checkpoint's for an abandoned protect, a reaper lease
for an overdue operation), renewed while the aborts run.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import structlog

from actors.runtime.held_lease import hold_lease
from actors.runtime.operation_end import DEADLINE_EXCEEDED, end_operation
from actors.runtime.owed_aborts import run_owed_aborts
from actors.wire.events import OperationFinished
from banks import metrics
from banks.errors import LeaseHeld
from banks.keys import encode_segment
from plugins.checkpoint.checkpoint import CheckpointStatus, checkpoint_lease_key
from plugins.checkpoint.operation_deadline import running_deadlines
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
            key = checkpoint_lease_key(index.id)
            if await store.bank.check_lease(key) is not None:
                continue
            async with _claimed(engine, store.bank, key, lease_ttl) as claimed:
                if not claimed:
                    continue  # another worker reaps it, or its own came back
                failures = await _owed_aborts(engine, index.protect_operation_id)
                await store.transition(index.id, CheckpointStatus.ERROR, error=ABANDONED,
                                       only_from=CheckpointStatus.PROTECTING)
                reaped.append(index.id)
                metrics.CHECKPOINTS_REAPED.inc()
                log.warning("checkpoint_reaped", checkpoint_id=index.id,
                            operation_id=index.protect_operation_id, owner=index.owner,
                            abort_failures=len(failures))
                await _end_record(engine, store.bank, index.protect_operation_id, index.id,
                                  failures)
    return reaped


async def reap_overdue(engine: Engine, *, grace: float) -> list[str]:
    """End every operation still running ``grace`` seconds past its deadline; return
    their ids."""
    reaped: list[str] = []
    now = time.time()
    for provider in engine.providers.values():
        try:
            bank = await engine.bank(provider)
            entries = await running_deadlines(bank)
        except Exception as error:  # one provider's bank being down must not stop the rest
            log.warning("reaper_listing_failed", provider_id=provider.id, error=str(error))
            continue
        for entry in entries:
            if now <= entry.deadline + grace:
                continue
            engine.host.let_go(entry.operation_id)  # whatever of it still runs here stops
            try:
                async with _claimed(engine, bank, reaper_lease_key(entry.operation_id),
                                    grace) as claimed:
                    if not claimed:
                        continue  # another worker reaps it
                    failures = await _owed_aborts(engine, entry.operation_id)
                    event = await end_operation(bank, engine.host.transport, entry,
                                                status="cancelled", reason=DEADLINE_EXCEEDED,
                                                worker=engine.host.worker_id,
                                                abort_failures=failures)
            except Exception as error:  # the next round tries again
                log.warning("overdue_end_failed", operation_id=entry.operation_id,
                            error=str(error))
                continue
            if event is not None:
                reaped.append(entry.operation_id)
                engine.host.finished(entry.operation_id, event)
    return reaped


def reaper_lease_key(operation_id: str) -> str:
    """The lease a worker holds while it reaps an overdue operation."""
    return f"/leases/reapers/{encode_segment(operation_id)}"


@contextlib.asynccontextmanager
async def _claimed(engine: Engine, bank: Bank, key: str, ttl: float) -> AsyncIterator[bool]:
    """Hold the lease at ``key`` while reaping, renewed until done; yield False (and hold
    nothing) if another owner has it."""
    try:
        release = await hold_lease(bank, key, f"reaper:{engine.host.worker_id}", ttl)
    except LeaseHeld:
        yield False
        return
    try:
        yield True
    finally:
        await release()


async def _owed_aborts(engine: Engine, operation_id: str | None) -> list[str]:
    """Run the aborts the operation still owes; the operation's abort failures."""
    if not operation_id:
        return []
    try:
        run = await engine.load_operation(operation_id)
        if run is None:  # it ended meanwhile, or has no spec to rebuild it from
            return []
        return await run_owed_aborts(engine.host, run)
    except Exception as error:  # it still ends: the record says what was not undone
        log.error("owed_aborts_failed", operation_id=operation_id,
                  error=f"{type(error).__name__}: {error}")
        return [f"aborts not run: {type(error).__name__}: {error}"]


async def _end_record(engine: Engine, bank: Bank, operation_id: str | None,
                      checkpoint_id: str, abort_failures: list[str]) -> None:
    if not operation_id:
        return
    record = await read_operation_record(bank, operation_id)
    if record is None or record.status != "running":
        return
    record.status = "failed"
    record.error = ABANDONED
    record.abort_failures = abort_failures
    record.finished_at = time.time()
    await write_operation_record(bank, record)
    metrics.OPERATIONS_FINISHED.labels("protect", "failed").inc()
    await engine.host.transport.publish(OperationFinished(
        operation_id=operation_id, operation_type="protect", checkpoint_id=checkpoint_id,
        status="failed", error=ABANDONED, resource_count=record.resource_count,
        duration=record.finished_at - record.started_at, abort_failures=abort_failures))


async def reap_forever(engine: Engine, *, lease_ttl: float) -> None:
    """Reap every lease period, for as long as the worker runs."""
    while True:
        await asyncio.sleep(lease_ttl)
        try:
            await reap_abandoned(engine, lease_ttl=lease_ttl)
            await reap_overdue(engine, grace=lease_ttl)
        except Exception as error:  # the next round tries again
            metrics.REAPER_RUNS.labels("failed").inc()
            log.warning("reaper_failed", error=str(error))
        else:
            metrics.REAPER_RUNS.labels("ok").inc()
