"""ChunkStore.read_chunk_into: checked plaintext handed over in reused buffers, on a bank
that reads into them (the filesystem bank) and one that does not (memory)."""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from banks.base import Bank
from banks.chunks import ChunkNotFound, ChunkRef, ChunkStore, ChunkStoreSettings, CorruptChunk
from banks.chunks.layout import chunk_key
from banks.errors import ObjectNotFound
from banks.filesystem.bank import FilesystemBank
from banks.memory_bank import MemoryBank

SMALL = {"chunk_min_size": "4096", "chunk_avg_size": "16384", "chunk_max_size": "65536"}
TEXT = b"the quick brown fox jumps over the lazy dog\n"


def settings(encrypted: bool, read_ahead: int = 4) -> ChunkStoreSettings:
    secret = {"passphrase": "a long and secret passphrase"} if encrypted else {"encryption": "none"}
    return ChunkStoreSettings.from_options(
        {**secret, **SMALL, "read_ahead": str(read_ahead)}, "test"
    )


@pytest.fixture(params=["memory", "filesystem"])
async def bank(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Bank]:
    inner: Bank
    if request.param == "memory":
        inner = await MemoryBank.open({})
    else:
        inner = await FilesystemBank.open({"path": str(tmp_path / "bank")})
    yield inner
    await inner.close()


async def once(data: bytes) -> AsyncIterator[bytes]:
    yield data


def mixed_data() -> bytes:
    """Random bytes (stored raw) and text (stored compressed), several chunks of each."""
    chooser = random.Random(7)
    return b"".join(chooser.randbytes(40_000) + TEXT * 1_000 for _ in range(4))


async def copy_of(store: ChunkStore, ref: ChunkRef) -> bytes:
    return await store.read_chunk_into(ref, bytes)


@pytest.mark.parametrize("encrypted", [True, False])
async def test_every_chunk_reads_as_read_chunk_does(bank: Bank, encrypted: bool) -> None:
    store = await ChunkStore.open(bank, settings(encrypted))
    data = mixed_data()
    refs = await store.write_stream(once(data))
    assert len(refs) > 4
    copies = await asyncio.gather(*(copy_of(store, ref) for ref in refs))
    assert b"".join(copies) == data
    for ref, copy in zip(refs, copies, strict=True):
        assert copy == await store.read_chunk(ref.id, ref.size)


@pytest.mark.parametrize("encrypted", [True, False])
async def test_a_flipped_bit_is_named_and_nothing_of_the_chunk_is_handed_over(
    bank: Bank, encrypted: bool
) -> None:
    store = await ChunkStore.open(bank, settings(encrypted))
    refs = await store.write_stream(once(mixed_data()))
    handed: list[bytes] = []
    for ref in refs:
        stored = bytearray(await bank.get(chunk_key(ref.id)))
        stored[len(stored) // 2] ^= 0x08
        await bank.put(chunk_key(ref.id), bytes(stored))
        with pytest.raises(CorruptChunk, match=ref.id):
            await store.read_chunk_into(ref, lambda view: handed.append(bytes(view)))
    assert handed == []


async def test_a_chunk_claimed_smaller_than_it_is_is_refused(bank: Bank) -> None:
    store = await ChunkStore.open(bank, settings(encrypted=False))
    (ref,) = await store.write_stream(once(TEXT * 300))
    with pytest.raises(CorruptChunk, match=f"holds {ref.size} bytes, not {ref.size - 1}"):
        await store.read_chunk_into(ChunkRef(ref.id, ref.size - 1), bytes)


async def test_a_missing_chunk_is_named(bank: Bank) -> None:
    store = await ChunkStore.open(bank, settings(encrypted=True))
    missing = ChunkRef("ab" * 32, 10)
    with pytest.raises(ChunkNotFound, match=missing.id):
        await store.read_chunk_into(missing, bytes)


async def test_the_callback_s_own_error_comes_out_as_itself(bank: Bank) -> None:
    store = await ChunkStore.open(bank, settings(encrypted=True))
    (ref,) = await store.write_stream(once(TEXT * 30))

    def refuse(view: memoryview) -> None:
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        await store.read_chunk_into(ref, refuse)
    assert await copy_of(store, ref) == TEXT * 30  # and the slot was given back


async def test_at_most_read_ahead_chunks_are_decoded_at_once(bank: Bank) -> None:
    store = await ChunkStore.open(bank, settings(encrypted=True, read_ahead=2))
    refs = await store.write_stream(once(mixed_data()))
    lock, running, most = threading.Lock(), [0], [0]

    def count(view: memoryview) -> bytes:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        copy = bytes(view)
        with lock:
            running[0] -= 1
        return copy

    copies = await asyncio.gather(*(store.read_chunk_into(ref, count) for ref in refs * 4))
    assert copies == [await copy_of(store, ref) for ref in refs * 4]
    assert 1 <= most[0] <= 2


async def test_a_cancelled_read_keeps_its_buffers_until_its_thread_is_done(bank: Bank) -> None:
    """With one slot, the next read waits for the cancelled one's callback to end: its
    buffers are never handed to another chunk while still in use."""
    store = await ChunkStore.open(bank, settings(encrypted=True, read_ahead=1))
    refs = await store.write_stream(once(mixed_data()))
    first, second = refs[0], refs[1]
    order: list[str] = []
    started, release = threading.Event(), threading.Event()

    def slow(view: memoryview) -> bytes:
        order.append("first started")
        started.set()
        release.wait(timeout=30)
        copy = bytes(view)
        order.append("first ended")
        return copy

    second_started = threading.Event()

    def quick(view: memoryview) -> bytes:
        order.append("second started")
        second_started.set()
        return bytes(view)

    reading = asyncio.ensure_future(store.read_chunk_into(first, slow))
    await asyncio.to_thread(started.wait, 30)
    reading.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reading
    following = asyncio.ensure_future(store.read_chunk_into(second, quick))
    # time enough for the second read to start, were the slot free (it must not be)
    await asyncio.to_thread(second_started.wait, 1)
    release.set()
    assert await following == await copy_of(store, second)
    assert order == ["first started", "first ended", "second started"]


async def test_the_filesystem_bank_reads_an_object_into_a_given_buffer(tmp_path: Path) -> None:
    bank = await FilesystemBank.open({"path": str(tmp_path / "bank")})
    await bank.put("/a/b", b"0123456789", {"m": "v"})
    buffer = bytearray(64)
    sizes: list[int] = []

    def reserve(size: int) -> memoryview:
        sizes.append(size)
        return memoryview(buffer)[:size]

    view = await asyncio.to_thread(bank.read_into_blocking, "/a/b", reserve)
    assert bytes(view) == b"0123456789" and sizes == [10]
    with pytest.raises(ObjectNotFound):
        bank.read_into_blocking("/a/missing", reserve)
