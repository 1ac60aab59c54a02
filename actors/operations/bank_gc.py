"""``strongbox bank gc``: remove the chunks no checkpoint of the bank refers to.

Lease: take the bank's collection lease ``/chunks/gc`` first; from then on every new
protect waits before it writes a chunk (the operation actor checks the lease after
taking its checkpoint lease). Check: a protect that began before is still visible as a
checkpoint ``protecting`` under a live lease; if there is one, the collection refuses,
or with ``wait`` lets go of its lease and tries again until the protects have ended. A
protect that began before and has ended is marked like any other checkpoint. Mark: note
the time ``t0``, then read the chunk lists of every checkpoint of the bank that is not
deleted (whatever provider wrote it): the chunks its manifests are kept in (manifest v4,
read with the store's key) and the chunks those manifests name. Sweep: ``collect_garbage``
deletes the stored chunks not marked and written before ``t0 - grace``, still under the
lease.

A ``protecting`` checkpoint without a live lease was abandoned; its manifests, if any,
are marked all the same.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import msgspec
import structlog

from actors.errors import StrongboxError
from actors.operations.checkpoint_chunks import chunk_resources, open_chunk_store, resource_chunks
from actors.operations.engine import Engine
from banks.chunks import ChunkStore, GcReport, collect_garbage
from banks.chunks.collection_lease import CollectionLease, hold_collection_lease
from plugins.checkpoint.checkpoint import CheckpointStatus, checkpoint_lease_key
from plugins.checkpoint.store import CheckpointStore
from plugins.errors import ChunkListError
from plugins.provider import Provider

log = structlog.get_logger(__name__)

PROTECT_POLL_INTERVAL = 1.0


class GcRefused(StrongboxError):
    """A collection that would not be safe now; nothing was deleted."""


class BankGcReport(msgspec.Struct, frozen=True, kw_only=True):
    """The mark (checkpoints read, chunks they refer to) and the sweep's report."""

    bank: str
    checkpoints: int
    marked: int
    sweep: GcReport


async def _protecting_under_lease(store: CheckpointStore) -> list[str]:
    """Ids of checkpoints being protected right now (status and a live lease)."""
    busy = []
    for index in await store.list(None, status=CheckpointStatus.PROTECTING):
        if await store.bank.check_lease(checkpoint_lease_key(index.id)) is not None:
            busy.append(index.id)
    return busy


async def collect_bank_garbage(
    engine: Engine,
    *,
    provider: str | None = None,
    grace: float = 3600.0,
    dry_run: bool = False,
    wait: float = 0.0,
) -> BankGcReport:
    """Mark every live checkpoint's chunks in the provider's bank, then sweep the rest.

    ``wait``: seconds to wait for running protects to end before refusing.

    Raises:
        GcRefused: a protect is running (still, after ``wait``), or an available
            checkpoint's manifest is unreadable (what it refers to is unknown, so nothing
            may be collected).
        LeaseHeld: another collection of this bank is running.
        CollectionLeaseLost: the lease could not be renewed; the sweep stopped.
        ChunkStoreError: the bank's chunk store cannot be opened.
        ResourceTypeNotSupported: a checkpoint holds a type this provider has no plugin for.
        BankError: the bank cannot be read or written.
    """
    chosen = engine.provider(provider)
    store = await engine.store(chosen)
    bank = store.bank
    chunk_store = await open_chunk_store(chosen, bank)
    started = time.monotonic()
    while True:
        async with hold_collection_lease(bank) as lease:
            busy = await _protecting_under_lease(store)
            if not busy:
                return await _mark_and_sweep(chosen, store, chunk_store, lease,
                                             grace=grace, dry_run=dry_run)
        # let go of the lease while waiting: the protects it holds back are not these
        if time.monotonic() - started >= wait:
            raise GcRefused(
                f"bank {bank.name}: garbage collection refused while checkpoint(s) "
                f"{', '.join(busy)} are being protected (live lease); retry when they end"
                + (f" (waited {wait:g} s)" if wait else ""))
        log.info("gc_waiting_for_protects", bank=bank.name, checkpoints=busy)
        await asyncio.sleep(PROTECT_POLL_INTERVAL)


async def _mark_and_sweep(provider: Provider, store: CheckpointStore, chunk_store: ChunkStore,
                          lease: CollectionLease, *, grace: float,
                          dry_run: bool) -> BankGcReport:
    bank = store.bank
    mark_started_at = time.time()
    referenced: set[str] = set()

    async def opened() -> ChunkStore:
        return chunk_store

    indexes = [i for i in await store.list(None) if i.status != CheckpointStatus.DELETED]
    for index in indexes:
        checkpoint = await store.open(index.id, operation_id=f"gc-{uuid.uuid4()}",
                                      writable=False)
        for resource, keeper in chunk_resources(provider, checkpoint):
            try:
                found = await resource_chunks(keeper, checkpoint, resource, opened)
                referenced.update(found.all_ids())
            except ChunkListError as error:
                if index.status == CheckpointStatus.AVAILABLE:
                    raise GcRefused(f"bank {bank.name}: garbage collection refused: checkpoint "
                                    f"{index.id}: {error}") from error
                # a protect that failed or a delete under way: it may have no manifest
    sweep = await collect_garbage(chunk_store, referenced, mark_started_at=mark_started_at,
                                  grace=grace, dry_run=dry_run, lease=lease)
    report = BankGcReport(bank=bank.name, checkpoints=len(indexes), marked=len(referenced),
                          sweep=sweep)
    log.info("bank_garbage_collected", bank=bank.name, checkpoints=report.checkpoints,
             marked=report.marked, deleted=sweep.deleted, dry_run=dry_run)
    return report
