"""A whole project through the real engine and the shipped plugins, against the real cloud.

The provider is the shipped ``plugins/provider/shipped/openstack.conf`` itself, only
enabled: its plugins, their options, and its Swift bank authenticating through Keystone,
on a real Swift behind the dev cloud's Keystone and in its catalog
(``tests/cloud/keystone_swift.py``); the plugins and the bank find the cloud through
``OS_CLOUD`` as the file tells an operator.

Protect the project (3 servers, 6 volumes, 2 images, a routed network with a floating
IP, a share, a database) into that bank; delete the originals; restore; then the cloud
must hold equivalent resources, found through the restore's own mapping (original id ->
new id, recorded in the checkpoint's bank by the plugins); finally the checkpoint is
deleted and so are its backups and snapshots in the cloud and its bytes in Swift.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
import structlog

from actors.operations.engine import Engine
from actors.wire.requests import DeleteRequest, ProtectRequest, ResourceRef, RestoreRequest
from banks.sealed import SealedBank
from banks.swift.bank import SwiftBank
from plugins.checkpoint.checkpoint import Checkpoint, checkpoint_prefix
from plugins.openstack.resource_types import (
    DATABASE,
    IMAGE,
    NEUTRON_NET,
    NEUTRON_PORT,
    NEUTRON_ROUTER,
    NEUTRON_SUBNET,
    PROJECT,
    SERVER,
    SHARE,
    VOLUME,
)
from plugins.resource import Resource
from tests.cloud.cloud_project import cloud_project
from tests.cloud.keystone_swift import object_sizes
from tests.cloud.openstack_provider import shipped_provider
from tests.cloud.roundtrip_project import (
    CIDR,
    DATA_OFFSET,
    DATA_SIZE,
    BuiltProject,
    build,
    delete_originals,
)
from tests.cloud.test_devcloud_smoke import require
from tests.devcloud.fixture import DevCloud, use_cloud
from tests.swift_server.server import SwiftEndpoint

pytestmark = pytest.mark.cloud
log = structlog.get_logger(__name__)
OPERATION_TIMEOUT = 1800.0  # a bound for a hung cloud, far above the few minutes it takes
CONTAINER = "strongbox"  # the shipped file's


class Restored:
    """The restore's mapping, read through the checkpoint as the plugins wrote it."""

    def __init__(self, checkpoint: Checkpoint) -> None:
        self.checkpoint = checkpoint

    async def id(self, resource_type: str, original: str) -> str:
        new = await self.checkpoint.restored_id(Resource(type=resource_type, id=original))
        assert new is not None, f"{resource_type}#{original} has no restored id"
        assert new != original or resource_type == PROJECT
        return new


async def run(engine: Engine, request: Any, devcloud: DevCloud) -> tuple[str, Any]:
    operation_id = await engine.submit(request)
    result = await engine.wait(operation_id, timeout=OPERATION_TIMEOUT)
    log.info("cloud_operation_finished", kind=result.operation_type, status=result.status,
             seconds=round(result.duration, 1), resources=result.resource_count)
    if result.status != "succeeded":
        # the plugins' errors name the service ("CloudResourceFailed: cinder volume ...")
        named = [s for s in devcloud.services if f": {s} " in (result.error or "")]
        cloud_errors = "\n".join(devcloud.error_lines(named[0] if named else ""))
        pytest.fail(f"{result.error_resource}: {result.error}\n{cloud_errors}")
    return operation_id, result


