"""The bank contract: what every bank implementation does, tested once for all of them.

The ``bank`` fixture (conftest.py) runs each test against every implementation.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import random
import time
from collections.abc import AsyncIterator
from typing import cast

import pytest

from banks.base import Bank
from banks.errors import InvalidKey, LeaseHeld, ObjectNotFound, ReadOnlySection
from banks.section import BankSection

INVALID_KEYS = [
    "no/leading/slash",
    "",
    "/a/../b",
    "/a/./b",
    "/..",
    "/trailing/slash/",
    "/double//slash",
    "/bad char",
    "/bad*char",
    "/bad~char",
    "/ünicode",
    "/" + "x" * 1000,
]

# Sorted by hand, in byte order: '-' < '.' < '/' < '0' < '=' < '@' < 'A' < '_' < 'a'.
# A directory walk would put "/a/b" and "/a/b/c" next to each other and "/a-c" elsewhere.
TRICKY_KEYS = [
    "/a",
    "/a-c",
    "/a.c",
    "/a/b",
    "/a/b-c",
    "/a/b/c",
    "/a/b/c/d",
    "/a/b0",
    "/a/bc",
    "/a0",
    "/a=",
    "/a@x",
    "/aA",
    "/a_",
    "/ab",
    "/b",
]


def pattern(size: int, seed: int) -> bytes:
    """``size`` reproducible pseudo-random bytes."""
    return random.Random(seed).randbytes(size)


async def chunked(data: bytes, chunk_size: int) -> AsyncIterator[bytes]:
    """Yield ``data`` in ``chunk_size`` pieces, as a producer reading a file would."""
    for start in range(0, len(data), chunk_size):
        yield data[start : start + chunk_size]
        await asyncio.sleep(0)  # a yield, not a wait: the producer lets others run between reads


async def collect(stream: AsyncIterator[bytes]) -> list[bytes]:
    """Every chunk of ``stream``."""
    return [chunk async for chunk in stream]


# -- objects -----------------------------------------------------------------------------


async def test_a_put_object_reads_back_with_its_metadata(bank: Bank) -> None:
    before = time.time()
    await bank.put("/objects/one", b"hello", {"kind": "greeting", "codec": "none"})

    assert await bank.get("/objects/one") == b"hello"
    info = await bank.head("/objects/one")
    assert info.key == "/objects/one"
    assert info.size == 5
    assert info.metadata == {"kind": "greeting", "codec": "none"}
    assert before - 5 <= info.modified_at <= time.time() + 5


async def test_an_object_put_without_metadata_has_empty_metadata(bank: Bank) -> None:
    await bank.put("/plain", b"x")

    assert (await bank.head("/plain")).metadata == {}


async def test_an_empty_object_is_an_object(bank: Bank) -> None:
    await bank.put("/empty", b"")

    assert await bank.get("/empty") == b""
    assert (await bank.head("/empty")).size == 0
    assert await collect(bank.get_stream("/empty")) in ([], [b""])
    assert await bank.list("/") == ["/empty"]


async def test_a_put_replaces_the_data_and_the_metadata(bank: Bank) -> None:
    await bank.put("/k", b"first version", {"v": "1", "old": "yes"})
    await bank.put("/k", b"second", {"v": "2"})

    assert await bank.get("/k") == b"second"
    info = await bank.head("/k")
    assert info.size == 6
    assert info.metadata == {"v": "2"}
    assert await bank.list("/") == ["/k"]


async def test_a_key_and_keys_below_it_coexist(bank: Bank) -> None:
    await bank.put("/a/b", b"parent")
    await bank.put("/a/b/c", b"child")

    assert await bank.get("/a/b") == b"parent"
    assert await bank.get("/a/b/c") == b"child"
    await bank.delete("/a/b")
    assert await bank.get("/a/b/c") == b"child"


async def test_get_head_and_get_stream_of_a_missing_key_raise_object_not_found(
    bank: Bank,
) -> None:
    await bank.put("/present", b"x")

    with pytest.raises(ObjectNotFound):
        await bank.get("/missing")
    with pytest.raises(ObjectNotFound):
        await bank.head("/missing")
    with pytest.raises(ObjectNotFound):
        await collect(bank.get_stream("/missing"))
    with pytest.raises(ObjectNotFound):
        await bank.get("/present/below")


async def test_object_not_found_names_the_key(bank: Bank) -> None:
    with pytest.raises(ObjectNotFound, match="/missing/key"):
        await bank.get("/missing/key")


@pytest.mark.parametrize("key", INVALID_KEYS)
async def test_every_operation_refuses_an_invalid_key(bank: Bank, key: str) -> None:
    with pytest.raises(InvalidKey):
        await bank.put(key, b"x")
    with pytest.raises(InvalidKey):
        await bank.put_stream(key, chunked(b"x", 1))
    with pytest.raises(InvalidKey):
        await bank.get(key)
    with pytest.raises(InvalidKey):
        await collect(bank.get_stream(key))
    with pytest.raises(InvalidKey):
        await bank.head(key)
    with pytest.raises(InvalidKey):
        await bank.delete(key)
    with pytest.raises(InvalidKey):
        await bank.acquire_lease(key, "owner", 10)
    with pytest.raises(InvalidKey):
        await bank.check_lease(key)
    with pytest.raises(InvalidKey):
        await bank.release_lease(key, "owner")
    assert await bank.list("/") == []


async def test_an_invalid_key_error_names_the_key_and_the_rule(bank: Bank) -> None:
    with pytest.raises(InvalidKey) as raised:
        await bank.put("/a/../b", b"x")

    assert raised.value.key == "/a/../b"
    assert "/a/../b" in str(raised.value)
    assert raised.value.rule


@pytest.mark.parametrize("prefix", ["relative", "", "/a b", "/../", "/a/./"])
async def test_list_refuses_an_invalid_prefix(bank: Bank, prefix: str) -> None:
    with pytest.raises(InvalidKey):
        await bank.list(prefix)


# -- listing -----------------------------------------------------------------------------


async def test_list_returns_every_key_in_ascending_byte_order(bank: Bank) -> None:
    for key in random.Random(7).sample(TRICKY_KEYS, len(TRICKY_KEYS)):
        await bank.put(key, key.encode())

    assert await bank.list("/") == TRICKY_KEYS
    assert await bank.list() == TRICKY_KEYS
    assert sorted(TRICKY_KEYS, key=str.encode) == TRICKY_KEYS


async def test_list_by_prefix_returns_only_keys_starting_with_it(bank: Bank) -> None:
    for key in TRICKY_KEYS:
        await bank.put(key, b"")

    assert await bank.list("/a/b") == ["/a/b", "/a/b-c", "/a/b/c", "/a/b/c/d", "/a/b0", "/a/bc"]
    assert await bank.list("/a/b/") == ["/a/b/c", "/a/b/c/d"]
    assert await bank.list("/a/") == [key for key in TRICKY_KEYS if key.startswith("/a/")]
    assert await bank.list("/a") == [key for key in TRICKY_KEYS if key != "/b"]
    assert await bank.list("/a-") == ["/a-c"]
    assert await bank.list("/b") == ["/b"]
    assert await bank.list("/c") == []
    assert await bank.list("/a/b/c/d/") == []
    assert await bank.list("/nothing/here/") == []


async def test_list_of_an_empty_bank_is_empty(bank: Bank) -> None:
    assert await bank.list("/") == []
    assert await bank.list("/some/prefix/") == []


async def test_list_returns_keys_strictly_after_the_marker(bank: Bank) -> None:
    for key in TRICKY_KEYS:
        await bank.put(key, b"")

    assert await bank.list("/", marker="/a/b") == TRICKY_KEYS[TRICKY_KEYS.index("/a/b") + 1 :]
    # A marker that is not a key: everything after it in byte order.
    assert await bank.list("/", marker="/a/b/") == TRICKY_KEYS[TRICKY_KEYS.index("/a/b/c") :]
    assert await bank.list("/", marker="/a/b/zzz") == TRICKY_KEYS[TRICKY_KEYS.index("/a/b0") :]
    assert await bank.list("/a/b/", marker="/a/b/c") == ["/a/b/c/d"]
    # A marker before the prefix does not hide anything; one after it hides everything.
    assert await bank.list("/a/b/", marker="/") == ["/a/b/c", "/a/b/c/d"]
    assert await bank.list("/a/b/", marker="/z") == []
    assert await bank.list("/", marker="/b") == []


async def test_list_returns_at_most_limit_keys(bank: Bank) -> None:
    for key in TRICKY_KEYS:
        await bank.put(key, b"")

    assert await bank.list("/", limit=3) == TRICKY_KEYS[:3]
    assert await bank.list("/a/", limit=2) == ["/a/b", "/a/b-c"]
    assert await bank.list("/", limit=100) == TRICKY_KEYS
    assert await bank.list("/", limit=0) == []


@pytest.mark.parametrize("page_size", [1, 3, 7, 1000])
async def test_paging_with_marker_and_limit_visits_every_key_exactly_once(
    bank: Bank, page_size: int
) -> None:
    rng = random.Random(page_size)
    alphabet = ["a", "b", "a-", "a.", "a0", "a_", "B", "x@y", "z=1"]
    keys = {
        "/" + "/".join(rng.choice(alphabet) for _ in range(rng.randint(1, 4)))
        for _ in range(150)
    }
    for key in keys:
        await bank.put(key, b"")

    seen: list[str] = []
    marker: str | None = None
    for _ in range(len(keys) + 2):
        page = await bank.list("/", marker=marker, limit=page_size)
        seen.extend(page)
        if len(page) < page_size:
            break
        marker = page[-1]
    else:
        pytest.fail("paging did not end")

    assert seen == sorted(keys)
    assert [key async for key in bank.list_all("/", page_size=page_size)] == sorted(keys)


async def test_list_does_not_return_a_deleted_key(bank: Bank) -> None:
    await bank.put("/d/one", b"1")
    await bank.put("/d/two", b"2")

    await bank.delete("/d/one")

    assert await bank.list("/") == ["/d/two"]


# -- delete ------------------------------------------------------------------------------


async def test_delete_removes_the_object_and_is_idempotent(bank: Bank) -> None:
    await bank.put("/gone/soon", b"x")

    await bank.delete("/gone/soon")
    await bank.delete("/gone/soon")
    await bank.delete("/never/existed")

    with pytest.raises(ObjectNotFound):
        await bank.get("/gone/soon")
    assert await bank.list("/") == []


async def test_a_deleted_key_can_be_written_again(bank: Bank) -> None:
    await bank.put("/deep/tree/key", b"1")
    await bank.delete("/deep/tree/key")

    await bank.put("/deep/tree/key", b"2")

    assert await bank.get("/deep/tree/key") == b"2"


# -- streams -----------------------------------------------------------------------------


async def test_a_streamed_put_of_many_chunks_reads_back_identical(bank: Bank) -> None:
    data = pattern(5 << 20, seed=1)

    size = await bank.put_stream("/big/object", chunked(data, 64 << 10), {"sha": "x"})

    assert size == len(data)
    chunks = await collect(bank.get_stream("/big/object", chunk_size=256 << 10))
    assert all(0 < len(chunk) <= 256 << 10 for chunk in chunks)
    assert hashlib.sha256(b"".join(chunks)).digest() == hashlib.sha256(data).digest()
    assert await bank.get("/big/object") == data
    info = await bank.head("/big/object")
    assert info.size == len(data)
    assert info.metadata == {"sha": "x"}


async def test_get_stream_yields_chunks_no_bigger_than_asked(bank: Bank) -> None:
    await bank.put("/small", b"0123456789")

    chunks = await collect(bank.get_stream("/small", chunk_size=3))

    assert b"".join(chunks) == b"0123456789"
    assert all(len(chunk) <= 3 for chunk in chunks)


async def test_a_streamed_put_of_tiny_and_odd_chunks_keeps_every_byte(bank: Bank) -> None:
    data = pattern(100_000, seed=2)
    rng = random.Random(3)

    async def odd_chunks() -> AsyncIterator[bytes]:
        start = 0
        while start < len(data):
            size = rng.choice([0, 1, 7, 4096, 70_000])
            yield data[start : start + size]
            start += size

    assert await bank.put_stream("/odd", odd_chunks()) == len(data)
    assert await bank.get("/odd") == data


async def test_a_streamed_put_copies_a_reused_buffer(bank: Bank) -> None:
    buffer = bytearray(4)

    async def reusing() -> AsyncIterator[bytes]:
        for value in (b"aaaa", b"bbbb", b"cccc"):
            buffer[:] = value
            yield cast(bytes, buffer)  # a producer may hand out a bytearray it reuses

    await bank.put_stream("/reused", reusing())

    assert await bank.get("/reused") == b"aaaabbbbcccc"


async def test_a_streamed_put_whose_iterator_raises_leaves_no_object(bank: Bank) -> None:
    async def failing() -> AsyncIterator[bytes]:
        yield b"partial data " * 1000
        raise RuntimeError("source went away")

    with pytest.raises(RuntimeError, match="source went away"):
        await bank.put_stream("/failed/stream", failing())

    with pytest.raises(ObjectNotFound):
        await bank.get("/failed/stream")
    assert await bank.list("/") == []


async def test_a_streamed_put_that_fails_keeps_the_old_object(bank: Bank) -> None:
    await bank.put("/kept", b"old", {"v": "1"})

    async def failing() -> AsyncIterator[bytes]:
        yield b"new"
        raise OSError("the producer's own I/O error")

    with pytest.raises(OSError, match="producer's own"):
        await bank.put_stream("/kept", failing(), {"v": "2"})

    assert await bank.get("/kept") == b"old"
    assert (await bank.head("/kept")).metadata == {"v": "1"}


# -- concurrency -------------------------------------------------------------------------


async def test_concurrent_puts_to_distinct_keys_all_land(bank: Bank) -> None:
    keys = [f"/concurrent/{index:03d}/object" for index in range(50)]

    await asyncio.gather(*(bank.put(key, key.encode() * 100) for key in keys))

    assert await bank.list("/concurrent/") == keys
    for key in keys:
        assert await bank.get(key) == key.encode() * 100


async def test_concurrent_puts_to_one_key_leave_one_whole_value(bank: Bank) -> None:
    values = [bytes([index]) * (64 << 10) for index in range(20)]
    seen: list[bytes] = []
    writing = True

    async def reader() -> None:
        # Every read during the writes sees a whole value, never a mix.
        while writing:
            with contextlib.suppress(ObjectNotFound):
                seen.append(await bank.get("/contended"))
            await asyncio.sleep(0)  # a yield, not a wait: the writers run between reads

    async def write(index: int) -> None:
        if index % 2:
            await bank.put_stream("/contended", chunked(values[index], 4096), {"i": str(index)})
        else:
            await bank.put("/contended", values[index], {"i": str(index)})

    reading = asyncio.create_task(reader())
    try:
        await asyncio.gather(*(write(index) for index in range(len(values))))
    finally:
        writing = False
        await reading

    final = await bank.get("/contended")
    assert final in values
    assert (await bank.head("/contended")).metadata == {"i": str(values.index(final))}
    assert all(value in values for value in seen)
    assert await bank.list("/") == ["/contended"]


async def test_concurrent_puts_and_deletes_in_one_directory_stay_consistent(bank: Bank) -> None:
    # Deletes may prune directories while puts create them; no put may be lost.
    kept = [f"/churn/dir/kept-{index}" for index in range(20)]
    churned = [f"/churn/dir/gone-{index}" for index in range(20)]
    for key in churned:
        await bank.put(key, b"x")

    await asyncio.gather(
        *(bank.put(key, b"kept") for key in kept),
        *(bank.delete(key) for key in churned),
    )

    assert await bank.list("/churn/") == sorted(kept)


# -- leases ------------------------------------------------------------------------------


async def test_a_lease_is_taken_and_seen(bank: Bank) -> None:
    before = time.time()

    lease = await bank.acquire_lease("/leases/one", "worker-a", 30)

    assert lease.key == "/leases/one"
    assert lease.owner == "worker-a"
    assert before + 30 <= lease.expires_at <= time.time() + 30
    assert await bank.check_lease("/leases/one") == lease


async def test_no_lease_is_seen_where_none_was_taken(bank: Bank) -> None:
    assert await bank.check_lease("/leases/none") is None


async def test_a_second_owner_is_refused_a_held_lease(bank: Bank) -> None:
    lease = await bank.acquire_lease("/leases/one", "worker-a", 30)

    with pytest.raises(LeaseHeld) as raised:
        await bank.acquire_lease("/leases/one", "worker-b", 30)
    with pytest.raises(LeaseHeld):
        await bank.renew_lease("/leases/one", "worker-b", 30)

    assert raised.value.owner == "worker-a"
    assert raised.value.key == "/leases/one"
    assert raised.value.expires_at == pytest.approx(lease.expires_at)
    assert await bank.check_lease("/leases/one") == lease


async def test_the_same_owner_reacquires_and_renews_its_lease(bank: Bank) -> None:
    first = await bank.acquire_lease("/leases/one", "worker-a", 10)

    again = await bank.acquire_lease("/leases/one", "worker-a", 20)
    renewed = await bank.renew_lease("/leases/one", "worker-a", 30)

    assert again.owner == renewed.owner == "worker-a"
    assert first.expires_at < again.expires_at < renewed.expires_at
    assert await bank.check_lease("/leases/one") == renewed


async def test_an_expired_lease_can_be_taken_by_another_owner(bank: Bank) -> None:
    short = await bank.acquire_lease("/leases/short", "worker-a", 0.2)
    # the lease's time running out is what is under test: let it, by the lease's own clock
    await asyncio.sleep(max(0.0, short.expires_at - time.time()) + 0.05)
    assert await bank.check_lease("/leases/short") is None
    lease = await bank.acquire_lease("/leases/short", "worker-b", 30)

    assert lease.owner == "worker-b"
    assert await bank.check_lease("/leases/short") == lease
    with pytest.raises(LeaseHeld):
        await bank.renew_lease("/leases/short", "worker-a", 30)


async def test_release_by_another_owner_does_nothing(bank: Bank) -> None:
    lease = await bank.acquire_lease("/leases/one", "worker-a", 30)

    await bank.release_lease("/leases/one", "worker-b")

    assert await bank.check_lease("/leases/one") == lease


async def test_release_by_the_owner_frees_the_lease(bank: Bank) -> None:
    await bank.acquire_lease("/leases/one", "worker-a", 30)

    await bank.release_lease("/leases/one", "worker-a")
    await bank.release_lease("/leases/one", "worker-a")
    await bank.release_lease("/leases/never-taken", "worker-a")

    assert await bank.check_lease("/leases/one") is None
    assert (await bank.acquire_lease("/leases/one", "worker-b", 30)).owner == "worker-b"


async def test_leases_on_different_keys_are_independent(bank: Bank) -> None:
    await bank.acquire_lease("/leases/one", "worker-a", 30)

    other = await bank.acquire_lease("/leases/two", "worker-b", 30)

    first = await bank.check_lease("/leases/one")
    assert other.owner == "worker-b"
    assert first is not None
    assert first.owner == "worker-a"


async def test_concurrent_acquires_of_one_lease_have_one_winner(bank: Bank) -> None:
    async def attempt(owner: str) -> str | None:
        try:
            return (await bank.acquire_lease("/leases/race", owner, 30)).owner
        except LeaseHeld:
            return None

    results = await asyncio.gather(*(attempt(f"worker-{index}") for index in range(20)))

    winners = [owner for owner in results if owner is not None]
    assert len(winners) == 1
    held = await bank.check_lease("/leases/race")
    assert held is not None
    assert held.owner == winners[0]


# -- sections ----------------------------------------------------------------------------


async def test_a_section_reads_and_writes_relative_keys(bank: Bank) -> None:
    section = BankSection(bank, "/checkpoints/c1/resource-data/r1")

    await section.put("data/0001", b"one", {"n": "1"})
    await section.put_stream("data/0002", chunked(b"two", 1))

    assert await bank.get("/checkpoints/c1/resource-data/r1/data/0001") == b"one"
    assert await section.get("data/0002") == b"two"
    assert b"".join(await collect(section.get_stream("data/0001"))) == b"one"
    assert (await section.head("data/0001")).metadata == {"n": "1"}


async def test_a_section_lists_keys_without_its_prefix(bank: Bank) -> None:
    section = BankSection(bank, "/sec")
    for key in ["/sec/b", "/sec/a/2", "/sec/a/1", "/sec-x/a", "/sec", "/se"]:
        await bank.put(key, b"")

    assert await section.list() == ["a/1", "a/2", "b"]
    assert await section.list("a/") == ["a/1", "a/2"]
    assert await section.list(marker="a/1", limit=1) == ["a/2"]


async def test_a_read_only_section_refuses_writes_and_still_reads(bank: Bank) -> None:
    await bank.put("/sec/kept", b"data")
    section = BankSection(bank, "/sec", writable=False)

    with pytest.raises(ReadOnlySection):
        await section.put("new", b"x")
    with pytest.raises(ReadOnlySection):
        await section.put_stream("new", chunked(b"x", 1))
    with pytest.raises(ReadOnlySection):
        await section.delete("kept")
    with pytest.raises(ReadOnlySection):
        await section.delete_all()
    with pytest.raises(ReadOnlySection):
        await section.subsection("child", writable=True).put("x", b"x")

    assert await section.get("kept") == b"data"
    assert await bank.list("/") == ["/sec/kept"]


async def test_delete_all_removes_only_the_sections_own_keys(bank: Bank) -> None:
    section = BankSection(bank, "/sec")
    own = [f"/sec/item-{index:04d}" for index in range(1205)] + ["/sec/deep/a/b"]
    others = ["/sec", "/sec-other/x", "/sec2/x", "/se/c", "/a"]
    await asyncio.gather(*(bank.put(key, b"") for key in own + others))

    removed = await section.delete_all()

    assert removed == len(own)
    assert await bank.list("/") == sorted(others)
    assert await section.list() == []
