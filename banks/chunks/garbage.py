"""Mark-and-sweep garbage collection of chunks no checkpoint refers to.

The caller marks: it notes the wall-clock time, then reads every live checkpoint's
chunk lists into ``referenced``. :func:`collect_garbage` sweeps: it deletes every stored
chunk that is not referenced *and* was last written before ``mark_started_at - grace``.
A chunk written after that (by a protect running during the mark, whose manifest the
mark could not see yet) always survives; ``grace`` also absorbs clock skew between the
writers' hosts and the bank.

What the sweep cannot know, and the caller must ensure (the engine, through leases): a
protect that was running during the mark may have *reused* an old chunk that no other
checkpoint refers to any more. So a collection must not overlap a protect that began
before the mark and is still running: protects hold checkpoint leases, and the caller
takes the collection lease ``/chunks/gc`` (:func:`hold_collection_lease`) *before* it
looks for them and passes it here; protects wait while it is held. Only one collection
runs per bank at a time, and when it has deleted anything it bumps
``/chunks/gc-generation``, so every store that cached an index of what exists reloads
it before its next protect (:meth:`ChunkStore.refresh_index_if_collected`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable

import msgspec
import structlog

from banks.chunks.collection_lease import GC_LEASE_KEY, CollectionLease, hold_collection_lease
from banks.chunks.layout import chunk_key
from banks.chunks.store import GC_GENERATION_KEY, ChunkStore
from banks.errors import ObjectNotFound

log = structlog.get_logger(__name__)

__all__ = ["GC_LEASE_KEY", "GcReport", "collect_garbage"]


class GcReport(msgspec.Struct, frozen=True, kw_only=True):
    """What one collection found and did."""

    mark_started_at: float
    stored: int  # chunks listed in the bank
    referenced: int  # of those, referenced by the mark
    deleted: int  # unreferenced and old enough: removed (or would be, in a dry run)
    kept_recent: int  # unreferenced but written after mark_started_at - grace
    dry_run: bool = False


async def collect_garbage(
    store: ChunkStore,
    referenced: Iterable[str],
    *,
    mark_started_at: float,
    grace: float = 3600.0,
    dry_run: bool = False,
    lease: CollectionLease | None = None,
) -> GcReport:
    """Delete the chunks not in ``referenced`` written before ``mark_started_at - grace``.

    ``lease``: the collection lease the caller took before its mark; without it the
    sweep takes the lease for itself.

    Raises:
        ValueError: if ``grace`` is negative or ``mark_started_at`` is in the future.
        LeaseHeld: if another collection of this bank is running.
        CollectionLeaseLost: if the lease could not be kept (nothing more is deleted).
        BankError: from the bank (chunks already deleted stay deleted: each was garbage).
    """
    if grace < 0:
        raise ValueError(f"grace {grace} must not be negative")
    if mark_started_at > time.time() + 1.0:
        raise ValueError(f"mark_started_at {mark_started_at} is in the future")
    if lease is None:
        async with hold_collection_lease(store.bank) as own:
            return await _sweep(store, set(referenced), own, mark_started_at=mark_started_at,
                                grace=grace, dry_run=dry_run)
    return await _sweep(store, set(referenced), lease, mark_started_at=mark_started_at,
                        grace=grace, dry_run=dry_run)


async def _sweep(store: ChunkStore, keep: set[str], lease: CollectionLease, *,
                 mark_started_at: float, grace: float, dry_run: bool) -> GcReport:
    cutoff = mark_started_at - grace
    bank = store.bank
    stored = referenced_present = deleted = kept_recent = 0
    try:
        async for chunk_id in store.list_chunks():
            stored += 1
            if chunk_id in keep:
                referenced_present += 1
                continue
            try:
                info = await bank.head(chunk_key(chunk_id))
            except ObjectNotFound:
                continue  # gone since the listing
            if info.modified_at >= cutoff:
                kept_recent += 1
                continue
            if not dry_run:
                lease.check()  # a lapsed lease may have let a protect in: stop deleting
                await store.delete_chunk(chunk_id)
            deleted += 1
    finally:
        # even when the sweep stops half-way: what it deleted must not be trusted by
        # any store's cached index
        if deleted and not dry_run:
            await bank.put(GC_GENERATION_KEY, str(uuid.uuid4()).encode())
    report = GcReport(
        mark_started_at=mark_started_at,
        stored=stored,
        referenced=referenced_present,
        deleted=deleted,
        kept_recent=kept_recent,
        dry_run=dry_run,
    )
    log.info("chunk_garbage_collected", bank=bank.name, **msgspec.structs.asdict(report))
    return report
