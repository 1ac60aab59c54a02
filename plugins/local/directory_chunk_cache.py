"""The few most recent chunks a restore read, shared by the small files bundled in them.

Small files are stored bundled, many to a chunk (``directory_manifest``), and restored in
walk order, so consecutive files ask for the same chunk: it is fetched, authenticated and
decompressed once, and each file takes its slice. Files restored concurrently that ask
for a chunk being fetched wait for that fetch rather than starting another.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator

from banks.chunks import ChunkRef, ChunkStore

# 8 chunks of at most 4 MiB (the default chunk_max_size): a bounded 32 MiB at worst
CACHED_CHUNKS = 8


class ChunkCache:
    """Fetches of chunks, most recent last; at most ``capacity`` kept after they finish."""

    def __init__(self, store: ChunkStore, capacity: int = CACHED_CHUNKS) -> None:
        self.store = store
        self.capacity = capacity
        self._fetches: OrderedDict[str, asyncio.Future[bytes]] = OrderedDict()

    async def read(self, ref: ChunkRef) -> bytes:
        """The checked plaintext of ``ref``'s chunk, fetched once while it stays cached.

        Raises:
            ChunkNotFound, CorruptChunk: as :meth:`ChunkStore.read_chunk` (a failed fetch
                is not kept: the next reader tries again, and is told again).
        """
        fetch = self._fetches.get(ref.id)
        if fetch is None:
            fetch = asyncio.ensure_future(self.store.read_chunk(ref.id, ref.size))
            self._fetches[ref.id] = fetch
            while len(self._fetches) > self.capacity:
                # evicted, not cancelled: whoever awaits it still gets it
                self._fetches.popitem(last=False)
        else:
            self._fetches.move_to_end(ref.id)
        try:
            return await asyncio.shield(fetch)
        except BaseException:
            if self._fetches.get(ref.id) is fetch and fetch.done():
                del self._fetches[ref.id]
            raise

    async def read_span(
        self, refs: list[ChunkRef], offset: int, size: int
    ) -> AsyncIterator[memoryview]:
        """Yield bytes ``offset`` to ``offset + size`` of the chunks ``refs`` laid end to end."""
        start, left = offset, size
        for ref in refs:
            if left <= 0:
                return
            data = await self.read(ref)
            piece = memoryview(data)[start : start + left]
            start = 0
            left -= len(piece)
            yield piece
