"""The Glance image plugin: bytes streamed into bank segments and back, checksums verified."""

from __future__ import annotations

import os
import tracemalloc

from actors.wire.requests import DeleteRequest, ProtectRequest, ResourceRef, RestoreRequest
from banks.keys import encode_segment
from plugins.openstack.resource_types import IMAGE
from tests.unit.plugins.openstack.fake_cinder_glance import add_image
from tests.unit.plugins.openstack.helpers import sections, writes

PLUGIN = "os-image"
# small chunks and segments so a 300 KiB image spans several of each
SMALL = {"chunk_size": str(64 << 10), "segment_size": str(1 << 20)}


def resource_prefix(checkpoint_id: str, image_id: str) -> str:
    return (f"/checkpoints/{encode_segment(checkpoint_id)}/resource-data/"
            f"{encode_segment(f'{IMAGE}#{image_id}')}/")


async def test_an_image_round_trips_through_bank_segments_with_its_properties(
    cloud, engine_for
):
    data = os.urandom((2 << 20) + 12345)  # three 1 MiB segments, the last one short
    image = add_image(cloud, name="ubuntu", data=data, os_distro="ubuntu", hw_disk_bus="scsi")
    async with engine_for(PLUGIN, sections=sections(PLUGIN, **SMALL)) as engine:
        protected = await engine.run(
            ProtectRequest(resources=[ResourceRef(IMAGE, image["id"])]), timeout=30)
        assert protected.status == "succeeded", protected.error
        bank = await engine.bank(engine.provider())
        prefix = resource_prefix(protected.checkpoint_id, image["id"])
        keys = [k.removeprefix(prefix) for k in await bank.list(prefix)]
        assert keys == ["data/00000001", "data/00000002", "data/00000003", "saved_info"]
        assert (await bank.head(prefix + "data/00000003")).size == 12345

        cloud.calls.clear()
        restored = await engine.run(RestoreRequest(
            checkpoint_id=protected.checkpoint_id,
            parameters={IMAGE: {"restore_name": "ubuntu-again"}}), timeout=30)
        assert restored.status == "succeeded", restored.error
        assert writes(cloud) == ["POST /v2/images", "PUT /v2/images/image/file"]
        (new,) = [i for i in cloud.table("image").values() if i["name"] == "ubuntu-again"]
        assert cloud.blobs[new["id"]] == data
        assert new["os_distro"] == "ubuntu" and new["hw_disk_bus"] == "scsi"
        assert new["disk_format"] == "qcow2" and new["status"] == "active"

        deleted = await engine.run(DeleteRequest(checkpoint_id=protected.checkpoint_id),
                                   timeout=30)
        assert deleted.status == "succeeded", deleted.error
        assert await bank.list(prefix) == []


async def test_a_checksum_glance_disagrees_with_fails_the_restore_and_removes_the_image(
    cloud, engine_for
):
    image = add_image(cloud, name="ubuntu", data=b"x" * 100_000)
    async with engine_for(PLUGIN, sections=sections(PLUGIN, **SMALL)) as engine:
        protected = await engine.run(
            ProtectRequest(resources=[ResourceRef(IMAGE, image["id"])]), timeout=30)
        assert protected.status == "succeeded", protected.error
        bank = await engine.bank(engine.provider())
        prefix = resource_prefix(protected.checkpoint_id, image["id"])
        await bank.put(prefix + "data/00000001", b"y" * 100_000)  # bit rot in the bank
        restored = await engine.run(RestoreRequest(checkpoint_id=protected.checkpoint_id),
                                    timeout=30)
    assert restored.status == "failed"
    assert restored.error_resource == f"{IMAGE}#{image['id']}"
    assert "MD5" in restored.error and "saved" in restored.error
    assert cloud.ids("image") == [image["id"]]  # the half-made image is gone


async def test_a_download_cut_by_an_http_500_fails_naming_the_image(cloud, engine_for):
    image = add_image(cloud, name="ubuntu")
    cloud.fail("GET", r"/v2/images/.*/file$", 500)
    async with engine_for(PLUGIN, sections=sections(PLUGIN)) as engine:
        result = await engine.run(
            ProtectRequest(resources=[ResourceRef(IMAGE, image["id"])]), timeout=30)
    assert result.status == "failed"
    # the HTTP error itself, not its body copied as the image (the SDK's streaming
    # download does not raise on an error status)
    assert f"glance download image of {image['id']}" in result.error
    assert "500" in result.error and "MD5" not in result.error


async def test_bytes_that_are_not_glances_fail_the_copy_naming_both_checksums(
    cloud, engine_for
):
    image = add_image(cloud, name="ubuntu")
    image["checksum"] = "0" * 32  # Glance holds other bytes than it says
    async with engine_for(PLUGIN, sections=sections(PLUGIN)) as engine:
        result = await engine.run(
            ProtectRequest(resources=[ResourceRef(IMAGE, image["id"])]), timeout=30)
    assert result.status == "failed"
    assert f"glance download image of {image['id']}" in result.error
    assert "Glance says " + "0" * 32 in result.error


async def test_streaming_an_image_into_the_bank_holds_only_a_few_chunks_in_memory(
    cloud, engine_for, tmp_path
):
    size = 24 << 20
    image = add_image(cloud, name="big", data=os.urandom(size))
    options = {"chunk_size": str(256 << 10), "segment_size": str(8 << 20)}
    bank = f"[filesystem]\npath = {tmp_path / 'bank'}\n"
    async with engine_for(PLUGIN, bank="filesystem",
                          sections=sections(PLUGIN, **options) + bank) as engine:
        tracemalloc.start()
        try:
            result = await engine.run(
                ProtectRequest(resources=[ResourceRef(IMAGE, image["id"])]), timeout=60)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert result.status == "succeeded", result.error
    # the whole image is 24 MiB; the copy holds a few 256 KiB chunks (4.2 MiB measured)
    assert peak < 8 << 20, f"peak {peak / (1 << 20):.1f} MiB while streaming 24 MiB"
