"""The volume-bytes plugin: a volume copied into the bank through Glance, and back."""

from __future__ import annotations

import os

import pytest

from actors.wire.requests import ProtectRequest, ResourceRef, RestoreRequest
from plugins.openstack.resource_types import VOLUME
from tests.unit.plugins.openstack.fake_cinder_glance import add_volume
from tests.unit.plugins.openstack.helpers import sections, writes

PLUGIN = "os-volume-bytes"
SMALL = {"chunk_size": str(64 << 10), "segment_size": str(1 << 20)}


# Cinder marks a volume made from an image bootable: the restore sets the flag back to the
# original's, with one more call only when they differ.
@pytest.mark.parametrize(("bootable", "set_flag"), [
    pytest.param("false", ["POST /volumes/vol/action"], id="not-bootable"),
    pytest.param("true", [], id="bootable"),
])
async def test_a_volume_is_copied_into_the_bank_and_restored_leaving_no_temporaries(
    cloud, engine_for, bootable: str, set_flag: list[str]
):
    data = os.urandom((1 << 20) + 999)
    volume = add_volume(cloud, name="data", data=data, size=1)
    volume["bootable"] = bootable
    async with engine_for(PLUGIN, sections=sections(PLUGIN, **SMALL)) as engine:
        protected = await engine.run(
            ProtectRequest(resources=[ResourceRef(VOLUME, volume["id"])]), timeout=30)
        assert protected.status == "succeeded", protected.error
        assert writes(cloud) == [
            "POST /snapshots", "POST /volumes", "POST /volumes/vol/action",
            "DELETE /v2/images/image", "DELETE /volumes/vol", "DELETE /snapshots/snap"]
        assert cloud.live("snapshot") == [] and cloud.live("volume") == [volume["id"]]
        assert cloud.ids("image") == []

        cloud.calls.clear()
        restored = await engine.run(RestoreRequest(
            checkpoint_id=protected.checkpoint_id,
            parameters={VOLUME: {"restore_name": "data-back"}}), timeout=30)
        assert restored.status == "succeeded", restored.error
        assert writes(cloud) == ["POST /v2/images", "PUT /v2/images/image/file",
                                 "POST /volumes", *set_flag, "DELETE /v2/images/image"]
    (new,) = [v for v in cloud.table("volume").values() if v["name"] == "data-back"]
    assert cloud.blobs[new["id"]] == data
    assert new["bootable"] == bootable
    assert cloud.ids("image") == []


async def test_an_upload_that_fails_removes_the_clone_and_the_snapshot(cloud, engine_for):
    volume = add_volume(cloud, name="data")
    cloud.final_status["image"] = "killed"
    async with engine_for(PLUGIN, sections=sections(PLUGIN)) as engine:
        result = await engine.run(
            ProtectRequest(resources=[ResourceRef(VOLUME, volume["id"])]), timeout=30)
    assert result.status == "failed"
    assert "glance image" in result.error and "went to 'killed'" in result.error
    assert cloud.live("snapshot") == [] and cloud.live("volume") == [volume["id"]]
    assert cloud.ids("image") == []


async def test_an_image_download_that_fails_removes_image_clone_and_snapshot(cloud, engine_for):
    volume = add_volume(cloud, name="data")
    cloud.fail("GET", r"/v2/images/.*/file$", 500)
    async with engine_for(PLUGIN, sections=sections(PLUGIN)) as engine:
        result = await engine.run(
            ProtectRequest(resources=[ResourceRef(VOLUME, volume["id"])]), timeout=30)
    assert result.status == "failed"
    assert "glance download image of" in result.error and "500" in result.error
    assert cloud.live("snapshot") == [] and cloud.live("volume") == [volume["id"]]
    assert cloud.ids("image") == []
