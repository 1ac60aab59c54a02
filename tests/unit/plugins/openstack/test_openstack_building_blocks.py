"""Settings, error translation, waits and image properties, each on its own."""

from __future__ import annotations

import time

import pytest
import requests
from keystoneauth1 import exceptions as ksa
from openstack import exceptions as sdk
from openstack.image.v2.image import Image
from openstack.test import fakes

from plugins.errors import InvalidPluginOption
from plugins.openstack.errors import (
    CloudAuthError,
    CloudCallFailed,
    CloudNotFound,
    CloudResourceFailed,
    CloudUnavailable,
    CloudWaitTimeout,
    translate,
)
from plugins.openstack.image_protection import _properties
from plugins.openstack.settings import CloudSettings
from plugins.openstack.waiting import MAX_SKIPPED, StatusWait


def test_section_options_override_the_cloud_inside_auth_and_hide_the_password() -> None:
    settings = CloudSettings.from_config({
        "cloud": "devcloud-admin", "password": "pa55word", "project_id": "p1",
        "region": "RegionTwo", "insecure": "yes", "sdk_threads": "3", "timeout": "5",
        "api_timeout": "7.5"})
    arguments = settings.connect_arguments()
    assert arguments == {"cloud": "devcloud-admin", "region_name": "RegionTwo",
                         "verify": False, "api_timeout": 7.5,
                         "auth": {"password": "pa55word", "project_id": "p1"}}
    assert settings.sdk_threads == 3 and settings.project_id == "p1"
    assert "pa55word" not in repr(settings) and settings.secrets() == ["pa55word"]


@pytest.mark.parametrize(("options", "named"), [
    ({"insecure": "maybe"}, "insecure"),
    ({"sdk_threads": "0"}, "sdk_threads"),
    ({"sdk_threads": "many"}, "sdk_threads"),
    ({"api_timeout": "0"}, "api_timeout"),
    ({"api_timeout": "soon"}, "api_timeout"),
])
def test_a_bad_connection_option_is_refused_by_name(options: dict[str, str], named: str) -> None:
    with pytest.raises(InvalidPluginOption, match=named):
        CloudSettings.from_config(options)


def _http(kind: type[sdk.HttpException], status: int) -> sdk.HttpException:
    response = requests.Response()
    response.status_code = status
    response.url = "https://volume.example.com/v3/p/backups"
    response._content = b"{}"
    return kind(message=f"HTTP {status}", response=response)


@pytest.mark.parametrize(("error", "kind", "retryable"), [
    (_http(sdk.HttpException, 500), CloudCallFailed, True),
    (_http(sdk.HttpException, 400), CloudCallFailed, False),
    (_http(sdk.NotFoundException, 404), CloudNotFound, False),
    (_http(sdk.HttpException, 403), CloudAuthError, False),
    (ksa.Unauthorized("who"), CloudAuthError, False),
    (ksa.ConnectFailure("refused"), CloudUnavailable, True),
    (ValueError("odd"), CloudCallFailed, False),
])
def test_sdk_exceptions_become_our_errors_naming_service_call_and_id(
    error: Exception, kind: type, retryable: bool
) -> None:
    ours = translate(error, "cinder", "create backup", "vol-1")
    assert type(ours) is kind
    assert ours.retryable is retryable
    assert str(ours).startswith("cinder create backup of vol-1: ")


def test_a_secret_echoed_by_a_service_is_scrubbed() -> None:
    ours = translate(ksa.Unauthorized("bad password hunter2"), "keystone", "auth", None,
                     ["hunter2"])
    assert "hunter2" not in str(ours) and "***" in str(ours)


class _Item:
    def __init__(self, status: str, fault: str | None = None) -> None:
        self.status = status
        self.fault = fault


def _wait(statuses: list[str], deadline: float | None = None) -> tuple[StatusWait, list[int]]:
    fetched: list[int] = []

    async def fetch() -> _Item:
        fetched.append(1)
        status = statuses[min(len(fetched), len(statuses)) - 1]
        return _Item(status, fault="disk full" if status == "error" else None)

    wait = StatusWait(fetch=fetch, status_of=lambda i: i.status, ready=("available",),
                      failed=("error",), service="cinder", what="backup", resource_id="b-1",
                      deadline=deadline if deadline is not None else time.monotonic() + 60,
                      fault_of=lambda i: i.fault)
    return wait, fetched


async def test_polls_back_off_one_more_skipped_step_each_time() -> None:
    wait, fetched = _wait(["creating"] * 4 + ["available"])
    steps = 0
    async for _ in wait.steps():
        steps += 1
    assert len(fetched) == 5
    assert steps == 1 + 2 + 3 + 4  # each busy poll skips one step more than the last
    assert wait.item.status == "available"


async def test_back_off_stops_growing_at_its_cap() -> None:
    busy = MAX_SKIPPED + 3
    wait, _ = _wait(["creating"] * busy + ["available"])
    steps = 0
    async for _ in wait.steps():
        steps += 1
    assert steps == sum(range(1, MAX_SKIPPED + 1)) + MAX_SKIPPED * (busy - MAX_SKIPPED)


async def test_an_error_state_fails_at_once_with_the_fault() -> None:
    wait, _ = _wait(["creating", "error"])
    with pytest.raises(CloudResourceFailed, match=r"cinder backup of b-1: went to 'error' "
                                                  r"\(disk full\)"):
        async for _ in wait.steps():
            pass


async def test_a_wait_past_its_deadline_names_the_state_it_was_stuck_in() -> None:
    wait, fetched = _wait(["creating"], deadline=time.monotonic() - 1)
    with pytest.raises(CloudWaitTimeout, match="still 'creating' after 1 polls"):
        async for _ in wait.steps():
            pass
    assert len(fetched) == 1


def test_image_properties_keep_common_and_custom_ones_and_drop_glance_fields() -> None:
    image = fakes.generate_fake_resource(
        Image, os_distro="ubuntu", hw_disk_bus="scsi", checksum="abc", size=3)
    image._update(properties={"owner_team": "infra", "os_glance_import_task": "t",
                              "stores": "fs"})
    found = _properties(image)
    assert found["os_distro"] == "ubuntu" and found["hw_disk_bus"] == "scsi"
    assert found["owner_team"] == "infra"
    # a real Glance hands 'stores' among the properties and refuses it on create
    assert not {"checksum", "size", "os_glance_import_task", "id", "name", "stores"} & set(found)
