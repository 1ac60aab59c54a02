"""Image bytes in the bank's one chunk store: shared with directories, collected by the same
garbage collection, and checkpoints of the old raw-segment layout still restored where
the store is unencrypted (refused where it is encrypted)."""

from __future__ import annotations

import os
from pathlib import Path

import msgspec

from actors.operations.bank_gc import collect_bank_garbage
from actors.operations.checkpoint_verify import verify_checkpoint
from actors.operations.engine import Engine
from actors.wire.requests import DeleteRequest, ProtectRequest, ResourceRef, RestoreRequest
from banks.base import Bank
from banks.section import BankSection
from plugins.checkpoint.checkpoint import resource_section_prefix
from plugins.context import ActivityContext, RequestContext
from plugins.openstack.image_protection import ImageProtection
from plugins.openstack.image_transfer import download_image
from plugins.openstack.resource_types import IMAGE
from tests.helpers.checkpoint_chunks import stored_chunks
from tests.unit.plugins.openstack.fake_cinder_glance import add_image
from tests.unit.plugins.openstack.helpers import sections

PLUGIN = "os-image"
DIRECTORY = "Strongbox::Directory"


def image_section(bank: Bank, checkpoint_id: str, image_id: str) -> BankSection:
    """The image's section (a keyed name in a sealed bank: an encrypted store)."""
    return BankSection(bank, resource_section_prefix(bank, checkpoint_id, f"{IMAGE}#{image_id}"))


async def test_a_chunk_an_image_and_a_directory_share_is_stored_once(
    cloud, engine_for, tmp_path: Path
):
    data = os.urandom(6 << 20)
    image = add_image(cloud, name="disk", data=data)
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "disk.img").write_bytes(data)  # the same bytes as a file
    text = "plugin = directory\n" + sections(PLUGIN) + "[directory]\n"
    async with engine_for(PLUGIN, sections=text) as engine:
        protected = await engine.run(
            ProtectRequest(resources=[ResourceRef(IMAGE, image["id"])]), timeout=30)
        assert protected.status == "succeeded", protected.error
        after_image = await stored_chunks(engine)
        tree_protected = await engine.run(
            ProtectRequest(resources=[ResourceRef(DIRECTORY, str(tree))]), timeout=30)
        assert tree_protected.status == "succeeded", tree_protected.error
        added = await stored_chunks(engine) - after_image
    assert len(after_image) >= 3
    assert len(added) == 1  # the directory's manifest; its file's chunks were the image's


async def test_garbage_collection_keeps_a_live_images_chunks_and_sweeps_a_deleted_ones(
    cloud, engine_for
):
    image = add_image(cloud, name="disk", data=os.urandom(3 << 20))
    async with engine_for(PLUGIN, sections=sections(PLUGIN)) as engine:
        protected = await engine.run(
            ProtectRequest(resources=[ResourceRef(IMAGE, image["id"])]), timeout=30)
        assert protected.status == "succeeded", protected.error
        chunks = await stored_chunks(engine)
        kept = await collect_bank_garbage(engine, grace=0.0)
        assert (kept.marked, kept.sweep.deleted) == (len(chunks), 0)
        deleted = await engine.run(DeleteRequest(checkpoint_id=protected.checkpoint_id),
                                   timeout=30)
        assert deleted.status == "succeeded", deleted.error
        swept = await collect_bank_garbage(engine, grace=0.0)
        assert swept.sweep.deleted == len(chunks)
        assert await stored_chunks(engine) == set()


async def write_segments_layout(engine: Engine, checkpoint_id: str, image_id: str) -> int:
    """Turn the image's section into the layout written before the chunk store: raw
    ``data/<n>`` segments (by the old code path) and a saved info without ``layout``."""
    plugin = engine.provider().plugin_for(IMAGE)
    assert isinstance(plugin, ImageProtection)
    section = image_section(await engine.bank(engine.provider()), checkpoint_id, image_id)
    await section.delete("image_chunks")
    saved = msgspec.json.decode(await section.get("saved_info"))
    context = ActivityContext(operation_id="old", operation_type="protect",
                              activity="protect_parallel", request=RequestContext())
    _, segments = await download_image(plugin.cloud, context, image_id, section,
                                       chunk_size=64 << 10, segment_size=1 << 20,
                                       total=saved["size"], checksum=saved["checksum"])
    del saved["layout"]
    saved["segments"] = segments
    await section.put("saved_info", msgspec.json.encode(saved))
    return segments


async def test_raw_segments_restore_from_an_unencrypted_store(cloud, engine_for):
    data = os.urandom((2 << 20) + 77)
    image = add_image(cloud, name="old", data=data)
    async with engine_for(PLUGIN, sections=sections(PLUGIN, encryption="none")) as engine:
        protected = await engine.run(
            ProtectRequest(resources=[ResourceRef(IMAGE, image["id"])]), timeout=30)
        assert protected.status == "succeeded", protected.error
        assert await write_segments_layout(engine, protected.checkpoint_id, image["id"]) == 3
        report = await verify_checkpoint(engine, protected.checkpoint_id)
        assert report.ok, report.problems
        restored = await engine.run(RestoreRequest(
            checkpoint_id=protected.checkpoint_id,
            parameters={IMAGE: {"restore_name": "old-again"}}), timeout=30)
    assert restored.status == "succeeded", restored.error
    (new,) = [i for i in cloud.table("image").values() if i["name"] == "old-again"]
    assert cloud.blobs[new["id"]] == data


async def test_raw_segments_in_an_encrypted_store_are_refused_as_planted(cloud, engine_for):
    image = add_image(cloud, name="old", data=os.urandom(1 << 20))
    async with engine_for(PLUGIN, sections=sections(PLUGIN)) as engine:
        protected = await engine.run(
            ProtectRequest(resources=[ResourceRef(IMAGE, image["id"])]), timeout=30)
        assert protected.status == "succeeded", protected.error
        await write_segments_layout(engine, protected.checkpoint_id, image["id"])
        report = await verify_checkpoint(engine, protected.checkpoint_id)
        [problem] = report.problems
        assert "refused as planted" in problem.reason
        restored = await engine.run(RestoreRequest(checkpoint_id=protected.checkpoint_id),
                                    timeout=30)
    assert restored.status == "failed"
    assert "segments found where chunks are required, as the store is encrypted" in (
        restored.error)
    assert cloud.ids("image") == [image["id"]]  # refused before any image was created


async def test_several_images_move_at_once_within_the_plugins_byte_budget(cloud, engine_for):
    images = [add_image(cloud, name=f"disk-{n}", data=os.urandom(6 << 20)) for n in range(3)]
    options = {"max_concurrent_activities": "3", "bytes_in_flight": str(16 << 20)}
    async with engine_for(PLUGIN, sections=sections(PLUGIN, **options)) as engine:
        protected = await engine.run(ProtectRequest(
            resources=[ResourceRef(IMAGE, image["id"]) for image in images]), timeout=30)
        assert protected.status == "succeeded", protected.error
        restored = await engine.run(RestoreRequest(checkpoint_id=protected.checkpoint_id),
                                    timeout=30)
        assert restored.status == "succeeded", restored.error
        plugin = engine.provider().plugin_for(IMAGE)
        assert isinstance(plugin, ImageProtection)
        budget = plugin.bytes.budget
    assert budget.in_use == 0 and 0 < budget.peak <= 16 << 20
    copies = sorted(blob for image_id, blob in cloud.blobs.items()
                    if image_id not in {image["id"] for image in images})
    assert copies == sorted(cloud.blobs[image["id"]] for image in images)
