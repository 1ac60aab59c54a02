"""``OS::Trove::Instance`` through Trove backups (Karbor's ``database_backup`` plugin).

openstacksdk has no Trove backup resource, so backups go through the database service's
REST API directly (``POST /backups``, ``GET/DELETE /backups/<id>``, ``restorePoint`` on
instance create), still on the SDK's authenticated session and error translation.
Protect: a backup, waited for until ``COMPLETED``. Restore: a new instance from it, with
the original flavor, volume size and datastore, waited for until ``ACTIVE``. Delete: the
backup. Bank section: ``saved_info`` (``DatabaseSavedInfo``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import msgspec

from plugins.checkpoint.checkpoint import Checkpoint
from plugins.context import ActivityContext
from plugins.openstack.protection_base import OpenStackProtection, restore_name
from plugins.openstack.resource_types import DATABASE
from plugins.resource import Resource

BACKUP_FAILED = ("failed", "error", "delete_failed")
INSTANCE_FAILED = ("error", "failed")


class DatabaseParameters(msgspec.Struct, frozen=True, forbid_unknown_fields=True,
                         kw_only=True):
    """Protect parameters: the backup's name and description."""

    backup_name: str | None = None
    description: str | None = None


class DatabaseRestoreParameters(msgspec.Struct, frozen=True, forbid_unknown_fields=True,
                                kw_only=True):
    """Restore parameters: the new instance's name and, optionally, another flavor."""

    restore_name: str | None = None
    restore_flavor_id: str | None = None


class DatabaseSavedInfo(msgspec.Struct, frozen=True, kw_only=True):
    instance_id: str
    backup_id: str
    name: str | None
    flavor_id: str | None
    volume_size: int | None
    datastore: dict[str, str] = {}


class _Backup(msgspec.Struct, kw_only=True):
    """The fields of a Trove backup we poll (status is upper case in Trove)."""

    id: str
    status: str
    fail_reason: str | None = None


def _request(connection: Any, method: str, path: str, body: Any = None) -> Any:
    """One Trove REST call on the SDK session; the JSON answer, or None."""
    from openstack import exceptions  # noqa: PLC0415 -- SDK imported only when used

    response = connection.database.request(path, method, json=body)
    exceptions.raise_from_response(response)
    return response.json() if response.content else None


def _backup(connection: Any, backup_id: str) -> _Backup:
    found = _request(connection, "GET", f"/backups/{backup_id}")["backup"]
    return msgspec.convert(found, _Backup, strict=False, from_attributes=False)


class DatabaseBackupProtection(OpenStackProtection):
    """Protects Trove instances as Trove backups."""

    supported_resource_types = frozenset({DATABASE})
    Parameters = DatabaseParameters
    RestoreParameters = DatabaseRestoreParameters
    SavedInfo = DatabaseSavedInfo
    service = "trove"
    default_poll_interval = 5.0

    async def activity_protect_parallel(
        self,
        checkpoint: Checkpoint,
        context: ActivityContext,
        resource: Resource,
        parameters: DatabaseParameters,
    ) -> AsyncIterator[None]:
        """Back up the instance and save what a restore needs.

        Raises:
            CloudResourceFailed: the backup failed (it is deleted).
        """
        section = checkpoint.bank_section(resource)
        await section.delete_all()
        instance = await self.call(context, "get instance", resource.id,
                                   lambda c: c.database.get_instance(resource.id))
        body = {"backup": {"instance": resource.id, "description": parameters.description,
                           "name": parameters.backup_name or f"strongbox-{checkpoint.id}"}}
        created = await self.call(context, "create backup", resource.id,
                                  lambda c: _request(c, "POST", "/backups", body))
        backup_id: str = created["backup"]["id"]
        saved = False
        try:
            async for _ in self.wait(
                context, what="backup", resource_id=backup_id,
                fetch=lambda c: _backup(c, backup_id), ready=("completed",),
                failed=BACKUP_FAILED, fault_of=lambda b: b.fail_reason,
            ).steps():
                yield
            flavor = instance.flavor or {}
            volume = instance.volume or {}
            await self.save_info(section, DatabaseSavedInfo(
                instance_id=resource.id, backup_id=backup_id, name=instance.name,
                flavor_id=flavor.get("id"), volume_size=volume.get("size"),
                datastore={k: str(v) for k, v in (instance.datastore or {}).items()
                           if k in ("type", "version")}))
            saved = True
        finally:
            if not saved:
                await self.delete_quietly(context, "backup", backup_id,
                                          lambda c: _request(c, "DELETE",
                                                             f"/backups/{backup_id}"))

    async def activity_restore_parallel(
        self,
        checkpoint: Checkpoint,
        context: ActivityContext,
        resource: Resource,
        parameters: DatabaseRestoreParameters,
    ) -> AsyncIterator[None]:
        """Create an instance from the backup; record its id.

        Raises:
            SavedInfoMissing: the protect did not complete.
            CloudResourceFailed: the instance went to ERROR (it is deleted).
        """
        info = await self.load_info(checkpoint, resource, DatabaseSavedInfo)
        spec: dict[str, Any] = {
            "name": restore_name(parameters.restore_name, checkpoint, resource),
            "flavorRef": parameters.restore_flavor_id or info.flavor_id,
            "restorePoint": {"backupRef": info.backup_id},
        }
        if info.volume_size:
            spec["volume"] = {"size": info.volume_size}
        if info.datastore:
            spec["datastore"] = info.datastore
        created = await self.call(context, "create instance", info.backup_id,
                                  lambda c: _request(c, "POST", "/instances",
                                                     {"instance": spec}))
        new_id: str = created["instance"]["id"]
        ready = False
        try:
            async for _ in self.wait(
                context, what="instance", resource_id=new_id,
                fetch=lambda c: c.database.get_instance(new_id),
                ready=("active",), failed=INSTANCE_FAILED,
            ).steps():
                yield
            await checkpoint.record_restored(resource, new_id)
            ready = True
        finally:
            if not ready:
                await self.delete_quietly(context, "instance", new_id,
                                          lambda c: c.database.delete_instance(new_id))

    async def activity_delete_parallel(
        self,
        checkpoint: Checkpoint,
        context: ActivityContext,
        resource: Resource,
        parameters: Any,
    ) -> AsyncIterator[None]:
        """Delete the backup and wait until it is gone; clear the section."""
        info = await self.try_load_info(checkpoint, resource, DatabaseSavedInfo)
        if info is not None:
            await self.call(context, "delete backup", info.backup_id,
                            lambda c: _request(c, "DELETE", f"/backups/{info.backup_id}"))
            async for _ in self.wait(
                context, what="backup", resource_id=info.backup_id,
                fetch=lambda c: _backup(c, info.backup_id), ready=("deleted",),
                failed=("delete_failed",),
            ).steps():
                yield
        await checkpoint.bank_section(resource).delete_all()


__all__ = ["DatabaseBackupProtection", "DatabaseParameters", "DatabaseRestoreParameters",
           "DatabaseSavedInfo"]
