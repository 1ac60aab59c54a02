"""``OS::Glance::Image``: the image's bytes and properties copied into the bank.

Protect streams the image through the chunker into the bank's chunk store
(``image_chunks``: deduplicated against every checkpoint and plugin of the bank,
compressed, encrypted), records the ordered chunk list with the size and SHA-256
(``image_manifest``), and saves its formats, Glance's checksums and its properties.
Restore creates a new image with those and streams the chunks into its upload, each
checked against its id as it goes, and refuses the result (deleting it) unless the
SHA-256 of what was sent is the recorded one and Glance's own checksum and
``os_hash_value`` match the saved ones. Delete clears the bank section; the chunks may be
shared, so they stay for garbage collection.

Bank section: ``image_chunks`` then ``saved_info`` (``ImageSavedInfo``) last. Checkpoints
written before hold ``data/<n>`` segments instead (``layout = "segments"``); they restore
as before from an unencrypted store (``image_bytes``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any, Literal

import msgspec
import structlog

from banks.base import Bank
from banks.chunks import ChunkStore, ChunkStoreOptions, KeyRequired, NoChunkStore, WrongKey
from banks.option_schema import combine_schemas
from plugins.checkpoint.checkpoint import Checkpoint
from plugins.chunk_keeper import ChunkReferences, StoreOpener
from plugins.context import ActivityContext
from plugins.openstack.errors import ChecksumMismatch, StoredBytesError
from plugins.openstack.image_bytes import ImageBytes, TransferOptions
from plugins.openstack.image_chunks import StoredImage, send_image, store_image
from plugins.openstack.image_manifest import ImageChunkList, read_chunk_list, write_chunk_list
from plugins.openstack.image_options import ByteOptions, chunk_and_segment
from plugins.openstack.image_transfer import upload_image
from plugins.openstack.protection_base import (
    OpenStackOptions,
    OpenStackProtection,
    restore_name,
)
from plugins.openstack.resource_types import IMAGE
from plugins.resource import Resource

log = structlog.get_logger(__name__)
IMAGE_FAILED = ("killed", "deleted", "deactivated")
# Glance's own fields: everything else in an image record is a user or common property.
_CORE_FIELDS = frozenset({
    "id", "name", "status", "visibility", "protected", "checksum", "owner", "size",
    "virtual_size", "min_ram", "min_disk", "disk_format", "container_format", "created_at",
    "updated_at", "tags", "direct_url", "locations", "self", "file", "schema", "os_hidden",
    "os_hash_algo", "os_hash_value", "stores", "properties",
})


class ImageParameters(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Protect parameters: none yet beyond Karbor's optional backup name (kept for parity)."""

    backup_name: str | None = None


class ImageRestoreParameters(msgspec.Struct, frozen=True, forbid_unknown_fields=True,
                             kw_only=True):
    """Restore parameters: the new image's name and visibility."""

    restore_name: str | None = None
    visibility: str | None = None


class ImageSavedInfo(msgspec.Struct, frozen=True, kw_only=True):
    """What a protect stored: how to recreate the image and how to check its bytes."""

    image_id: str
    name: str | None
    disk_format: str | None
    container_format: str | None
    size: int
    checksum: str
    hash_algo: str
    hash_value: str
    segments: int  # 0 in layout "chunks"
    min_disk: int = 0
    min_ram: int = 0
    visibility: str | None = None
    properties: dict[str, str] = {}
    server_id: str | None = None
    # where the bytes are: the chunk store (and the section's chunk list), or raw segments
    # (checkpoints written before the chunk store; the default, so those still decode)
    layout: Literal["segments", "chunks"] = "segments"


