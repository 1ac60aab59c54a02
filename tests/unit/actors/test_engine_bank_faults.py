"""A bank that is full or unreachable: a clear error naming what and where; nothing lost."""

from __future__ import annotations

from collections.abc import AsyncIterable, Mapping

import pytest

from actors.wire.requests import ProtectRequest, ResourceRef
from banks.errors import BankFull, BankUnavailable
from banks.memory_bank import MemoryBank
from tests.helpers.directory_trees import build_awkward_tree

DIRECTORY = "Strongbox::Directory"

# the chunk store encrypts by default, under the plugin section's passphrase
ENCRYPTED = "[directory]\npassphrase = bank-faults-passphrase\n"


class FullBank(MemoryBank):
    """Accepts small objects (indexes, journal) but refuses data: a disk that fills up."""

    name = "full"

    async def put_stream(
        self, key: str, chunks: AsyncIterable[bytes], metadata: Mapping[str, str] | None = None
    ) -> int:
        raise BankFull(f"bank 'full' has no space left writing {key}")

    async def put(self, key: str, data: bytes, metadata: Mapping[str, str] | None = None) -> None:
        if key.startswith("/chunks/data/"):  # file content goes to the chunk store
            raise BankFull(f"bank 'full' has no space left writing {key}")
        await super().put(key, data, metadata)


class UnreachableBank(MemoryBank):
    """A store whose endpoint does not answer."""

    @classmethod
    async def open(cls, config: Mapping[str, str]) -> MemoryBank:
        raise BankUnavailable("bank 'unreachable': endpoint 127.0.0.1:9 refused the connection")


async def test_a_full_bank_fails_the_resource_with_the_key_and_keeps_the_checkpoint_readable(
    engine_for, registry, tmp_path
):
    registry.register_bank("full", FullBank)
    source = tmp_path / "source"
    build_awkward_tree(source)
    async with engine_for("directory", bank="full", sections=ENCRYPTED) as engine:
        result = await engine.run(
            ProtectRequest(resources=[ResourceRef(DIRECTORY, str(source))]), timeout=30
        )
        assert result.status == "failed"
        assert result.error_resource == f"{DIRECTORY}#{source.resolve()}"
        assert "BankFull" in result.error
        assert "no space left writing /chunks/data/" in result.error
        index, graph, states = await engine.show_checkpoint(result.checkpoint_id)
        assert index.status == "error"
        assert states[0].status == "error"
        assert len(graph) == 1


async def test_an_unreachable_bank_is_refused_before_anything_runs(engine_for, registry, tmp_path):
    registry.register_bank("unreachable", UnreachableBank)
    async with engine_for("directory", bank="unreachable", sections=ENCRYPTED) as engine:
        with pytest.raises(BankUnavailable, match=r"127\.0\.0\.1:9 refused"):
            await engine.submit(ProtectRequest(resources=[ResourceRef(DIRECTORY, str(tmp_path))]))
