"""Reading a blocking byte stream ahead of its consumer, in order, in bounded memory.

A Glance download is read piece by piece in a pool thread (where its digests are also
computed), and chunked by the store in another thread. Read one piece at a time, in
turn with the chunker, the two never overlap: the chunker takes about eight pieces at
once (it cuts twice its largest chunk), and the reader then waits for it, and it for
the reader. :func:`read_ahead` runs the reads as a task of their own that keeps up to
``depth`` pieces ready, so both threads work at once: on two shared cores an unchanged
1 GiB image went from 225 to 284 MB/s (an A/B run in one process).

Memory: at most ``depth`` pieces at once, counting the one being read and the one the
consumer holds. The reads stop when the consumer stops (however it stops), and the read under
way is waited for, not abandoned: it uses the HTTP response its caller closes next.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable

# what the reading task puts last: the end of the stream, or why it ended
_END = object()


async def read_ahead(
    read: Callable[[], Awaitable[bytes | None]],
    depth: int,
    *,
    taken: Callable[[bytes], None] | None = None,
) -> AsyncGenerator[bytes, None]:
    """The pieces ``read()`` returns until it returns None, up to ``depth`` read ahead.

    ``taken(piece)`` is called once the consumer asks for the next piece after ``piece``
    (or stops): what the piece held can be given back then. Pieces read but never
    consumed are given back too. An exception of ``read`` is raised to the consumer after
    the pieces read before it.
    """
    slots = asyncio.Semaphore(max(1, depth))
    ready: asyncio.Queue[object] = asyncio.Queue()  # bounded by ``slots``
    stopping = False

    async def reading() -> None:
        try:
            while not stopping:
                await slots.acquire()
                if stopping:
                    return
                piece = await read()
                if piece is None:
                    return
                ready.put_nowait(piece)
        except BaseException as error:  # a cancel too: the consumer must not see a clean end
            ready.put_nowait(error)
        finally:
            ready.put_nowait(_END)

    reader = asyncio.ensure_future(reading())
    try:
        while (item := await ready.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, bytes)
            try:
                yield item
            finally:
                if taken is not None:
                    taken(item)
                slots.release()
    finally:
        stopping = True
        slots.release()  # a reader waiting for a slot sees ``stopping``
        await reader  # it catches what its read raises, and stops at its next turn
        while not ready.empty():
            left = ready.get_nowait()
            if isinstance(left, bytes) and taken is not None:
                taken(left)


__all__ = ["read_ahead"]