class ImageProtection(OpenStackProtection):
    """Copies Glance images into the bank and back.

    Plugin options: ``chunk_size`` (bytes per read, default 1 MiB), ``bytes_in_flight``
    (the most bytes its transfers hold at once on a worker, default 256 MiB), the chunk
    store's options (``banks.chunks.settings``: ``encryption``, ``passphrase``, ...; the
    same as every other chunk plugin of the provider) and ``segment_size`` (unused since
    the chunk store; kept so provider files that set it still load).
    """

    supported_resource_types = frozenset({IMAGE})
    Parameters = ImageParameters
    RestoreParameters = ImageRestoreParameters
    SavedInfo = ImageSavedInfo
    service = "glance"
    Options = combine_schemas("ImageOptions", OpenStackOptions, ByteOptions, TransferOptions,
                              ChunkStoreOptions)

    def __init__(self, config: Mapping[str, str] | None = None) -> None:
        super().__init__(config)
        self.chunk_size, self.segment_size = chunk_and_segment(self.config)
        self.bytes = ImageBytes(self.config, f"options of [{self.plugin_name or 'os-image'}]")

    async def chunk_store(self, bank: Bank, *, create: bool) -> ChunkStore:
        """The bank's chunk store, opened once with this plugin's options.

        Raises:
            KeyRequired, WrongKey: the store is encrypted and the secret is missing or wrong.
            ChunkStoreConfigError: no store (and not ``create``), or a bad configuration.
        """
        return await self.bytes.chunk_store(bank, create=create)

    async def chunk_references(self, checkpoint: Checkpoint, resource: Resource,
                               open_store: StoreOpener) -> ChunkReferences:
        """The chunks of the resource's bytes (``ChunkKeeper``; see ``ImageBytes``).

        Raises:
            StoredBytesError: the chunk list is missing or unusable.
        """
        return await self.bytes.references(checkpoint, resource, open_store)

    async def protect_bytes(self, checkpoint: Checkpoint, context: ActivityContext,
                            resource: Resource, image: Any) -> StoredImage:
        """Stream Glance image ``image`` into the chunk store and record its chunk list in
        ``resource``'s section (whose key the list is bound to).

        Raises:
            ChecksumMismatch: the bytes read are not those Glance holds.
            OpenStackError: the download failed.
        """
        store = await self.chunk_store(checkpoint.bank, create=True)
        # a chunk this process remembers may have been collected since by another one
        await store.refresh_index_if_collected()
        stored = await store_image(
            self.cloud, context, image.id, store, chunk_size=self.chunk_size,
            total=image.size, checksum=image.checksum, hash_algo=image.hash_algo,
            hash_value=image.hash_value, budget=self.bytes.budget)
        await write_chunk_list(checkpoint.bank_section(resource), store,
                               checkpoint_id=checkpoint.id, resource_key=resource.key,
                               size=stored.digests.size,
                               sha256=stored.digests.sha256.hexdigest(), chunks=stored.chunks)
        log.info("image_bytes_stored", operation_id=context.operation_id,
                 resource=resource.key, bytes=stored.digests.size,
                 chunks=len(stored.chunks), new_chunks=stored.stats.new_chunks,
                 new_bytes=stored.stats.new_plaintext_bytes,
                 stored_bytes=stored.stats.stored_bytes)
        return stored

    async def activity_protect_parallel(
        self,
        checkpoint: Checkpoint,
        context: ActivityContext,
        resource: Resource,
        parameters: ImageParameters,
    ) -> AsyncIterator[None]:
        """Wait for the image to be active, stream it into the bank, save its description.

        Raises:
            CloudResourceFailed: the image is killed or deactivated.
            ChecksumMismatch: the bytes read differ from Glance's checksum.
        """
        section = checkpoint.bank_section(resource)
        await section.delete_all()
        active = self.wait(context, what="image", resource_id=resource.id,
                           fetch=lambda c: c.image.get_image(resource.id),
                           ready=("active",), failed=IMAGE_FAILED)
        async for _ in active.steps():
            yield
        image = active.item
        stored = await self.protect_bytes(checkpoint, context, resource, image)
        digests = stored.digests
        info = ImageSavedInfo(
            image_id=resource.id, name=image.name, disk_format=image.disk_format,
            container_format=image.container_format, size=digests.size,
            checksum=digests.md5_hex(image.checksum),
            hash_algo="sha512", hash_value=digests.sha512.hexdigest(), segments=0,
            min_disk=int(image.min_disk or 0), min_ram=int(image.min_ram or 0),
            visibility=image.visibility, properties=_properties(image),
            server_id=resource.extra.get("server_id"), layout="chunks")
        await self.save_info(section, info)
        log.info("image_protected", operation_id=context.operation_id, resource=resource.key,
                 bytes=digests.size, chunks=len(stored.chunks))

    async def activity_restore_parallel(
        self,
        checkpoint: Checkpoint,
        context: ActivityContext,
        resource: Resource,
        parameters: ImageRestoreParameters,
    ) -> AsyncIterator[None]:
        """Create the image from the bank bytes, verify it, record its id.

        Raises:
            SavedInfoMissing: the protect did not complete.
            StoredBytesError: the chunk list is unusable (StoredChunkError: a chunk is
                missing or corrupt, named), or raw segments in an encrypted store.
            ChecksumMismatch: the uploaded bytes differ from the protected ones.
        """
        info = await self.load_info(checkpoint, resource, ImageSavedInfo)
        name = restore_name(parameters.restore_name, checkpoint, resource)
        new_id: str | None = None
        async for step in self.restore_image(context, checkpoint, resource, info=info,
                                             name=name, visibility=parameters.visibility):
            new_id = step
            yield
        if new_id:
            await checkpoint.record_restored(resource, new_id)

    async def restore_image(
        self,
        context: ActivityContext,
        checkpoint: Checkpoint,
        resource: Resource,
        *,
        info: ImageSavedInfo,
        name: str,
        visibility: str | None,
    ) -> AsyncIterator[str | None]:
        """Create, upload and verify an image; the last value yielded is its id.

        The chunk list (or, for raw segments, the store's consent) is checked before the
        image is created. Deletes the new image when anything fails.
        """
        listed, store = await self._stored_bytes(checkpoint, resource, info)
        attributes: dict[str, Any] = {
            **info.properties, "name": name, "disk_format": info.disk_format,
            "container_format": info.container_format, "min_disk": info.min_disk,
            "min_ram": info.min_ram}
        if visibility or info.visibility in ("private", "shared"):
            attributes["visibility"] = visibility or info.visibility
        image = await self.call(context, "create image", resource.id,
                                lambda c: _new_image(c, attributes))
        ready = False
        try:
            if listed is not None and store is not None:
                feed = await send_image(self.cloud, context, image.id, store, listed,
                                        resource_key=resource.key, checkpoint_id=checkpoint.id,
                                        budget=self.bytes.budget)
                log.info("image_bytes_sent", operation_id=context.operation_id,
                         resource=resource.key, bytes=feed.sent,
                         peak_buffered=feed.peak_buffered)
            else:
                await self._send_segments(context, checkpoint, resource, image.id, info)
            active = self.wait(context, what="image", resource_id=image.id,
                               fetch=lambda c: c.image.get_image(image.id),
                               ready=("active",), failed=IMAGE_FAILED)
            async for _ in active.steps():
                yield None
            _check_glance_computed(image.id, active.item, info)
            ready = True
            yield image.id
        finally:
            if not ready:
                await self.delete_quietly(context, "image", image.id,
                                          lambda c: c.image.delete_image(image.id,
                                                                         ignore_missing=True))

    async def _stored_bytes(
        self, checkpoint: Checkpoint, resource: Resource, info: ImageSavedInfo
    ) -> tuple[ImageChunkList | None, ChunkStore | None]:
        """The chunk list and store of layout ``chunks``; for ``segments``, (None, None)
        once the store allows them."""
        bank = checkpoint.bank

        async def open_store() -> ChunkStore:
            return await self.chunk_store(bank, create=False)

        if info.layout == "segments":
            await self.bytes.refuse_segments(open_store, resource.key, checkpoint.id)
            return None, None
        try:
            store = await open_store()
        except (KeyRequired, WrongKey) as error:
            raise error.needed(f"the bytes of {resource.key} in checkpoint {checkpoint.id}"
                               ) from error
        except NoChunkStore as error:
            raise StoredBytesError(resource.key, checkpoint.id,
                                   "the bank holds no chunk store") from error
        listed = await read_chunk_list(checkpoint.bank_section(resource), store,
                                       checkpoint_id=checkpoint.id, resource_key=resource.key)
        return listed, store

    async def _send_segments(self, context: ActivityContext, checkpoint: Checkpoint,
                             resource: Resource, image_id: str, info: ImageSavedInfo) -> None:
        """Upload the raw segments of a checkpoint of layout ``segments``, as before."""
        sent = await upload_image(
            self.cloud, context, image_id, checkpoint.bank_section(resource),
            segments=info.segments, size=info.size, chunk_size=self.chunk_size)
        if sent.md5.hexdigest() != info.checksum or sent.size != info.size:
            raise ChecksumMismatch("glance", "upload image", image_id,
                                   f"bank bytes of {resource.key} have MD5 "
                                   f"{sent.md5.hexdigest()} ({sent.size} bytes), saved "
                                   f"{info.checksum} ({info.size} bytes)")

    async def activity_delete_parallel(
        self,
        checkpoint: Checkpoint,
        context: ActivityContext,
        resource: Resource,
        parameters: Any,
    ) -> None:
        """Remove the image's chunk list and description (or raw segments); the chunks may
        be shared, so they stay for garbage collection."""
        await checkpoint.bank_section(resource).delete_all()


