"""Sealed objects: the envelope and the sealed bank over a memory bank."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest

from banks.chunks import ChunkStore, ChunkStoreSettings
from banks.keys import encode_segment
from banks.memory_bank import MemoryBank
from banks.sealed import (
    ObjectKeys,
    PlaintextRefused,
    SealedBank,
    SealedObjectCorrupt,
    SealingUnavailable,
    is_sealed,
)
from banks.sealed.envelope import HEADER_SIZE
from banks.sealed.stream import SEGMENT_SIZE
from plugins.checkpoint.sealing_layout import CHECKPOINT_SEALING

SECTION = f"/checkpoints/{encode_segment('cp-1')}/resource-data/abc/saved_info"
OTHER_CHECKPOINT = f"/checkpoints/{encode_segment('cp-2')}/resource-data/abc/saved_info"
GRAPH = f"/checkpoints/{encode_segment('cp-1')}/graph"
JOURNAL = f"/operations/{encode_segment('op-1')}/journal/w/00000001"
SECRET = b'{"server": "strongbox-secret-server-name-7f3a"}'


def sealed_over(inner: MemoryBank, root: bytes | None = None) -> SealedBank:
    key = root if root is not None else os.urandom(32)

    async def open_root(create: bool) -> bytes:
        return key

    return SealedBank(inner, CHECKPOINT_SEALING, open_root)


@pytest.fixture
async def inner() -> AsyncIterator[MemoryBank]:
    bank = MemoryBank()
    yield bank
    await bank.close()


async def test_an_object_round_trips_and_is_stored_sealed_without_its_plaintext(
    inner: MemoryBank,
) -> None:
    bank = sealed_over(inner)
    for key in (SECTION, GRAPH, JOURNAL, "/deadlines/b3AtMQ"):
        await bank.put(key, SECRET)
        assert await bank.get(key) == SECRET
        stored = await inner.get(key)
        assert is_sealed(stored) and b"strongbox-secret" not in stored


async def test_the_same_plaintext_sealed_twice_differs_as_each_write_has_its_own_nonce(
    inner: MemoryBank,
) -> None:
    bank = sealed_over(inner)
    await bank.put(GRAPH, SECRET)
    first = await inner.get(GRAPH)
    await bank.put(GRAPH, SECRET)
    assert await inner.get(GRAPH) != first


@pytest.mark.parametrize("position", [4, 5, 6, 7, 20, -1])
async def test_a_flipped_byte_anywhere_fails_naming_the_object_and_its_checkpoint(
    inner: MemoryBank, position: int
) -> None:
    bank = sealed_over(inner)
    await bank.put(SECTION, SECRET)
    stored = bytearray(await inner.get(SECTION))
    stored[position] ^= 0x01
    await inner.put(SECTION, bytes(stored))
    with pytest.raises(SealedObjectCorrupt) as caught:
        await bank.get(SECTION)
    assert SECTION in str(caught.value) and "checkpoint cp-1" in str(caught.value)
    assert b"strongbox-secret".decode() not in str(caught.value)


async def test_an_object_moved_to_another_checkpoint_fails_as_a_rollback_would(
    inner: MemoryBank,
) -> None:
    bank = sealed_over(inner)
    await bank.put(SECTION, b'{"old": true}')
    await bank.put(OTHER_CHECKPOINT, SECRET)
    # an attacker copies the first checkpoint's object over the second's
    await inner.put(OTHER_CHECKPOINT, await inner.get(SECTION))
    with pytest.raises(SealedObjectCorrupt, match=r"checkpoint cp-2.*authentication failed"):
        await bank.get(OTHER_CHECKPOINT)


async def test_an_object_moved_to_another_key_of_its_checkpoint_fails(inner: MemoryBank) -> None:
    bank = sealed_over(inner)
    moved = SECTION.replace("saved_info", "manifest")
    await bank.put(SECTION, SECRET)
    await inner.put(moved, await inner.get(SECTION))
    with pytest.raises(SealedObjectCorrupt) as caught:
        await bank.get(moved)
    assert caught.value.key == moved


async def test_a_section_object_moved_to_an_engine_key_fails_on_its_purpose(
    inner: MemoryBank,
) -> None:
    bank = sealed_over(inner)
    await bank.put(SECTION, SECRET)
    await inner.put(GRAPH, await inner.get(SECTION))
    with pytest.raises(SealedObjectCorrupt, match="another purpose"):
        await bank.get(GRAPH)


async def test_a_plaintext_object_where_a_sealed_one_belongs_is_refused(
    inner: MemoryBank,
) -> None:
    bank = sealed_over(inner)
    await inner.put(GRAPH, b'{"v": 1, "nodes": [], "children": []}')
    with pytest.raises(PlaintextRefused) as caught:
        await bank.get(GRAPH)
    assert GRAPH in str(caught.value) and "checkpoint cp-1" in str(caught.value)
    assert "downgraded or planted" in str(caught.value)


async def test_an_object_sealed_under_another_key_fails(inner: MemoryBank) -> None:
    await sealed_over(inner).put(GRAPH, SECRET)
    with pytest.raises(SealedObjectCorrupt, match="authentication failed"):
        await sealed_over(inner).get(GRAPH)


async def test_the_chunk_store_and_the_listing_entries_pass_through_in_the_clear(
    inner: MemoryBank,
) -> None:
    bank = sealed_over(inner)
    for key in ("/chunks/config", "/indices/all/0000000000001@Y3AtMQ"):
        await bank.put(key, b"as is")
        assert await inner.get(key) == b"as is" and await bank.get(key) == b"as is"


async def stream_of(data: bytes, step: int = 300_000) -> AsyncIterator[bytes]:
    for start in range(0, len(data), step):
        yield data[start : start + step]


BIG = os.urandom(SEGMENT_SIZE * 2 + 12_345)


@pytest.mark.parametrize("size", [0, 10, SEGMENT_SIZE, len(BIG)])
async def test_a_stream_is_sealed_segment_by_segment_and_read_back_by_stream_or_whole(
    inner: MemoryBank, size: int
) -> None:
    bank = sealed_over(inner)
    assert await bank.put_stream(SECTION, stream_of(BIG[:size])) == size
    stored = await inner.get(SECTION)
    assert is_sealed(stored) and (size < 64 or BIG[:64] not in stored)
    read = [piece async for piece in bank.get_stream(SECTION, chunk_size=100_000)]
    assert b"".join(read) == BIG[:size] and all(len(piece) <= 100_000 for piece in read)
    assert await bank.get(SECTION) == BIG[:size]


async def test_a_whole_object_reads_by_stream_and_a_plaintext_one_is_refused_there_too(
    inner: MemoryBank,
) -> None:
    bank = sealed_over(inner)
    await bank.put(SECTION, SECRET)
    assert b"".join([piece async for piece in bank.get_stream(SECTION, chunk_size=7)]) == SECRET
    await inner.put(GRAPH, SECRET)
    with pytest.raises(PlaintextRefused):
        _ = [piece async for piece in bank.get_stream(GRAPH)]


def records(stored: bytes) -> tuple[bytes, list[bytes]]:
    """A streamed object's header and its segment records, as stored."""
    header, rest, found = stored[:HEADER_SIZE], stored[HEADER_SIZE:], []
    while rest:
        length = 4 + int.from_bytes(rest[:4], "big")
        found.append(rest[:length])
        rest = rest[length:]
    return header, found


