"""A throwaway project of the dev cloud per test, and its purge.

Each plugin test works in a project of its own (the demo user gets member and reader
there), so a protect of "the whole project" sees only what the test made, and a failed
test cannot leave anything in another test's way. The purge deletes every resource
left in the project, dependents first, then the project itself.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import openstack

from tests.devcloud.config import DEMO_PASSWORD
from tests.devcloud.fixture import DevCloud

PUBLIC_NETWORK = "devcloud-public"
PUBLIC_CIDR = "172.24.4.0/24"


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(1)


def public_network(admin: Any) -> Any:
    """The external network of the cloud (flat, no agents), made once by the admin."""
    found = admin.network.find_network(PUBLIC_NETWORK, ignore_missing=True)
    if found is not None:
        return found
    network = admin.network.create_network(
        name=PUBLIC_NETWORK, is_router_external=True, provider_network_type="flat",
        provider_physical_network="public")
    admin.network.create_subnet(network_id=network.id, ip_version=4, cidr=PUBLIC_CIDR,
                                is_dhcp_enabled=False, name=f"{PUBLIC_NETWORK}-v4")
    return network


class CloudProject:
    """A project with the demo user in it; ``connection`` acts there as demo."""

    def __init__(self, devcloud: DevCloud, prefix: str) -> None:
        self.devcloud = devcloud
        self.admin = devcloud.connect("admin")
        project = self.admin.identity.create_project(
            name=f"{prefix}-{uuid.uuid4().hex[:8]}", domain_id="default")
        self.id: str = project.id
        self.name: str = project.name
        demo = self.admin.identity.find_user("demo", ignore_missing=False)
        for role in ("member", "reader"):
            found = self.admin.identity.find_role(role, ignore_missing=False)
            self.admin.identity.assign_project_role_to_user(project, demo, found)
        # deaf to OS_* variables, as devcloud.connect: a test may set them for the plugins
        self.connection = openstack.connect(region_name="RegionOne", load_envvars=False,
                                            **self.auth())

    def auth(self) -> dict[str, str]:
        """Password auth of the demo user, scoped to this project."""
        return {
            "auth_url": self.devcloud.config.auth_url, "username": "demo",
            "password": DEMO_PASSWORD, "project_id": self.id,
            "user_domain_name": "Default", "project_domain_name": "Default",
        }

    def purge(self) -> None:
        """Delete everything in the project, then the project."""
        conn = self.connection
        running = self.devcloud.services  # a cloud of a subset has no other endpoints
        if "nova" in running:
            _servers(conn)
        if "cinder" in running:
            _volumes(conn)
        for image in conn.image.images(owner=self.id):
            conn.image.delete_image(image, ignore_missing=True)
        if "neutron" in running:
            _network(conn, self.id)
            for group in self.admin.network.security_groups(project_id=self.id):
                self.admin.network.delete_security_group(group, ignore_missing=True)  # default
        if "manila" in running:
            _shares(conn)
        if "trove" in running:
            _databases(conn)
        conn.close()
        self.admin.identity.delete_project(self.id, ignore_missing=True)
        self.admin.close()


def new_volume(project: CloudProject, name: str = "data") -> str:
    """A 1 GiB volume of the project, waited for until ``available``; its id."""
    storage = project.connection.block_storage
    volume = storage.create_volume(size=1, name=name)
    storage.wait_for_status(volume, "available", failures=["error"], wait=240)
    return str(volume.id)


def assert_only_volumes(project: CloudProject, *names: str) -> None:
    """The project holds just these volumes, no snapshot and no image: every temporary
    resource of the plugin is gone (Cinder and Glance delete asynchronously)."""
    conn = project.connection

    def settled() -> bool:
        volumes = sorted(volume.name for volume in conn.block_storage.volumes())
        return (volumes == sorted(names) and not list(conn.block_storage.snapshots())
                and not list(conn.image.images(owner=project.id)))

    wait_until(settled, f"only the volumes {names} (no temporary volume, snapshot or image)",
               timeout=120)


@contextlib.contextmanager
def cloud_project(devcloud: DevCloud, prefix: str) -> Iterator[CloudProject]:
    project = CloudProject(devcloud, prefix)
    try:
        yield project
    finally:
        project.purge()


def _servers(conn: Any) -> None:
    servers = list(conn.compute.servers())
    for server in servers:
        conn.compute.delete_server(server, ignore_missing=True)
    for server in servers:
        conn.compute.wait_for_delete(server, wait=240)


# Cinder refuses to delete a backup or volume in these; a stopped restore leaves some.
BUSY_STATES = frozenset({"creating", "restoring", "restoring-backup", "downloading",
                         "uploading", "attaching", "detaching", "backing-up"})


def _volumes(conn: Any) -> None:
    storage = conn.block_storage
    wait_until(lambda: not any(item.status in BUSY_STATES for item in
                               [*storage.backups(), *storage.volumes()]),
               "backups and volumes at rest")
    for backup in storage.backups():
        storage.delete_backup(backup, ignore_missing=True)
    for snapshot in storage.snapshots():
        storage.delete_snapshot(snapshot, ignore_missing=True)
    wait_until(lambda: not list(storage.snapshots()), "snapshots deleted")
    volumes = list(storage.volumes())
    for volume in volumes:
        storage.delete_volume(volume, ignore_missing=True)
    for volume in volumes:
        storage.wait_for_delete(volume, wait=240)
    wait_until(lambda: not list(storage.backups()), "backups deleted")


def _network(conn: Any, project_id: str) -> None:
    net = conn.network
    for floating_ip in net.ips(project_id=project_id):
        net.delete_ip(floating_ip, ignore_missing=True)
    for router in net.routers(project_id=project_id):
        for port in net.ports(device_id=router.id, device_owner="network:router_interface"):
            for fixed in port.fixed_ips or []:
                net.remove_interface_from_router(router, subnet_id=fixed["subnet_id"])
        net.delete_router(router, ignore_missing=True)
    for port in net.ports(project_id=project_id):
        if not (port.device_owner or "").startswith("network:"):
            net.delete_port(port, ignore_missing=True)
    for network in net.networks(project_id=project_id):
        net.delete_network(network, ignore_missing=True)  # its subnets go with it
    for group in net.security_groups(project_id=project_id):
        if group.name != "default":  # only an admin may delete it
            net.delete_security_group(group, ignore_missing=True)


def _shares(conn: Any) -> None:
    shares = conn.shared_file_system
    for snapshot in shares.share_snapshots():
        shares.delete_share_snapshot(snapshot, ignore_missing=True)
    for snapshot in shares.share_snapshots():
        shares.wait_for_delete(snapshot, wait=120)
    for share in list(shares.shares()):
        shares.delete_share(share, ignore_missing=True)
        shares.wait_for_delete(share, wait=120)


def _databases(conn: Any) -> None:
    database = conn.database
    for backup in database.get("/backups").json()["backups"]:
        database.delete(f"/backups/{backup['id']}")
    for instance in database.get("/instances").json()["instances"]:
        database.delete(f"/instances/{instance['id']}")
