"""The shipped OpenStack provider file: it parses, loads, and needs no bank to load."""

from __future__ import annotations

from pathlib import Path

import pytest

from actors.operations.engine import Engine
from banks.errors import BankError
from plugins.openstack.resource_types import (
    DATABASE,
    IMAGE,
    NETWORK,
    PROJECT,
    SERVER,
    SHARE,
    VOLUME,
)
from plugins.provider import load_providers
from plugins.provider.config import parse_provider_file
from tests.cloud.openstack_provider import SHIPPED, shipped_provider
from tests.unit.plugins.openstack.fake_cinder_glance import add_volume


def enabled_copy(directory: Path, swift_auth_url: str) -> Path:
    """The shipped file, enabled, its bank pointed at ``swift_auth_url``; the plugins find
    their cloud through ``$OS_CLOUD``, as the file's comment tells an operator."""
    return shipped_provider(directory, {"swift": {
        "auth": "tempauth", "auth_url": swift_auth_url, "user": "test:tester",
        "key": "testing"}})


def test_the_shipped_openstack_provider_parses_disabled_with_a_swift_bank() -> None:
    config = parse_provider_file(SHIPPED)
    assert (config.name.value, config.bank.value, config.enabled) == ("OpenStack", "swift",
                                                                     False)
    assert [ref.value for ref in config.plugins] == [
        "os-project", "os-server", "os-volume-backup", "os-image", "os-network",
        "os-share-snapshot", "os-database-backup", "noop"]


async def test_the_shipped_providers_still_have_one_default() -> None:
    providers = await load_providers()
    assert providers.default().name == "Local"


async def test_enabled_it_loads_every_plugin_without_reaching_its_bank(tmp_path: Path) -> None:
    providers = await load_providers(enabled_copy(tmp_path / "p", "http://127.0.0.1:9/auth/v1.0"))
    provider = providers.get("OpenStack")
    handled = {t: type(provider.plugin_for(t)).__name__
               for t in (PROJECT, SERVER, VOLUME, IMAGE, NETWORK, SHARE, DATABASE)}
    assert handled == {
        PROJECT: "ProjectProtection", SERVER: "ServerProtection",
        VOLUME: "VolumeBackupProtection", IMAGE: "ImageProtection",
        NETWORK: "NetworkProtection", SHARE: "ShareSnapshotProtection",
        DATABASE: "DatabaseBackupProtection"}
    assert provider.plugin_for("OS::Kubernetes::Pod") is provider.plugins["noop"]
    schemas = provider.extended_info_schema()
    assert "backup_mode" in str(schemas["options_schema"][VOLUME])
    assert "restore_net_id" in str(schemas["restore_schema"][SERVER])


async def test_resources_are_listed_with_the_bank_never_opened(
    cloud, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OS_CLOUD", "fake")  # the file's sections name no cloud
    volume = add_volume(cloud, name="data")
    directory = enabled_copy(tmp_path / "p", "http://127.0.0.1:9/auth/v1.0")
    async with Engine.embedded(directory) as engine:
        listed = await engine.list_resources(VOLUME, provider="OpenStack")
    assert [r.id for r in listed] == [volume["id"]]
    assert not any("127.0.0.1" in call for call in cloud.calls)


async def test_an_unreachable_swift_fails_only_when_the_bank_is_used_naming_it(
    tmp_path: Path,
) -> None:
    # port 9 (discard) on loopback: nothing listens, the connection is refused
    directory = enabled_copy(tmp_path / "p", "http://127.0.0.1:9/auth/v1.0")
    async with Engine.embedded(directory) as engine:
        provider = engine.provider("OpenStack")
        with pytest.raises(BankError, match=r"127\.0\.0\.1:9"):
            await engine.bank(provider)
