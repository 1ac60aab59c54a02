"""Which chunks of a bank's chunk store each resource of a checkpoint refers to.

Only plugins that keep content in the chunk store have chunk lists (``ChunkKeeper``):
the directory plugin (its manifest since v2; since v4 the manifest itself is kept in
chunks, encrypted, so reading it needs the store and its key), and the image and
volume-bytes plugins (each image's or volume's ordered chunk list, with its size and
SHA-256, in the resource's section). A resource handled by any other plugin refers to no
chunk. The chunk store is opened through a keeper, with its options (the passphrase);
every keeper of a provider shares the bank's one store, so they must be given the same
secret.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import msgspec

from banks.base import Bank
from banks.chunks import ChunkStore, ChunkStoreConfigError
from plugins.base import ProtectionPlugin
from plugins.checkpoint.checkpoint import Checkpoint
from plugins.chunk_keeper import ChunkKeeper
from plugins.provider import Provider
from plugins.resource import Resource

StoreOpener = Callable[[], Awaitable[ChunkStore]]


class ResourceChunks(msgspec.Struct, frozen=True):
    """The chunks one resource refers to: those its manifest is kept in (a directory's
    since manifest v4; none for images), and chunk id -> what uses it (a directory's
    file paths, an image's byte ranges)."""

    resource: str
    manifest_chunks: list[str]
    chunks: dict[str, list[str]]

    def all_ids(self) -> set[str]:
        """Every chunk the resource refers to, its manifest's included."""
        return set(self.chunks).union(self.manifest_chunks)


def chunk_keeper(plugin: ProtectionPlugin) -> ChunkKeeper | None:
    """``plugin`` if it keeps chunk lists in the bank's chunk store, else None: the one
    place that says which plugins do."""
    return plugin if isinstance(plugin, ChunkKeeper) else None


def chunk_plugin(provider: Provider, resource_type: str) -> ChunkKeeper | None:
    """The provider's plugin of ``resource_type`` if it keeps chunk lists, else None.

    Raises:
        ResourceTypeNotSupported: if the provider has no plugin for the type.
    """
    return chunk_keeper(provider.plugin_for(resource_type))


def chunk_resources(
    provider: Provider, checkpoint: Checkpoint
) -> list[tuple[Resource, ChunkKeeper]]:
    """The checkpoint's resources whose plugin keeps chunk lists, each with that plugin,
    in graph order."""
    found = []
    for resource in checkpoint.graph.nodes:
        keeper = chunk_plugin(provider, resource.type)
        if keeper is not None:
            found.append((resource, keeper))
    return found


async def resource_chunks(
    keeper: ChunkKeeper, checkpoint: Checkpoint, resource: Resource, open_store: StoreOpener
) -> ResourceChunks:
    """The chunks ``resource`` refers to in ``checkpoint``, as its plugin ``keeper`` says.

    ``open_store`` opens the bank's chunk store if the chunk list needs it.

    Raises:
        ChunkListError: if its chunk list is missing or unreadable (ChunkListChunkError: a
            chunk of it is missing or corrupt; ManifestError for a directory).
        KeyRequired, WrongKey: the store's key is missing or wrong.
        BankError: if the bank cannot be read.
    """
    found = await keeper.chunk_references(checkpoint, resource, open_store)
    return ResourceChunks(resource.key, found.list_chunks, found.chunks)


def opened_once(open_store: StoreOpener) -> StoreOpener:
    """``open_store``, called at most once however often (and concurrently) the result is
    asked for; a failed open is not kept, so the next caller is told again."""
    opening: asyncio.Future[ChunkStore] | None = None

    async def opener() -> ChunkStore:
        nonlocal opening
        if opening is None or (
            opening.done() and (opening.cancelled() or opening.exception() is not None)
        ):
            opening = asyncio.ensure_future(open_store())
        return await asyncio.shield(opening)

    return opener


async def open_chunk_store(provider: Provider, bank: Bank) -> ChunkStore:
    """The bank's chunk store, opened with the options of the provider's chunk plugin.

    Raises:
        ChunkStoreConfigError: if the bank has no chunk store, or no plugin of the
            provider keeps chunks.
        KeyRequired, WrongKey: if the store is encrypted and the secret is missing or wrong.
    """
    for plugin in provider.plugins.values():
        if (keeper := chunk_keeper(plugin)) is not None:
            return await keeper.chunk_store(bank, create=False)
    raise ChunkStoreConfigError(
        f"provider {provider.name}", "no protection plugin of it keeps a chunk store"
    )
