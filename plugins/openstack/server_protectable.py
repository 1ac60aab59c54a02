"""``OS::Nova::Server``: the servers of a project."""

from __future__ import annotations

from typing import Any

from plugins.context import RequestContext
from plugins.openstack.cloud import Connection
from plugins.openstack.protectable_base import OpenStackProtectable
from plugins.openstack.resource_types import PROJECT, SERVER
from plugins.resource import Resource

# Karbor's list plus BUILD: a server still being built has no stable disks to protect.
SKIPPED_SERVER_STATES = frozenset(
    {"deleted", "error", "unknown", "soft_deleted", "rescued", "build", "migrating"}
)


class ServerProtectable(OpenStackProtectable):
    """Servers; a project's dependents are all its usable servers."""

    resource_type = SERVER
    parent_resource_types = frozenset({PROJECT})
    service = "nova"
    skipped_states = SKIPPED_SERVER_STATES

    def fetch_all(self, connection: Connection) -> list[Any]:
        return list(connection.compute.servers(details=True))

    def fetch_one(self, connection: Connection, resource_id: str) -> Any:
        return connection.compute.get_server(resource_id)

    def to_resource(self, item: Any) -> Resource:
        return Resource(
            type=SERVER,
            id=item.id,
            name=item.name or "",
            extra={"availability_zone": item.availability_zone},
        )

    async def get_dependent_resources(
        self, context: RequestContext, parent: Resource
    ) -> list[Resource]:
        """The servers of the project ``parent``."""
        return await self.dependents_of_project(parent.id)
