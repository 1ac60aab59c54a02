"""The Glance image plugin: bytes streamed into the chunk store and back, checked."""

from __future__ import annotations

import hashlib
import os
import tracemalloc

import msgspec
import pytest

from actors.operations.checkpoint_verify import verify_checkpoint
from actors.wire.events import ActivityProgress
from actors.wire.requests import DeleteRequest, ProtectRequest, ResourceRef, RestoreRequest
from banks.base import Bank
from banks.chunks.layout import chunk_key
from plugins.checkpoint.checkpoint import resource_section_prefix
from plugins.openstack.resource_types import IMAGE
from tests.helpers.checkpoint_chunks import flip_a_bit, stored_chunks
from tests.unit.plugins.openstack.fake_cinder_glance import add_image
from tests.unit.plugins.openstack.helpers import sections, writes

PLUGIN = "os-image"
# small reads, so an image of a few MiB takes many
SMALL = {"chunk_size": str(64 << 10)}


def resource_prefix(bank: Bank, checkpoint_id: str, image_id: str) -> str:
    """Where the image's section is (a keyed name in a sealed bank: an encrypted store)."""
    return resource_section_prefix(bank, checkpoint_id, f"{IMAGE}#{image_id}") + "/"


async def test_an_image_round_trips_through_the_chunk_store_with_its_properties(
    cloud, engine_for
):
    data = os.urandom((2 << 20) + 12345)
    image = add_image(cloud, name="ubuntu", data=data, os_distro="ubuntu", hw_disk_bus="scsi")
    async with engine_for(PLUGIN, sections=sections(PLUGIN, **SMALL)) as engine:
        protected = await engine.run(
            ProtectRequest(resources=[ResourceRef(IMAGE, image["id"])]), timeout=30)
        assert protected.status == "succeeded", protected.error
        bank = await engine.bank(engine.provider())
        prefix = resource_prefix(bank, protected.checkpoint_id, image["id"])
        keys = [k.removeprefix(prefix) for k in await bank.list(prefix)]
        assert keys == ["image_chunks", "saved_info"]  # the bytes are chunks, not segments
        listed = msgspec.json.decode(await bank.get(prefix + "image_chunks"))
        assert listed["size"] == len(data)
        assert listed["sha256"] == hashlib.sha256(data).hexdigest()
        assert {ref[0] for ref in listed["chunks"]} <= await stored_chunks(engine)

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

        chunks = await stored_chunks(engine)
        deleted = await engine.run(DeleteRequest(checkpoint_id=protected.checkpoint_id),
                                   timeout=30)
        assert deleted.status == "succeeded", deleted.error
        assert await bank.list(prefix) == []
        assert await stored_chunks(engine) == chunks  # shared: left for garbage collection


async def test_an_unchanged_image_protected_again_stores_no_new_chunk(cloud, engine_for):
    # random, then a long run of zeros: the zeros cost one chunk however long they are
    data = os.urandom(3 << 20) + bytes(24 << 20)
    image = add_image(cloud, name="ubuntu", data=data)
    async with engine_for(PLUGIN, sections=sections(PLUGIN)) as engine:
        first = await engine.run(
            ProtectRequest(resources=[ResourceRef(IMAGE, image["id"])]), timeout=30)
        assert first.status == "succeeded", first.error
        after_first = await stored_chunks(engine)
        bank = await engine.bank(engine.provider())
        stored_bytes = sum([(await bank.head(chunk_key(i))).size for i in after_first])
        assert stored_bytes < 4 << 20  # 27 MiB, 24 of them zeros
        second = await engine.run(
            ProtectRequest(resources=[ResourceRef(IMAGE, image["id"])]), timeout=30)
        assert second.status == "succeeded", second.error
        assert await stored_chunks(engine) == after_first


