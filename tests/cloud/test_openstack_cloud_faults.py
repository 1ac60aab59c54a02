"""Faults of the real cloud: the resource fails naming service, call and resource, and the
temporary resources the plugin made are gone from the cloud afterwards.

A backup that goes to ``error`` is a real one of the real Cinder (its posix driver cannot
write the container); the 500s and the hung call come from a proxy in front of Cinder's
or Glance's endpoint (``fault_proxy``), reached through an endpoint override in a
clouds.yaml, so every other call is the real service's answer.

``os-volume-backup`` meets all three; ``os-image`` a 500 on a restore's upload;
``os-volume-bytes`` a 500 on reading the image Cinder made of its temporary clone.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from actors.operations.engine import Engine
from actors.wire.requests import ProtectRequest, ResourceRef, RestoreRequest
from plugins.openstack.resource_types import IMAGE, VOLUME
from tests.cloud.cloud_project import (
    CloudProject,
    assert_only_volumes,
    cloud_project,
    new_volume,
    wait_until,
)
from tests.cloud.fault_proxy import Action, FaultProxy
from tests.cloud.openstack_provider import write_provider
from tests.cloud.proxied_cloud import faulty_cloud
from tests.cloud.test_devcloud_smoke import require
from tests.devcloud.fixture import DevCloud

pytestmark = pytest.mark.cloud
PLUGIN = "os-volume-backup"


@pytest.fixture
def project(devcloud: DevCloud) -> Iterator[CloudProject]:
    require(devcloud, "cinder")
    with cloud_project(devcloud, "strongbox-faults") as made:
        yield made


async def protect_volume(providers: Path, project: CloudProject, volume_id: str,
                         **parameters: str) -> Any:
    async with Engine.embedded(providers) as engine:
        return await engine.run(ProtectRequest(
            project_id=project.id, resources=[ResourceRef(VOLUME, volume_id)],
            parameters={VOLUME: dict(parameters)}), timeout=900)


def assert_nothing_left(project: CloudProject) -> None:
    """No snapshot and no backup in the project: the plugin removed what it made."""
    storage = project.connection.block_storage
    # a deleted backup or snapshot is gone once Cinder's own delete has run
    wait_until(lambda: not list(storage.snapshots()) and not list(storage.backups()),
               "the temporary snapshot and the failed backup to be gone", timeout=120)


@pytest.fixture
def faulty_connection(tmp_path: Path, devcloud: DevCloud, project: CloudProject,
                      cinder_proxy: FaultProxy,
                      monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Block storage (for ``project``) through the proxy."""
    return faulty_cloud(tmp_path, devcloud, monkeypatch, block_storage_endpoint_override=(
        f"{cinder_proxy.url}/v3/{project.id}"))


async def test_a_backup_that_goes_to_error_fails_the_volume_and_leaves_nothing(
    devcloud: DevCloud, project: CloudProject, tmp_path: Path
) -> None:
    volume_id = new_volume(project)
    # a file where the posix driver wants the container directory: every write fails
    blocked = devcloud.config.state / "cinder" / "backups" / f"blocked-{project.name}"
    blocked.parent.mkdir(parents=True, exist_ok=True)
    blocked.write_text("not a directory\n")
    try:
        providers = write_provider(tmp_path / "providers", tmp_path / "bank",
                                   devcloud.auth("demo"), plugins=(PLUGIN,))
        result = await protect_volume(providers, project, volume_id, container=blocked.name)
    finally:
        blocked.unlink()
    assert result.status == "failed"
    assert result.error_resource == f"{VOLUME}#{volume_id}"
    assert "cinder backup of" in result.error and "went to 'error'" in result.error
    assert_nothing_left(project)


@pytest.mark.parametrize("fault", [
    pytest.param(("fail", {}, "injected fault"), id="500"),
    # api_timeout: the hung request fails by itself, long before the activity's timeout
    pytest.param(("stall", {"api_timeout": "5", "timeout": "300"}, "timed out"), id="hung"),
])
async def test_a_cinder_call_that_fails_or_hangs_fails_the_volume_and_removes_the_snapshot(
    project: CloudProject, cinder_proxy: FaultProxy, faulty_connection: dict[str, str],
    tmp_path: Path, fault: tuple[Action, dict[str, str], str],
) -> None:
    action, options, reason = fault
    volume_id = new_volume(project)
    cinder_proxy.add("POST", r"/backups$", action)
    providers = write_provider(tmp_path / "providers", tmp_path / "bank", faulty_connection,
                               plugins=(PLUGIN,), options={PLUGIN: options})
    result = await protect_volume(providers, project, volume_id)
    assert result.status == "failed"
    assert result.error_resource == f"{VOLUME}#{volume_id}"
    assert f"cinder create backup of {volume_id}" in result.error and reason in result.error
    assert cinder_proxy.injected and all(hit.startswith("POST ") and hit.endswith(action)
                                         for hit in cinder_proxy.injected)
    assert_nothing_left(project)


async def test_a_500_on_an_image_upload_fails_the_restore_and_deletes_the_half_made_image(
    devcloud: DevCloud, project: CloudProject, glance_proxy: FaultProxy, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    images = project.connection.image
    original = images.create_image(name="tools", data=os.urandom(512 * 1024),
                                   disk_format="raw", container_format="bare", wait=True)
    connection = faulty_cloud(tmp_path, devcloud, monkeypatch,
                              image_endpoint_override=glance_proxy.url)
    providers = write_provider(tmp_path / "providers", tmp_path / "bank", connection,
                               plugins=("os-image",))
    async with Engine.embedded(providers) as engine:
        protected = await engine.run(ProtectRequest(
            project_id=project.id, resources=[ResourceRef(IMAGE, original.id)]), timeout=300)
        assert protected.status == "succeeded", protected.error
        glance_proxy.add("PUT", r"/v2/images/[^/]+/file$", "fail")
        result = await engine.run(RestoreRequest(
            project_id=project.id, checkpoint_id=protected.checkpoint_id), timeout=300)
    assert result.status == "failed"
    assert result.error_resource == f"{IMAGE}#{original.id}"
    assert "glance upload image of" in result.error and "500" in result.error
    (hit,) = glance_proxy.injected
    half_made = hit.split()[1].split("/")[3]  # PUT /v2/images/<id>/file
    assert half_made != original.id and half_made in result.error
    assert [image.id for image in images.images(owner=project.id)] == [original.id]


async def test_a_500_on_the_download_of_the_volume_image_removes_image_clone_and_snapshot(
    devcloud: DevCloud, project: CloudProject, glance_proxy: FaultProxy, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    require(devcloud, "glance")
    volume_id = new_volume(project)
    # Cinder uploads the clone to Glance itself; the plugin reads the image through the proxy
    glance_proxy.add("GET", r"/v2/images/[^/]+/file$", "fail")
    connection = faulty_cloud(tmp_path, devcloud, monkeypatch,
                              image_endpoint_override=glance_proxy.url)
    providers = write_provider(tmp_path / "providers", tmp_path / "bank", connection,
                               plugins=("os-volume-bytes",))
    result = await protect_volume(providers, project, volume_id)
    assert result.status == "failed"
    assert result.error_resource == f"{VOLUME}#{volume_id}"
    (hit,) = glance_proxy.injected
    image_id = hit.split()[1].split("/")[3]  # GET /v2/images/<id>/file
    assert f"glance download image of {image_id}" in result.error and "500" in result.error
    assert_only_volumes(project, "data")  # the temporary image, clone and snapshot are gone
