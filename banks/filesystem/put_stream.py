"""The filesystem bank's streamed put: chunks written in batches, published at the end.

The chunks go to a temp file (:mod:`banks.filesystem.atomic`) that is committed over the
object only when the stream ends, so the object appears whole or not at all. Small
chunks are gathered into batches of up to :data:`_WRITE_BATCH` bytes, each written in
one worker-thread hop. Whatever fails (the producer, a write, a cancellation), the temp
file is removed.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterable, Callable
from pathlib import Path

from banks.errors import BankError
from banks.filesystem.atomic import commit, create_temp, discard, write_all

# put_stream gathers small chunks up to this size, so a stream of tiny chunks costs one
# thread hop per MiB rather than one per chunk, and memory stays bounded.
_WRITE_BATCH = 1 << 20


class PendingFile:
    """The temp file of a streamed put, written by one worker thread at a time.

    When the task is cancelled while a write runs in its thread, the thread goes on;
    the lock makes :meth:`discard` wait for it, so the descriptor is never closed under
    a running write (the number could be reused by another file, which the write would
    then corrupt).
    """

    def __init__(self, fd: int, temp: Path) -> None:
        self.fd = fd
        self.temp = temp
        self._lock = threading.Lock()

    def write(self, batch: list[bytes]) -> None:
        with self._lock:
            for data in batch:
                write_all(self.fd, data)

    def discard(self) -> None:
        with self._lock:
            discard(self.fd, self.temp)


async def put_stream(
    target: Path,
    header: bytes,
    chunks: AsyncIterable[bytes],
    error: Callable[[OSError], BankError],
) -> int:
    """Write ``header`` then ``chunks`` as the object file ``target``; return the data size.

    If ``chunks`` raises, the temp file is removed, no object appears (an old one stays)
    and the iterator's exception propagates unchanged.

    Raises:
        BankError: ``error(err)`` for an OSError met creating, writing or committing
            the file.
    """
    try:
        fd, temp = await asyncio.to_thread(create_temp, target.parent)
    except OSError as err:
        raise error(err) from err
    pending_file = PendingFile(fd, temp)
    total = 0
    pending: list[bytes] = [header]
    pending_size = len(header)
    try:
        async for chunk in chunks:
            # Copy a bytearray or memoryview: the producer may reuse its buffer while
            # the chunk waits in ``pending``.
            data = chunk if isinstance(chunk, bytes) else bytes(chunk)
            total += len(data)
            pending.append(data)
            pending_size += len(data)
            if pending_size >= _WRITE_BATCH:
                batch, pending, pending_size = pending, [], 0
                await _write_batch(pending_file, batch, error)
        await _write_batch(pending_file, pending, error)
    except BaseException:
        # Whatever failed (the producer, a write, a cancellation), no object may
        # appear. The thread runs to the end even if this await is cancelled again,
        # so the temp file is always removed. The producer's own exceptions pass
        # through unchanged: an OSError reading its source is not a bank error.
        await asyncio.to_thread(pending_file.discard)
        raise
    try:
        await asyncio.to_thread(commit, fd, temp, target)
    except OSError as err:
        raise error(err) from err
    return total


async def _write_batch(
    pending_file: PendingFile, batch: list[bytes], error: Callable[[OSError], BankError]
) -> None:
    """Write ``batch`` in one thread hop.

    Raises:
        BankError: ``error(err)`` (BankFull if the filesystem is out of space or quota).
    """
    try:
        await asyncio.to_thread(pending_file.write, batch)
    except OSError as err:
        raise error(err) from err
