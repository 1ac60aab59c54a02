"""``os-image`` through the chunk store on the real Glance: an image goes into the bank's
chunk store and comes back byte-identical; protected again unchanged it adds (almost)
nothing; a flipped byte in one of its chunks is found by verify and refused by restore,
naming the chunk; and a checkpoint of the old layout (raw ``data/<n>`` segments, written
here by the old code path) still restores.

Images of a few MiB: the tier's time matters, and chunking works the same on 6 MiB as on
6 GiB (the unit tests stream 200 MB through the same reader and writer).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import msgspec
import pytest

from actors.operations.checkpoint_verify import verify_checkpoint
from actors.operations.engine import Engine
from actors.wire.requests import ProtectRequest, ResourceRef, RestoreRequest
from banks.base import Bank
from banks.chunks.layout import DATA_PREFIX, chunk_key
from banks.section import BankSection
from plugins.checkpoint.checkpoint import resource_section_prefix
from plugins.context import ActivityContext, RequestContext
from plugins.openstack.image_protection import ImageProtection
from plugins.openstack.image_transfer import download_image
from plugins.openstack.resource_types import IMAGE
from tests.cloud.cloud_project import CloudProject, cloud_project
from tests.cloud.openstack_provider import write_provider
from tests.cloud.test_devcloud_smoke import require
from tests.devcloud.fixture import DevCloud

pytestmark = pytest.mark.cloud
PLUGIN = "os-image"
TIMEOUT = 600.0
MIB = 1 << 20
PASSPHRASE = "cloud-tier passphrase"


def image_content() -> bytes:
    """6 MiB as images are: random (compressed code), text-like, and a run of zeros."""
    text = b"".join(b"line %d of a configuration file\n" % i for i in range(40_000))
    return os.urandom(3 * MIB) + text[: 2 * MIB] + bytes(MIB)


def new_image(project: CloudProject, data: bytes, name: str = "disk") -> str:
    image = project.connection.image.create_image(
        name=name, data=data, disk_format="raw", container_format="bare", wait=True)
    return str(image.id)


def downloaded_sha256(project: CloudProject, image_id: str) -> str:
    digest = hashlib.sha256()
    response = project.connection.image.download_image(image_id, stream=True)
    for piece in response.iter_content(chunk_size=MIB):
        digest.update(piece)
    return digest.hexdigest()


def images_named(project: CloudProject, name: str) -> list[Any]:
    return [i for i in project.connection.image.images(owner=project.id) if i.name == name]


async def bank_bytes(bank: Bank) -> int:
    """What the chunk store holds: the stored size of every chunk object."""
    return sum([(await bank.head(key)).size async for key in bank.list_all(DATA_PREFIX)])


def section_of(bank: Bank, checkpoint_id: str, image_id: str) -> BankSection:
    """The image's section (a keyed name in a sealed bank: an encrypted store)."""
    return BankSection(bank, resource_section_prefix(bank, checkpoint_id, f"{IMAGE}#{image_id}"))


