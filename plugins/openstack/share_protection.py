"""``OS::Manila::Share`` through Manila snapshots (Karbor's ``manila_snapshot`` plugin).

Protect: a snapshot of the share, waited for until ``available``. Restore: a new share
created from the snapshot with the original protocol, size, type and share network.
Delete: the snapshot, waited for until it is gone. Failures delete what the activity
created. Bank section: ``saved_info`` (``ShareSavedInfo``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import msgspec
import structlog

from plugins.checkpoint.checkpoint import Checkpoint
from plugins.context import ActivityContext
from plugins.openstack.protection_base import OpenStackProtection, restore_name
from plugins.openstack.resource_types import SHARE
from plugins.resource import Resource

log = structlog.get_logger(__name__)
SHARE_FAILED = ("error", "error_deleting")


class ShareParameters(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Protect parameters: the snapshot's name and description."""

    snapshot_name: str | None = None
    description: str | None = None


class ShareRestoreParameters(msgspec.Struct, frozen=True, forbid_unknown_fields=True,
                             kw_only=True):
    """Restore parameters: the new share's name and description."""

    restore_name: str | None = None
    restore_description: str | None = None


class ShareSavedInfo(msgspec.Struct, frozen=True, kw_only=True):
    share_id: str
    snapshot_id: str
    name: str | None
    size: int
    share_proto: str
    share_type: str | None = None
    share_network_id: str | None = None
    availability_zone: str | None = None


class ShareSnapshotProtection(OpenStackProtection):
    """Protects Manila shares as snapshots."""

    supported_resource_types = frozenset({SHARE})
    Parameters = ShareParameters
    RestoreParameters = ShareRestoreParameters
    SavedInfo = ShareSavedInfo
    service = "manila"
    default_poll_interval = 5.0

    async def activity_protect_parallel(
        self,
        checkpoint: Checkpoint,
        context: ActivityContext,
        resource: Resource,
        parameters: ShareParameters,
    ) -> AsyncIterator[None]:
        """Snapshot the share and save what a restore needs.

        Raises:
            CloudResourceFailed: the snapshot went to ``error`` (it is deleted).
        """
        section = checkpoint.bank_section(resource)
        await section.delete_all()
        share = await self.call(context, "get share", resource.id,
                                lambda c: c.shared_file_system.get_share(resource.id))
        name = parameters.snapshot_name or f"strongbox-{checkpoint.id}"
        snapshot = await self.call(context, "create snapshot", resource.id,
                                   lambda c: c.shared_file_system.create_share_snapshot(
                                       share_id=resource.id, name=name,
                                       description=parameters.description))
        saved = False
        try:
            async for _ in self.wait(
                context, what="snapshot", resource_id=snapshot.id,
                fetch=lambda c: c.shared_file_system.get_share_snapshot(snapshot.id),
                ready=("available",), failed=SHARE_FAILED,
            ).steps():
                yield
            await self.save_info(section, ShareSavedInfo(
                share_id=resource.id, snapshot_id=snapshot.id, name=share.name,
                size=int(share.size or 0), share_proto=str(share.share_protocol),
                share_type=share.share_type, share_network_id=share.share_network_id,
                availability_zone=share.availability_zone))
            saved = True
        finally:
            if not saved:
                await self.delete_quietly(
                    context, "snapshot", snapshot.id,
                    lambda c: c.shared_file_system.delete_share_snapshot(snapshot.id))

    async def activity_restore_parallel(
        self,
        checkpoint: Checkpoint,
        context: ActivityContext,
        resource: Resource,
        parameters: ShareRestoreParameters,
    ) -> AsyncIterator[None]:
        """Create a share from the snapshot; record its id.

        Raises:
            SavedInfoMissing: the protect did not complete.
            CloudResourceFailed: the new share went to ``error`` (it is deleted).
        """
        info = await self.load_info(checkpoint, resource, ShareSavedInfo)
        share = await self.call(context, "create share", info.snapshot_id,
                                lambda c: c.shared_file_system.create_share(
                                    name=restore_name(parameters.restore_name, checkpoint,
                                                      resource),
                                    description=parameters.restore_description,
                                    share_protocol=info.share_proto, size=info.size,
                                    snapshot_id=info.snapshot_id, share_type=info.share_type,
                                    share_network_id=info.share_network_id,
                                    availability_zone=info.availability_zone))
        ready = False
        try:
            async for _ in self.wait(
                context, what="share", resource_id=share.id,
                fetch=lambda c: c.shared_file_system.get_share(share.id),
                ready=("available",), failed=SHARE_FAILED,
            ).steps():
                yield
            await checkpoint.record_restored(resource, share.id)
            ready = True
        finally:
            if not ready:
                await self.delete_quietly(context, "share", share.id,
                                          lambda c: c.shared_file_system.delete_share(share.id))

    async def activity_delete_parallel(
        self,
        checkpoint: Checkpoint,
        context: ActivityContext,
        resource: Resource,
        parameters: Any,
    ) -> AsyncIterator[None]:
        """Delete the snapshot and wait until it is gone; clear the section."""
        info = await self.try_load_info(checkpoint, resource, ShareSavedInfo)
        if info is not None:
            await self.call(context, "delete snapshot", info.snapshot_id,
                            lambda c: c.shared_file_system.delete_share_snapshot(
                                info.snapshot_id))
            async for _ in self.wait(
                context, what="snapshot", resource_id=info.snapshot_id,
                fetch=lambda c: c.shared_file_system.get_share_snapshot(info.snapshot_id),
                ready=("deleted",), failed=("error_deleting",),
            ).steps():
                yield
        await checkpoint.bank_section(resource).delete_all()


__all__ = ["ShareParameters", "ShareRestoreParameters", "ShareSavedInfo",
           "ShareSnapshotProtection"]
