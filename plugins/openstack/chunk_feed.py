"""An image's bytes read back from the chunk store, as the iterator a Glance upload sends.

openstacksdk's upload runs in a thread of the plugin's SDK pool and takes an iterator of
bytes (requests sends it as a chunked body). :class:`ChunkFeed` is that iterator. Each
``next()`` in the thread waits for one chunk fetched on the event loop; the loop keeps at
most ``read_ahead`` chunks fetched ahead, each checked by the store against its keyed id
before it is handed on. So memory holds a few chunks whatever the image's size:
``buffered`` counts the bytes fetched or being fetched and the chunk the thread holds,
and ``peak_buffered`` the most there ever were (what the tests assert).

The SHA-256 of the whole image is computed beside the sending thread, in a hash lane of
its own (``hashlib`` releases the GIL), not on the loop. A chunk that is missing or fails
its checks ends the feed with :class:`StoredChunkError` naming the resource, the chunk
and its offset; it is kept in ``failure`` too, since requests may wrap what the iterator
raises.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import deque
from collections.abc import Callable, Iterator

from banks.chunks import ChunkNotFound, ChunkRef, ChunkStore, CorruptChunk
from plugins.openstack.byte_budget import ByteBudget
from plugins.openstack.errors import StoredChunkError
from plugins.openstack.hash_lane import HashLane


class ChunkFeed:
    """The bytes of ``chunks`` in order, for one thread, fetched on ``loop``.

    Call :meth:`close` on the loop when the upload ends, however it ends.
    """

    def __init__(
        self,
        store: ChunkStore,
        chunks: list[ChunkRef],
        loop: asyncio.AbstractEventLoop,
        *,
        resource_key: str,
        checkpoint_id: str,
        read_ahead: int,
        budget: ByteBudget | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self._store = store
        self._upcoming = iter(chunks)
        self._offset = 0  # of the next chunk to fetch
        self._loop = loop
        self._resource_key = resource_key
        self._checkpoint_id = checkpoint_id
        self._read_ahead = max(1, read_ahead)
        self._budget = budget
        self._progress = progress
        self._window: deque[tuple[ChunkRef, int, asyncio.Task[bytes]]] = deque()
        self._held = 0  # size of the chunk the thread holds
        self.sha256 = hashlib.sha256()
        self._lane = HashLane(self.sha256)  # whole once the iteration has ended
        self.sent = 0
        self.buffered = 0
        self.peak_buffered = 0
        self.failure: StoredChunkError | None = None
        self._closed = False

    # ------------------------------------------------------------------ the thread's side

    def __iter__(self) -> Iterator[bytes]:
        """Yield each chunk's checked bytes (blocking: call from a thread, not the loop)."""
        while True:
            chunk = asyncio.run_coroutine_threadsafe(self._next(), self._loop).result()
            if chunk is None:
                self._lane.result()
                return
            self._lane.update(chunk)
            self.sent += len(chunk)
            yield chunk

    # ------------------------------------------------------------------ the loop's side

    async def _next(self) -> bytes | None:
        self._release(self._held)
        self._held = 0
        if self._closed:
            # the upload was given up (a failure, a cancel) while its thread still sends:
            # end the body now rather than fetch and send the rest of the image
            raise asyncio.CancelledError
        await self._fill()
        if not self._window:
            return None
        ref, offset, fetch = self._window.popleft()
        try:
            chunk = await fetch
        except (ChunkNotFound, CorruptChunk) as error:
            reason = error.reason if isinstance(error, CorruptChunk) else "missing from the bank"
            self.failure = StoredChunkError(self._resource_key, self._checkpoint_id, ref.id,
                                            offset, reason)
            self._release(ref.size)
            raise self.failure from error
        self._held = ref.size
        await self._fill()  # the next fetch starts while the thread sends this one
        if self._progress is not None:
            self._progress(offset + ref.size)
        return chunk

    async def _fill(self) -> None:
        while len(self._window) < self._read_ahead:
            ref = next(self._upcoming, None)
            if ref is None:
                return
            if self._budget is not None:
                await self._budget.acquire(ref.size)
            self.buffered += ref.size
            self.peak_buffered = max(self.peak_buffered, self.buffered)
            task = asyncio.ensure_future(self._store.read_chunk(ref.id, ref.size))
            self._window.append((ref, self._offset, task))
            self._offset += ref.size

    def _release(self, size: int) -> None:
        if size:
            self.buffered -= size
            if self._budget is not None:
                self._budget.release(size)

    async def close(self) -> None:
        """Stop the fetches under way and give back what they held (on the loop); a later
        ``next()`` of the thread ends the body."""
        self._closed = True
        self._lane.close()
        self._release(self._held)
        self._held = 0
        window, self._window = self._window, deque()
        for _, _, task in window:
            task.cancel()
        await asyncio.gather(*(task for _, _, task in window), return_exceptions=True)
        for ref, _, _ in window:
            self._release(ref.size)


__all__ = ["ChunkFeed"]
