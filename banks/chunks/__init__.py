"""The chunk store: content-defined, deduplicated, compressed, encrypted chunks in a bank.

``ChunkStore.open(bank, settings)`` opens (or creates) the store of a bank;
``write_stream`` turns bytes into a list of ``ChunkRef``; ``read_stream`` turns the list
back into checked bytes; ``verify_references`` checks what checkpoints refer to and
``collect_garbage`` sweeps what none does. See ``docs/chunk-store.md`` for the format.
"""

from banks.chunks.chunker import ChunkerParams, StreamChunker
from banks.chunks.errors import (
    ChunkNotFound,
    ChunkStoreConfigError,
    ChunkStoreError,
    CorruptChunk,
    KeyRequired,
    NoChunkStore,
    WrongKey,
)
from banks.chunks.garbage import GcReport, collect_garbage
from banks.chunks.ref import ChunkRef, WriteStats
from banks.chunks.settings import ChunkStoreOptions, ChunkStoreSettings
from banks.chunks.store import ChunkStore
from banks.chunks.verify import BadChunk, verify_references

__all__ = [
    "BadChunk",
    "ChunkNotFound",
    "ChunkRef",
    "ChunkStore",
    "ChunkStoreConfigError",
    "ChunkStoreError",
    "ChunkStoreOptions",
    "ChunkStoreSettings",
    "ChunkerParams",
    "CorruptChunk",
    "GcReport",
    "KeyRequired",
    "NoChunkStore",
    "StreamChunker",
    "WriteStats",
    "WrongKey",
    "collect_garbage",
    "verify_references",
]
