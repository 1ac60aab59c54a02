"""The chunk store: deduplicated, compressed, encrypted chunks above any bank.

A byte stream goes in and a list of :class:`ChunkRef` comes out; the list is what a
plugin records (in its manifest), and reading it back yields the same bytes, each chunk
checked against its id before it is handed on. Only chunks the bank does not hold yet
are uploaded: a chunk is known if the listing of ``/chunks/data/`` taken when the first
write began has it, or this store wrote it since. A chunk another process wrote after
the listing is written again (the same content under the same id, harmless): a ``head``
before every new chunk cost a request, or a thread hop, each time to save that rarity.

Work is spread so that neither memory nor the event loop suffers: the chunker scans and
hashes the chunks it cuts in one worker-thread hop; compression and encryption of each
chunk run in worker threads
(they release the GIL, so both cores are used); at most ``upload_concurrency`` chunks of
the whole store are in flight at once, so memory is bounded whatever the number of
files being written; a reader has at most ``read_ahead`` chunks fetched ahead of it.
A restore uses :meth:`ChunkStore.read_chunk_into` instead: each chunk fetched, checked,
decoded and handed to the caller's writer in one worker thread, into buffers reused
from chunk to chunk (``decode_buffers``), at most ``read_ahead`` at once per store.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Callable,
    Coroutine,
    Iterable,
)
from typing import Any, Protocol, TypeVar

import structlog

from banks import metrics
from banks.base import Bank
from banks.chunks.chunker import ChunkerParams, StreamChunker
from banks.chunks.codec import ChunkCodec
from banks.chunks.decode_buffers import DecodeBuffers
from banks.chunks.errors import ChunkNotFound, CorruptChunk
from banks.chunks.layout import DATA_PREFIX, chunk_key, id_of_key
from banks.chunks.malloc_tuning import release_large_buffers_to_the_os
from banks.chunks.master_key import ChunkKeys
from banks.chunks.ref import ChunkRef, WriteStats
from banks.chunks.settings import ChunkStoreSettings
from banks.chunks.store_config import StoreConfig
from banks.chunks.store_opening import open_store
from banks.errors import ObjectNotFound

log = structlog.get_logger(__name__)

# rewritten by each garbage collection that deleted chunks (see banks.chunks.garbage)
GC_GENERATION_KEY = "/chunks/gc-generation"

_T = TypeVar("_T")


class BlockingReadInto(Protocol):
    """A bank's ``read_into_blocking``: an object read into ``reserve(its size)``."""

    def __call__(self, key: str, reserve: Callable[[int], memoryview]) -> memoryview: ...


