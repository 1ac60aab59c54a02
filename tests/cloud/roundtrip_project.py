"""The project the round trip protects: what it builds in the dev cloud, and what it keeps.

Three servers on one private network behind a router, each on a port with a fixed
address; two of them boot from an image, the third from a volume; each has two volumes
(the third's boot volume is one of its two). One floating IP on the first server's port.
Two images, a share and a database. Every volume holds random bytes written into its
backing file, so the restored volumes can be compared byte for byte.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from typing import Any

from tests.cloud.cloud_project import CloudProject, public_network, wait_until

CIDR = "10.20.0.0/24"
FLAVOR = "devcloud.tiny"
DATA_OFFSET = 1024 * 1024  # past the start: a restore must keep offsets, not just a prefix
DATA_SIZE = 192 * 1024


@dataclass
class ServerRecord:
    id: str
    name: str
    port_id: str
    fixed_ip: str
    volume_ids: list[str]  # every attached volume, the boot volume too
    boot_image_id: str | None = None
    boot_volume_id: str | None = None


@dataclass
class BuiltProject:
    """Ids and contents of the originals, kept to check the restore against."""

    servers: dict[str, ServerRecord] = field(default_factory=dict)
    volume_data: dict[str, bytes] = field(default_factory=dict)  # id -> bytes at DATA_OFFSET
    image_data: dict[str, bytes] = field(default_factory=dict)
    public_network_id: str = ""
    network_id: str = ""
    subnet_id: str = ""
    router_id: str = ""
    security_group_id: str = ""
    floating_ip: tuple[str, str, str] = ("", "", "")  # id, address, original port id
    share_id: str = ""
    database_id: str = ""


def build(project: CloudProject) -> BuiltProject:
    """Create the whole project; return what the checks need."""
    conn = project.connection
    built = BuiltProject()
    built.public_network_id = public_network(project.admin).id
    _network(conn, built)
    _images(conn, built)
    boot_volume = _volumes(conn, project, built)
    _servers(conn, built, boot_volume)
    built.share_id = conn.shared_file_system.create_share(
        name="files", size=1, share_proto="NFS").id
    built.database_id = conn.database.post("/instances", json={"instance": {
        "name": "orders", "flavorRef": "1", "volume": {"size": 1},
        "datastore": {"type": "mysql", "version": "5.7"}}}).json()["instance"]["id"]
    wait_until(lambda: conn.shared_file_system.get_share(built.share_id).status == "available",
               "the share")
    wait_until(lambda: conn.database.get(f"/instances/{built.database_id}")
               .json()["instance"]["status"] == "ACTIVE", "the database")
    return built


def _network(conn: Any, built: BuiltProject) -> None:
    net = conn.network
    network = net.create_network(name="app")
    subnet = net.create_subnet(network_id=network.id, ip_version=4, cidr=CIDR, name="app-v4",
                               gateway_ip="10.20.0.1")
    router = net.create_router(name="edge",
                               external_gateway_info={"network_id": built.public_network_id})
    net.add_interface_to_router(router, subnet_id=subnet.id)
    group = net.create_security_group(name="web", description="http in")
    net.create_security_group_rule(security_group_id=group.id, direction="ingress",
                                   ether_type="IPv4", protocol="tcp", port_range_min=80,
                                   port_range_max=80, remote_ip_prefix="0.0.0.0/0")
    built.network_id, built.subnet_id, built.router_id = network.id, subnet.id, router.id
    built.security_group_id = group.id


def _images(conn: Any, built: BuiltProject) -> None:
    for name, size in (("boot", 1024 * 1024 + 3), ("tools", 300 * 1024)):
        data = os.urandom(size)
        image = conn.image.create_image(name=name, data=data, disk_format="raw",
                                        container_format="bare", os_distro="cirros",
                                        wait=True)
        assert conn.image.get_image(image.id).checksum == hashlib.md5(data).hexdigest()
        built.image_data[image.id] = data


def _volumes(conn: Any, project: CloudProject, built: BuiltProject) -> str:
    """Six volumes with random bytes; the id of the one made bootable."""
    storage = conn.block_storage
    volumes = [storage.create_volume(size=1, name=name)
               for name in ("web-1", "web-2", "api-1", "api-2", "db-boot", "db-data")]
    for volume in volumes:
        storage.wait_for_status(volume, "available", failures=["error"], wait=240)
        data = os.urandom(DATA_SIZE)
        with project.devcloud.volume_file(volume.id).open("r+b") as device:
            device.seek(DATA_OFFSET)
            device.write(data)
        built.volume_data[volume.id] = data
    storage.set_volume_bootable_status(volumes[4], True)
    return str(volumes[4].id)


def _servers(conn: Any, built: BuiltProject, boot_volume: str) -> None:
    net = conn.network
    flavor = conn.compute.find_flavor(FLAVOR, ignore_missing=False)
    boot_image = next(iter(built.image_data))
    volumes = list(built.volume_data)
    plans = [("web", volumes[0:2], boot_image, None), ("api", volumes[2:4], boot_image, None),
             ("db", volumes[4:6], None, boot_volume)]
    created = []
    for number, (name, attached, image_id, volume_id) in enumerate(plans, start=11):
        address = f"10.20.0.{number}"
        port = net.create_port(network_id=built.network_id, name=f"{name}-port",
                               fixed_ips=[{"subnet_id": built.subnet_id,
                                           "ip_address": address}],
                               security_group_ids=[built.security_group_id])
        arguments: dict[str, Any] = {"name": name, "flavor_id": flavor.id,
                                     "networks": [{"port": port.id}]}
        if image_id:
            arguments["image_id"] = image_id
        else:
            arguments["block_device_mapping"] = [{
                "boot_index": 0, "uuid": volume_id, "source_type": "volume",
                "destination_type": "volume", "delete_on_termination": False}]
        server = conn.compute.create_server(**arguments)
        created.append(server)
        built.servers[server.id] = ServerRecord(
            id=server.id, name=name, port_id=port.id, fixed_ip=address, volume_ids=attached,
            boot_image_id=image_id, boot_volume_id=volume_id)
    for server in created:
        conn.compute.wait_for_server(server, wait=300)
    for record in built.servers.values():
        for volume_id in record.volume_ids:
            if volume_id != record.boot_volume_id:
                conn.compute.create_volume_attachment(record.id, volume_id=volume_id)
    for volume_id in built.volume_data:
        conn.block_storage.wait_for_status(conn.block_storage.get_volume(volume_id), "in-use",
                                           failures=["error", "error_attaching"], wait=240)
    web = next(iter(built.servers.values()))
    floating = net.create_ip(floating_network_id=built.public_network_id, port_id=web.port_id)
    built.floating_ip = (floating.id, floating.floating_ip_address, web.port_id)


def delete_originals(project: CloudProject, built: BuiltProject) -> None:
    """Lose the project's resources as a disaster would; the floating IP stays allocated.

    The share stays too: Manila refuses to delete a share that has snapshots, and the
    checkpoint's snapshot is one.
    """
    conn = project.connection
    servers = [conn.compute.get_server(server_id) for server_id in built.servers]
    for server in servers:
        conn.compute.delete_server(server)
    for server in servers:
        conn.compute.wait_for_delete(server, wait=240)
    storage = conn.block_storage
    volumes = [storage.get_volume(volume_id) for volume_id in built.volume_data]
    for volume in volumes:
        storage.wait_for_status(volume, "available", failures=["error"], wait=240)
        storage.delete_volume(volume)
    net = conn.network
    for record in built.servers.values():
        net.delete_port(record.port_id)
    net.remove_interface_from_router(built.router_id, subnet_id=built.subnet_id)
    net.delete_router(built.router_id)
    net.delete_network(built.network_id)
    net.delete_security_group(built.security_group_id)
    for image_id in built.image_data:
        conn.image.delete_image(image_id)
    conn.database.delete(f"/instances/{built.database_id}")
    for volume in volumes:
        storage.wait_for_delete(volume, wait=240)
