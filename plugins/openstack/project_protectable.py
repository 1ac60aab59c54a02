"""``OS::Keystone::Project``: the project the operation acts for, the root of its graph."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from plugins.context import RequestContext
from plugins.errors import ResourceNotFound
from plugins.openstack.cloud import Connection
from plugins.openstack.errors import CloudAuthError, CloudNotFound
from plugins.openstack.protectable_base import OpenStackProtectable
from plugins.openstack.resource_types import PROJECT
from plugins.resource import Resource


class ProjectProtectable(OpenStackProtectable):
    """One resource: the context's project (else the one the credentials are scoped to).

    Its name comes from Keystone when the user may read the project, else it is the id.
    """

    resource_type = PROJECT
    service = "keystone"

    def fetch_all(self, connection: Connection) -> list[Any]:
        return [connection.identity.get_project(connection.current_project_id)]

    def fetch_one(self, connection: Connection, resource_id: str) -> Any:
        return connection.identity.get_project(resource_id)

    def to_resource(self, item: Any) -> Resource:
        return Resource(type=PROJECT, id=item.id, name=item.name or item.id)

    def state_of(self, item: Any) -> str:
        return "enabled" if getattr(item, "is_enabled", True) is not False else "disabled"

    async def list_resources(
        self, context: RequestContext, parameters: Mapping[str, Any] | None = None
    ) -> list[Resource]:
        """The context's project, as a one-element list."""
        project_id = context.project_id
        if project_id is None:
            project_id = await self.call(
                None, "current_project", None, lambda connection: str(connection.current_project_id)
            )
        return [await self.show_resource(context, project_id)]

    async def show_resource(
        self,
        context: RequestContext,
        resource_id: str,
        parameters: Mapping[str, Any] | None = None,
    ) -> Resource:
        """The project ``resource_id``, named from Keystone when readable.

        Raises:
            ResourceNotFound: if Keystone says it does not exist.
        """
        try:
            item = await self.call(
                resource_id, "get_project", resource_id,
                lambda connection: self.fetch_one(connection, resource_id),
            )
        except CloudNotFound as error:
            raise ResourceNotFound(PROJECT, resource_id, error.reason) from error
        except CloudAuthError:
            # a member may not read its own project record (policy): its id names it
            return Resource(type=PROJECT, id=resource_id, name=resource_id)
        return self.to_resource(item)