class ChunkStore:
    """One bank's chunks. Open with :meth:`open`; safe to share between tasks of one loop.

    Raises (from its methods):
        ChunkNotFound: a referenced chunk is missing.
        CorruptChunk: a chunk fails its checks; nothing of it is ever returned.
        BankError: from the bank underneath.
    """

    def __init__(
        self, bank: Bank, config: StoreConfig, keys: ChunkKeys, settings: ChunkStoreSettings
    ) -> None:
        self.bank = bank
        self.config = config
        self.codec = ChunkCodec(keys, bank=bank.name, compression_level=settings.compression_level)
        self.chunker_params: ChunkerParams = config.chunker
        self._seed = keys.chunker_seed
        # the root of the keys sealing the bank's other objects (banks.sealed); None in
        # an unencrypted store
        self.sealing_root: bytes | None = keys.sealing_root
        self.read_ahead = settings.read_ahead
        self._slots = asyncio.Semaphore(settings.upload_concurrency)
        self._known: set[str] = set()
        self._index_loaded: asyncio.Task[None] | None = None
        self._in_flight: dict[str, asyncio.Event] = {}
        self._generation_seen: bytes | None = None
        self.stats = WriteStats()
        self._decode_slots = asyncio.Semaphore(settings.read_ahead)
        self._free_buffers: list[DecodeBuffers] = []
        # a bank that reads an object into a given buffer, in the calling thread
        self._read_into: BlockingReadInto | None = getattr(bank, "read_into_blocking", None)

    @classmethod
    async def open(
        cls, bank: Bank, settings: ChunkStoreSettings, *, create: bool = True
    ) -> ChunkStore:
        """Open the bank's store, creating it (and its key) if ``create`` and there is none.

        Raises:
            ChunkStoreConfigError: no store (and not ``create``), or a bad config.
            KeyRequired: the store is encrypted and no secret is configured.
            WrongKey: the secret does not open the store's key.
        """
        release_large_buffers_to_the_os()
        config, keys = await open_store(bank, settings, create=create)
        if config.chunker != settings.chunker:
            log.info(
                "chunk_store_keeps_its_chunk_sizes",
                bank=bank.name,
                stored=str(config.chunker),
                configured=str(settings.chunker),
            )
        return cls(bank, config, keys, settings)

    @property
    def encrypted(self) -> bool:
        """True if the store encrypts its chunks."""
        return self.codec.encrypted

    # ------------------------------------------------------------------ writing

    async def write_stream(
        self, stream: AsyncIterable[bytes], stats: WriteStats | None = None
    ) -> list[ChunkRef]:
        """Chunk ``stream``, store the chunks the bank lacks, return the chunk list.

        ``stats``, if given, is added to with this stream's counts. If ``stream`` raises,
        its exception propagates unchanged (chunks already stored stay, unreferenced).
        """
        await self._load_index()
        chunker = StreamChunker(self.chunker_params, self._seed)
        refs: list[ChunkRef | None] = []
        local = WriteStats()

        async def submit(pieces: list[tuple[memoryview, str]], group: asyncio.TaskGroup) -> None:
            for piece, chunk_id in pieces:
                await self._slots.acquire()
                refs.append(None)
                try:
                    task = group.create_task(
                        self._store_piece(piece, chunk_id, len(refs) - 1, refs, local)
                    )
                except BaseException:
                    self._slots.release()
                    raise
                # released when the task ends, however: a task cancelled before its first
                # step never runs its own code, so a `finally` in it would leak the slot
                task.add_done_callback(lambda _: self._slots.release())

        async def run() -> None:
            async with asyncio.TaskGroup() as group:
                async for data in stream:
                    if chunker.needs_cut(len(data)):
                        await submit(await asyncio.to_thread(self._cut, chunker.feed, data), group)
                    else:
                        chunker.feed(data)
                await submit(await asyncio.to_thread(self._cut, chunker.finish), group)

        await _first_failure(run())
        if stats is not None:
            stats.add(local)
        self.stats.add(local)
        return [ref for ref in refs if ref is not None]

    def _cut(
        self, cut: Callable[..., list[memoryview]], *data: bytes
    ) -> list[tuple[memoryview, str]]:
        """The final chunks ``cut(*data)`` gives, each with its id (in a worker thread)."""
        return [(piece, self.codec.chunk_id(piece)) for piece in cut(*data)]

    async def _store_piece(
        self,
        piece: memoryview,
        chunk_id: str,
        index: int,
        refs: list[ChunkRef | None],
        stats: WriteStats,
    ) -> None:
        refs[index] = ChunkRef(chunk_id, len(piece))
        stats.chunks += 1
        stats.plaintext_bytes += len(piece)
        metrics.CHUNK_INPUT_BYTES.inc(len(piece))
        if await self._is_stored(chunk_id):
            stats.deduplicated_chunks += 1
            metrics.CHUNKS.labels("deduplicated").inc()
            return
        try:
            stored = await asyncio.to_thread(self.codec.encode, chunk_id, piece)
            await self.bank.put(chunk_key(chunk_id), stored)
            self._known.add(chunk_id)
        finally:
            self._in_flight.pop(chunk_id).set()
        stats.new_chunks += 1
        stats.new_plaintext_bytes += len(piece)
        stats.stored_bytes += len(stored)
        metrics.CHUNKS.labels("new").inc()
        metrics.CHUNK_STORED_BYTES.inc(len(stored))

    async def _is_stored(self, chunk_id: str) -> bool:
        """True if the chunk is known stored; else claim its upload (the caller must upload it)."""
        while True:
            if chunk_id in self._known:
                return True
            uploading = self._in_flight.get(chunk_id)
            if uploading is None:
                break
            # another task uploads the same chunk now: its outcome decides (a failed
            # upload leaves the id unknown, and this task tries in its turn)
            await uploading.wait()
        self._in_flight[chunk_id] = asyncio.Event()
        return False

    async def holds_all(self, chunk_ids: Iterable[str]) -> bool:
        """True if the index of stored chunks (listed once, kept up to date by this
        store's writes) has every one of ``chunk_ids``.

        Call :meth:`refresh_index_if_collected` first in a protect, as for writes.
        """
        await self._load_index()
        return all(chunk_id in self._known for chunk_id in chunk_ids)

    async def refresh_index_if_collected(self) -> bool:
        """Forget the index of stored chunks if a garbage collection ran since it was read.

        Call it when a protect begins: a chunk the index lists may have been collected
        by another process, and a write that trusted the index would then refer to a
        chunk that is gone. Returns True if the index will be listed again.
        """
        generation = await self._gc_generation()
        if generation == self._generation_seen:
            return False
        self._generation_seen = generation
        if self._index_loaded is None:
            return False
        await asyncio.shield(self._index_loaded)  # a listing under way finishes first
        self._known = set()
        self._index_loaded = None
        log.info("chunk_index_dropped_after_collection", bank=self.bank.name)
        return True

    async def _gc_generation(self) -> bytes:
        try:
            return await self.bank.get(GC_GENERATION_KEY)
        except ObjectNotFound:
            return b""

    async def _load_index(self) -> None:
        if self._index_loaded is None:
            self._index_loaded = asyncio.ensure_future(self._list_into_index())
        await asyncio.shield(self._index_loaded)

    async def _list_into_index(self) -> None:
        # read before listing: a collection after this point changes it, and is seen
        self._generation_seen = await self._gc_generation()
        async for chunk_id in self.list_chunks():
            self._known.add(chunk_id)
        log.debug("chunk_index_loaded", bank=self.bank.name, chunks=len(self._known))

    # ------------------------------------------------------------------ reading

    async def read_chunk(self, chunk_id: str, size: int | None = None) -> bytes:
        """The checked plaintext of one chunk (``size``, if given, is checked too).

        Raises:
            ChunkNotFound: if the bank does not hold it.
            CorruptChunk: if it fails authentication, decoding, or its id or size check.
        """
        stored = await self._fetch(self._key_of(chunk_id), chunk_id)
        return await asyncio.to_thread(self.codec.decode, chunk_id, stored, size)

    async def read_chunk_into(self, ref: ChunkRef, consume: Callable[[memoryview], _T]) -> _T:
        """``consume(the checked plaintext of ref's chunk)``, in the worker thread that
        decoded it, into buffers reused from chunk to chunk; its result is returned.

        The view is valid during the call only. ``consume`` runs only once the chunk has
        passed every check, so nothing of a bad chunk reaches it; it runs to its end even
        if this call is cancelled meanwhile (a thread cannot be stopped). At most
        ``read_ahead`` chunks are decoded at once per store; on a bank that reads into a
        buffer (the filesystem bank) fetch, decode and ``consume`` are one thread hop,
        within that bound. Another bank's fetch (a request) comes first, outside it, so
        callers may have more fetches than decodes in flight.

        Raises:
            ChunkNotFound, CorruptChunk: as :meth:`read_chunk`.
            Exception: whatever ``consume`` raises.
        """
        key = self._key_of(ref.id)
        stored = None if self._read_into is not None else await self._fetch(key, ref.id)
        await self._decode_slots.acquire()
        buffers = self._free_buffers.pop() if self._free_buffers else DecodeBuffers()

        def release(work: asyncio.Future[_T] | None = None) -> None:
            self._free_buffers.append(buffers)
            self._decode_slots.release()
            if work is not None and not work.cancelled():
                work.exception()  # seen: a caller cancelled meanwhile has gone

        if stored is None:
            work = asyncio.ensure_future(
                asyncio.to_thread(self._fetch_and_decode_into, key, ref, buffers, consume)
            )
        else:
            work = asyncio.ensure_future(
                asyncio.to_thread(self._decode_into, ref, stored, buffers, consume)
            )
        try:
            return await asyncio.shield(work)
        finally:
            # the buffers go back only when the thread is done with them
            if work.done():
                release()
            else:
                work.add_done_callback(release)

    def drop_decode_buffers(self) -> None:
        """Let go of the idle buffers of :meth:`read_chunk_into` (up to three chunks'
        worth per slot), when a restore ends: a store outlives it in a worker."""
        self._free_buffers.clear()

    def _fetch_and_decode_into(
        self, key: str, ref: ChunkRef, buffers: DecodeBuffers, consume: Callable[[memoryview], _T]
    ) -> _T:
        assert self._read_into is not None
        try:
            stored = self._read_into(key, buffers.stored.view)
        except ObjectNotFound:
            raise ChunkNotFound(self.bank.name, ref.id) from None
        return self._decode_into(ref, stored, buffers, consume)

    def _decode_into(
        self,
        ref: ChunkRef,
        stored: bytes | memoryview,
        buffers: DecodeBuffers,
        consume: Callable[[memoryview], _T],
    ) -> _T:
        return consume(self.codec.decode_into(ref.id, stored, ref.size, buffers))

    def _key_of(self, chunk_id: str) -> str:
        try:
            return chunk_key(chunk_id)
        except ValueError:
            raise CorruptChunk(self.bank.name, repr(chunk_id), "not a chunk id") from None

    async def _fetch(self, key: str, chunk_id: str) -> bytes:
        try:
            return await self.bank.get(key)
        except ObjectNotFound:
            raise ChunkNotFound(self.bank.name, chunk_id) from None

    def read_stream(self, refs: Iterable[ChunkRef]) -> AsyncGenerator[bytes, None]:
        """Yield each chunk's checked plaintext in order, fetching ``read_ahead`` ahead.

        Close the iterator (``aclose``) if you stop early, so the fetches ahead end.

        Raises:
            ChunkNotFound, CorruptChunk: at the chunk at fault, before any of its bytes.
        """
        return self._read_ahead((ref.id, ref.size) for ref in refs)

    def read_chunks(self, chunk_ids: Iterable[str]) -> AsyncGenerator[bytes, None]:
        """As :meth:`read_stream`, for chunks whose sizes are not recorded (a manifest's)."""
        return self._read_ahead((chunk_id, None) for chunk_id in chunk_ids)

    async def _read_ahead(
        self, wanted: Iterable[tuple[str, int | None]]
    ) -> AsyncGenerator[bytes, None]:
        upcoming = iter(wanted)
        window: deque[asyncio.Task[bytes]] = deque()

        def fill() -> None:
            while len(window) < self.read_ahead:
                item = next(upcoming, None)
                if item is None:
                    return
                window.append(asyncio.ensure_future(self.read_chunk(*item)))

        try:
            fill()
            while window:
                data = await window.popleft()
                fill()
                yield data
        finally:
            for task in window:
                task.cancel()
            await asyncio.gather(*window, return_exceptions=True)

    async def keyed_digest(self, label: bytes, *parts: bytes) -> str:
        """HMAC-SHA256 of ``label`` and ``parts`` under the store's id key (see
        :meth:`ChunkCodec.keyed_digest`), computed in a worker thread."""
        return await asyncio.to_thread(self.codec.keyed_digest, label, *parts)

    async def verify_chunk(self, chunk_id: str) -> int:
        """Read one chunk and check it fully; return its plaintext size.

        Raises:
            ChunkNotFound, CorruptChunk: naming the chunk.
        """
        return len(await self.read_chunk(chunk_id))

    # ------------------------------------------------------------------ housekeeping

    async def list_chunks(self) -> AsyncIterator[str]:
        """Yield the id of every chunk stored, in ascending order."""
        async for key in self.bank.list_all(DATA_PREFIX):
            chunk_id = id_of_key(key)
            if chunk_id is not None:
                yield chunk_id

    async def delete_chunk(self, chunk_id: str) -> None:
        """Remove one chunk (garbage collection); a missing chunk is not an error.

        Raises:
            ValueError: if ``chunk_id`` is not a chunk id.
        """
        self._known.discard(chunk_id)
        await self.bank.delete(chunk_key(chunk_id))


async def _first_failure(work: Coroutine[Any, Any, None]) -> None:
    """Await ``work``, re-raising a TaskGroup's first failure as itself, not as a group."""
    failure: BaseException | None = None
    try:
        await work
    except BaseExceptionGroup as failures:
        failure = failures.exceptions[0]
        while isinstance(failure, BaseExceptionGroup):
            failure = failure.exceptions[0]
    if failure is not None:
        raise failure
