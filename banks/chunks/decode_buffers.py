"""Buffers a chunk is read and decoded into, reused from one chunk to the next.

A restore reads, decrypts and decompresses hundreds of chunks of about a MiB. Fresh
``bytes`` for each step cost, per chunk and per step, an mmap (chunk-sized blocks are
above the fixed mmap threshold, see ``malloc_tuning``), a page fault per 4 KiB and an
munmap: in the profile of a 500 MB restore, 265,000 page faults and about a third of its
system time. One set of buffers per decode in flight (the store keeps at most
``read_ahead`` of them) is reused instead, so memory stays bounded by chunk size times
that count.

A set is used by one thread at a time; views handed out are valid until its next use.
"""

from __future__ import annotations


class _Buffer:
    """A bytearray that grows to the largest size asked of it and never shrinks."""

    def __init__(self) -> None:
        self._data = bytearray()

    def view(self, size: int) -> memoryview:
        if len(self._data) < size:
            # replaced, not resized: a view still held elsewhere would forbid a resize
            self._data = bytearray(size)
        return memoryview(self._data)[:size]


class DecodeBuffers:
    """The three stages of one chunk: as stored, decrypted, decompressed."""

    def __init__(self) -> None:
        self.stored = _Buffer()
        self.opened = _Buffer()
        self.plain = _Buffer()