async def test_an_image_round_trips_through_the_chunk_store_and_a_bad_chunk_is_named(
    devcloud: DevCloud, tmp_path: Path
) -> None:
    require(devcloud, "glance")
    data = image_content()
    with cloud_project(devcloud, "strongbox-image-chunks") as project:
        image_id = new_image(project, data)
        providers = write_provider(tmp_path / "providers", tmp_path / "bank",
                                   devcloud.auth("demo"), plugins=(PLUGIN,),
                                   options={PLUGIN: {"passphrase": PASSPHRASE}})
        protect = ProtectRequest(project_id=project.id, resources=[ResourceRef(IMAGE, image_id)])
        async with Engine.embedded(providers) as engine:
            bank = await engine.bank(engine.provider())
            first = await engine.run(protect, timeout=TIMEOUT)
            assert first.status == "succeeded", first.error
            after_first = await bank_bytes(bank)
            second = await engine.run(protect, timeout=TIMEOUT)
            assert second.status == "succeeded", second.error
            added = await bank_bytes(bank) - after_first
            # an unchanged image: no new chunk at all (the chunk list is in the section)
            assert added <= len(data) // 100, f"second protect added {added} bytes"
            assert after_first < len(data) * 0.7  # zeros and text compress, dedup

            project.connection.image.delete_image(image_id)
            restored = await engine.run(RestoreRequest(
                project_id=project.id, checkpoint_id=second.checkpoint_id,
                parameters={IMAGE: {"restore_name": "disk-back"}}), timeout=TIMEOUT)
            assert restored.status == "succeeded", restored.error
            (back,) = images_named(project, "disk-back")
            assert downloaded_sha256(project, back.id) == hashlib.sha256(data).hexdigest()

            listed = msgspec.json.decode(
                await section_of(bank, second.checkpoint_id, image_id).get("image_chunks"))
            bad = listed["chunks"][0][0]
            stored = bytearray(await bank.get(chunk_key(bad)))
            stored[len(stored) // 2] ^= 0x01  # one flipped bit in the bank
            await bank.put(chunk_key(bad), bytes(stored))
            report = await verify_checkpoint(engine, second.checkpoint_id)
            [problem] = report.problems
            assert (problem.resource, problem.chunk) == (f"{IMAGE}#{image_id}", bad)
            refused = await engine.run(RestoreRequest(
                project_id=project.id, checkpoint_id=second.checkpoint_id,
                parameters={IMAGE: {"restore_name": "disk-bad"}}), timeout=TIMEOUT)
        assert refused.status == "failed"
        assert f"chunk {bad}" in refused.error and f"{IMAGE}#{image_id}" in refused.error
        assert images_named(project, "disk-bad") == []  # the half-made image was deleted


async def write_segments_layout(engine: Engine, project: CloudProject, checkpoint_id: str,
                                image_id: str) -> int:
    """Turn the image's section into the layout written before the chunk store: raw
    ``data/<n>`` segments (by the old code path, ``image_transfer.download_image``) and a
    saved info without ``layout``. Returns the number of segments."""
    plugin = engine.provider().plugin_for(IMAGE)
    assert isinstance(plugin, ImageProtection)
    section = section_of(await engine.bank(engine.provider()), checkpoint_id, image_id)
    await section.delete("image_chunks")
    image = project.connection.image.get_image(image_id)
    context = ActivityContext(operation_id="old-layout", operation_type="protect",
                              activity="protect_parallel",
                              request=RequestContext(project_id=project.id))
    _, segments = await download_image(plugin.cloud, context, image_id, section,
                                       chunk_size=256 << 10, segment_size=2 * MIB,
                                       total=image.size, checksum=image.checksum)
    saved = msgspec.json.decode(await section.get("saved_info"))
    del saved["layout"]
    saved["segments"] = segments
    await section.put("saved_info", msgspec.json.encode(saved))
    return segments


async def test_a_checkpoint_of_raw_segments_written_before_the_chunk_store_still_restores(
    devcloud: DevCloud, tmp_path: Path
) -> None:
    require(devcloud, "glance")
    data = os.urandom(5 * MIB + 123)
    with cloud_project(devcloud, "strongbox-image-segments") as project:
        image_id = new_image(project, data)
        # only an unencrypted store can hold raw segments
        providers = write_provider(tmp_path / "providers", tmp_path / "bank",
                                   devcloud.auth("demo"), plugins=(PLUGIN,),
                                   options={PLUGIN: {"encryption": "none"}})
        async with Engine.embedded(providers) as engine:
            protected = await engine.run(ProtectRequest(
                project_id=project.id, resources=[ResourceRef(IMAGE, image_id)]),
                timeout=TIMEOUT)
            assert protected.status == "succeeded", protected.error
            segments = await write_segments_layout(engine, project, protected.checkpoint_id,
                                                   image_id)
            assert segments == 3
            project.connection.image.delete_image(image_id)
            restored = await engine.run(RestoreRequest(
                project_id=project.id, checkpoint_id=protected.checkpoint_id,
                parameters={IMAGE: {"restore_name": "old-back"}}), timeout=TIMEOUT)
            assert restored.status == "succeeded", restored.error
        (back,) = images_named(project, "old-back")
        assert downloaded_sha256(project, back.id) == hashlib.sha256(data).hexdigest()
