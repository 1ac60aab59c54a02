"""``OS::Cinder::Volume`` copied byte for byte into the bank, for clouds without Cinder backup.

Karbor's ``volume_glance`` plugin. Protect: a temporary snapshot, a temporary volume from
it (an attached volume cannot be uploaded consistently in place), ``upload-to-image`` of
that volume, the image streamed through the chunker into the bank's chunk store (the
image plugin's ``protect_bytes``: deduplicated, so an unchanged volume adds next to
nothing), and every temporary resource deleted, on success or failure. Restore: an image
rebuilt from the chunks (each chunk and the SHA-256 of the whole checked as they stream,
then Glance's checksums), a new volume created from it, the image deleted. Delete: the
bank section (the chunks stay for garbage collection).

Bank section: ``image_chunks`` (the chunk list, bound to this volume's key), then
``saved_info`` (``VolumeBytesSavedInfo``). Checkpoints written before hold ``data/<n>``
segments instead; they restore as before from an unencrypted store.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import msgspec
import structlog

from banks.base import Bank
from banks.chunks import ChunkStore, ChunkStoreOptions
from banks.option_schema import combine_schemas
from plugins.checkpoint.checkpoint import Checkpoint
from plugins.chunk_keeper import ChunkReferences, StoreOpener
from plugins.context import ActivityContext
from plugins.openstack.image_bytes import TransferOptions
from plugins.openstack.image_options import ByteOptions, chunk_and_segment
from plugins.openstack.image_protection import IMAGE_FAILED, ImageProtection, ImageSavedInfo
from plugins.openstack.protection_base import (
    OpenStackOptions,
    OpenStackProtection,
    restore_name,
)
from plugins.openstack.resource_types import VOLUME
from plugins.openstack.volume_backup_protection import (
    GIB,
    VOLUME_READY,
    VolumeRestoreParameters,
)
from plugins.openstack.volume_restore import VOLUME_FAILED, finish_volume, is_true
from plugins.resource import Resource

log = structlog.get_logger(__name__)


class VolumeBytesParameters(msgspec.Struct, frozen=True, forbid_unknown_fields=True,
                            kw_only=True):
    """Protect parameters: the disk format of the intermediate image."""

    disk_format: str = "raw"


class VolumeBytesSavedInfo(msgspec.Struct, frozen=True, kw_only=True):
    """What a protect stored: the volume's shape and the image that carries its bytes."""

    volume_id: str
    name: str | None
    size: int
    volume_type: str | None
    availability_zone: str | None
    bootable: bool
    image: ImageSavedInfo


