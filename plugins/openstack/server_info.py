"""What the server plugin saves of a server, and how it reads it from Nova and Neutron."""

from __future__ import annotations

from typing import Any

import msgspec

BOOT_DEVICES = ("/dev/vda", "/dev/sda", "/dev/xvda")


class ServerPort(msgspec.Struct, frozen=True, kw_only=True):
    """One interface: the port and where it sits."""

    port_id: str
    network_id: str
    fixed_ips: list[str] = []
    floating_ips: list[str] = []


class AttachedVolume(msgspec.Struct, frozen=True, kw_only=True):
    volume_id: str
    device: str | None = None
    bootable: bool = False


class ServerSavedInfo(msgspec.Struct, frozen=True, kw_only=True):
    """Enough to rebuild the server around its restored disks and ports."""

    server_id: str
    name: str | None
    flavor_id: str | None
    flavor_name: str | None
    key_name: str | None = None
    availability_zone: str | None = None
    security_groups: list[str] = []
    metadata: dict[str, str] = {}
    ports: list[ServerPort] = []
    volumes: list[AttachedVolume] = []
    boot_image_id: str | None = None
    boot_volume_id: str | None = None


def read_server(connection: Any, server_id: str) -> ServerSavedInfo:
    """Read a server's description (blocking: runs in the SDK pool)."""
    server = connection.compute.get_server(server_id)
    flavor = server.flavor or {}
    attachments = list(connection.compute.volume_attachments(server_id))
    image_id = getattr(server.image, "id", None) if server.image else None
    volumes = [AttachedVolume(volume_id=a.volume_id, device=a.device,
                              bootable=not image_id and a.device in BOOT_DEVICES)
               for a in attachments]
    boot_volume = next((v.volume_id for v in volumes if v.bootable), None)
    ports = []
    for port in connection.network.ports(device_id=server_id):
        floating = [f.floating_ip_address
                    for f in connection.network.ips(port_id=port.id)]
        ports.append(ServerPort(port_id=port.id, network_id=port.network_id,
                                fixed_ips=[ip["ip_address"] for ip in port.fixed_ips or []],
                                floating_ips=floating))
    return ServerSavedInfo(
        server_id=server_id, name=server.name,
        flavor_id=getattr(flavor, "id", None) or (flavor.get("id") if isinstance(flavor, dict)
                                                  else None),
        flavor_name=getattr(flavor, "original_name", None) or getattr(flavor, "name", None),
        key_name=server.key_name, availability_zone=server.availability_zone,
        security_groups=sorted({g["name"] for g in server.security_groups or []}),
        metadata={str(k): str(v) for k, v in (server.metadata or {}).items()},
        ports=ports, volumes=volumes, boot_image_id=image_id, boot_volume_id=boot_volume)


__all__ = ["AttachedVolume", "ServerPort", "ServerSavedInfo", "read_server"]
