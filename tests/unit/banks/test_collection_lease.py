"""The collection lease: a sweep that lost it deletes nothing more."""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from banks.chunks import ChunkStore, ChunkStoreSettings, collect_garbage
from banks.chunks.collection_lease import (
    GC_LEASE_KEY,
    CollectionLeaseLost,
    CollectionRunning,
    hold_collection_lease,
    wait_while_collecting,
)
from banks.chunks.layout import DATA_PREFIX
from banks.chunks.store import GC_GENERATION_KEY
from banks.errors import LeaseHeld, ObjectNotFound
from banks.memory_bank import MemoryBank

SETTINGS = ChunkStoreSettings.from_options(
    {"encryption": "none", "chunk_min_size": "4096", "chunk_avg_size": "16384",
     "chunk_max_size": "65536"}, "test")


async def one_piece(data: bytes):
    yield data


async def test_a_sweep_whose_lease_was_taken_over_stops_before_deleting() -> None:
    bank = MemoryBank()
    store = await ChunkStore.open(bank, SETTINGS)
    refs = await store.write_stream(one_piece(random.Random(1).randbytes(200_000)))
    async with hold_collection_lease(bank, ttl=0.3) as lease:
        # the lease lapsed (a stalled collector) and another collection took it
        await bank.release_lease(GC_LEASE_KEY, lease.owner)
        await bank.acquire_lease(GC_LEASE_KEY, "another-collector", 60)
        async with asyncio.timeout(30):
            while True:  # the next renewal finds the lease taken
                try:
                    lease.check()
                except CollectionLeaseLost:
                    break
                await asyncio.sleep(0.05)
        with pytest.raises(CollectionLeaseLost, match="/chunks/gc"):
            await collect_garbage(store, [], mark_started_at=time.time(), grace=0.0,
                                  lease=lease)
    assert len(await bank.list(DATA_PREFIX)) == len({ref.id for ref in refs})
    with pytest.raises(ObjectNotFound):
        await bank.get(GC_GENERATION_KEY)  # nothing deleted: no store must reload
    # leaving the block released nothing of the other collector's
    assert (await bank.check_lease(GC_LEASE_KEY)).owner == "another-collector"


async def test_a_waiter_passes_a_free_lease_and_names_a_held_one_when_it_gives_up() -> None:
    bank = MemoryBank()
    assert await wait_while_collecting(bank, timeout=0.0, waiter="protect p1") == 0.0
    async with hold_collection_lease(bank) as lease:
        with pytest.raises(LeaseHeld):
            await collect_garbage(await ChunkStore.open(bank, SETTINGS), [],
                                  mark_started_at=time.time())
        with pytest.raises(CollectionRunning) as raised:
            await wait_while_collecting(bank, timeout=0.2, waiter="protect p1",
                                        poll_interval=0.05)
    assert "protect p1" in str(raised.value) and lease.owner in str(raised.value)
    assert "'/chunks/gc'" in str(raised.value)
    assert await bank.check_lease(GC_LEASE_KEY) is None
