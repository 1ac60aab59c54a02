"""Recreating a saved topology: networks, security groups, subnets, routers, ports, and
the floating IPs pointing at those ports.

In that order, because each needs ids from the ones before (a subnet its network, a port
its subnet and groups, a router interface its subnet, a floating IP its port behind a
router). A floating IP that still exists in the project (deleting a port only frees it)
is pointed at the restored port; a missing one is allocated again, with its old address
when Neutron allows it (by default only an admin may choose the address), else with any.
Every new id is recorded with ``checkpoint.record_restored`` under the part's type
(``OS::Neutron::Port#<old id>``) so a server restored later attaches to its own restored
ports. On failure what was created is deleted, newest first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog

from plugins.checkpoint.checkpoint import Checkpoint
from plugins.context import ActivityContext
from plugins.openstack.errors import (
    CloudAuthError,
    CloudCallFailed,
    CloudNotFound,
    OpenStackError,
)
from plugins.openstack.network_topology import (
    FloatingIpInfo,
    NetworkSavedInfo,
    PortInfo,
    SecurityGroupInfo,
)
from plugins.openstack.resource_types import (
    NEUTRON_FLOATING_IP,
    NEUTRON_NET,
    NEUTRON_PORT,
    NEUTRON_ROUTER,
    NEUTRON_SECURITY_GROUP,
    NEUTRON_SUBNET,
)
from plugins.resource import Resource

log = structlog.get_logger(__name__)
Call = Callable[..., Any]


class TopologyRestorer:
    """Recreates one saved topology through ``call`` (the plugin's SDK call)."""

    def __init__(self, call: Call, context: ActivityContext, checkpoint: Checkpoint,
                 info: NetworkSavedInfo, public_network_id: str | None) -> None:
        self._call = call
        self._context = context
        self._checkpoint = checkpoint
        self._info = info
        self._public_network_id = public_network_id
        self.new_ids: dict[str, dict[str, str]] = {}
        self.created: list[tuple[str, str]] = []  # (kind, new id), creation order

    async def restore(self) -> None:
        """Recreate everything; on failure delete what was made, then raise.

        Raises:
            OpenStackError: the first Neutron call that failed, naming the part.
        """
        try:
            await self._networks()
            await self._security_groups()
            await self._subnets()
            await self._routers()
            await self._ports()
            for floating_ip in self._info.floating_ips:
                await self._floating_ip(floating_ip)
        except BaseException:
            await self.remove_created()
            raise
        for part_type, ids in self.new_ids.items():
            for old, new in ids.items():
                await self._checkpoint.record_restored(Resource(type=part_type, id=old), new)

    def _new(self, part_type: str, old: str | None) -> str | None:
        return self.new_ids.get(part_type, {}).get(old or "")

    async def _create(self, part_type: str, kind: str, old: str, function: Call) -> Any:
        item = await self._call(self._context, f"create {kind}", old, function)
        self.created.append((kind, item.id))
        self.new_ids.setdefault(part_type, {})[old] = item.id
        return item

    async def _networks(self) -> None:
        for network in self._info.networks:
            await self._create(NEUTRON_NET, "network", network.id, lambda c, n=network:
                               c.network.create_network(
                                   name=n.name, is_admin_state_up=n.admin_state_up,
                                   **_described(n.description)))

    async def _security_groups(self) -> None:
        existing = await self._call(self._context, "list security groups", None,
                                    lambda c: list(c.network.security_groups(
                                        project_id=c.current_project_id)))
        default = next((g for g in existing if g.name == "default"), None)
        for group in self._info.security_groups:
            if group.name == "default" and default is not None:
                # every project has one already; its rules are Neutron's defaults
                self.new_ids.setdefault(NEUTRON_SECURITY_GROUP, {})[group.id] = default.id
                continue
            await self._create(NEUTRON_SECURITY_GROUP, "security group", group.id,
                               lambda c, g=group: c.network.create_security_group(
                                   name=g.name, **_described(g.description)))
        for group in self._info.security_groups:
            if group.name != "default":
                await self._rules(group)

    async def _rules(self, group: SecurityGroupInfo) -> None:
        group_id = self._new(NEUTRON_SECURITY_GROUP, group.id)
        for rule in group.rules:
            remote = self._new(NEUTRON_SECURITY_GROUP, rule.remote_group_id)
            try:
                await self._call(self._context, "create security group rule", group.id,
                                 lambda c, r=rule, remote=remote:
                                 c.network.create_security_group_rule(
                                     security_group_id=group_id, direction=r.direction,
                                     ether_type=r.ethertype, protocol=r.protocol,
                                     port_range_min=r.port_range_min,
                                     port_range_max=r.port_range_max,
                                     remote_ip_prefix=r.remote_ip_prefix,
                                     remote_group_id=remote, **_described(r.description)))
            except CloudCallFailed as error:
                if error.status_code != 409:  # Neutron's own egress rules already exist
                    raise

    async def _subnets(self) -> None:
        for subnet in self._info.subnets:
            network_id = self._new(NEUTRON_NET, subnet.network_id)
            await self._create(NEUTRON_SUBNET, "subnet", subnet.id,
                               lambda c, s=subnet, n=network_id: c.network.create_subnet(
                                   name=s.name, network_id=n, cidr=s.cidr,
                                   ip_version=s.ip_version, gateway_ip=s.gateway_ip,
                                   is_dhcp_enabled=s.enable_dhcp,
                                   dns_nameservers=s.dns_nameservers,
                                   allocation_pools=s.allocation_pools or None,
                                   host_routes=s.host_routes,
                                   ipv6_ra_mode=s.ipv6_ra_mode,
                                   ipv6_address_mode=s.ipv6_address_mode))

    async def _routers(self) -> None:
        for router in self._info.routers:
            gateway = await self._gateway(router.external_network_id)
            info = {"network_id": gateway} if gateway else None
            created = await self._create(NEUTRON_ROUTER, "router", router.id,
                                         lambda c, r=router, g=info: c.network.create_router(
                                             name=r.name, is_admin_state_up=r.admin_state_up,
                                             external_gateway_info=g))
            for subnet_id in router.interface_subnet_ids:
                new_subnet = self._new(NEUTRON_SUBNET, subnet_id)
                if new_subnet is None:
                    continue  # an interface on a subnet the project does not own
                await self._call(self._context, "add router interface", router.id,
                                 lambda c, s=new_subnet, r=created.id:
                                 c.network.add_interface_to_router(r, subnet_id=s))

    async def _gateway(self, saved: str | None) -> str | None:
        """The external network for a router: the parameter, the saved one if it still
        exists, else the first external network."""
        if saved is None and self._public_network_id is None:
            return None
        if self._public_network_id:
            return self._public_network_id
        try:
            await self._call(self._context, "get network", saved,
                             lambda c: c.network.get_network(saved))
            return saved
        except CloudNotFound:
            externals = await self._call(self._context, "list external networks", None,
                                         lambda c: list(c.network.networks(
                                             is_router_external=True)))
            return externals[0].id if externals else None

    async def _ports(self) -> None:
        for port in self._info.ports:
            await self._create(NEUTRON_PORT, "port", port.id, self._port_call(port))

    def _port_call(self, port: PortInfo) -> Call:
        network_id = self._new(NEUTRON_NET, port.network_id)
        fixed_ips = [{"subnet_id": self._new(NEUTRON_SUBNET, ip.get("subnet_id")),
                      **({"ip_address": ip["ip_address"]} if ip.get("ip_address") else {})}
                     for ip in port.fixed_ips
                     if self._new(NEUTRON_SUBNET, ip.get("subnet_id"))]
        groups = [g for g in (self._new(NEUTRON_SECURITY_GROUP, s)
                              for s in port.security_group_ids) if g]
        return lambda c: c.network.create_port(
            name=port.name, network_id=network_id, fixed_ips=fixed_ips,
            security_group_ids=groups, is_admin_state_up=port.admin_state_up)

    async def _floating_ip(self, saved: FloatingIpInfo) -> None:
        new_port = self._new(NEUTRON_PORT, saved.port_id)
        if saved.port_id and new_port is None:
            return  # its port was not part of the topology (another project's, say)
        address = saved.floating_ip_address
        found = await self._call(self._context, "find floating ip", saved.id,
                                 lambda c: list(c.network.ips(
                                     floating_ip_address=address,
                                     project_id=c.current_project_id)))
        if found:
            kept = found[0]
            if kept.port_id and kept.port_id != new_port:
                log.warning("floating_ip_in_use", address=address, port_id=kept.port_id,
                            operation_id=self._context.operation_id)
                return
            if new_port and kept.port_id != new_port:
                await self._call(self._context, "associate floating ip", kept.id,
                                 lambda c: c.network.update_ip(
                                     kept.id, port_id=new_port,
                                     fixed_ip_address=saved.fixed_ip_address))
            self.new_ids.setdefault(NEUTRON_FLOATING_IP, {})[saved.id] = kept.id
            return
        network = await self._gateway(saved.floating_network_id)
        wanted = {k: v for k, v in {
            "floating_network_id": network, "port_id": new_port,
            "fixed_ip_address": saved.fixed_ip_address if new_port else None,
            "description": saved.description}.items() if v is not None}
        try:
            await self._create(NEUTRON_FLOATING_IP, "floating ip", saved.id,
                               lambda c: c.network.create_ip(floating_ip_address=address,
                                                             **wanted))
        except (CloudAuthError, CloudCallFailed) as error:
            # choosing the address is admin-only by default, and it may be taken (409)
            if isinstance(error, CloudCallFailed) and error.status_code != 409:
                raise
            created = await self._create(NEUTRON_FLOATING_IP, "floating ip", saved.id,
                                         lambda c: c.network.create_ip(**wanted))
            log.warning("floating_ip_address_changed", old=address,
                        new=created.floating_ip_address, reason=error.reason,
                        operation_id=self._context.operation_id)

    async def remove_created(self) -> None:
        """Delete what this restore created, newest first; failures are logged."""
        deleters: dict[str, Call] = {
            "floating ip": lambda c, i: c.network.delete_ip(i, ignore_missing=True),
            "port": lambda c, i: c.network.delete_port(i, ignore_missing=True),
            "router": _delete_router,
            "subnet": lambda c, i: c.network.delete_subnet(i, ignore_missing=True),
            "security group": lambda c, i: c.network.delete_security_group(
                i, ignore_missing=True),
            "network": lambda c, i: c.network.delete_network(i, ignore_missing=True),
        }
        for kind, new_id in reversed(self.created):
            try:
                await self._call(self._context, f"delete {kind}", new_id,
                                 lambda c, k=kind, i=new_id: deleters[k](c, i))
            except OpenStackError as error:
                log.warning("openstack_cleanup_failed", what=kind, resource_id=new_id,
                            error=str(error))


def _described(description: str | None) -> dict[str, str]:
    """The ``description`` argument, left out when there is none: Neutron refuses null."""
    return {} if description is None else {"description": description}


def _delete_router(connection: Any, router_id: str) -> None:
    """Detach the router's interfaces, then delete it (Neutron refuses otherwise)."""
    for port in connection.network.ports(device_id=router_id,
                                         device_owner="network:router_interface"):
        for ip in port.fixed_ips or []:
            connection.network.remove_interface_from_router(router_id,
                                                            subnet_id=ip["subnet_id"])
    connection.network.delete_router(router_id, ignore_missing=True)


__all__ = ["TopologyRestorer"]
