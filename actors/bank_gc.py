"""``strongbox bank gc``: remove the chunks no checkpoint of the bank refers to.

Mark: note the time ``t0``, then read the chunk lists of every checkpoint of the bank
that is not deleted (whatever provider wrote it). Sweep: ``collect_garbage`` deletes the
stored chunks not marked and written before ``t0 - grace``.

A protect that began before the mark and still runs may reuse an old chunk nothing else
refers to, and its manifest is not in the mark; so a collection is refused while any
checkpoint is ``protecting`` under a live lease (checked before the mark and again just
before the sweep). A ``protecting`` checkpoint without a live lease was abandoned; its
manifests, if any, are marked all the same.
"""

from __future__ import annotations

import time
import uuid

import msgspec
import structlog

from actors.checkpoint_chunks import chunk_resources, open_chunk_store, resource_chunks
from actors.engine import Engine
from actors.errors import StrongboxError
from banks.chunks import GcReport, collect_garbage
from plugins.checkpoint import CheckpointStatus, checkpoint_lease_key
from plugins.checkpoint_store import CheckpointStore
from plugins.local.directory_errors import ManifestError

log = structlog.get_logger(__name__)


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


def _refuse_if_busy(busy: list[str], bank: str) -> None:
    if busy:
        raise GcRefused(
            f"bank {bank}: garbage collection refused while checkpoint(s) "
            f"{', '.join(busy)} are being protected (live lease); retry when they end")


async def collect_bank_garbage(
    engine: Engine,
    *,
    provider: str | None = None,
    grace: float = 3600.0,
    dry_run: bool = False,
) -> BankGcReport:
    """Mark every live checkpoint's chunks in the provider's bank, then sweep the rest.

    Raises:
        GcRefused: a protect is running, or an available checkpoint's manifest is
            unreadable (what it refers to is unknown, so nothing may be collected).
        LeaseHeld: another collection of this bank is running.
        ChunkStoreError: the bank's chunk store cannot be opened.
        ResourceTypeNotSupported: a checkpoint holds a type this provider has no plugin for.
        BankError: the bank cannot be read or written.
    """
    chosen = engine.provider(provider)
    store = await engine.store(chosen)
    bank = store.bank
    _refuse_if_busy(await _protecting_under_lease(store), bank.name)
    mark_started_at = time.time()
    referenced: set[str] = set()
    indexes = [i for i in await store.list(None) if i.status != CheckpointStatus.DELETED]
    for index in indexes:
        checkpoint = await store.open(index.id, operation_id=f"gc-{uuid.uuid4()}",
                                      writable=False)
        for resource in chunk_resources(chosen, checkpoint):
            try:
                referenced.update((await resource_chunks(checkpoint, resource)).chunks)
            except ManifestError as error:
                if index.status == CheckpointStatus.AVAILABLE:
                    raise GcRefused(f"bank {bank.name}: garbage collection refused: checkpoint "
                                    f"{index.id}: {error}") from error
                # a protect that failed or a delete under way: it may have no manifest
    _refuse_if_busy(await _protecting_under_lease(store), bank.name)
    chunk_store = await open_chunk_store(chosen, bank)
    sweep = await collect_garbage(chunk_store, referenced, mark_started_at=mark_started_at,
                                  grace=grace, dry_run=dry_run)
    report = BankGcReport(bank=bank.name, checkpoints=len(indexes), marked=len(referenced),
                          sweep=sweep)
    log.info("bank_garbage_collected", bank=bank.name, checkpoints=report.checkpoints,
             marked=report.marked, deleted=sweep.deleted, dry_run=dry_run)
    return report
