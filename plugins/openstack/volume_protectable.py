"""``OS::Cinder::Volume``: the volumes of a project, and those attached to a server."""

from __future__ import annotations

from typing import Any

from plugins.context import RequestContext
from plugins.openstack.cloud import Connection
from plugins.openstack.protectable_base import OpenStackProtectable
from plugins.openstack.resource_types import PROJECT, SERVER, VOLUME
from plugins.resource import Resource

SKIPPED_VOLUME_STATES = frozenset(
    {
        "error", "error_deleting", "deleting", "creating", "error_restoring",
        "error_extending", "error_managing", "restoring-backup", "maintenance",
    }
)


class VolumeProtectable(OpenStackProtectable):
    """Volumes; a server's dependents are its attached volumes (the boot volume too)."""

    resource_type = VOLUME
    parent_resource_types = frozenset({PROJECT, SERVER})
    service = "cinder"
    skipped_states = SKIPPED_VOLUME_STATES

    def fetch_all(self, connection: Connection) -> list[Any]:
        return list(connection.block_storage.volumes(details=True))

    def fetch_one(self, connection: Connection, resource_id: str) -> Any:
        return connection.block_storage.get_volume(resource_id)

    def to_resource(self, item: Any) -> Resource:
        return Resource(
            type=VOLUME,
            id=item.id,
            name=item.name or "",
            extra={"availability_zone": item.availability_zone, "size": item.size},
        )

    async def get_dependent_resources(
        self, context: RequestContext, parent: Resource
    ) -> list[Resource]:
        """A server's attached volumes, or a project's volumes."""
        if parent.type == PROJECT:
            return await self.dependents_of_project(parent.id)
        items = await self.call(context.project_id, "list", parent.id, self.fetch_all)
        return [
            self.to_resource(item)
            for item in items
            if self.usable(item) and _attached_to(item, parent.id)
        ]


def _attached_to(volume: Any, server_id: str) -> bool:
    return any(a.get("server_id") == server_id for a in volume.attachments or [])
