"""The Cinder-backup volume plugin, through the real engine, against the fake cloud."""

from __future__ import annotations

from actors.wire.requests import DeleteRequest, ProtectRequest, ResourceRef, RestoreRequest
from plugins.openstack.resource_types import VOLUME
from tests.unit.plugins.openstack.fake_cinder_glance import add_volume
from tests.unit.plugins.openstack.helpers import sections, writes

PLUGIN = "os-volume-backup"


def protect(volume_id: str, **parameters: object) -> ProtectRequest:
    return ProtectRequest(resources=[ResourceRef(VOLUME, volume_id)],
                          parameters={VOLUME: dict(parameters)} if parameters else {})


async def test_a_volume_is_backed_up_from_a_snapshot_restored_to_a_new_volume_and_deleted(
    cloud, engine_for
):
    volume = add_volume(cloud, name="data", data=b"precious", size=2)
    async with engine_for(PLUGIN, sections=sections(PLUGIN)) as engine:
        protected = await engine.run(protect(volume["id"], backup_mode="incremental"), timeout=30)
        assert protected.status == "succeeded", protected.error
        assert writes(cloud) == ["POST /snapshots", "POST /backups", "DELETE /snapshots/snap"]
        (backup,) = cloud.table("backup").values()
        assert backup["is_incremental"] and backup["snapshot_id"] is not None
        assert cloud.live("snapshot") == []  # the temporary snapshot is gone

        cloud.calls.clear()
        restored = await engine.run(RestoreRequest(
            checkpoint_id=protected.checkpoint_id,
            parameters={VOLUME: {"restore_name": "data-restored"}}), timeout=30)
        assert restored.status == "succeeded", restored.error
        assert writes(cloud) == ["POST /backups/backup/restore"]
        new = [v for v in cloud.table("volume").values() if v["name"] == "data-restored"]
        assert len(new) == 1 and new[0]["status"] == "available"
        assert cloud.blobs[new[0]["id"]] == b"precious"

        cloud.calls.clear()
        deleted = await engine.run(DeleteRequest(checkpoint_id=protected.checkpoint_id),
                                   timeout=30)
        assert deleted.status == "succeeded", deleted.error
        assert writes(cloud) == ["DELETE /backups/backup"]
        assert cloud.live("backup") == []


async def test_a_bootable_volume_is_restored_bootable(cloud, engine_for):
    # Cinder keeps the flag only for volumes made from an image; Nova boots only from
    # a bootable volume, so the plugin sets it on the restored volume itself.
    volume = add_volume(cloud, name="boot")
    volume["bootable"] = "true"
    async with engine_for(PLUGIN, sections=sections(PLUGIN)) as engine:
        protected = await engine.run(protect(volume["id"]), timeout=30)
        assert protected.status == "succeeded", protected.error
        cloud.calls.clear()
        restored = await engine.run(RestoreRequest(checkpoint_id=protected.checkpoint_id),
                                    timeout=30)
    assert restored.status == "succeeded", restored.error
    assert writes(cloud) == ["POST /backups/backup/restore", "POST /volumes/vol/action"]
    (new,) = [v for v in cloud.live("volume") if v != volume["id"]]
    assert cloud.get("volume", new)["bootable"] == "true"


async def test_a_backup_that_goes_to_error_fails_the_volume_naming_it_and_cleans_up(
    cloud, engine_for
):
    volume = add_volume(cloud, name="data")
    cloud.final_status["backup"] = "error"
    async with engine_for(PLUGIN, sections=sections(PLUGIN)) as engine:
        result = await engine.run(protect(volume["id"]), timeout=30)
    assert result.status == "failed"
    assert result.error_resource == f"{VOLUME}#{volume['id']}"
    assert "cinder backup" in result.error and "went to 'error'" in result.error
    assert "backup driver exploded" in result.error
    assert cloud.live("snapshot") == [] and cloud.live("backup") == []


async def test_a_restore_cinder_fails_names_cinders_own_message_and_removes_the_volume(
    cloud, engine_for
):
    volume = add_volume(cloud, name="data")
    async with engine_for(PLUGIN, sections=sections(PLUGIN)) as engine:
        protected = await engine.run(protect(volume["id"]), timeout=30)
        assert protected.status == "succeeded", protected.error
        cloud.final_status["volume"] = "error_restoring"
        restored = await engine.run(RestoreRequest(checkpoint_id=protected.checkpoint_id),
                                    timeout=30)
    assert restored.status == "failed"
    assert "went to 'error_restoring'" in restored.error
    assert "Cinder: restore backup: An error occurred during backup restore." in restored.error
    assert cloud.live("volume") == [volume["id"]]


async def test_an_http_500_on_create_backup_fails_naming_the_call_and_removes_the_snapshot(
    cloud, engine_for
):
    volume = add_volume(cloud, name="data")
    cloud.fail("POST", r"/backups$", 500)
    async with engine_for(PLUGIN, sections=sections(PLUGIN)) as engine:
        result = await engine.run(protect(volume["id"]), timeout=30)
    assert result.status == "failed"
    assert f"cinder create backup of {volume['id']}" in result.error
    assert "500" in result.error or "injected fault" in result.error
    assert cloud.live("snapshot") == []
    assert "s3cret-pa55" not in result.error


async def test_a_backup_stuck_creating_times_out_and_its_snapshot_and_backup_are_removed(
    cloud, engine_for
):
    volume = add_volume(cloud, name="data")
    cloud.settle_after = 1
    async with engine_for(PLUGIN, sections=sections(PLUGIN, wait_timeout="0.2")) as engine:
        cloud.final_status["backup"] = "creating"  # never leaves it
        result = await engine.run(protect(volume["id"]), timeout=30)
    assert result.status == "failed"
    assert "still 'creating'" in result.error and "backup" in result.error
    assert cloud.live("snapshot") == []
    assert cloud.live("backup") == []


async def test_a_protect_run_again_removes_the_snapshot_and_backup_its_first_run_left(
    cloud, engine_for
):
    volume = add_volume(cloud, name="data")
    name = "strongbox-cp-retried"
    stale_backup = cloud.add("backup", name=name, volume_id=volume["id"], status="available")
    stale_snapshot = cloud.add("snapshot", name=name, volume_id=volume["id"],
                               status="available")
    other = cloud.add("backup", name="strongbox-cp-other", volume_id=volume["id"],
                      status="available")
    request = ProtectRequest(resources=[ResourceRef(VOLUME, volume["id"])],
                             checkpoint_id="cp-retried")
    async with engine_for(PLUGIN, sections=sections(PLUGIN)) as engine:
        result = await engine.run(request, timeout=30)
    assert result.status == "succeeded", result.error
    live = cloud.live("backup")
    assert stale_backup["id"] not in live and other["id"] in live and len(live) == 2
    assert stale_snapshot["id"] not in cloud.live("snapshot")
