"""A whole project protected, restored and deleted through the engine with every plugin."""

from __future__ import annotations

from actors.wire.requests import DeleteRequest, ProtectRequest, ResourceRef, RestoreRequest
from plugins.openstack.resource_types import DATABASE, PROJECT, SERVER, SHARE
from tests.unit.plugins.openstack.helpers import sections
from tests.unit.plugins.openstack.topology import build_project

PLUGINS = ("os-project", "os-network", "os-server", "os-volume-backup", "os-image",
           "os-share-snapshot", "os-database-backup")


def created(cloud, kind: str, before: set[str]) -> list[dict]:
    return [item for key, item in cloud.table(kind).items() if key not in before]


async def test_a_project_round_trips_with_its_server_rebuilt_on_restored_children(
    cloud, engine_for
):
    project = build_project(cloud)
    async with engine_for(PLUGINS[0], sections=sections(*PLUGINS)) as engine:
        protected = await engine.run(ProtectRequest(
            resources=[ResourceRef(PROJECT, cloud.project_id)]), timeout=60)
        assert protected.status == "succeeded", protected.error
        assert protected.resource_count == 7  # project, server, volume, image, net, share, db
        assert len(cloud.live("backup")) == 1 and len(cloud.live("share_snapshot")) == 1
        assert len(cloud.live("db_backup")) == 1

        before = {kind: set(cloud.table(kind)) for kind in
                  ("network", "subnet", "port", "router", "security_group", "server",
                   "volume", "image", "share", "instance")}
        restored = await engine.run(RestoreRequest(
            checkpoint_id=protected.checkpoint_id,
            parameters={SERVER: {"restore_name": "web-restored"},
                        SHARE: {"restore_name": "files-restored"},
                        DATABASE: {"restore_name": "orders-restored"}}), timeout=60)
        assert restored.status == "succeeded", restored.error

        (network,) = created(cloud, "network", before["network"])
        (subnet,) = created(cloud, "subnet", before["subnet"])
        assert subnet["network_id"] == network["id"] and subnet["cidr"] == "10.0.0.0/24"
        (router,) = created(cloud, "router", before["router"])
        assert router["external_gateway_info"] == {"network_id": "net-public"}
        assert router["_interfaces"] == [{"subnet_id": subnet["id"]}]
        (group,) = created(cloud, "security_group", before["security_group"])
        assert group["name"] == "web"  # the default group is reused, not copied
        (port,) = created(cloud, "port", before["port"])
        assert port["fixed_ips"] == [{"subnet_id": subnet["id"], "ip_address": "10.0.0.10"}]
        assert port["security_groups"] == [group["id"]]

        (volume,) = created(cloud, "volume", before["volume"])
        (image,) = created(cloud, "image", before["image"])
        assert cloud.blobs[image["id"]] == cloud.blobs[project.image["id"]]
        (server,) = created(cloud, "server", before["server"])
        request = server["_request"]
        assert request["name"] == "web-restored" and request["imageRef"] == image["id"]
        assert request["networks"] == [{"port": port["id"]}]
        assert request["key_name"] == "ops" and request["metadata"] == {"role": "web"}
        assert server["os-extended-volumes:volumes_attached"] == [{"id": volume["id"]}]
        assert server["status"] == "ACTIVE" and volume["status"] == "in-use"

        (share,) = created(cloud, "share", before["share"])
        assert share["name"] == "files-restored" and share["snapshot_id"]
        (instance,) = created(cloud, "instance", before["instance"])
        assert instance["restorePoint"]["backupRef"] in cloud.table("db_backup")

        deleted = await engine.run(DeleteRequest(checkpoint_id=protected.checkpoint_id),
                                   timeout=60)
        assert deleted.status == "succeeded", deleted.error
    assert cloud.live("backup") == [] and cloud.live("share_snapshot") == []
    assert cloud.live("db_backup") == []
