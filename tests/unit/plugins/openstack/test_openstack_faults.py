"""Faults of the cloud: each fails the resource by name and leaves no temporary behind."""

from __future__ import annotations

import msgspec

from actors.wire.requests import ProtectRequest, ResourceRef, RestoreRequest
from banks.keys import encode_segment
from plugins.openstack.resource_types import DATABASE, NETWORK, PROJECT, SERVER, SHARE, VOLUME
from tests.unit.plugins.openstack.fake_cinder_glance import add_volume
from tests.unit.plugins.openstack.fake_manila_trove import add_database, add_share
from tests.unit.plugins.openstack.helpers import sections
from tests.unit.plugins.openstack.topology import build_project


def protect(resource_type: str, resource_id: str) -> ProtectRequest:
    return ProtectRequest(resources=[ResourceRef(resource_type, resource_id)])


async def test_a_share_snapshot_in_error_fails_the_share_and_is_deleted(cloud, engine_for):
    share = add_share(cloud, name="files")
    cloud.final_status["share_snapshot"] = "error"
    plugin = "os-share-snapshot"
    async with engine_for(plugin, sections=sections(plugin)) as engine:
        result = await engine.run(protect(SHARE, share["id"]), timeout=30)
    assert result.status == "failed" and result.error_resource == f"{SHARE}#{share['id']}"
    assert "manila snapshot" in result.error and "went to 'error'" in result.error
    assert cloud.live("share_snapshot") == []


async def test_a_trove_backup_that_fails_fails_the_database_and_is_deleted(cloud, engine_for):
    database = add_database(cloud, name="orders")
    cloud.final_status["db_backup"] = "FAILED"
    plugin = "os-database-backup"
    async with engine_for(plugin, sections=sections(plugin)) as engine:
        result = await engine.run(protect(DATABASE, database["id"]), timeout=30)
    assert result.status == "failed" and result.error_resource == f"{DATABASE}#{database['id']}"
    assert "trove backup" in result.error and "went to 'failed'" in result.error
    assert cloud.live("db_backup") == []


async def test_a_restored_server_in_error_is_deleted_and_names_the_server(cloud, engine_for):
    project = build_project(cloud)
    plugins = ("os-server", "os-volume-backup", "os-image", "os-network")
    async with engine_for(plugins[0], sections=sections(*plugins)) as engine:
        protected = await engine.run(protect(SERVER, project.server["id"]), timeout=30)
        assert protected.status == "succeeded", protected.error
        servers_before = set(cloud.table("server"))
        cloud.final_status["server"] = "ERROR"
        restored = await engine.run(RestoreRequest(checkpoint_id=protected.checkpoint_id),
                                    timeout=30)
    assert restored.status == "failed"
    assert restored.error_resource == f"{SERVER}#{project.server['id']}"
    assert "nova server" in restored.error and "went to 'error'" in restored.error
    assert [s for s in cloud.live("server") if s not in servers_before] == []


async def test_a_neutron_500_midway_deletes_the_networks_the_restore_created(cloud, engine_for):
    build_project(cloud)
    plugin = "os-network"
    async with engine_for(plugin, sections=sections(plugin)) as engine:
        protected = await engine.run(protect(NETWORK, cloud.project_id), timeout=30)
        assert protected.status == "succeeded", protected.error
        networks_before = set(cloud.table("network"))
        groups_before = set(cloud.table("security_group"))
        cloud.fail("POST", r"/v2.0/subnets", 500)
        restored = await engine.run(RestoreRequest(checkpoint_id=protected.checkpoint_id),
                                    timeout=30)
    assert restored.status == "failed"
    assert "neutron create subnet" in restored.error
    assert set(cloud.table("network")) == networks_before
    assert set(cloud.table("security_group")) == groups_before


async def test_an_activity_past_its_timeout_is_closed_and_removes_its_snapshot_and_backup(
    cloud, engine_for
):
    volume = add_volume(cloud, name="data")
    cloud.final_status["backup"] = "creating"  # never finishes
    plugin = "os-volume-backup"
    # the runtime's timeout, not the plugin's own wait deadline, ends this one
    async with engine_for(plugin, sections=sections(plugin, timeout="0.5",
                                                    wait_timeout="600")) as engine:
        result = await engine.run(protect(VOLUME, volume["id"]), timeout=30)
    assert result.status == "failed"
    assert "timeout" in result.error
    assert cloud.live("snapshot") == [] and cloud.live("backup") == []


async def test_unreadable_quotas_are_noted_and_do_not_fail_the_project(cloud, engine_for):
    cloud.fail("GET", r"/os-quota-sets/", 403)
    plugin = "os-project"
    async with engine_for(plugin, sections=sections(plugin)) as engine:
        result = await engine.run(protect(PROJECT, cloud.project_id), timeout=30)
        assert result.status == "succeeded", result.error
        bank = await engine.bank(engine.provider())
        key = (f"/checkpoints/{encode_segment(result.checkpoint_id)}/resource-data/"
               f"{encode_segment(f'{PROJECT}#{cloud.project_id}')}/saved_info")
        info = msgspec.json.decode(await bank.get(key))
    assert info["name"] == "demo"
    assert len(info["unreadable"]) == 1 and "injected fault" in next(
        iter(info["unreadable"].values()))
    assert len(info["quotas"]) == 2
