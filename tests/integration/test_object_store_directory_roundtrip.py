"""The engine protects a directory into an S3 or Swift bank and restores it elsewhere."""

from __future__ import annotations

import pytest

from actors.wire.requests import DeleteRequest, ProtectRequest, ResourceRef, RestoreRequest
from banks.keys import encode_segment
from tests.helpers.directory_trees import build_awkward_tree, snapshot
from tests.helpers.sealed_banks import unsealed
from tests.integration.object_store_banks import bank_options
from tests.swift_server.server import SwiftEndpoint

DIRECTORY = "Strongbox::Directory"


def provider_sections(kind: str, server: SwiftEndpoint) -> str:
    """The provider file's plugin line and the bank's section, as an operator writes it."""
    options = "\n".join(f"{name} = {value}" for name, value in bank_options(kind, server).items())
    # the directory plugin's chunk store is encrypted: its passphrase, as a user gives it
    return (
        f"plugin = directory\n[{kind}]\n{options}\n"
        "[directory]\npassphrase = object store round trip passphrase\n"
    )


@pytest.mark.parametrize("kind", ["swift", "s3"])
async def test_a_directory_round_trips_through_an_object_store_bank(
    kind: str, engine_for, tmp_path, swift_server: SwiftEndpoint
) -> None:
    source, target = tmp_path / "source", tmp_path / "target"
    build_awkward_tree(source)
    sections = provider_sections(kind, swift_server)
    async with engine_for("noop", bank=kind, sections=sections) as engine:
        protected = await engine.run(
            ProtectRequest(resources=[ResourceRef(DIRECTORY, str(source))]), timeout=120
        )
        assert protected.status == "succeeded", protected.error
        restored = await engine.run(
            RestoreRequest(
                checkpoint_id=protected.checkpoint_id,
                parameters={DIRECTORY: {"target": str(target)}},
            ),
            timeout=120,
        )
        assert restored.status == "succeeded", restored.error
        assert snapshot(target) == snapshot(source)

        deleted = await engine.run(
            DeleteRequest(checkpoint_id=protected.checkpoint_id), timeout=120
        )
        assert deleted.status == "succeeded", deleted.error
        bank = await engine.bank(engine.provider())
        assert type(unsealed(bank)).name == kind  # sealed: its store is encrypted
        prefix = f"/checkpoints/{encode_segment(protected.checkpoint_id)}/"
        assert await bank.list(prefix) == [prefix + "index"]
