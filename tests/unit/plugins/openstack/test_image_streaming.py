"""The image byte streams in bounded memory, without a cloud: 200 MB from a "Glance
download" through the chunker into the store, and 200 MB of chunks back out as the
iterator a Glance upload sends. Memory is measured by instrumentation (tracemalloc's peak,
the feed's own count of buffered bytes, the byte budget's peak), never by timing."""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import os
import tracemalloc
from collections.abc import Iterator
from typing import Any

from banks.chunks import ChunkStore, ChunkStoreSettings
from banks.chunks.chunker import ChunkerParams, chunk_all
from banks.chunks.layout import DATA_PREFIX
from banks.memory_bank import MemoryBank
from plugins.context import ActivityContext, RequestContext
from plugins.openstack.byte_budget import ByteBudget
from plugins.openstack.chunk_feed import ChunkFeed
from plugins.openstack.image_chunks import store_image

MIB = 1 << 20
TOTAL = 200 * MIB
SETTINGS = ChunkStoreSettings(encryption="none")  # the same work but the key unwrap


class ForgetfulBank(MemoryBank):
    """Keeps the names of chunks, not their bytes: the test measures the stream's memory,
    not a bank that would hold 200 MB."""

    async def put(self, key: str, data: bytes, metadata: Any = None) -> None:
        await super().put(key, b"" if key.startswith(DATA_PREFIX) else data, metadata)


class Download:
    """What the SDK's streaming download returns: an HTTP body read piece by piece."""

    status_code = 200

    def __init__(self, total: int) -> None:
        self.total = total
        self.sha256 = hashlib.sha256()

    def iter_content(self, chunk_size: int) -> Iterator[bytes]:
        left = self.total
        while left:
            piece = os.urandom(min(chunk_size, left))
            self.sha256.update(piece)
            left -= len(piece)
            yield piece

    def close(self) -> None:
        pass


class DirectCloud:
    """``OpenStackCloud``'s two entry points, running each function in a thread."""

    def __init__(self, download: Download) -> None:
        self.image = self
        self._download = download

    def download_image(self, image_id: str, *, stream: bool, chunk_size: int) -> Download:
        return self._download

    async def call(self, project_id: Any, service: str, call: str, resource_id: Any,
                   function: Any) -> Any:
        return await asyncio.to_thread(function, self)

    async def run(self, function: Any, *args: Any) -> Any:
        return await asyncio.to_thread(function, *args)


def context() -> ActivityContext:
    return ActivityContext(operation_id="op", operation_type="protect",
                           activity="protect_parallel", request=RequestContext())


async def test_200_mb_stream_into_the_store_holding_a_few_chunks_at_most() -> None:
    store = await ChunkStore.open(ForgetfulBank(), SETTINGS)
    download = Download(TOTAL)
    budget = ByteBudget(64 * MIB)  # more than the reads ahead need: they bound themselves
    tracemalloc.start()
    try:
        stored = await store_image(DirectCloud(download), context(), "img", store,  # type: ignore[arg-type]
                                   chunk_size=MIB, total=TOTAL, checksum=None, budget=budget)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert stored.digests.size == TOTAL
    assert stored.digests.sha256.hexdigest() == download.sha256.hexdigest()
    assert sum(ref.size for ref in stored.chunks) == TOTAL
    assert stored.stats.new_chunks == len(stored.chunks)  # random: every chunk new
    # read ahead: what the chunker cuts at once (twice its 4 MiB largest chunk), the piece
    # being read and the one the store holds included
    assert budget.in_use == 0 and budget.peak <= 8 * MIB
    # the chunker holds up to three 4 MiB chunks, the store four in flight with their
    # encoded copies: a few tens of MiB, whatever the size of the image
    assert peak < 32 * MIB, f"peak {peak / MIB:.1f} MiB while storing {TOTAL // MIB} MiB"


async def test_200_mb_of_chunks_feed_an_upload_with_bounded_read_ahead() -> None:
    store = await ChunkStore.open(MemoryBank(), SETTINGS)
    block = os.urandom(16 * MIB)

    async def once() -> Any:
        yield block

    refs = await store.write_stream(once())
    repeats = TOTAL // len(block) + 1  # the same chunks again and again: 208 MiB of reads
    chunks = refs * repeats
    expected = hashlib.sha256()
    for _ in range(repeats):
        expected.update(block)
    budget = ByteBudget(64 * MIB)
    feed = ChunkFeed(store, chunks, asyncio.get_running_loop(), resource_key="OS::Glance::Image#i",
                     checkpoint_id="cp", read_ahead=store.read_ahead, budget=budget)

    def upload() -> int:  # what requests does with a chunked body, in the SDK's thread
        return sum(len(piece) for piece in feed)

    tracemalloc.start()
    try:
        sent = await asyncio.to_thread(upload)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        await feed.close()
    assert sent == feed.sent == len(block) * repeats
    assert feed.sha256.hexdigest() == expected.hexdigest()
    largest = max(ref.size for ref in refs)
    # read_ahead chunks fetched ahead, and the one being sent
    assert feed.peak_buffered <= (store.read_ahead + 1) * largest
    assert feed.buffered == 0 and budget.in_use == 0
    assert peak < 40 * MIB, f"peak {peak / MIB:.1f} MiB while sending {sent // MIB} MiB"


def test_a_long_run_of_zeros_is_the_same_maximal_chunk_over_and_over() -> None:
    params = ChunkerParams()
    pieces = chunk_all(bytes(64 * MIB), params)
    assert {len(piece) for piece in pieces} == {params.max_size}
    assert len(set(pieces)) == 1  # stored once, whatever the run's length


async def test_a_feed_closed_under_its_thread_ends_the_body_instead_of_sending_the_rest() -> None:
    store = await ChunkStore.open(MemoryBank(), SETTINGS)

    async def once() -> Any:
        yield os.urandom(8 * MIB)

    refs = await store.write_stream(once())
    feed = ChunkFeed(store, refs * 50, asyncio.get_running_loop(), resource_key="r",
                     checkpoint_id="cp", read_ahead=2)
    body = iter(feed)
    first = await asyncio.to_thread(next, body)
    await feed.close()  # the upload given up on the loop's side

    def next_in_thread() -> type[BaseException] | None:
        try:
            next(body)
        except BaseException as error:  # what requests would see, sending the body
            return type(error)
        return None

    assert await asyncio.to_thread(next_in_thread) is concurrent.futures.CancelledError
    assert feed.sent == len(first) and feed.buffered == 0
