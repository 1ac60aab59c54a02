"""``OS::Glance::Image``: the image's bytes and properties copied into the bank.

Protect streams the image into ``data/<n>`` segments (see ``image_transfer``) and saves
its formats, checksums and properties. Restore creates a new image with those, uploads
the bytes and refuses the result (deleting it) unless both the bytes read from the bank
and Glance's own checksum match the saved MD5. Delete clears the bank section: the bytes
live only there.

Bank section: ``data/<n>`` segments, then ``saved_info`` (``ImageSavedInfo``) last.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import msgspec
import structlog

from banks.option_schema import combine_schemas
from plugins.checkpoint.checkpoint import Checkpoint
from plugins.context import ActivityContext
from plugins.openstack.errors import ChecksumMismatch
from plugins.openstack.image_options import ByteOptions, chunk_and_segment
from plugins.openstack.image_transfer import download_image, upload_image
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
    segments: int
    min_disk: int = 0
    min_ram: int = 0
    visibility: str | None = None
    properties: dict[str, str] = {}
    server_id: str | None = None


class ImageProtection(OpenStackProtection):
    """Copies Glance images into the bank and back.

    Plugin options: ``chunk_size`` (bytes per read, default 1 MiB) and ``segment_size``
    (bytes per bank object, default 256 MiB).
    """

    supported_resource_types = frozenset({IMAGE})
    Parameters = ImageParameters
    RestoreParameters = ImageRestoreParameters
    SavedInfo = ImageSavedInfo
    service = "glance"
    Options = combine_schemas("ImageOptions", OpenStackOptions, ByteOptions)

    def __init__(self, config: Mapping[str, str] | None = None) -> None:
        super().__init__(config)
        self.chunk_size, self.segment_size = chunk_and_segment(self.config)

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
        digests, segments = await download_image(
            self.cloud, context, resource.id, section, chunk_size=self.chunk_size,
            segment_size=self.segment_size, total=image.size, checksum=image.checksum)
        info = ImageSavedInfo(
            image_id=resource.id, name=image.name, disk_format=image.disk_format,
            container_format=image.container_format, size=digests.size,
            checksum=digests.md5.hexdigest(),
            hash_algo="sha512", hash_value=digests.sha512.hexdigest(), segments=segments,
            min_disk=int(image.min_disk or 0), min_ram=int(image.min_ram or 0),
            visibility=image.visibility, properties=_properties(image),
            server_id=resource.extra.get("server_id"))
        await self.save_info(section, info)
        log.info("image_protected", operation_id=context.operation_id, resource=resource.key,
                 bytes=digests.size, segments=segments)

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

        Deletes the new image when anything fails.
        """
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
            sent = await upload_image(
                self.cloud, context, image.id, checkpoint.bank_section(resource),
                segments=info.segments, size=info.size, chunk_size=self.chunk_size)
            if sent.md5.hexdigest() != info.checksum or sent.size != info.size:
                raise ChecksumMismatch("glance", "upload image", image.id,
                                       f"bank bytes of {resource.key} have MD5 "
                                       f"{sent.md5.hexdigest()} ({sent.size} bytes), saved "
                                       f"{info.checksum} ({info.size} bytes)")
            active = self.wait(context, what="image", resource_id=image.id,
                               fetch=lambda c: c.image.get_image(image.id),
                               ready=("active",), failed=IMAGE_FAILED)
            async for _ in active.steps():
                yield None
            if active.item.checksum and active.item.checksum != info.checksum:
                raise ChecksumMismatch("glance", "verify image", image.id,
                                       f"Glance computed {active.item.checksum}, saved "
                                       f"{info.checksum}")
            ready = True
            yield image.id
        finally:
            if not ready:
                await self.delete_quietly(context, "image", image.id,
                                          lambda c: c.image.delete_image(image.id,
                                                                         ignore_missing=True))

    async def activity_delete_parallel(
        self,
        checkpoint: Checkpoint,
        context: ActivityContext,
        resource: Resource,
        parameters: Any,
    ) -> None:
        """Remove the image's bytes and description from the bank."""
        await checkpoint.bank_section(resource).delete_all()


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
