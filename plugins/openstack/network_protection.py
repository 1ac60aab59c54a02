"""``OS::Neutron::Network``: a project's whole network topology, saved and recreated.

Protect reads the project's own networks, subnets, ports, routers (gateway and
interfaces) and security groups with their rules (``network_topology``) and saves them.
Restore recreates them in dependency order (``network_restore``), records every new id,
and finally records the topology itself as restored into the target project. Delete
clears the section: nothing outside the bank was made by the protect.
"""

from __future__ import annotations

from typing import Any

import msgspec
import structlog

from plugins.checkpoint.checkpoint import Checkpoint
from plugins.context import ActivityContext
from plugins.openstack.network_restore import TopologyRestorer
from plugins.openstack.network_topology import NetworkSavedInfo, read_topology
from plugins.openstack.protection_base import OpenStackProtection
from plugins.openstack.resource_types import NETWORK
from plugins.resource import Resource

log = structlog.get_logger(__name__)


class NetworkRestoreParameters(msgspec.Struct, frozen=True, forbid_unknown_fields=True,
                               kw_only=True):
    """Restore parameters: the external network for restored routers' gateways.

    Unset: the saved gateway network if it still exists, else the first external network.
    (Karbor read ``public_network_id`` too but its schema refused it.)
    """

    public_network_id: str | None = None


class NetworkProtection(OpenStackProtection):
    """Saves and recreates a project's network topology."""

    supported_resource_types = frozenset({NETWORK})
    RestoreParameters = NetworkRestoreParameters
    SavedInfo = NetworkSavedInfo
    service = "neutron"

    async def activity_protect_parallel(
        self,
        checkpoint: Checkpoint,
        context: ActivityContext,
        resource: Resource,
        parameters: Any,
    ) -> None:
        """Read and save the topology of the project ``resource.id``."""
        info = await self.cloud.call(resource.id, self.service, "read topology", resource.id,
                                     lambda c: read_topology(c, resource.id))
        await self.save_info(checkpoint.bank_section(resource), info)
        log.info("network_topology_protected", operation_id=context.operation_id,
                 project_id=resource.id, networks=len(info.networks), subnets=len(info.subnets),
                 ports=len(info.ports), routers=len(info.routers),
                 security_groups=len(info.security_groups))

    async def activity_restore_parallel(
        self,
        checkpoint: Checkpoint,
        context: ActivityContext,
        resource: Resource,
        parameters: NetworkRestoreParameters,
    ) -> None:
        """Recreate the topology in the operation's project; record the new ids.

        Raises:
            SavedInfoMissing: the protect did not complete.
            OpenStackError: a Neutron call failed (what was created is deleted again).
        """
        info = await self.load_info(checkpoint, resource, NetworkSavedInfo)
        restorer = TopologyRestorer(self.call, context, checkpoint, info,
                                    parameters.public_network_id)
        await restorer.restore()
        await checkpoint.record_restored(resource, context.project_id or info.project_id)
        log.info("network_topology_restored", operation_id=context.operation_id,
                 project_id=resource.id, created=len(restorer.created))

    async def activity_delete_parallel(
        self,
        checkpoint: Checkpoint,
        context: ActivityContext,
        resource: Resource,
        parameters: Any,
    ) -> None:
        """Clear the section."""
        await checkpoint.bank_section(resource).delete_all()


__all__ = ["NetworkProtection", "NetworkRestoreParameters"]
