"""Where the image and volume-bytes plugins keep bytes: the bank's chunk store.

:class:`ImageBytes` is the chunk-keeping half the two plugins share: the store (opened
with the plugin's chunk-store options, the same store, key and garbage collection as the
directory plugin's), the protect (Glance download -> chunks -> the section's chunk list,
``image_manifest``), the restore's upload (chunks -> Glance, checked), and the chunk
references verify and gc read.

The layouts a section may hold (``ImageSavedInfo.layout``):

- ``chunks`` (written since this layout): ``image_chunks`` then ``saved_info``;
- ``segments`` (written before): raw ``data/<n>`` objects then ``saved_info``, still
  restored (``image_transfer``), but only where the store is unencrypted: raw bytes in
  an encrypted store's bank cannot have been written by it, and would be restored
  unauthenticated, so they are refused as planted, naming the checkpoint and resource.
  A bank with no chunk store is judged by the options, as for directory manifests:
  unless they say ``encryption = none``, segments there are refused too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from banks.base import Bank
from banks.chunks import (
    ChunkStore,
    ChunkStoreError,
    ChunkStoreSettings,
    KeyRequired,
    NoChunkStore,
    WrongKey,
)
from banks.errors import ObjectNotFound
from banks.option_schema import OptionSchema, between
from banks.section import BankSection
from plugins.checkpoint.checkpoint import Checkpoint
from plugins.chunk_keeper import ChunkReferences, ChunkStores, StoreOpener
from plugins.errors import InvalidPluginOption
from plugins.openstack.byte_budget import ByteBudget
from plugins.openstack.errors import StoredBytesError
from plugins.openstack.image_manifest import IMAGE_CHUNKS_KEY, read_chunk_list
from plugins.openstack.image_options import byte_option
from plugins.openstack.image_transfer import SEGMENT_PREFIX
from plugins.resource import Resource

DEFAULT_BYTES_IN_FLIGHT = 256 << 20
BYTES_IN_FLIGHT_BOUNDS = (16 << 20, 16 << 30)
RANGES_NAMED = 3  # byte ranges named per chunk: enough to say what a bad chunk breaks


class TransferOptions(OptionSchema, frozen=True):
    """``bytes_in_flight``: the most bytes this plugin's transfers hold at once on a
    worker, all images and volumes together (default 256 MiB)."""

    bytes_in_flight: Annotated[int, between(BYTES_IN_FLIGHT_BOUNDS)] | None = None


class ImageBytes:
    """The chunk store side of one image or volume-bytes plugin (see the module)."""

    def __init__(self, config: Mapping[str, str], where: str) -> None:
        try:
            self.store_settings = ChunkStoreSettings.from_options(config, where)
        except ChunkStoreError as error:
            raise InvalidPluginOption("chunk store", str(error)) from error
        self.stores = ChunkStores(self.store_settings)
        self.budget = ByteBudget(byte_option(config, "bytes_in_flight",
                                             DEFAULT_BYTES_IN_FLIGHT, BYTES_IN_FLIGHT_BOUNDS))

    async def chunk_store(self, bank: Bank, *, create: bool) -> ChunkStore:
        """The bank's chunk store (``ChunkKeeper.chunk_store``)."""
        return await self.stores.open(bank, create=create)

    async def references(self, checkpoint: Checkpoint, resource: Resource,
                         open_store: StoreOpener) -> ChunkReferences:
        """The chunks of the resource's bytes, each with the byte ranges that use it.

        A checkpoint of the ``segments`` layout refers to no chunk.

        Raises:
            StoredBytesError: no chunk list and no segments (the protect did not
                complete), an unusable list, or segments in an encrypted store.
            KeyRequired, WrongKey: the store's key is missing or wrong.
        """
        section = checkpoint.bank_section(resource)
        if not await has_chunk_list(section):
            if await has_segments(section):
                await self.refuse_segments(open_store, resource.key, checkpoint.id)
                return ChunkReferences([], {})
            raise StoredBytesError(resource.key, checkpoint.id,
                                   "no chunk list: the protect did not complete")
        store = await open_store()
        listed = await read_chunk_list(section, store, checkpoint_id=checkpoint.id,
                                       resource_key=resource.key)
        used: dict[str, list[str]] = {}
        for ref, offset in zip(listed.chunks, listed.offsets(), strict=True):
            ranges = used.setdefault(ref.id, [])
            if len(ranges) < RANGES_NAMED:
                ranges.append(f"bytes {offset}-{offset + ref.size - 1}")
        return ChunkReferences([], used)

    async def refuse_segments(self, open_store: StoreOpener, resource_key: str,
                              checkpoint_id: str) -> None:
        """Refuse raw ``data/<n>`` segments unless the store is (meant to be) unencrypted.

        Raises:
            StoredBytesError: naming the checkpoint and resource, and why.
        """
        try:
            store = await open_store()
        except NoChunkStore as error:
            if self.store_settings.encryption == "none":
                return  # the operator chose plaintext, and the bank has no store to say else
            raise _planted(resource_key, checkpoint_id, "the bank holds no chunk store and"
                           " the options ask for an encrypted one") from error
        except (KeyRequired, WrongKey) as error:
            raise _planted(resource_key, checkpoint_id, "the store is encrypted") from error
        if store.encrypted:
            raise _planted(resource_key, checkpoint_id, "the store is encrypted")


async def has_chunk_list(section: BankSection) -> bool:
    """True if the section holds a chunk list (layout ``chunks``)."""
    try:
        await section.head(IMAGE_CHUNKS_KEY)
    except ObjectNotFound:
        return False
    return True


async def has_segments(section: BankSection) -> bool:
    """True if the section holds raw segments (layout ``segments``)."""
    return bool(await section.list(SEGMENT_PREFIX, limit=1))


def _planted(resource_key: str, checkpoint_id: str, why: str) -> StoredBytesError:
    return StoredBytesError(resource_key, checkpoint_id,
                            f"raw data/<n> segments found where chunks are required, as {why}"
                            " (refused as planted: an encrypted store never writes them)")


__all__ = [
    "BYTES_IN_FLIGHT_BOUNDS",
    "DEFAULT_BYTES_IN_FLIGHT",
    "ImageBytes",
    "TransferOptions",
    "has_chunk_list",
    "has_segments",
]
