"""The chunk store over real banks: round trips, dedup, keys, corruption."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest

from banks.base import Bank
from banks.chunks import (
    ChunkNotFound,
    ChunkRef,
    ChunkStore,
    ChunkStoreConfigError,
    ChunkStoreSettings,
    CorruptChunk,
    KeyRequired,
    WriteStats,
    WrongKey,
)
from banks.chunks.layout import CONFIG_KEY, DATA_PREFIX, chunk_key
from banks.filesystem.bank import FilesystemBank
from banks.memory_bank import MemoryBank
from tests.helpers.counting_bank import CountingBank

PASSPHRASE = "a long and secret passphrase"
SMALL = {"chunk_min_size": "4096", "chunk_avg_size": "16384", "chunk_max_size": "65536"}


def settings(**options: str) -> ChunkStoreSettings:
    return ChunkStoreSettings.from_options({"passphrase": PASSPHRASE, **SMALL, **options}, "test")


@pytest.fixture(params=["memory", "filesystem"])
async def bank(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[CountingBank]:
    inner: Bank
    if request.param == "memory":
        inner = await MemoryBank.open({})
    else:
        inner = await FilesystemBank.open({"path": str(tmp_path / "bank")})
    counting = CountingBank(inner)
    yield counting
    await counting.close()


async def pieces(data: bytes, step: int = 100_000) -> AsyncIterator[bytes]:
    for offset in range(0, len(data), step):
        yield data[offset : offset + step]


async def read_all(store: ChunkStore, refs: list[ChunkRef]) -> bytes:
    out = bytearray()
    async for piece in store.read_stream(refs):
        out += piece
    return bytes(out)


def data_of(size: int, seed: int = 3) -> bytes:
    return random.Random(seed).randbytes(size)


async def test_a_stream_round_trips_encrypted_and_nothing_readable_reaches_the_bank(
    bank: CountingBank,
) -> None:
    store = await ChunkStore.open(bank, settings())
    text = b"the quick brown fox jumps over the lazy dog\n" * 20_000
    data = data_of(1 << 20) + text
    refs = await store.write_stream(pieces(data))
    assert sum(ref.size for ref in refs) == len(data)
    assert await read_all(store, refs) == data
    stored = [await bank.get(key) async for key in bank.list_all(DATA_PREFIX)]
    assert len(stored) == len({ref.id for ref in refs})
    assert not any(b"quick brown fox" in blob for blob in stored)
    # the repetitive text compressed: what the bank holds is far below the plaintext
    assert bank.written(DATA_PREFIX) < len(data) - len(text) // 2
    config = await bank.get(CONFIG_KEY)
    assert PASSPHRASE.encode() not in config and b"aes-256-gcm" in config


async def test_a_second_write_of_the_same_stream_uploads_no_chunk(bank: CountingBank) -> None:
    store = await ChunkStore.open(bank, settings())
    data = data_of(2 << 20)
    first = await store.write_stream(pieces(data))
    bank.reset()
    stats = WriteStats()
    again = await store.write_stream(pieces(data, step=77_777), stats)
    assert again == first
    assert bank.written() == 0
    assert stats.new_chunks == 0 and stats.deduplicated_chunks == len(first)


async def test_a_new_process_dedups_against_what_the_bank_already_holds(
    bank: CountingBank,
) -> None:
    data = data_of(1 << 20)
    refs = await (await ChunkStore.open(bank, settings())).write_stream(pieces(data))
    bank.reset()
    reopened = await ChunkStore.open(bank, settings())  # a fresh index, listed from the bank
    assert await reopened.write_stream(pieces(data)) == refs
    assert bank.written(DATA_PREFIX) == 0


async def test_one_changed_byte_in_the_middle_stores_about_one_new_chunk(
    bank: CountingBank,
) -> None:
    store = await ChunkStore.open(bank, settings())
    data = bytearray(data_of(4 << 20))
    before = await store.write_stream(pieces(bytes(data)))
    data[len(data) // 2] ^= 0xFF
    bank.reset()
    stats = WriteStats()
    after = await store.write_stream(pieces(bytes(data)), stats)
    assert len(before) > 100
    assert 1 <= stats.new_chunks <= 2
    assert len(set(after) - set(before)) == stats.new_chunks
    assert bank.written(DATA_PREFIX) <= 2 * 65536 + 200


async def test_the_same_chunk_written_by_two_streams_at_once_is_uploaded_once(
    bank: CountingBank,
) -> None:
    store = await ChunkStore.open(bank, settings())
    data = data_of(1 << 20)
    first, second = await asyncio.gather(
        store.write_stream(pieces(data)), store.write_stream(pieces(data))
    )
    assert first == second
    assert bank.put_count(DATA_PREFIX) == len(set(first))


async def test_a_wrong_passphrase_fails_closed_naming_the_bank_not_the_secret(
    bank: CountingBank,
) -> None:
    await ChunkStore.open(bank, settings())
    with pytest.raises(WrongKey) as raised:
        await ChunkStore.open(bank, settings(passphrase="not the passphrase"))
    assert bank.name in str(raised.value)
    assert "not the passphrase" not in str(raised.value) + repr(raised.value)
    with pytest.raises(KeyRequired, match=bank.name):
        await ChunkStore.open(bank, ChunkStoreSettings.from_options({}, "test"), create=False)


async def test_a_key_file_is_a_secret_like_a_passphrase(bank: CountingBank, tmp_path) -> None:
    key_file = tmp_path / "bank.key"
    key_file.write_bytes(b"\x00\x01 random key file bytes \xff")
    by_file = ChunkStoreSettings.from_options({"key_file": str(key_file), **SMALL}, "test")
    refs = await (await ChunkStore.open(bank, by_file)).write_stream(pieces(b"content"))
    assert await read_all(await ChunkStore.open(bank, by_file), refs) == b"content"
    with pytest.raises(WrongKey):
        await ChunkStore.open(bank, settings())


async def test_the_passphrase_may_come_from_the_environment(bank, monkeypatch) -> None:
    monkeypatch.setenv("STRONGBOX_PASSPHRASE", PASSPHRASE)
    from_env = ChunkStoreSettings.from_options(SMALL, "test")
    assert PASSPHRASE not in repr(from_env)
    await ChunkStore.open(bank, from_env)
    await ChunkStore.open(bank, settings())  # the same secret, given as an option


async def test_an_unencrypted_store_exists_only_when_asked_for_and_is_not_silently_used(
    bank: CountingBank,
) -> None:
    with pytest.raises(KeyRequired):
        await ChunkStore.open(bank, ChunkStoreSettings.from_options({}, "test"))
    plain = ChunkStoreSettings.from_options({"encryption": "none", **SMALL}, "test")
    store = await ChunkStore.open(bank, plain)
    assert not store.encrypted
    refs = await store.write_stream(pieces(b"in the clear" * 1000))
    assert await read_all(store, refs) == b"in the clear" * 1000
    # asking for encryption of a store that has none fails closed
    with pytest.raises(ChunkStoreConfigError, match="not encrypted"):
        await ChunkStore.open(bank, settings())


async def test_no_store_is_created_by_a_reader(bank: CountingBank) -> None:
    with pytest.raises(ChunkStoreConfigError, match="holds no chunk store"):
        await ChunkStore.open(bank, settings(), create=False)
    assert await bank.list("/") == []


async def test_two_processes_creating_a_store_at_once_get_one_store(bank: CountingBank) -> None:
    first, second = await asyncio.gather(
        ChunkStore.open(bank, settings()), ChunkStore.open(bank, settings())
    )
    assert first.config.store_id == second.config.store_id
    assert bank.put_count(CONFIG_KEY) == 1


async def flip_a_bit(bank: Bank, chunk_id: str, offset: int = -20) -> None:
    stored = bytearray(await bank.get(chunk_key(chunk_id)))
    stored[offset] ^= 0x01
    await bank.put(chunk_key(chunk_id), bytes(stored))


@pytest.mark.parametrize("encryption", ["aes-256-gcm", "none"])
async def test_a_flipped_bit_is_detected_naming_the_chunk_and_no_byte_of_it_is_yielded(
    bank: CountingBank, encryption: str
) -> None:
    store = await ChunkStore.open(bank, settings(encryption=encryption))
    data = data_of(1 << 20)
    refs = await store.write_stream(pieces(data))
    bad = refs[len(refs) // 2]
    await flip_a_bit(bank, bad.id)
    received = bytearray()
    with pytest.raises(CorruptChunk, match=bad.id) as raised:
        async for piece in store.read_stream(refs):
            received += piece
    assert raised.value.chunk_id == bad.id
    assert bytes(received) == data[: sum(ref.size for ref in refs[: len(refs) // 2])]
    with pytest.raises(CorruptChunk, match=bad.id):
        await store.verify_chunk(bad.id)
    assert await store.verify_chunk(refs[0].id) == refs[0].size


async def test_a_chunk_copied_over_another_fails_authentication(bank: CountingBank) -> None:
    store = await ChunkStore.open(bank, settings())
    refs = await store.write_stream(pieces(data_of(200_000)))
    first, second = refs[0].id, refs[1].id
    await bank.put(chunk_key(second), await bank.get(chunk_key(first)))
    with pytest.raises(CorruptChunk, match="authentication failed"):
        await store.read_chunk(second)


async def test_a_missing_chunk_is_named(bank: CountingBank) -> None:
    store = await ChunkStore.open(bank, settings())
    refs = await store.write_stream(pieces(data_of(100_000)))
    await store.delete_chunk(refs[-1].id)
    with pytest.raises(ChunkNotFound, match=refs[-1].id):
        await read_all(store, refs)


async def test_listing_and_deleting_chunks(bank: CountingBank) -> None:
    store = await ChunkStore.open(bank, settings())
    refs = await store.write_stream(pieces(data_of(300_000)))
    listed = [chunk_id async for chunk_id in store.list_chunks()]
    assert listed == sorted({ref.id for ref in refs})
    for chunk_id in listed:
        await store.delete_chunk(chunk_id)
    assert [c async for c in store.list_chunks()] == []
    # deleted chunks are uploaded again, not assumed present
    bank.reset()
    await store.write_stream(pieces(data_of(300_000)))
    assert bank.put_count(DATA_PREFIX) == len(listed)


async def test_an_empty_stream_is_an_empty_chunk_list(bank: CountingBank) -> None:
    store = await ChunkStore.open(bank, settings())
    assert await store.write_stream(pieces(b"")) == []
    assert await read_all(store, []) == b""


async def test_a_failing_source_stream_fails_the_write_with_its_own_error(
    bank: CountingBank,
) -> None:
    store = await ChunkStore.open(bank, settings())

    async def broken() -> AsyncIterator[bytes]:
        yield data_of(300_000)
        raise OSError("disk went away")

    with pytest.raises(OSError, match="disk went away"):
        await store.write_stream(broken())


def test_settings_name_the_option_at_fault() -> None:
    with pytest.raises(ChunkStoreConfigError, match="'encryption'"):
        ChunkStoreSettings.from_options({"encryption": "rot13"}, "options of [directory]")
    with pytest.raises(ChunkStoreConfigError, match="'upload_concurrency'"):
        ChunkStoreSettings.from_options({"upload_concurrency": "0"}, "x")
    with pytest.raises(ChunkStoreConfigError, match="max_size"):
        ChunkStoreSettings.from_options({"chunk_max_size": str(64 << 20)}, "x")


async def test_a_tampered_config_is_refused(bank: CountingBank) -> None:
    await ChunkStore.open(bank, settings())
    config = msgspec.json.decode(await bank.get(CONFIG_KEY))
    config["kdf"]["n"] = 2  # a cheap KDF planted by whoever can write the bank
    await bank.put(CONFIG_KEY, msgspec.json.encode(config))
    with pytest.raises(ChunkStoreConfigError, match="scrypt n=2"):
        await ChunkStore.open(bank, settings())


async def test_failed_writes_leave_the_store_usable(bank: CountingBank) -> None:
    store = await ChunkStore.open(bank, settings(upload_concurrency="2"))

    async def broken() -> AsyncIterator[bytes]:
        yield data_of(500_000)
        raise OSError("read error")

    for _ in range(5):  # more failures than upload slots: none may be leaked
        with pytest.raises(OSError):
            await store.write_stream(broken())
    data = data_of(500_000, seed=9)
    assert await read_all(store, await store.write_stream(pieces(data))) == data
