"""``OS::Neutron::Network``: one pseudo-resource per project, its whole network topology.

As in Karbor, the id is the project id and the name "Network Topology": networks,
subnets, ports, routers and security groups are protected and restored together because
they only make sense as a whole (a port needs its subnet, a router its networks).
Unlike Karbor, a server also depends on its project's topology: the graph then orders
the topology's restore before the server's, which attaches to the restored ports.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog

from plugins.context import RequestContext
from plugins.errors import ResourceNotFound
from plugins.openstack.cloud import Connection
from plugins.openstack.errors import CloudServiceMissing
from plugins.openstack.protectable_base import OpenStackProtectable
from plugins.openstack.resource_types import NETWORK, PROJECT, SERVER
from plugins.resource import Resource

TOPOLOGY_NAME = "Network Topology"
log = structlog.get_logger(__name__)


class NetworkProtectable(OpenStackProtectable):
    """The network topology of a project, present if the project has a network of its own."""

    resource_type = NETWORK
    parent_resource_types = frozenset({PROJECT, SERVER})
    service = "neutron"

    def fetch_all(self, connection: Connection) -> list[Any]:
        project_id = connection.current_project_id
        return list(connection.network.networks(project_id=project_id))

    def fetch_one(self, connection: Connection, resource_id: str) -> Any:
        return list(connection.network.networks(project_id=resource_id))

    def to_resource(self, item: Any) -> Resource:
        return Resource(type=NETWORK, id=item, name=TOPOLOGY_NAME)

    async def list_for(self, project_id: str | None) -> list[Resource]:
        """The topology of ``project_id`` (None: the credentials' project), if any network."""

        def owned(connection: Connection) -> tuple[str, bool]:
            owner = project_id or connection.current_project_id
            networks = connection.network.networks(project_id=owner)
            return owner, any(True for _ in networks)

        owner, has_network = await self.call(project_id, "list_networks", project_id, owned)
        return [self.to_resource(owner)] if has_network else []

    async def show_resource(
        self,
        context: RequestContext,
        resource_id: str,
        parameters: Mapping[str, Any] | None = None,
    ) -> Resource:
        """The topology of project ``resource_id``.

        Raises:
            ResourceNotFound: if the project has no network.
        """
        found = await self.list_for(resource_id)
        if not found:
            raise ResourceNotFound(NETWORK, resource_id, "the project has no network")
        return found[0]

    async def get_dependent_resources(
        self, context: RequestContext, parent: Resource
    ) -> list[Resource]:
        """The topology of the project ``parent``, or of the server ``parent``'s project."""
        if parent.type == SERVER:
            server = await self.cloud.call(
                context.project_id, "nova", "get", parent.id,
                lambda connection: connection.compute.get_server(parent.id))
            return await self.list_for(server.project_id or context.project_id)
        try:
            return await self.list_for(parent.id)
        except CloudServiceMissing as error:
            log.warning("openstack_service_missing", resource_type=NETWORK,
                        project_id=parent.id, error=str(error))
            return []