async def test_a_project_is_protected_lost_and_restored_equivalent(
    devcloud: DevCloud, keystone_swift: SwiftEndpoint, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for service in ("nova", "neutron", "cinder", "glance", "manila", "trove"):
        require(devcloud, service)
    # the demo user's own credentials; each request names the project it acts for
    use_cloud(devcloud, monkeypatch)
    # os-image keeps the image bytes in the bank's encrypted chunk store (and so the bank
    # is sealed): the secret comes from the environment, as a deployment would give it
    monkeypatch.setenv("STRONGBOX_PASSPHRASE", "round-trip passphrase")
    providers = shipped_provider(tmp_path / "providers", {})
    with cloud_project(devcloud, "strongbox-roundtrip") as project:
        built = build(project)
        async with Engine.embedded(providers) as engine:
            bank = await engine.bank(engine.provider())
            # sealed (the chunk store is encrypted), over the shipped Swift bank
            assert isinstance(bank, SealedBank) and isinstance(bank.inner, SwiftBank)
            _, protected = await run(engine, ProtectRequest(
                project_id=project.id, resources=[ResourceRef(PROJECT, project.id)]), devcloud)
            assert protected.resource_count == 15  # project, 3+6+2, topology, share, db
            checkpoint_id = protected.checkpoint_id
            check_images_in_swift(devcloud, checkpoint_id, built)
            delete_originals(project, built)
            operation_id, _ = await run(engine, RestoreRequest(
                project_id=project.id, checkpoint_id=checkpoint_id), devcloud)
            index, graph, _ = await engine.show_checkpoint(checkpoint_id)
            bank = await engine.bank(engine.provider())
            restored = Restored(Checkpoint(bank, index, graph, operation_id=operation_id,
                                           writable=False))
            await check_network(project.connection, built, restored)
            await check_servers(project.connection, built, restored)
            await check_disks(project.connection, devcloud, built, restored)
            await check_share_and_database(project.connection, built, restored)

            await run(engine, DeleteRequest(project_id=project.id, checkpoint_id=checkpoint_id),
                      devcloud)
        # the chunk lists are gone with the sections; the chunks stay for garbage collection
        assert image_chunk_lists_in_swift(devcloud, checkpoint_id) == []
        conn = project.connection
        assert list(conn.block_storage.backups()) == []
        assert list(conn.block_storage.snapshots()) == []  # no temporary one stayed either
        assert list(conn.shared_file_system.share_snapshots()) == []
        assert conn.database.get("/backups").json()["backups"] == []


def image_chunk_lists_in_swift(devcloud: DevCloud, checkpoint_id: str) -> list[str]:
    """The names of the checkpoint's ``image_chunks`` objects in the Swift container (the
    bank's account is the project of ``OS_CLOUD``'s user: demo). Section names are keyed
    hashes in a sealed bank, so they are found by their last segment."""
    resource_data = f"objects{checkpoint_prefix(checkpoint_id)}resource-data/"
    names = object_sizes(devcloud.connect("demo"), CONTAINER, resource_data)
    return sorted(name for name in names if name.endswith("/image_chunks"))


def check_images_in_swift(devcloud: DevCloud, checkpoint_id: str,
                          built: BuiltProject) -> None:
    """The checkpoint went to the shipped provider's Swift container: a chunk list per
    image in its section, and at least every image byte in the chunk store (random bytes:
    encrypted chunks are no smaller)."""
    assert len(image_chunk_lists_in_swift(devcloud, checkpoint_id)) == len(built.image_data)
    chunks = object_sizes(devcloud.connect("demo"), CONTAINER, "objects/chunks/data/")
    assert sum(chunks.values()) >= sum(len(data) for data in built.image_data.values())


async def check_network(conn: Any, built: BuiltProject, restored: Restored) -> None:
    network_id = await restored.id(NEUTRON_NET, built.network_id)
    subnet = conn.network.get_subnet(await restored.id(NEUTRON_SUBNET, built.subnet_id))
    assert (subnet.network_id, subnet.cidr, subnet.gateway_ip) == (network_id, CIDR,
                                                                    "10.20.0.1")
    router = conn.network.get_router(await restored.id(NEUTRON_ROUTER, built.router_id))
    assert router.external_gateway_info["network_id"] == built.public_network_id
    interfaces = list(conn.network.ports(device_id=router.id,
                                         device_owner="network:router_interface"))
    assert [ip["subnet_id"] for port in interfaces for ip in port.fixed_ips] == [subnet.id]
    (group,) = [g for g in conn.network.security_groups(project_id=conn.current_project_id)
                if g.name == "web"]
    assert {(r["protocol"], r["port_range_min"]) for r in group.security_group_rules
            if r["direction"] == "ingress"} == {("tcp", 80)}
    floating_id, address, port_id = built.floating_ip
    floating = conn.network.get_ip(floating_id)  # the same floating IP, pointed again
    assert floating.floating_ip_address == address
    assert floating.port_id == await restored.id(NEUTRON_PORT, port_id)


async def check_servers(conn: Any, built: BuiltProject, restored: Restored) -> None:
    for original in built.servers.values():
        server = conn.compute.get_server(await restored.id(SERVER, original.id))
        assert server.status == "ACTIVE", (original.name, server.status)
        (port,) = list(conn.network.ports(device_id=server.id))
        assert port.id == await restored.id(NEUTRON_PORT, original.port_id)
        assert port.network_id == await restored.id(NEUTRON_NET, built.network_id)
        assert [ip["ip_address"] for ip in port.fixed_ips] == [original.fixed_ip]
        attached = {a.volume_id for a in conn.compute.volume_attachments(server)}
        assert attached == {await restored.id(VOLUME, v) for v in original.volume_ids}
        if original.boot_image_id:
            assert server.image.id == await restored.id(IMAGE, original.boot_image_id)
        else:
            assert not server.image or not server.image.id  # booted from its volume
            boot = conn.block_storage.get_volume(
                await restored.id(VOLUME, str(original.boot_volume_id)))
            assert boot.is_bootable in (True, "true")


async def check_disks(conn: Any, devcloud: DevCloud, built: BuiltProject,
                      restored: Restored) -> None:
    for original, data in built.volume_data.items():
        new = await restored.id(VOLUME, original)
        assert conn.block_storage.get_volume(new).status == "in-use"
        with devcloud.volume_file(new).open("rb") as device:
            device.seek(DATA_OFFSET)
            assert device.read(DATA_SIZE) == data, f"volume {original} -> {new} differs"
    for original, data in built.image_data.items():
        image = conn.image.get_image(await restored.id(IMAGE, original))
        assert (image.status, image.checksum) == ("active", hashlib.md5(data).hexdigest())
        assert image.os_distro == "cirros"
        assert conn.image.download_image(image).content == data


async def check_share_and_database(conn: Any, built: BuiltProject,
                                   restored: Restored) -> None:
    share = conn.shared_file_system.get_share(await restored.id(SHARE, built.share_id))
    assert (share.status, share.share_protocol, share.size) == ("available", "NFS", 1)
    assert share.snapshot_id  # made from the checkpoint's snapshot
    new = await restored.id(DATABASE, built.database_id)
    instance = conn.database.get(f"/instances/{new}").json()["instance"]
    assert instance["status"] == "ACTIVE" and instance["restored_from_backup"]
    assert instance["name"].endswith("@orders")  # "<checkpoint>@<original name>"
