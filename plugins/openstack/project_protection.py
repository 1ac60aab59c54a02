"""``OS::Keystone::Project``: the container of a project's graph, its quotas and metadata.

Protect records what Keystone says of the project (name, description, domain, tags) and
the compute, block-storage and network quotas; a service whose quotas cannot be read
(not in the catalog, or policy forbids) is noted in ``unreadable`` rather than failing
the checkpoint, since the quotas only describe the project. Restore does not create a
project: it records the project restored *into* (the operation's, else the original) so
the children find it, and sets the saved quotas there only if ``restore_quotas`` is
asked for (an admin call). Delete clears the section.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
import structlog

from plugins.checkpoint.checkpoint import Checkpoint
from plugins.context import ActivityContext
from plugins.openstack.errors import (
    CloudAuthError,
    CloudNotFound,
    CloudUnavailable,
)
from plugins.openstack.protection_base import OpenStackProtection
from plugins.openstack.resource_types import PROJECT
from plugins.resource import Resource

log = structlog.get_logger(__name__)
QUOTA_SERVICES: dict[str, tuple[str, Callable[[Any, str], Any]]] = {
    "compute": ("nova", lambda c, p: c.compute.get_quota_set(p)),
    "block_storage": ("cinder", lambda c, p: c.block_storage.get_quota_set(p)),
    "network": ("neutron", lambda c, p: c.network.get_quota(p)),
}


class ProjectRestoreParameters(msgspec.Struct, frozen=True, forbid_unknown_fields=True,
                               kw_only=True):
    """Restore parameters: whether to apply the saved quotas to the target project."""

    restore_quotas: bool = False


class ProjectSavedInfo(msgspec.Struct, frozen=True, kw_only=True):
    """What a protect stored about the project."""

    project_id: str
    name: str | None = None
    description: str | None = None
    domain_id: str | None = None
    enabled: bool | None = None
    tags: list[str] = []
    quotas: dict[str, dict[str, int]] = {}
    unreadable: dict[str, str] = {}


class ProjectProtection(OpenStackProtection):
    """Records a project's description and quotas; restores quotas on request."""

    supported_resource_types = frozenset({PROJECT})
    RestoreParameters = ProjectRestoreParameters
    SavedInfo = ProjectSavedInfo
    service = "keystone"

    async def activity_protect_parallel(
        self,
        checkpoint: Checkpoint,
        context: ActivityContext,
        resource: Resource,
        parameters: Any,
    ) -> None:
        """Save the project's metadata and quotas."""
        project_id = resource.id
        unreadable: dict[str, str] = {}
        record: Any = None
        try:
            record = await self.call(context, "get project", project_id,
                                     lambda c: c.identity.get_project(project_id))
        except (CloudAuthError, CloudNotFound, CloudUnavailable) as error:
            unreadable["identity"] = error.reason
        quotas: dict[str, dict[str, int]] = {}
        for name, (service, fetch) in QUOTA_SERVICES.items():
            try:
                found = await self.call(context, "get quotas", project_id,
                                        _bind(fetch, project_id), service=service)
            except (CloudAuthError, CloudNotFound, CloudUnavailable) as error:
                unreadable[name] = error.reason
                continue
            quotas[name] = _limits(found)
        info = ProjectSavedInfo(
            project_id=project_id,
            name=getattr(record, "name", None) or resource.name or None,
            description=getattr(record, "description", None),
            domain_id=getattr(record, "domain_id", None),
            enabled=getattr(record, "is_enabled", None),
            tags=list(getattr(record, "tags", None) or []),
            quotas=quotas, unreadable=unreadable)
        await self.save_info(checkpoint.bank_section(resource), info)
        log.info("project_protected", operation_id=context.operation_id, project_id=project_id,
                 quotas=sorted(quotas), unreadable=sorted(unreadable))

    async def activity_restore_pre(
        self,
        checkpoint: Checkpoint,
        context: ActivityContext,
        resource: Resource,
        parameters: ProjectRestoreParameters,
    ) -> None:
        """Record the target project (before the children run) and apply quotas if asked.

        Raises:
            SavedInfoMissing: the protect did not complete.
            OpenStackError: a quota update was refused (naming the service).
        """
        info = await self.load_info(checkpoint, resource, ProjectSavedInfo)
        target = context.project_id or info.project_id
        await checkpoint.record_restored(resource, target)
        if not parameters.restore_quotas:
            return
        updates: dict[str, Callable[[Any], Any]] = {
            "compute": lambda c: c.compute.update_quota_set(target, **info.quotas["compute"]),
            "block_storage": lambda c: c.block_storage.update_quota_set(
                target, **info.quotas["block_storage"]),
            "network": lambda c: c.network.update_quota(target, **info.quotas["network"]),
        }
        for name, update in updates.items():
            if name in info.quotas:
                service = QUOTA_SERVICES[name][0]
                await self.call(context, "update quotas", target, update, service=service)

    async def activity_delete_parallel(
        self,
        checkpoint: Checkpoint,
        context: ActivityContext,
        resource: Resource,
        parameters: Any,
    ) -> None:
        """Clear the section."""
        await checkpoint.bank_section(resource).delete_all()


def _bind(fetch: Callable[[Any, str], Any], project_id: str) -> Callable[[Any], Any]:
    return lambda connection: fetch(connection, project_id)


def _limits(quota_set: Any) -> dict[str, int]:
    """The integer limits of a quota resource, by their API names."""
    body = quota_set.to_dict(body=True, headers=False, computed=False, ignore_none=True,
                             original_names=True)
    return {str(k): int(v) for k, v in body.items()
            if isinstance(v, int) and not isinstance(v, bool)}


__all__ = ["ProjectProtection", "ProjectRestoreParameters",
           "ProjectSavedInfo"]
