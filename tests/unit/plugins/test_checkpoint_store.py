"""Checkpoints: the status machine, listing newest first with paging, the journal."""

from __future__ import annotations

import asyncio

import pytest

from banks.memory_bank import MemoryBank
from plugins.checkpoint.checkpoint import CheckpointStatus
from plugins.checkpoint.graph import ResourceGraph
from plugins.checkpoint.journal import Journal, read_journal
from plugins.checkpoint.store import CheckpointStore
from plugins.errors import CheckpointNotFound, InvalidCheckpointState
from plugins.resource import Resource

GRAPH = ResourceGraph([Resource(type="t", id="1")], [[]])


async def make(store: CheckpointStore, checkpoint_id: str, provider: str = "p"):
    return await store.create(
        checkpoint_id=checkpoint_id,
        provider_id=provider,
        project_id=None,
        graph=GRAPH,
        operation_id=f"op-{checkpoint_id}",
        owner="w",
    )


async def test_the_status_machine_allows_only_its_edges():
    store = CheckpointStore(MemoryBank())
    await make(store, "c1")
    with pytest.raises(InvalidCheckpointState, match="'protecting'; it cannot become deleting"):
        await store.transition("c1", CheckpointStatus.DELETING)
    await store.transition("c1", CheckpointStatus.AVAILABLE)
    with pytest.raises(InvalidCheckpointState):
        await store.transition("c1", CheckpointStatus.PROTECTING)
    await store.transition("c1", CheckpointStatus.DELETING)
    await store.transition("c1", CheckpointStatus.ERROR, error="disk on fire")
    index = await store.read_index("c1")
    assert (index.status, index.error) == ("error", "disk on fire")
    await store.transition("c1", CheckpointStatus.DELETING)
    await store.transition("c1", CheckpointStatus.DELETED)
    with pytest.raises(InvalidCheckpointState):
        await store.transition("c1", CheckpointStatus.AVAILABLE)


async def test_listing_is_newest_first_paged_by_marker_and_filtered_by_provider(monkeypatch):
    store = CheckpointStore(MemoryBank())
    clock = iter(range(1_000_000, 1_000_100))
    monkeypatch.setattr("plugins.checkpoint.store.time.time", lambda: float(next(clock)))
    for number in range(7):
        await make(store, f"c{number}", provider="p" if number % 2 == 0 else "q")
    assert [c.id for c in await store.list("p")] == ["c6", "c4", "c2", "c0"]
    first = await store.list(None, limit=3)
    second = await store.list(None, limit=3, marker=first[-1].id)
    third = await store.list(None, limit=3, marker=second[-1].id)
    assert [c.id for c in first + second + third] == [f"c{n}" for n in range(6, -1, -1)]
    created = {c.id: c.created_at for c in first + second + third}
    window = await store.list(None, since=created["c2"], until=created["c5"])
    assert [c.id for c in window] == ["c5", "c4", "c3", "c2"]


async def test_a_deleted_checkpoint_leaves_the_listing_and_keeps_a_tombstone():
    store = CheckpointStore(MemoryBank())
    await make(store, "gone")
    await store.transition("gone", CheckpointStatus.AVAILABLE)
    await store.transition("gone", CheckpointStatus.DELETING)
    await store.purge_data("gone")
    await store.transition("gone", CheckpointStatus.DELETED)
    assert await store.list() == []
    assert (await store.read_index("gone")).status == "deleted"
    with pytest.raises(CheckpointNotFound):
        await store.read_graph("gone")


async def test_creating_a_checkpoint_twice_is_refused():
    store = CheckpointStore(MemoryBank())
    await make(store, "twice")
    with pytest.raises(Exception, match="already exists"):
        await make(store, "twice")


async def test_the_journal_group_commits_concurrent_entries_into_few_segments():
    bank = MemoryBank()
    journal = Journal(bank, "op", "writer-1")
    await asyncio.gather(*(journal.record(n, "protect_pre", "done") for n in range(500)))
    await journal.close()
    entries = await read_journal(bank, "op")
    assert sorted(e.node for e in entries) == list(range(500))
    segments = await bank.list("/operations/")
    assert len(segments) <= 3  # one for the first entry, one for everything that queued
