"""``os-volume-bytes`` on the real Cinder and Glance: a volume's bytes go through an image
into the bank's chunk store and back into a new volume, identical; protected again
unchanged it adds nothing to the store; no temporary image, clone or snapshot stays
behind, also when the restore fails. The bank is a Swift bank authenticating through
Keystone, on the Swift in the dev cloud's catalog (``keystone_swift``).

Cinder uploads a raw volume to Glance with a plain copy, but creates a volume from an
image with ``qemu-img`` (Debian ``qemu-utils``, which ``make test`` installs).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

from actors.operations.engine import Engine
from actors.wire.requests import ProtectRequest, ResourceRef, RestoreRequest
from banks.sealed import SealedBank
from banks.swift.bank import SwiftBank
from plugins.openstack.resource_types import VOLUME
from tests.cloud.cloud_project import assert_only_volumes, cloud_project, new_volume
from tests.cloud.fault_proxy import FaultProxy
from tests.cloud.openstack_provider import write_provider
from tests.cloud.proxied_cloud import faulty_cloud
from tests.cloud.roundtrip_project import DATA_OFFSET, DATA_SIZE
from tests.cloud.test_devcloud_smoke import require
from tests.cloud.test_openstack_image_chunks import bank_bytes
from tests.devcloud.fixture import DevCloud
from tests.swift_server.server import SwiftEndpoint

pytestmark = pytest.mark.cloud
PLUGIN = "os-volume-bytes"
TIMEOUT = 900.0  # a bound for a hung cloud; a 1 GiB volume takes well under a minute


def require_qemu_img() -> None:
    """Skip without qemu-img on this host (where cinder-volume runs); fail under CI."""
    if shutil.which("qemu-img"):
        return
    reason = ("qemu-img (Debian qemu-utils) is missing: Cinder needs it to create a volume "
              "from an image; `make test` installs it")
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def sha256(path: Path) -> str:
    with path.open("rb") as device:
        return hashlib.file_digest(device, "sha256").hexdigest()


async def test_a_volume_goes_through_an_image_into_the_bank_and_back_identical(
    devcloud: DevCloud, keystone_swift: SwiftEndpoint, cinder_proxy: FaultProxy,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    for service in ("cinder", "glance"):
        require(devcloud, service)
    require_qemu_img()
    with cloud_project(devcloud, "strongbox-volume-bytes") as project:
        storage = project.connection.block_storage
        volume_id = new_volume(project)
        data = os.urandom(DATA_SIZE)
        with devcloud.volume_file(volume_id).open("r+b") as device:
            device.seek(DATA_OFFSET)
            device.write(data)
        original = sha256(devcloud.volume_file(volume_id))
        # block storage through a proxy, to fail one restore's volume creation
        connection = faulty_cloud(tmp_path, devcloud, monkeypatch,
                                  block_storage_endpoint_override=(
                                      f"{cinder_proxy.url}/v3/{project.id}"))
        # the demo user's own Swift account, found in the catalog as the plugins find Cinder
        swift = {"auth": "keystone", "container": f"volume-bytes-{project.id}", **connection}
        providers = write_provider(tmp_path / "providers", swift, connection,
                                   plugins=(PLUGIN,),
                                   options={PLUGIN: {"passphrase": "cloud-tier passphrase"}})
        protect = ProtectRequest(project_id=project.id,
                                 resources=[ResourceRef(VOLUME, volume_id)])
        async with Engine.embedded(providers) as engine:
            bank = await engine.bank(engine.provider())
            assert isinstance(bank, SealedBank) and isinstance(bank.inner, SwiftBank)
            first = await engine.run(protect, timeout=TIMEOUT)
            assert first.status == "succeeded", first.error
            stored = await bank_bytes(bank)
            # 1 GiB, all zeros but 192 KiB: one zero chunk and a few of data
            assert stored < 2 * DATA_SIZE
            protected = await engine.run(protect, timeout=TIMEOUT)
            assert protected.status == "succeeded", protected.error
            added = await bank_bytes(bank) - stored
            assert added <= stored // 100, f"an unchanged volume added {added} bytes"
            assert_only_volumes(project, "data")
            storage.delete_volume(volume_id)
            storage.wait_for_delete(storage.get_volume(volume_id), wait=240)

            cinder_proxy.add("POST", r"/volumes$", "fail")
            failed = await engine.run(RestoreRequest(
                project_id=project.id, checkpoint_id=protected.checkpoint_id),
                timeout=TIMEOUT)
            assert failed.status == "failed"
            assert failed.error_resource == f"{VOLUME}#{volume_id}"
            assert "cinder create volume of" in failed.error and "500" in failed.error
            assert len(cinder_proxy.injected) == 1
            assert_only_volumes(project)  # the image rebuilt for the restore is deleted

            cinder_proxy.rules.clear()
            restored = await engine.run(RestoreRequest(
                project_id=project.id, checkpoint_id=protected.checkpoint_id,
                parameters={VOLUME: {"restore_name": "data-back"}}), timeout=TIMEOUT)
            assert restored.status == "succeeded", restored.error
        assert_only_volumes(project, "data-back")
        (new,) = storage.volumes()
        assert (new.size, new.status) == (1, "available")
        assert str(new.is_bootable).lower() == "false"  # as the original, not as an image's
        with devcloud.volume_file(new.id).open("rb") as device:
            device.seek(DATA_OFFSET)
            assert device.read(DATA_SIZE) == data
        assert sha256(devcloud.volume_file(new.id)) == original  # every byte, holes too
