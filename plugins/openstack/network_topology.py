"""A project's network topology as saved in a checkpoint, and how it is read from Neutron.

Only what the project owns is saved: external (provider) networks are referenced by id,
never copied. Ports created by Neutron itself (DHCP, router interfaces and gateways,
floating IPs) are left out: restoring the subnets and router interfaces recreates them.
The project's floating IPs are saved with the port they point at, so a restore can point
them (or new ones) at the restored port.
"""

from __future__ import annotations

from typing import Any

import msgspec

# Ports Neutron creates on its own; the rest (servers' ports, plain ports) are restored.
SERVICE_PORT_PREFIX = "network:"


class SubnetInfo(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str | None
    network_id: str
    cidr: str
    ip_version: int
    gateway_ip: str | None = None
    enable_dhcp: bool = True
    dns_nameservers: list[str] = []
    allocation_pools: list[dict[str, str]] = []
    host_routes: list[dict[str, str]] = []
    ipv6_ra_mode: str | None = None
    ipv6_address_mode: str | None = None


class NetworkInfo(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str | None
    admin_state_up: bool = True
    mtu: int | None = None
    description: str | None = None


class RuleInfo(msgspec.Struct, frozen=True, kw_only=True):
    direction: str
    ethertype: str
    protocol: str | None = None
    port_range_min: int | None = None
    port_range_max: int | None = None
    remote_ip_prefix: str | None = None
    remote_group_id: str | None = None
    description: str | None = None


class SecurityGroupInfo(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str
    description: str | None = None
    rules: list[RuleInfo] = []


class PortInfo(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str | None
    network_id: str
    fixed_ips: list[dict[str, str]] = []
    mac_address: str | None = None
    security_group_ids: list[str] = []
    device_owner: str | None = None
    device_id: str | None = None
    admin_state_up: bool = True


class RouterInfo(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str | None
    admin_state_up: bool = True
    external_network_id: str | None = None
    interface_subnet_ids: list[str] = []


class FloatingIpInfo(msgspec.Struct, frozen=True, kw_only=True):
    """A floating IP of the project and the port (and fixed IP) it was associated with."""

    id: str
    floating_ip_address: str
    floating_network_id: str
    port_id: str | None = None
    fixed_ip_address: str | None = None
    description: str | None = None


class NetworkSavedInfo(msgspec.Struct, frozen=True, kw_only=True):
    """The topology: restored in the order the fields are listed."""

    project_id: str
    networks: list[NetworkInfo] = []
    security_groups: list[SecurityGroupInfo] = []
    subnets: list[SubnetInfo] = []
    routers: list[RouterInfo] = []
    ports: list[PortInfo] = []
    floating_ips: list[FloatingIpInfo] = []


def read_topology(connection: Any, project_id: str) -> NetworkSavedInfo:
    """Read the project's topology from Neutron (blocking: runs in the SDK pool)."""
    net = connection.network
    networks = [n for n in net.networks(project_id=project_id)
                if not n.is_router_external]
    owned = {n.id for n in networks}
    subnets = [s for s in net.subnets(project_id=project_id) if s.network_id in owned]
    all_ports = list(net.ports(project_id=project_id))
    routers = list(net.routers(project_id=project_id))
    interfaces: dict[str, list[str]] = {}
    for port in all_ports:
        if port.device_owner == "network:router_interface":
            subnets_of_port = [ip["subnet_id"] for ip in port.fixed_ips or []]
            interfaces.setdefault(port.device_id, []).extend(subnets_of_port)
    return NetworkSavedInfo(
        project_id=project_id,
        networks=[NetworkInfo(id=n.id, name=n.name, admin_state_up=bool(n.is_admin_state_up),
                              mtu=n.mtu, description=n.description) for n in networks],
        security_groups=[_group(g) for g in net.security_groups(project_id=project_id)],
        subnets=[SubnetInfo(
            id=s.id, name=s.name, network_id=s.network_id, cidr=s.cidr,
            ip_version=int(s.ip_version), gateway_ip=s.gateway_ip,
            enable_dhcp=bool(s.is_dhcp_enabled), dns_nameservers=list(s.dns_nameservers or []),
            allocation_pools=list(s.allocation_pools or []),
            host_routes=list(s.host_routes or []), ipv6_ra_mode=s.ipv6_ra_mode,
            ipv6_address_mode=s.ipv6_address_mode) for s in subnets],
        routers=[RouterInfo(
            id=r.id, name=r.name, admin_state_up=bool(r.is_admin_state_up),
            external_network_id=(r.external_gateway_info or {}).get("network_id"),
            interface_subnet_ids=interfaces.get(r.id, [])) for r in routers],
        ports=[PortInfo(
            id=p.id, name=p.name, network_id=p.network_id,
            fixed_ips=[{k: v for k, v in ip.items() if k in ("subnet_id", "ip_address")}
                       for ip in p.fixed_ips or []],
            mac_address=p.mac_address, security_group_ids=list(p.security_group_ids or []),
            device_owner=p.device_owner, device_id=p.device_id,
            admin_state_up=bool(p.is_admin_state_up))
            for p in all_ports
            if p.network_id in owned
            and not (p.device_owner or "").startswith(SERVICE_PORT_PREFIX)],
        floating_ips=[FloatingIpInfo(
            id=f.id, floating_ip_address=f.floating_ip_address,
            floating_network_id=f.floating_network_id, port_id=f.port_id,
            fixed_ip_address=f.fixed_ip_address, description=f.description or None)
            for f in net.ips(project_id=project_id)],
    )


def _group(group: Any) -> SecurityGroupInfo:
    rules = [RuleInfo(
        direction=r["direction"], ethertype=r.get("ethertype", "IPv4"),
        protocol=r.get("protocol"), port_range_min=r.get("port_range_min"),
        port_range_max=r.get("port_range_max"), remote_ip_prefix=r.get("remote_ip_prefix"),
        remote_group_id=r.get("remote_group_id"), description=r.get("description"))
        for r in group.security_group_rules or []]
    return SecurityGroupInfo(id=group.id, name=group.name, description=group.description,
                             rules=rules)


__all__ = [
    "FloatingIpInfo", "NetworkInfo", "NetworkSavedInfo", "PortInfo", "RouterInfo", "RuleInfo",
    "SecurityGroupInfo", "SubnetInfo", "read_topology",
]