def _check_glance_computed(image_id: str, image: Any, info: ImageSavedInfo) -> None:
    """Glance's own checksum and os_hash_value of the uploaded image must be the saved ones.

    Raises:
        ChecksumMismatch: naming the image and both values.
    """
    if image.checksum and image.checksum != info.checksum:
        raise ChecksumMismatch("glance", "verify image", image_id,
                               f"Glance computed {image.checksum}, saved {info.checksum}")
    algo, value = getattr(image, "hash_algo", None), getattr(image, "hash_value", None)
    if algo == info.hash_algo and value and value != info.hash_value:
        raise ChecksumMismatch("glance", "verify image", image_id,
                               f"Glance computed {algo} {value}, saved {info.hash_value}")


def _properties(image: Any) -> dict[str, str]:
    """The image's properties: common ones the SDK models (``os_distro``) and custom ones."""
    body = image.to_dict(body=True, headers=False, computed=False, ignore_none=True,
                         original_names=True)
    found = {**body, **(body.get("properties") or {})}
    # Glance's own fields (some, like ``stores``, arrive among the SDK's ``properties``)
    # and the reserved os_glance_* are refused on create; only scalars are properties
    return {str(k): str(v) for k, v in found.items()
            if k not in _CORE_FIELDS and not str(k).startswith("os_glance")
            and isinstance(v, str | int | float | bool)}


def _new_image(connection: Any, attributes: dict[str, Any]) -> Any:
    """Create the image record only (status ``queued``); the bytes follow.

    Not ``create_image``: without data it looks for a local file named like the image.
    """
    from openstack.image.v2.image import Image  # noqa: PLC0415 -- SDK imported when used

    wanted = {k: v for k, v in attributes.items() if v is not None}
    return Image.new(**wanted).create(connection.image)


__all__ = ["ImageParameters", "ImageProtection", "ImageRestoreParameters", "ImageSavedInfo"]