async def test_a_flipped_byte_in_a_chunk_is_found_by_verify_and_refused_by_restore(
    cloud, engine_for
):
    data = os.urandom(3 << 20)
    image = add_image(cloud, name="ubuntu", data=data)
    async with engine_for(PLUGIN, sections=sections(PLUGIN)) as engine:
        protected = await engine.run(
            ProtectRequest(resources=[ResourceRef(IMAGE, image["id"])]), timeout=30)
        assert protected.status == "succeeded", protected.error
        bank = await engine.bank(engine.provider())
        prefix = resource_prefix(bank, protected.checkpoint_id, image["id"])
        listed = msgspec.json.decode(await bank.get(prefix + "image_chunks"))
        bad = listed["chunks"][1][0]
        await flip_a_bit(bank, bad)

        report = await verify_checkpoint(engine, protected.checkpoint_id)
        [problem] = report.problems
        assert (problem.resource, problem.chunk) == (f"{IMAGE}#{image['id']}", bad)
        assert "authentication failed" in problem.describe()

        restored = await engine.run(RestoreRequest(checkpoint_id=protected.checkpoint_id),
                                    timeout=30)
    assert restored.status == "failed"
    assert restored.error_resource == f"{IMAGE}#{image['id']}"
    assert f"chunk {bad}" in restored.error and f"{IMAGE}#{image['id']}" in restored.error
    assert cloud.ids("image") == [image["id"]]  # the half-made image is gone


async def test_a_chunk_list_copied_from_another_checkpoint_is_refused(cloud, engine_for):
    image = add_image(cloud, name="ubuntu", data=os.urandom(1 << 20))
    async with engine_for(PLUGIN, sections=sections(PLUGIN)) as engine:
        runs = [await engine.run(ProtectRequest(resources=[ResourceRef(IMAGE, image["id"])]),
                                 timeout=30) for _ in range(2)]
        assert [run.status for run in runs] == ["succeeded", "succeeded"]
        bank = await engine.bank(engine.provider())
        old, new = (resource_prefix(bank, run.checkpoint_id, image["id"]) for run in runs)
        await bank.put(new + "image_chunks", await bank.get(old + "image_chunks"))
        restored = await engine.run(RestoreRequest(checkpoint_id=runs[1].checkpoint_id),
                                    timeout=30)
    assert restored.status == "failed"
    assert "does not match the one the protect recorded" in restored.error
    assert cloud.ids("image") == [image["id"]]  # refused before any image was created


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


@pytest.mark.parametrize(("field", "named"), [
    # Glance's multihash checks the bytes (MD5 is then not computed: it costs the most)
    pytest.param("os_hash_value", "Glance's os_hash_value is " + "0" * 128, id="sha512"),
    # an image without a SHA-512 multihash: its MD5 checksum checks them
    pytest.param("checksum", "Glance says " + "0" * 32, id="md5"),
])
async def test_bytes_that_are_not_glances_fail_the_copy_naming_both_checksums(
    cloud, engine_for, field: str, named: str
):
    image = add_image(cloud, name="ubuntu")
    # Glance holds other bytes than it says
    image[field] = "0" * (128 if field == "os_hash_value" else 32)
    if field == "checksum":
        image["os_hash_value"] = None
    async with engine_for(PLUGIN, sections=sections(PLUGIN)) as engine:
        result = await engine.run(
            ProtectRequest(resources=[ResourceRef(IMAGE, image["id"])]), timeout=30)
    assert result.status == "failed"
    assert f"glance download image of {image['id']}" in result.error
    assert named in result.error


async def test_streaming_an_image_into_the_bank_holds_only_a_few_chunks_in_memory(
    cloud, engine_for, tmp_path
):
    size = 64 << 20
    image = add_image(cloud, name="big", data=os.urandom(size))
    options = {"chunk_size": str(256 << 10)}
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
    # the whole image is 64 MiB; the chunker holds up to 3 of its 4 MiB maximal chunks and
    # the store 4 in flight (encoded copies included): about 20 MiB whatever the image's size
    assert peak < 32 << 20, f"peak {peak / (1 << 20):.1f} MiB while streaming 64 MiB"


async def test_progress_events_carry_the_bytes_done_and_the_total_both_ways(cloud, engine_for):
    data = os.urandom(3 << 20)
    image = add_image(cloud, name="ubuntu", data=data)

    async def run_watched(engine, request):
        subscription = engine.subscribe()
        result = await engine.run(request, timeout=30)
        await subscription.close()
        assert result.status == "succeeded", result.error
        events = [e async for e in subscription if isinstance(e, ActivityProgress)]
        return result, (max(e.bytes_done for e in events), {e.bytes_total for e in events})

    async with engine_for(PLUGIN, sections=sections(PLUGIN, **SMALL)) as engine:
        protected, protect_progress = await run_watched(
            engine, ProtectRequest(resources=[ResourceRef(IMAGE, image["id"])]))
        _, restore_progress = await run_watched(
            engine, RestoreRequest(checkpoint_id=protected.checkpoint_id))
    assert protect_progress == restore_progress == (len(data), {len(data)})
