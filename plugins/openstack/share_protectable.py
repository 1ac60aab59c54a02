"""``OS::Manila::Share``: the shares of a project."""

from __future__ import annotations

from typing import Any

from plugins.context import RequestContext
from plugins.openstack.cloud import Connection
from plugins.openstack.protectable_base import OpenStackProtectable
from plugins.openstack.resource_types import PROJECT, SHARE
from plugins.resource import Resource

SKIPPED_SHARE_STATES = frozenset(
    {
        "error", "error_deleting", "deleting", "creating", "manage_error", "unmanage_error",
        "extending_error", "shrinking_error", "reverting_error", "migrating",
    }
)


class ShareProtectable(OpenStackProtectable):
    """Shares; a project's dependents are the usable shares it owns."""

    resource_type = SHARE
    parent_resource_types = frozenset({PROJECT})
    service = "manila"
    skipped_states = SKIPPED_SHARE_STATES

    def fetch_all(self, connection: Connection) -> list[Any]:
        return list(connection.shared_file_system.shares(details=True))

    def fetch_one(self, connection: Connection, resource_id: str) -> Any:
        return connection.shared_file_system.get_share(resource_id)

    def to_resource(self, item: Any) -> Resource:
        return Resource(
            type=SHARE, id=item.id, name=item.name or "",
            extra={"share_proto": item.share_protocol, "size": item.size},
        )

    async def get_dependent_resources(
        self, context: RequestContext, parent: Resource
    ) -> list[Resource]:
        """The shares of the project ``parent``."""
        return await self.dependents_of_project(parent.id)
