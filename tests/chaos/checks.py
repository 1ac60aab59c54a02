"""The bank's checks after a trial: no checkpoint left ``protecting`` past what the reaper
needs to end it, every ``available`` checkpoint verifies, and (once the bank's tmpfs is
half full) ``bank gc`` collects what deleted checkpoints left."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from actors.operations.bank_gc import collect_bank_garbage
from actors.operations.checkpoint_verify import verify_checkpoint
from actors.operations.engine import Engine
from actors.wire.events import OperationFinished
from banks.base import Bank
from plugins.checkpoint.checkpoint import CheckpointIndex, CheckpointStatus
from plugins.checkpoint.operation_record import read_operation_record
from plugins.checkpoint.store import CheckpointStore
from tests.chaos.cluster import LEASE_TTL, PROVIDER_ID, ChaosCluster
from tests.chaos.plugin import chaos_registry

REAPER_BOUND = LEASE_TTL * 4 + 5  # the lease lapses, then a reaper round notices
INDEX_POLL = 0.5


async def read_record(bank: Bank, operation_id: str) -> Any:
    """An operation's record, or None (none yet, a full bank, a torn read: ask again)."""
    try:
        return await read_operation_record(bank, operation_id)
    except Exception:
        return None


async def unprotected(cluster: ChaosCluster, provider_id: str) -> list[CheckpointIndex]:
    """The provider's checkpoints once none is ``protecting``, or as they are after
    ``REAPER_BOUND`` (the caller counts any still protecting as a failed check).

    A protect whose checkpoint the bank was too full to end (``error`` or ``available``)
    stays ``protecting`` until its lease lapses and a worker's reaper ends it."""
    store = CheckpointStore(await cluster.bank(provider_id))
    protecting = await store.list(provider_id, status=CheckpointStatus.PROTECTING)
    if protecting:
        scope = asyncio.timeout(REAPER_BOUND)
        try:
            async with scope:
                await asyncio.gather(*(_ended(cluster, store, index) for index in protecting))
        except TimeoutError:
            if not scope.expired():
                raise
    return await store.list(provider_id)


async def _ended(cluster: ChaosCluster, store: CheckpointStore, index: CheckpointIndex) -> None:
    """Until the checkpoint is no longer ``protecting``.

    Its protect's end is an event where one is published: the reaper publishes the
    protect's ``OperationFinished`` when it ends one whose record still says ``running``.
    One whose end its operation actor announced, but whose checkpoint it could not end
    (the bank was full), the reaper only moves to ``error``: no event says so, so that
    one's index is read until it changes.
    """
    assert cluster.client is not None
    operation_id = index.protect_operation_id
    subscription = cluster.client.subscribe(operation_id)
    try:
        await subscription.bound  # type: ignore[attr-defined]
        # subscribed: an end published from now on arrives, an earlier one shows below
        if (await store.read_index(index.id)).status != CheckpointStatus.PROTECTING:
            return
        record = await read_record(store.bank, operation_id)
        if record is not None and record.status == "running":
            async for event in subscription:
                if isinstance(event, OperationFinished):
                    break
        while (await store.read_index(index.id)).status == CheckpointStatus.PROTECTING:  # noqa: ASYNC110 - no event for it (above)
            await asyncio.sleep(INDEX_POLL)
    finally:
        with contextlib.suppress(Exception):  # a failed close must not hide the outcome
            await subscription.close()


async def unverified(cluster: ChaosCluster, indexes: list[CheckpointIndex]) -> list[str]:
    """A line for each checkpoint left ``protecting`` and each available one that fails
    ``strongbox verify``."""
    problems = []
    for index in indexes:
        if index.status == CheckpointStatus.PROTECTING:
            problems.append(f"checkpoint {index.id} left protecting")
        elif index.status == CheckpointStatus.AVAILABLE:
            async with Engine.embedded(cluster.providers, registry=chaos_registry()) as engine:
                report = await verify_checkpoint(engine, index.id)
            if not report.ok:
                problems.append(f"checkpoint {index.id} fails verify: {report.problems[:2]}")
    return problems


async def collect_garbage(cluster: ChaosCluster) -> list[str]:
    """Delete the chunks no checkpoint refers to (a delete leaves them to ``bank gc``):
    without it a long run fills the small bank by itself. A collection after the faults
    must work: a line if it was refused or failed."""
    try:
        async with Engine.embedded(cluster.providers, registry=chaos_registry()) as engine:
            await collect_bank_garbage(engine, provider=PROVIDER_ID, grace=0.0)
    except Exception as error:
        return [f"bank gc failed: {type(error).__name__}: {error}"]
    return []
