"""The dev cloud does what the OpenStack plugins will ask of it, as the demo user over HTTP."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.devcloud.fixture import DevCloud

pytestmark = pytest.mark.cloud


CATALOG_TYPES = {
    "keystone": ["identity"],
    "glance": ["image"],
    "placement": ["placement"],
    "cinder": ["volumev3", "block-storage"],
    "neutron": ["network"],
    "nova": ["compute"],
    "manila": ["sharev2", "shared-file-system"],
    "trove": ["database"],
}


def require(devcloud: DevCloud, service: str) -> None:
    """Only a cloud started with a subset (STRONGBOX_DEVCLOUD_SERVICES) lacks a service."""
    if service not in devcloud.services:
        if os.environ.get("CI"):
            pytest.fail(f"the dev cloud was started without {service} under CI")
        pytest.skip(f"dev cloud started without {service} (STRONGBOX_DEVCLOUD_SERVICES)")


def test_demo_user_gets_a_token_and_sees_every_service_in_the_catalog(devcloud: DevCloud) -> None:
    conn = devcloud.connect("demo")
    assert conn.current_project.name == "demo"
    types = {
        entry["type"]
        for entry in conn.session.auth.get_access(conn.session).service_catalog.catalog
    }
    expected = {"identity"} | {
        catalog_type for service in devcloud.services for catalog_type in CATALOG_TYPES[service]
    }
    assert expected <= types


def test_an_image_round_trips_its_bytes_and_checksum(devcloud: DevCloud) -> None:
    conn = devcloud.connect("demo")
    data = os.urandom(3 * 1024 * 1024 + 17)
    image = conn.image.create_image(
        name="smoke-image", data=data, disk_format="raw", container_format="bare", wait=True
    )
    try:
        image = conn.image.get_image(image.id)
        assert image.status == "active"
        assert image.checksum == hashlib.md5(data).hexdigest()
        assert image.hash_value == hashlib.sha512(data).hexdigest()
        assert image.id in {listed.id for listed in conn.image.images()}
        assert conn.image.download_image(image).content == data
    finally:
        conn.image.delete_image(image)
    assert image.id not in {listed.id for listed in conn.image.images()}


def test_a_volume_backup_restores_the_same_bytes_into_a_new_volume(devcloud: DevCloud) -> None:
    require(devcloud, "cinder")
    conn = devcloud.connect("demo")
    storage = conn.block_storage
    volume = storage.create_volume(size=1, name="smoke-volume")
    volume = storage.wait_for_status(volume, "available", failures=["error"], wait=120)
    data = os.urandom(2 * 1024 * 1024 + 5)
    with devcloud.volume_file(volume.id).open("r+b") as device:
        device.seek(1024 * 1024)  # past the start: offsets must survive, not just a prefix
        device.write(data)
    backup = storage.create_backup(volume_id=volume.id, name="smoke-backup")
    backup = storage.wait_for_status(backup, "available", failures=["error"], wait=300)
    restored_id = storage.restore_backup(backup, name="smoke-restored").volume_id
    restored = storage.wait_for_status(
        storage.get_volume(restored_id),
        "available",
        failures=["error", "error_restoring"],
        wait=300,
    )
    try:
        assert restored.id != volume.id
        with devcloud.volume_file(restored.id).open("rb") as device:
            device.seek(1024 * 1024)
            assert device.read(len(data)) == data
    finally:
        storage.delete_backup(backup)
        storage.wait_for_delete(backup, wait=120)
        for leftover in (restored, volume):
            storage.delete_volume(leftover)
            storage.wait_for_delete(leftover, wait=120)


def test_a_network_subnet_and_router_are_created_and_ports_bind_without_agents(
    devcloud: DevCloud,
) -> None:
    require(devcloud, "neutron")
    conn = devcloud.connect("demo")
    network = conn.network.create_network(name="smoke-net")
    subnet = conn.network.create_subnet(
        network_id=network.id, ip_version=4, cidr="10.77.0.0/24", name="smoke-subnet"
    )
    router = conn.network.create_router(name="smoke-router")
    try:
        conn.network.add_interface_to_router(router, subnet_id=subnet.id)
        owners = {port.device_owner for port in conn.network.ports(network_id=network.id)}
        assert "network:router_interface" in owners
        # Binding to a host is admin-only; the bind-anything driver must bind it, agentless.
        admin = devcloud.connect("admin")
        port = admin.network.create_port(network_id=network.id, binding_host_id="devcloud")
        port = admin.network.get_port(port.id)
        assert (port.binding_vif_type, port.status) == ("other", "ACTIVE")
        admin.network.delete_port(port)
        conn.network.remove_interface_from_router(router, subnet_id=subnet.id)
    finally:
        conn.network.delete_router(router)
        conn.network.delete_network(network)
    assert conn.network.find_network("smoke-net", ignore_missing=True) is None


def test_a_server_boots_on_a_network_and_gets_a_volume_attached(devcloud: DevCloud) -> None:
    for service in ("nova", "neutron", "cinder"):
        require(devcloud, service)
    conn = devcloud.connect("demo")
    image = conn.image.create_image(
        name="smoke-boot",
        data=os.urandom(64 * 1024),
        disk_format="raw",
        container_format="bare",
        wait=True,
    )
    network = conn.network.create_network(name="smoke-server-net")
    conn.network.create_subnet(network_id=network.id, ip_version=4, cidr="10.78.0.0/24")
    volume = conn.block_storage.create_volume(size=1, name="smoke-attach")
    flavor = conn.compute.find_flavor("devcloud.tiny", ignore_missing=False)
    server = conn.compute.create_server(
        name="smoke-server", flavor_id=flavor.id, image_id=image.id, networks=[{"uuid": network.id}]
    )
    try:
        server = conn.compute.wait_for_server(server, wait=240)
        assert server.status == "ACTIVE"
        assert [
            address["addr"].startswith("10.78.0.") for address in server.addresses[network.name]
        ] == [True]
        conn.block_storage.wait_for_status(volume, "available", failures=["error"], wait=120)
        conn.compute.create_volume_attachment(server, volume_id=volume.id)
        volume = conn.block_storage.wait_for_status(
            volume, "in-use", failures=["error", "error_attaching"], wait=180
        )
        assert [attachment["server_id"] for attachment in volume.attachments] == [server.id]
        conn.compute.delete_volume_attachment(server, volume.id)
        conn.block_storage.wait_for_status(volume, "available", failures=["error"], wait=180)
    finally:
        conn.compute.delete_server(server)
        conn.compute.wait_for_delete(server, wait=180)
        conn.block_storage.delete_volume(volume)
        conn.image.delete_image(image)
        conn.network.delete_network(network)


def test_a_share_is_snapshotted_and_a_new_share_is_created_from_the_snapshot(
    devcloud: DevCloud,
) -> None:
    require(devcloud, "manila")
    shares = devcloud.connect("demo").shared_file_system
    share = shares.create_share(name="smoke-share", size=1, share_proto="NFS")
    share = shares.wait_for_status(share, "available", failures=["error"], wait=120)
    snapshot = shares.create_share_snapshot(share_id=share.id, name="smoke-share-snap")
    snapshot = shares.wait_for_status(snapshot, "available", failures=["error"], wait=120)
    restored = shares.create_share(
        name="smoke-share-restored", size=1, share_proto="NFS", snapshot_id=snapshot.id
    )
    try:
        restored = shares.wait_for_status(restored, "available", failures=["error"], wait=120)
        assert (restored.snapshot_id, restored.share_type) == (snapshot.id, share.share_type)
        assert {share.id, restored.id} <= {listed.id for listed in shares.shares()}
        assert list(shares.share_networks()) == []  # no share servers: no networks needed
    finally:
        for resource in (restored, snapshot, share):
            delete = shares.delete_share_snapshot if resource is snapshot else shares.delete_share
            delete(resource)
            shares.wait_for_delete(resource, wait=120)


def _until(get: Callable[[], dict[str, Any]], status: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while (current := get())["status"] != status:
        assert current["status"] not in ("ERROR", "FAILED"), current
        assert time.monotonic() < deadline, f"still {current['status']}, wanted {status}"
        time.sleep(0.5)
    return current


def test_a_database_instance_is_backed_up_and_a_new_one_restored_from_the_backup(
    devcloud: DevCloud,
) -> None:
    require(devcloud, "trove")
    database = devcloud.connect("demo").database  # the emulator, found through the catalog
    spec = {"name": "smoke-db", "flavorRef": "1", "volume": {"size": 1}}
    instance = database.post("/instances", json={"instance": spec}).json()["instance"]
    instance = _until(
        lambda: database.get(f"/instances/{instance['id']}").json()["instance"], "ACTIVE"
    )
    backup = database.post(
        "/backups", json={"backup": {"name": "smoke-db-backup", "instance": instance["id"]}}
    ).json()["backup"]
    backup = _until(lambda: database.get(f"/backups/{backup['id']}").json()["backup"], "COMPLETED")
    restore = {**spec, "name": "smoke-db-restored", "restorePoint": {"backupRef": backup["id"]}}
    restored = database.post("/instances", json={"instance": restore}).json()["instance"]
    restored = _until(
        lambda: database.get(f"/instances/{restored['id']}").json()["instance"], "ACTIVE"
    )
    assert restored["restored_from_backup"] == backup["id"]
    listed = {item["id"] for item in database.get("/instances").json()["instances"]}
    assert {instance["id"], restored["id"]} <= listed
    assert database.get("/instances/nope", raise_exc=False).status_code == 404
    for path in (
        f"/backups/{backup['id']}",
        f"/instances/{restored['id']}",
        f"/instances/{instance['id']}",
    ):
        assert database.delete(path).status_code == 202
    assert backup["id"] not in {item["id"] for item in database.get("/backups").json()["backups"]}
