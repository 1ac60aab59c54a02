"""``OS::Trove::Instance``: the database instances of a project."""

from __future__ import annotations

from typing import Any

from plugins.context import RequestContext
from plugins.openstack.cloud import Connection
from plugins.openstack.protectable_base import OpenStackProtectable
from plugins.openstack.resource_types import DATABASE, PROJECT
from plugins.resource import Resource

SKIPPED_DATABASE_STATES = frozenset(
    {"build", "reboot", "resize", "error", "shutdown", "backup", "restart_required", "deleted"}
)


class DatabaseProtectable(OpenStackProtectable):
    """Trove instances; a project's dependents are all its usable instances."""

    resource_type = DATABASE
    parent_resource_types = frozenset({PROJECT})
    service = "trove"
    skipped_states = SKIPPED_DATABASE_STATES

    def fetch_all(self, connection: Connection) -> list[Any]:
        return list(connection.database.instances())

    def fetch_one(self, connection: Connection, resource_id: str) -> Any:
        return connection.database.get_instance(resource_id)

    def to_resource(self, item: Any) -> Resource:
        datastore = item.datastore or {}
        return Resource(
            type=DATABASE, id=item.id, name=item.name or "",
            extra={"datastore": datastore.get("type"), "version": datastore.get("version")},
        )

    async def get_dependent_resources(
        self, context: RequestContext, parent: Resource
    ) -> list[Resource]:
        """The database instances of the project ``parent``."""
        return await self.dependents_of_project(parent.id)
