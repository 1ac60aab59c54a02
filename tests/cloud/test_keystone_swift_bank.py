"""The shipped provider's Swift bank, as shipped (``auth = keystone``), on a Swift behind
the dev cloud's Keystone: the endpoint comes from the catalog, the account is the
project of the user ``OS_CLOUD`` names, and a user Keystone refuses gets a clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from actors.operations.engine import Engine
from banks.errors import BankError
from banks.sealed import SealedBank
from banks.swift.bank import SwiftBank
from tests.cloud.keystone_swift import object_sizes
from tests.cloud.openstack_provider import shipped_provider
from tests.devcloud.fixture import DevCloud, use_cloud
from tests.swift_server.server import SwiftEndpoint

CONTAINER = "strongbox"  # the shipped file's


async def test_the_shipped_swift_bank_finds_swift_in_the_catalog_and_keeps_objects(
    devcloud: DevCloud, keystone_swift: SwiftEndpoint, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_cloud(devcloud, monkeypatch)
    # os-image keeps chunks, encrypted: the engine hands out the bank sealed, over Swift
    monkeypatch.setenv("STRONGBOX_PASSPHRASE", "swift bank passphrase")
    providers = shipped_provider(tmp_path / "providers", {})
    async with Engine.embedded(providers) as engine:
        sealed = await engine.bank(engine.provider("OpenStack"))
        assert isinstance(sealed, SealedBank)
        bank = sealed.inner  # the Swift bank itself: objects as they are stored
        assert isinstance(bank, SwiftBank)
        key = f"/probe/{tmp_path.name}"
        await bank.put(key, b"through keystone")
        assert await bank.get(key) == b"through keystone"
        demo = devcloud.connect("demo")
        # the object is in the demo project's own account, found with demo's token
        assert f"AUTH_{demo.current_project_id}" in demo.object_store.get_endpoint()
        stored = object_sizes(demo, CONTAINER, "objects/probe/")
        assert sum(stored.values()) >= len(b"through keystone")
        await bank.delete(key)


async def test_a_user_keystone_refuses_gets_a_bank_error_naming_keystone(
    devcloud: DevCloud, keystone_swift: SwiftEndpoint, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wrong = tmp_path / "clouds.yaml"
    wrong.write_text(devcloud.clouds_yaml.read_text().replace(
        '"password": "', '"password": "wrong-'))
    use_cloud(devcloud, monkeypatch, clouds_yaml=wrong)
    providers = shipped_provider(tmp_path / "providers", {})
    async with Engine.embedded(providers) as engine:
        with pytest.raises(BankError) as refused:
            await engine.bank(engine.provider("OpenStack"))
    message = str(refused.value)
    assert "swift bank: keystone authentication failed" in message and "401" in message
    assert "wrong-" not in message
