"""Verifying referenced chunks, and collecting the ones no checkpoint refers to."""

from __future__ import annotations

import random
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from banks.base import Bank
from banks.chunks import (
    BadChunk,
    ChunkRef,
    ChunkStore,
    ChunkStoreSettings,
    collect_garbage,
    verify_references,
)
from banks.chunks.garbage import GC_LEASE_KEY
from banks.chunks.layout import DATA_PREFIX, chunk_key
from banks.errors import LeaseHeld
from banks.filesystem.bank import FilesystemBank
from banks.memory_bank import MemoryBank
from tests.helpers.counting_bank import CountingBank
from tests.helpers.directory_trees import PLUGIN, protect, restore, snapshot

SETTINGS = ChunkStoreSettings.from_options(
    {
        "passphrase": "maintenance",
        "chunk_min_size": "4096",
        "chunk_avg_size": "16384",
        "chunk_max_size": "65536",
    },
    "test",
)


@pytest.fixture(params=["memory", "filesystem"])
async def bank(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[CountingBank]:
    inner: Bank
    if request.param == "memory":
        inner = MemoryBank()
    else:
        inner = await FilesystemBank.open({"path": str(tmp_path / "bank")})
    yield CountingBank(inner)


async def pieces(data: bytes) -> AsyncIterator[bytes]:
    for offset in range(0, len(data), 50_000):
        yield data[offset : offset + 50_000]


async def write(store: ChunkStore, seed: int, size: int = 400_000) -> list[ChunkRef]:
    return await store.write_stream(pieces(random.Random(seed).randbytes(size)))


async def test_verify_names_missing_corrupt_and_malformed_references(bank: CountingBank) -> None:
    store = await ChunkStore.open(bank, SETTINGS)
    refs = await write(store, 1)
    ids = [ref.id for ref in refs]
    await bank.delete(chunk_key(ids[0]))
    damaged = bytearray(await bank.get(chunk_key(ids[1])))
    damaged[-1] ^= 0x80
    await bank.put(chunk_key(ids[1]), bytes(damaged))
    bad = await verify_references(store, [*ids, "../../etc/passwd"], sample=1.0)
    by_id = {b.id: b.reason for b in bad}
    assert by_id.pop(ids[0]) == "missing from the bank"
    assert "authentication failed" in by_id.pop(ids[1])
    assert by_id == {"../../etc/passwd": "not a chunk id"}


async def test_a_zero_sample_still_finds_missing_chunks_but_reads_none(
    bank: CountingBank,
) -> None:
    store = await ChunkStore.open(bank, SETTINGS)
    ids = [ref.id for ref in await write(store, 2)]
    await bank.delete(chunk_key(ids[-1]))
    damaged = bytearray(await bank.get(chunk_key(ids[0])))
    damaged[-1] ^= 0x80
    await bank.put(chunk_key(ids[0]), bytes(damaged))
    assert await verify_references(store, ids, sample=0.0) == [
        BadChunk(ids[-1], "missing from the bank")
    ]
    assert await verify_references(store, [ids[1]], sample=1.0) == []
    with pytest.raises(ValueError, match="fraction"):
        await verify_references(store, ids, sample=1.5)


async def test_the_sweep_deletes_unreferenced_chunks_and_keeps_referenced_ones(
    bank: CountingBank,
) -> None:
    store = await ChunkStore.open(bank, SETTINGS)
    kept, dropped = await write(store, 3), await write(store, 4)
    report = await collect_garbage(
        store, [ref.id for ref in kept], mark_started_at=time.time(), grace=0.0
    )
    remaining = [chunk_id async for chunk_id in store.list_chunks()]
    assert remaining == sorted({ref.id for ref in kept})
    assert report.deleted == len({ref.id for ref in dropped}) and report.kept_recent == 0
    out = bytearray()
    async for piece in store.read_stream(kept):
        out += piece
    assert bytes(out) == random.Random(3).randbytes(400_000)


async def test_chunks_written_after_the_mark_survive_the_sweep(bank: CountingBank) -> None:
    store = await ChunkStore.open(bank, SETTINGS)
    mark = time.time()
    # a protect running during the mark: its manifest is not written, so nothing refers
    # to these chunks yet
    running = await write(store, 5)
    report = await collect_garbage(store, [], mark_started_at=mark, grace=0.5)
    assert report.deleted == 0
    assert report.kept_recent == len({ref.id for ref in running})
    assert len([c async for c in store.list_chunks()]) == report.kept_recent


async def test_a_dry_run_deletes_nothing(bank: CountingBank) -> None:
    store = await ChunkStore.open(bank, SETTINGS)
    refs = await write(store, 6)
    report = await collect_garbage(store, [], mark_started_at=time.time(), grace=0.0, dry_run=True)
    assert report.deleted == len({ref.id for ref in refs})
    assert len(await bank.list(DATA_PREFIX)) == report.deleted


async def test_only_one_collection_runs_at_a_time(bank: CountingBank) -> None:
    store = await ChunkStore.open(bank, SETTINGS)
    await bank.acquire_lease(GC_LEASE_KEY, "another-collector", 60)
    with pytest.raises(LeaseHeld):
        await collect_garbage(store, [], mark_started_at=time.time())


async def test_a_store_of_another_process_reuploads_what_a_collection_removed(
    bank: CountingBank,
) -> None:
    writer = await ChunkStore.open(bank, SETTINGS)
    collector = await ChunkStore.open(bank, SETTINGS)  # as if in another process
    refs = await write(writer, 7)
    await collect_garbage(collector, [], mark_started_at=time.time(), grace=0.0)
    assert await bank.list(DATA_PREFIX) == []
    assert await writer.refresh_index_if_collected()
    bank.reset()
    assert await write(writer, 7) == refs
    assert bank.put_count(DATA_PREFIX) == len({ref.id for ref in refs})
    assert not await writer.refresh_index_if_collected()


async def test_the_directory_plugin_protects_fully_again_after_a_collection(
    tmp_path: Path,
) -> None:
    bank = CountingBank(MemoryBank())
    source = tmp_path / "source"
    source.mkdir()
    (source / "data.bin").write_bytes(random.Random(8).randbytes(300_000))
    await protect(bank, source)  # the test plugin's store now caches an index
    # another process, with the provider's passphrase
    collector = await ChunkStore.open(bank, PLUGIN.store_settings)
    await collect_garbage(collector, [], mark_started_at=time.time(), grace=0.0)
    bank.reset()
    await protect(bank, source)
    assert bank.put_count(DATA_PREFIX) > 0
    await restore(bank, source, tmp_path / "restored")
    assert snapshot(tmp_path / "restored") == snapshot(source)
