"""Fixtures of the OpenStack plugin tests: a fake cloud at the HTTP layer, a clouds.yaml."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests_mock

from tests.unit.plugins.openstack.fake_cinder_glance import cinder, glance
from tests.unit.plugins.openstack.fake_cloud import FakeCloud
from tests.unit.plugins.openstack.fake_manila_trove import manila, trove
from tests.unit.plugins.openstack.fake_nova_neutron import neutron, nova

CLOUD_OPTIONS = {"cloud": "fake", "poll_interval": "0.001", "timeout": "30"}


@pytest.fixture
def cloud(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeCloud]:
    """The fake cloud, reachable as ``cloud = fake`` through a clouds.yaml of its own."""
    for name in list(os.environ):
        if name.startswith("OS_"):
            monkeypatch.delenv(name)
    fake = FakeCloud()
    fake.handlers.update(volume=cinder, image=glance, compute=nova, network=neutron,
                         share=manila, database=trove)
    # the image and volume-bytes plugins keep bytes in an encrypted chunk store
    monkeypatch.setenv("STRONGBOX_PASSPHRASE", "unit-test passphrase")
    clouds = tmp_path / "clouds.yaml"
    clouds.write_text(fake.clouds_yaml())
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(clouds))
    with requests_mock.Mocker() as mocker:
        fake.install(mocker)
        yield fake


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """openstacksdk 4.x warns about its own internals on every connect (InfluxDB support,
    the service_type argument it passes itself): ignore its removal warnings here."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.path).parents:
            item.add_marker(
                pytest.mark.filterwarnings("ignore::openstack.warnings._RemovedInSDKWarning")
            )
