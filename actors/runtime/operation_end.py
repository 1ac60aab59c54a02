"""Ending an operation from outside its operation actor.

An operation normally ends in its operation actor, which stops every actor first. Two
cases cannot wait for it:

- its deadline passed a lease period ago and it is still ``running``: the operation
  actor is gone or silent (every message of the operation lost, the worker holding it
  dead with nothing to wake a successor), so the reaper ends it (``actors.service.reaper``);
- a message to the operation actor itself failed every delivery attempt: it cannot
  take the very messages that would end the operation (``ActorHost.undeliverable``).

Both end it as the operation actor would have: the checkpoint ``error`` with the reason
(a protect's lease released), the operation record ``failed`` or ``cancelled``, an
``OperationFinished`` published, and the deadline entry removed. A late message for it is
then dropped: the loader refuses an operation whose record has ended.
"""

from __future__ import annotations

import time
from typing import Final

import structlog

from actors.runtime.operation_run import OperationRun
from actors.transport.base import Transport
from actors.wire.events import OperationFinished
from banks.base import Bank
from plugins.checkpoint.checkpoint import CheckpointStatus, checkpoint_lease_key
from plugins.checkpoint.operation_deadline import DeadlineEntry, remove_deadline
from plugins.checkpoint.operation_record import (
    OperationRecord,
    read_operation_record,
    write_operation_record,
)
from plugins.checkpoint.store import CheckpointStore
from plugins.errors import CheckpointNotFound

log = structlog.get_logger(__name__)

DEADLINE_EXCEEDED: Final = "deadline exceeded"
# what a checkpoint may be in while its operation runs, by operation
_IN_PROGRESS = {"protect": CheckpointStatus.PROTECTING, "delete": CheckpointStatus.DELETING}


def lease_owner(operation_id: str) -> str:
    """Who holds a checkpoint's lease: the operation, whichever workers carry it."""
    return f"operation:{operation_id}"


def entry_of(run: OperationRun) -> DeadlineEntry:
    """The deadline entry of an operation a worker holds (its deadline 0 if it has none)."""
    return DeadlineEntry(operation_id=run.operation_id, type=run.operation_type,
                         provider_id=run.provider_id, checkpoint_id=run.checkpoint_id,
                         deadline=run.deadline or 0.0, resource_count=len(run.graph),
                         started_at=run.started_at)


async def end_operation(bank: Bank, transport: Transport, entry: DeadlineEntry, *,
                        status: str, reason: str, worker: str,
                        abort_failures: list[str] | None = None) -> OperationFinished | None:
    """End a running operation with ``status`` (failed | cancelled) and ``reason``;
    ``abort_failures`` lists the aborts run for it that failed (``<type>#<id>: <error>``).

    Returns the ``OperationFinished`` published, or None if the operation had already
    ended (its deadline entry is then removed, nothing else changes).

    Raises:
        BankError: if the bank cannot be read or written (the next round tries again).
    """
    operation_id = entry.operation_id
    record = await read_operation_record(bank, operation_id)
    if record is not None and record.status != "running":
        await remove_deadline(bank, operation_id)
        return None
    in_progress = _IN_PROGRESS.get(entry.type)
    if in_progress is not None:
        store = CheckpointStore(bank)
        try:
            index = await store.read_index(entry.checkpoint_id)
        except CheckpointNotFound:
            index = None  # a protect that never opened
        ours = index is not None and (entry.type == "delete"
                                      or index.protect_operation_id == operation_id)
        if index is not None and ours and index.status == in_progress:
            await store.transition(entry.checkpoint_id, CheckpointStatus.ERROR, error=reason,
                                   only_from=in_progress)
        if entry.type == "protect":
            await bank.release_lease(checkpoint_lease_key(entry.checkpoint_id),
                                     lease_owner(operation_id))
    now = time.time()
    started_at = record.started_at if record is not None else (entry.started_at or now)
    await write_operation_record(bank, OperationRecord(
        id=operation_id, type=entry.type, provider_id=entry.provider_id,
        checkpoint_id=entry.checkpoint_id, status=status, started_at=started_at,
        finished_at=now, resource_count=entry.resource_count, error=reason,
        request_id=operation_id, worker=worker, abort_failures=abort_failures or []))
    event = OperationFinished(
        operation_id=operation_id, operation_type=entry.type,
        checkpoint_id=entry.checkpoint_id, status=status, error=reason,
        resource_count=entry.resource_count, duration=now - started_at,
        abort_failures=abort_failures or [])
    log.warning("operation_ended_from_outside", operation_id=operation_id, status=status,
                reason=reason, worker=worker, checkpoint_id=entry.checkpoint_id)
    await transport.publish(event)
    await remove_deadline(bank, operation_id)
    return event
