"""A reference to one chunk: its id and plaintext size, the unit of every chunk list."""

from __future__ import annotations

from dataclasses import dataclass

import msgspec


class ChunkRef(msgspec.Struct, frozen=True, array_like=True):
    """``[id, size]`` in JSON: a file of a million chunks keeps a compact manifest."""

    id: str
    size: int


@dataclass
class WriteStats:
    """What writes did: chunks and bytes stored anew, and chunks found already stored.

    Pass one to :meth:`ChunkStore.write_stream` to count a single protect's work even
    while other protects share the store.
    """

    chunks: int = 0
    plaintext_bytes: int = 0
    new_chunks: int = 0
    new_plaintext_bytes: int = 0
    stored_bytes: int = 0
    deduplicated_chunks: int = 0

    def add(self, other: WriteStats) -> None:
        """Add ``other``'s counts to these."""
        self.chunks += other.chunks
        self.plaintext_bytes += other.plaintext_bytes
        self.new_chunks += other.new_chunks
        self.new_plaintext_bytes += other.new_plaintext_bytes
        self.stored_bytes += other.stored_bytes
        self.deduplicated_chunks += other.deduplicated_chunks