@pytest.mark.parametrize(
    "cut", ["drop the final segment", "swap two segments", "repeat a segment", "append"]
)
async def test_a_cut_reordered_or_extended_stream_fails_naming_the_object(
    inner: MemoryBank, cut: str
) -> None:
    bank = sealed_over(inner)
    await bank.put_stream(SECTION, stream_of(BIG))
    header, segments = records(await inner.get(SECTION))
    assert len(segments) == 3
    changed = {
        "drop the final segment": segments[:2],
        "swap two segments": [segments[1], segments[0], segments[2]],
        "repeat a segment": [segments[0], segments[0], segments[1], segments[2]],
        "append": [*segments, segments[2]],
    }[cut]
    await inner.put(SECTION, header + b"".join(changed))
    with pytest.raises(SealedObjectCorrupt) as caught:
        _ = [piece async for piece in bank.get_stream(SECTION)]
    assert SECTION in str(caught.value) and "checkpoint cp-1" in str(caught.value)
    with pytest.raises(SealedObjectCorrupt):
        await bank.get(SECTION)


async def test_a_streamed_object_moved_to_another_checkpoint_fails(inner: MemoryBank) -> None:
    bank = sealed_over(inner)
    await bank.put_stream(SECTION, stream_of(BIG))
    await inner.put(OTHER_CHECKPOINT, await inner.get(SECTION))
    with pytest.raises(SealedObjectCorrupt, match=r"checkpoint cp-2.*segment 0 fails"):
        _ = [piece async for piece in bank.get_stream(OTHER_CHECKPOINT)]


async def test_metadata_on_a_sealed_object_is_refused_as_it_would_stay_in_the_clear(
    inner: MemoryBank,
) -> None:
    with pytest.raises(SealingUnavailable, match="metadata"):
        await sealed_over(inner).put(SECTION, SECRET, {"name": "web"})


async def test_keyed_names_need_the_keys_and_say_nothing_of_the_resource(
    inner: MemoryBank,
) -> None:
    bank = sealed_over(inner)
    with pytest.raises(SealingUnavailable, match="not loaded"):
        bank.keyed_name("OS::Nova::Server#vm-1")
    await bank.ready(create=False)
    name = bank.keyed_name("OS::Nova::Server#vm-1")
    assert len(name) == 32 and name == bank.keyed_name("OS::Nova::Server#vm-1")
    assert name != bank.keyed_name("OS::Nova::Server#vm-2")
    assert "vm-1" not in name and encode_segment("OS::Nova::Server#vm-1") != name


async def test_an_encrypted_chunk_store_gives_a_sealing_root_and_a_plain_one_none() -> None:
    encrypted, plain = MemoryBank(), MemoryBank()
    secret = ChunkStoreSettings.from_options({"passphrase": "a passphrase"}, "test")
    none = ChunkStoreSettings.from_options({"encryption": "none"}, "test")
    store = await ChunkStore.open(encrypted, secret)
    assert store.sealing_root is not None
    assert (await ChunkStore.open(plain, none)).sealing_root is None
    # reopened with the passphrase: the same root, so the same object keys
    again = await ChunkStore.open(encrypted, secret, create=False)
    assert again.sealing_root == store.sealing_root
    assert repr(ObjectKeys.derive(store.sealing_root)) == "ObjectKeys()"  # no key shown


async def test_a_large_whole_object_round_trips_sealed_off_the_event_loop(
    inner: MemoryBank,
) -> None:
    bank = sealed_over(inner)
    await bank.put(GRAPH, BIG)
    assert await bank.get(GRAPH) == BIG and is_sealed(await inner.get(GRAPH))
