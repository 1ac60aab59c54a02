"""What every plugin that keeps content in the bank's chunk store shares.

A *chunk keeper* is a protection plugin whose checkpoints refer to chunks of the bank's
chunk store (``banks.chunks``): the directory plugin (files and manifests), the image
and volume-bytes plugins (image and volume bytes). The engine asks a keeper for two
things, never knowing its family:

- ``chunk_store(bank, create=...)``: the bank's store, opened with the keeper's options
  (its passphrase);
- ``chunk_references(checkpoint, resource, open_store)``: every chunk one resource of a
  checkpoint refers to, for garbage collection (the mark) and verification.

:class:`ChunkStores` is the one way to open stores: one per bank, opened once (the key
unwrap costs a scrypt, the index a listing) and shared by every activity of the plugin.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Protocol, runtime_checkable

import msgspec

from banks.base import Bank
from banks.chunks import ChunkStore, ChunkStoreSettings
from plugins.checkpoint.checkpoint import Checkpoint
from plugins.resource import Resource

# opens the bank's chunk store when a reader turns out to need it
StoreOpener = Callable[[], Awaitable[ChunkStore]]

# chunk stores kept open per plugin: a provider has one bank, tests make many
STORES_KEPT = 4


class ChunkReferences(msgspec.Struct, frozen=True):
    """The chunks one resource of a checkpoint refers to.

    ``list_chunks``: those holding the resource's chunk list itself (a directory
    manifest since v4; none for images). ``chunks``: chunk id -> what uses it (a
    directory's file paths; an image's byte ranges), to name what a bad chunk breaks.
    """

    list_chunks: list[str]
    chunks: dict[str, list[str]]


@runtime_checkable
class ChunkKeeper(Protocol):
    """A protection plugin whose checkpoints refer to chunks of the bank's chunk store."""

    async def chunk_store(self, bank: Bank, *, create: bool) -> ChunkStore:
        """The bank's chunk store, opened with the plugin's options.

        Raises:
            KeyRequired, WrongKey: the store is encrypted and the secret is missing or wrong.
            ChunkStoreConfigError: no store (and not ``create``), or a bad configuration.
        """
        ...

    async def chunk_references(
        self, checkpoint: Checkpoint, resource: Resource, open_store: StoreOpener
    ) -> ChunkReferences:
        """Every chunk ``resource`` refers to in ``checkpoint``.

        Raises:
            ChunkListError: the resource's chunk list is missing or unusable
                (``ChunkListChunkError``: a chunk holding it is bad, named).
            KeyRequired, WrongKey: the store's key is missing or wrong.
            BankError: the bank cannot be read.
        """
        ...


class ChunkStores:
    """The chunk stores of one plugin's banks, each opened once and then shared.

    Keyed by the bank object, most recent last, a few kept: a store refers to its bank,
    so a weak-keyed cache could never let either go.
    """

    def __init__(self, settings: ChunkStoreSettings) -> None:
        self.settings = settings
        self._stores: OrderedDict[int, tuple[Bank, asyncio.Future[ChunkStore]]] = OrderedDict()

    async def open(self, bank: Bank, *, create: bool) -> ChunkStore:
        """The chunk store of ``bank`` (see :meth:`ChunkKeeper.chunk_store`)."""
        cached = self._stores.get(id(bank))
        opening = cached[1] if cached is not None else None
        if opening is None or opening.get_loop() is not asyncio.get_running_loop():
            opening = asyncio.ensure_future(ChunkStore.open(bank, self.settings, create=create))
            self._stores[id(bank)] = (bank, opening)
            while len(self._stores) > STORES_KEPT:
                self._stores.popitem(last=False)
        self._stores.move_to_end(id(bank))
        try:
            return await asyncio.shield(opening)
        except BaseException:
            # a failed open (a wrong passphrase, no store yet) is not cached
            if self._stores.get(id(bank), (None, None))[1] is opening and opening.done():
                del self._stores[id(bank)]
            raise


__all__ = ["STORES_KEPT", "ChunkKeeper", "ChunkReferences", "ChunkStores", "StoreOpener"]