class VolumeBytesProtection(OpenStackProtection):
    """Copies Cinder volumes into the bank through Glance.

    Plugin options: ``chunk_size``, ``bytes_in_flight``, the chunk store's options and
    ``segment_size`` (as the image plugin).
    """

    supported_resource_types = frozenset({VOLUME})
    Parameters = VolumeBytesParameters
    RestoreParameters = VolumeRestoreParameters
    SavedInfo = VolumeBytesSavedInfo
    service = "cinder"
    Options = combine_schemas("VolumeBytesOptions", OpenStackOptions, ByteOptions,
                              TransferOptions, ChunkStoreOptions)
    default_poll_interval = 5.0

    def __init__(self, config: Mapping[str, str] | None = None) -> None:
        super().__init__(config)
        self.chunk_size, self.segment_size = chunk_and_segment(self.config)
        # the image half of the work is the image plugin's, on the same cloud settings
        self.images = ImageProtection(config)

    async def chunk_store(self, bank: Bank, *, create: bool) -> ChunkStore:
        """The bank's chunk store (``ChunkKeeper``), the image half's."""
        return await self.images.chunk_store(bank, create=create)

    async def chunk_references(self, checkpoint: Checkpoint, resource: Resource,
                               open_store: StoreOpener) -> ChunkReferences:
        """The chunks of the volume's bytes (``ChunkKeeper``).

        Raises:
            StoredBytesError: the chunk list is missing or unusable.
        """
        return await self.images.chunk_references(checkpoint, resource, open_store)

    async def close(self) -> None:
        """Close both plugins' clouds."""
        await self.images.close()
        await super().close()

    async def activity_protect_parallel(
        self,
        checkpoint: Checkpoint,
        context: ActivityContext,
        resource: Resource,
        parameters: VolumeBytesParameters,
    ) -> AsyncIterator[None]:
        """Snapshot, clone, upload to an image, stream into the bank, clean everything up.

        Raises:
            CloudResourceFailed: a volume, snapshot or image went to an error state.
        """
        section = checkpoint.bank_section(resource)
        await section.delete_all()
        source = self.wait(context, what="volume", resource_id=resource.id,
                           fetch=lambda c: c.block_storage.get_volume(resource.id),
                           ready=VOLUME_READY, failed=VOLUME_FAILED)
        async for _ in source.steps():
            yield
        volume = source.item
        temporary: dict[str, str] = {}
        try:
            snapshot = await self.call(context, "create snapshot", resource.id,
                                       lambda c: c.block_storage.create_snapshot(
                                           volume_id=resource.id, force=True,
                                           name=f"strongbox-{checkpoint.id}"))
            temporary["snapshot"] = snapshot.id
            async for _ in self.wait(context, what="snapshot", resource_id=snapshot.id,
                                     fetch=lambda c: c.block_storage.get_snapshot(snapshot.id),
                                     ready=("available",)).steps():
                yield
            clone = await self.call(context, "create volume", snapshot.id,
                                    lambda c: c.block_storage.create_volume(
                                        snapshot_id=snapshot.id, size=volume.size,
                                        name=f"strongbox-{checkpoint.id}"))
            temporary["volume"] = clone.id
            async for _ in self.wait(context, what="volume", resource_id=clone.id,
                                     fetch=lambda c: c.block_storage.get_volume(clone.id),
                                     ready=("available",), failed=VOLUME_FAILED).steps():
                yield
            uploaded = await self.call(context, "upload volume to image", clone.id,
                                       lambda c: c.block_storage.upload_volume_to_image(
                                           clone.id, f"strongbox-{checkpoint.id}", force=True,
                                           disk_format=parameters.disk_format,
                                           container_format="bare"))
            image_id: str = uploaded["image_id"]
            temporary["image"] = image_id
            image_wait = self.wait(context, what="image", resource_id=image_id,
                                   fetch=lambda c: c.image.get_image(image_id),
                                   ready=("active",), failed=IMAGE_FAILED, service="glance")
            async for _ in image_wait.steps():
                yield
            image = image_wait.item
            stored = await self.images.protect_bytes(checkpoint, context, resource, image)
            digests = stored.digests
            image_info = ImageSavedInfo(
                image_id=image_id, name=None, disk_format=image.disk_format,
                container_format=image.container_format, size=digests.size,
                checksum=digests.md5_hex(image.checksum), hash_algo="sha512",
                hash_value=digests.sha512.hexdigest(), segments=0, layout="chunks")
            await self.save_info(section, VolumeBytesSavedInfo(
                volume_id=resource.id, name=volume.name, size=int(volume.size or 0),
                volume_type=volume.volume_type, availability_zone=volume.availability_zone,
                bootable=is_true(volume.is_bootable), image=image_info))
        finally:
            await self._remove(context, temporary)
        log.info("volume_bytes_protected", operation_id=context.operation_id,
                 resource=resource.key, bytes=digests.size, chunks=len(stored.chunks),
                 new_bytes=stored.stats.new_plaintext_bytes)

    async def _remove(self, context: ActivityContext, temporary: dict[str, str]) -> None:
        """Delete the temporary image, volume and snapshot (in that order: dependents first)."""
        if "image" in temporary:
            image_id = temporary["image"]
            await self.delete_quietly(context, "image", image_id,
                                      lambda c: c.image.delete_image(image_id,
                                                                     ignore_missing=True),
                                      service="glance")
        if "volume" in temporary:
            volume_id = temporary["volume"]
            # the upload holds the volume until Glance has the image; wait it out
            wait = self.wait(context, what="volume", resource_id=volume_id,
                             fetch=lambda c: c.block_storage.get_volume(volume_id),
                             ready=("available", "error", "deleted"), failed=())
            try:
                async for _ in wait.steps():
                    pass
            except Exception as error:  # clean-up goes on; the cause is already raised
                log.warning("openstack_cleanup_wait_failed", resource_id=volume_id,
                            error=str(error))
            await self.delete_quietly(context, "volume", volume_id,
                                      lambda c: c.block_storage.delete_volume(
                                          volume_id, ignore_missing=True))
        if "snapshot" in temporary:
            snapshot_id = temporary["snapshot"]
            await self.delete_quietly(context, "snapshot", snapshot_id,
                                      lambda c: c.block_storage.delete_snapshot(
                                          snapshot_id, ignore_missing=True))

    async def activity_restore_parallel(
        self,
        checkpoint: Checkpoint,
        context: ActivityContext,
        resource: Resource,
        parameters: VolumeRestoreParameters,
    ) -> AsyncIterator[None]:
        """Rebuild the image from the bank, create the volume from it, drop the image.

        Raises:
            SavedInfoMissing: the protect did not complete.
            ChecksumMismatch: the bank bytes are not those protected.
        """
        info = await self.load_info(checkpoint, resource, VolumeBytesSavedInfo)
        name = restore_name(parameters.restore_name, checkpoint, resource)
        image_id: str | None = None
        try:
            async for step in self.images.restore_image(
                context, checkpoint, resource, info=info.image,
                name=f"strongbox-restore-{checkpoint.id}", visibility="private",
            ):
                image_id = step
                yield
            if image_id is None:
                return
            created_from = image_id
            volume = await self.call(context, "create volume", created_from,
                                     lambda c: c.block_storage.create_volume(
                                         size=max(info.size, 1), image_id=created_from,
                                         name=name, volume_type=info.volume_type,
                                         description=parameters.restore_description))
            async for _ in finish_volume(self, context, volume.id, description=None,
                                         bootable=info.bootable):
                yield
            await checkpoint.record_restored(resource, volume.id)
            context.progress(info.size * GIB, info.size * GIB)
        finally:
            if image_id is not None:
                await self._remove(context, {"image": image_id})

    async def activity_delete_parallel(
        self,
        checkpoint: Checkpoint,
        context: ActivityContext,
        resource: Resource,
        parameters: Any,
    ) -> None:
        """Remove the volume's chunk list and description; the chunks may be shared, so
        they stay for garbage collection."""
        await checkpoint.bank_section(resource).delete_all()


__all__ = ["VolumeBytesParameters", "VolumeBytesProtection", "VolumeBytesSavedInfo"]
