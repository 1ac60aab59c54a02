"""``OS::Cinder::Volume`` through Cinder backups (Karbor's ``cinder_backup`` plugin).

Protect: a temporary snapshot (forced, so an attached volume is consistent to the moment
of the snapshot), a backup of that snapshot (full or incremental), then the snapshot is
deleted. Restore: a new volume from the backup. Delete: the backup. Each is an async
generator: the waits poll with back-off, and the ``finally`` blocks remove what the
activity created when it fails, times out or is cancelled.

Bank section: ``saved_info`` (``VolumeBackupSavedInfo``, JSON).
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Mapping
from typing import Any, Literal

import msgspec
import structlog

from banks.option_schema import OptionSchema, combine_schemas
from plugins.checkpoint.checkpoint import Checkpoint
from plugins.context import ActivityContext
from plugins.errors import InvalidPluginOption
from plugins.openstack.protection_base import (
    OpenStackOptions,
    OpenStackProtection,
    restore_name,
)
from plugins.openstack.resource_types import VOLUME
from plugins.openstack.volume_restore import VOLUME_FAILED, finish_volume, is_true
from plugins.resource import Resource

log = structlog.get_logger(__name__)
GIB = 1 << 30
VOLUME_READY = ("available", "in-use")


class VolumeBackupParameters(msgspec.Struct, frozen=True, forbid_unknown_fields=True,
                             kw_only=True):
    """Protect parameters (Karbor's options schema)."""

    backup_name: str | None = None
    backup_mode: Literal["full", "incremental"] = "full"
    container: str | None = None
    description: str | None = None
    force: bool = True


class VolumeRestoreParameters(msgspec.Struct, frozen=True, forbid_unknown_fields=True,
                              kw_only=True):
    """Restore parameters: the new volume's name and description."""

    restore_name: str | None = None
    restore_description: str | None = None


class VolumeBackupSavedInfo(msgspec.Struct, frozen=True, kw_only=True):
    """What a protect stored: the backup and what the volume looked like."""

    volume_id: str
    backup_id: str
    name: str | None
    size: int
    is_incremental: bool
    container: str | None
    availability_zone: str | None
    volume_type: str | None
    bootable: bool = False


class _BackupOptions(OptionSchema, frozen=True):
    backup_from_snapshot: bool | None = None


class VolumeBackupProtection(OpenStackProtection):
    """Protects Cinder volumes as Cinder backups.

    Plugin options: ``backup_from_snapshot`` (default true) backs up a temporary snapshot
    rather than the live volume.
    """

    supported_resource_types = frozenset({VOLUME})
    Parameters = VolumeBackupParameters
    RestoreParameters = VolumeRestoreParameters
    SavedInfo = VolumeBackupSavedInfo
    service = "cinder"
    Options = combine_schemas("VolumeBackupOptions", OpenStackOptions, _BackupOptions)
    default_poll_interval = 5.0

    def __init__(self, config: Mapping[str, str] | None = None) -> None:
        super().__init__(config)
        raw = self.config.get("backup_from_snapshot", "true").strip().lower()
        if raw not in ("true", "false", "yes", "no", "1", "0"):
            raise InvalidPluginOption("backup_from_snapshot", f"{raw!r} is not a boolean")
        self.backup_from_snapshot = raw in ("true", "yes", "1")

    async def activity_protect_parallel(
        self,
        checkpoint: Checkpoint,
        context: ActivityContext,
        resource: Resource,
        parameters: VolumeBackupParameters,
    ) -> AsyncIterator[None]:
        """Snapshot, back up, remove the snapshot, save the backup id.

        Raises:
            CloudResourceFailed: the volume, snapshot or backup went to an error state.
            CloudWaitTimeout: one of them stayed busy past ``wait_timeout``.
        """
        section = checkpoint.bank_section(resource)
        await section.delete_all()  # a retried protect starts clean
        await self.remove_leftovers(context, checkpoint, resource)
        volume_wait = self.wait(context, what="volume", resource_id=resource.id,
                                fetch=lambda c: c.block_storage.get_volume(resource.id),
                                ready=VOLUME_READY, failed=VOLUME_FAILED)
        async for _ in volume_wait.steps():
            yield
        volume = volume_wait.item
        total = int(volume.size or 0) * GIB
        context.progress(0, total)
        snapshot_id: str | None = None
        backup_id: str | None = None
        succeeded = False
        try:
            if self.backup_from_snapshot:
                snapshot = await self.call(
                    context, "create snapshot", resource.id,
                    lambda c: c.block_storage.create_snapshot(
                        volume_id=resource.id, force=True,
                        name=temporary_name(checkpoint), description="temporary, for a backup"),
                )
                snapshot_id = snapshot.id
                snapshot_wait = self.wait(context, what="snapshot", resource_id=snapshot.id,
                                          fetch=lambda c: c.block_storage.get_snapshot(snapshot.id),
                                          ready=("available",))
                async for _ in snapshot_wait.steps():
                    yield
            backup = await self.call(
                context, "create backup", resource.id,
                lambda c: c.block_storage.create_backup(
                    volume_id=resource.id, snapshot_id=snapshot_id,
                    name=parameters.backup_name or temporary_name(checkpoint),
                    description=parameters.description, container=parameters.container,
                    is_incremental=parameters.backup_mode == "incremental",
                    force=parameters.force),
            )
            backup_id = backup.id
            backup_wait = self.wait(context, what="backup", resource_id=backup.id,
                                    fetch=lambda c: c.block_storage.get_backup(backup.id),
                                    ready=("available",),
                                    fault_of=lambda b: getattr(b, "fail_reason", None))
            async for _ in backup_wait.steps():
                yield
            done = backup_wait.item
            info = VolumeBackupSavedInfo(
                volume_id=resource.id, backup_id=backup.id, name=volume.name,
                size=int(volume.size or 0), is_incremental=bool(done.is_incremental),
                container=done.container, availability_zone=volume.availability_zone,
                volume_type=volume.volume_type, bootable=is_true(volume.is_bootable))
            await self.save_info(section, info)
            succeeded = True
            context.progress(total, total)
        finally:
            if snapshot_id is not None:
                await self.delete_quietly(
                    context, "snapshot", snapshot_id,
                    lambda c: c.block_storage.delete_snapshot(snapshot_id, ignore_missing=True))
            if not succeeded and backup_id is not None:
                await self.delete_quietly(
                    context, "backup", backup_id,
                    lambda c: c.block_storage.delete_backup(backup_id, ignore_missing=True))
        log.info("volume_backed_up", operation_id=context.operation_id, resource=resource.key,
                 backup_id=backup_id)

    async def remove_leftovers(self, context: ActivityContext, checkpoint: Checkpoint,
                               resource: Resource) -> None:
        """Delete the snapshots and backups an interrupted run of this protect left.

        Activities run at least once: after a worker crash this one runs again, and what
        the first run made carries the checkpoint's unique name, so it can be found.
        """
        name = temporary_name(checkpoint)

        def ours(items: Any) -> list[str]:
            return [i.id for i in items if i.name == name and i.volume_id == resource.id]

        backups = await self.call(context, "list backups", resource.id,
                                  lambda c: ours(c.block_storage.backups(
                                      details=True, name=name, volume_id=resource.id)))
        snapshots = await self.call(context, "list snapshots", resource.id,
                                    lambda c: ours(c.block_storage.snapshots(
                                        details=True, name=name, volume_id=resource.id)))
        for backup_id in backups:
            log.info("volume_backup_leftover_removed", backup_id=backup_id,
                     resource=resource.key)
            await self.delete_quietly(context, "backup", backup_id,
                                      functools.partial(_delete_backup, backup_id=backup_id))
        for snapshot_id in snapshots:
            await self.delete_quietly(context, "snapshot", snapshot_id,
                                      functools.partial(_delete_snapshot,
                                                        snapshot_id=snapshot_id))

    async def activity_restore_parallel(
        self,
        checkpoint: Checkpoint,
        context: ActivityContext,
        resource: Resource,
        parameters: VolumeRestoreParameters,
    ) -> AsyncIterator[None]:
        """Restore the backup into a new volume; record its id.

        Raises:
            SavedInfoMissing: the checkpoint has no backup for the volume.
            CloudResourceFailed: the new volume went to an error state (it is deleted).
        """
        info = await self.load_info(checkpoint, resource, VolumeBackupSavedInfo)
        name = restore_name(parameters.restore_name, checkpoint, resource)
        restored = await self.call(
            context, "restore backup", info.backup_id,
            lambda c: c.block_storage.restore_backup(info.backup_id, name=name))
        new_id: str = restored.volume_id
        async for _ in finish_volume(self, context, new_id, bootable=info.bootable,
                                     description=parameters.restore_description):
            yield
        await checkpoint.record_restored(resource, new_id)
        context.progress(info.size * GIB, info.size * GIB)

    async def activity_delete_parallel(
        self,
        checkpoint: Checkpoint,
        context: ActivityContext,
        resource: Resource,
        parameters: Any,
    ) -> AsyncIterator[None]:
        """Delete the backup, wait until it is gone, clear the section.

        Raises:
            CloudResourceFailed: Cinder could not delete the backup (``error_deleting``).
        """
        info = await self.try_load_info(checkpoint, resource, VolumeBackupSavedInfo)
        if info is not None:
            await self.call(context, "delete backup", info.backup_id,
                            lambda c: c.block_storage.delete_backup(
                                info.backup_id, ignore_missing=True))
            gone = self.wait(context, what="backup", resource_id=info.backup_id,
                             fetch=lambda c: c.block_storage.get_backup(info.backup_id),
                             ready=("deleted",), failed=("error_deleting", "error"))
            async for _ in gone.steps():
                yield
        await checkpoint.bank_section(resource).delete_all()


def _delete_backup(connection: Any, *, backup_id: str) -> None:
    connection.block_storage.delete_backup(backup_id, ignore_missing=True)


def _delete_snapshot(connection: Any, *, snapshot_id: str) -> None:
    connection.block_storage.delete_snapshot(snapshot_id, ignore_missing=True)


def temporary_name(checkpoint: Checkpoint) -> str:
    """The name of what a protect creates: unique to the checkpoint, so findable again."""
    return f"strongbox-{checkpoint.id}"


__all__ = [
    "VolumeBackupParameters",
    "VolumeBackupProtection",
    "VolumeBackupSavedInfo",
    "VolumeRestoreParameters",
]
