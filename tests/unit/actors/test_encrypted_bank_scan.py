"""Nothing readable in an encrypted bank: protect through the engine, then scan every file.

A directory tree and a server whose plugin saves distinctive names and metadata through
its section (as the OpenStack plugins' saved info) are protected into a filesystem bank
with an encrypted chunk store. Every file of the bank, its path and its bytes, is then
searched for those strings, as they are and base64-encoded (as key segments encode
text). The same run with an unencrypted store is the control: there the scan finds them,
so a scan that finds nothing means something. A restore then reads everything back.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from actors.operations.engine import Engine
from actors.wire.requests import ProtectRequest, RestoreRequest
from banks.filesystem.bank import FilesystemBank
from banks.sealed import PlaintextRefused, is_sealed
from plugins.checkpoint.checkpoint import checkpoint_prefix, resource_section_prefix
from plugins.checkpoint.graph import ResourceGraph
from plugins.checkpoint.sealing_layout import CLEAR_PREFIXES
from plugins.registry import PluginRegistry
from plugins.resource import Resource
from tests.conftest import FAKE_PLUGINS
from tests.helpers.directory_trees import snapshot
from tests.helpers.sealed_banks import unsealed
from tests.helpers.secret_metadata_plugin import (
    METADATA_VALUE,
    SERVER_ID,
    SERVER_NAME,
    SERVER_TYPE,
    USER_DATA,
    SecretMetadataProtection,
)

DIRECTORY = "Strongbox::Directory"
FILE_NAME = "strongbox-secret-file-name-3b9c.txt"
DIR_NAME = "strongbox-secret-dir-name-e4d2"
FILE_TEXT = b"strongbox-secret-file-content-2a8f\n" * 4


@pytest.fixture
def registry() -> PluginRegistry:
    registry = PluginRegistry()
    for name, cls in FAKE_PLUGINS.items():
        registry.register_protection(name, cls)
    registry.register_protection("secret-metadata", SecretMetadataProtection)
    return registry


def provider_sections(bank: Path, *, encrypted: bool) -> str:
    store = "passphrase = scan test passphrase\n" if encrypted else "encryption = none\n"
    return (f"plugin = directory\n[filesystem]\npath = {bank}\n[directory]\n{store}"
            "chunk_min_size = 4096\nchunk_avg_size = 16384\nchunk_max_size = 65536\n")


def source_tree(root: Path) -> Path:
    (root / DIR_NAME).mkdir(parents=True)
    (root / DIR_NAME / FILE_NAME).write_bytes(FILE_TEXT)
    (root / "big.bin").write_bytes(os.urandom(100_000))
    return Path(os.path.realpath(root))


def forms(needle: str) -> Iterator[bytes]:
    """``needle`` as it is, and the middle of its base64 at each alignment, both alphabets
    (a key segment is URL-safe base64 of a text the needle may be a part of)."""
    raw = needle.encode()
    yield raw
    for pad in range(3):
        for encode in (base64.urlsafe_b64encode, base64.standard_b64encode):
            yield encode(b"\0" * pad + raw)[4:-4]


def found_in_bank(bank: Path, needles: list[str]) -> dict[str, list[str]]:
    """needle -> the files of the bank whose path or bytes hold one of its forms."""
    found: dict[str, list[str]] = {}
    for directory, _, files in os.walk(bank):
        for name in files:
            path = Path(directory, name)
            haystack = str(path.relative_to(bank)).encode() + b"\n" + path.read_bytes()
            for needle in needles:
                if any(form in haystack for form in forms(needle)):
                    found.setdefault(needle, []).append(str(path.relative_to(bank)))
    return found


async def protect_and_restore(
    engine: Engine, source: Path, target: Path, plugin: SecretMetadataProtection
) -> None:
    directory = Resource(type=DIRECTORY, id=str(source), name=source.name)
    server = Resource(type=SERVER_TYPE, id=SERVER_ID, name=SERVER_NAME,
                      extra={"metadata": {"owner": METADATA_VALUE}})
    graph = ResourceGraph([server, directory], [[], []])
    protected = await engine.run(ProtectRequest(resources=[]), graph=graph, timeout=60)
    assert protected.status == "succeeded", protected.error
    restored = await engine.run(
        RestoreRequest(checkpoint_id=protected.checkpoint_id,
                       parameters={DIRECTORY: {"target": str(target)}}),
        timeout=60)
    assert restored.status == "succeeded", restored.error
    assert snapshot(target) == snapshot(source)
    info, user_data = plugin.restored[server.key]
    assert info.name == SERVER_NAME and info.metadata == {"owner": METADATA_VALUE}
    assert info.quotas == {"instances": 17} and user_data == USER_DATA
    assert restored.restored is not None
    assert restored.restored[server.key] == f"restored-{SERVER_NAME}"


def plugin_of(engine: Engine) -> SecretMetadataProtection:
    plugin = engine.provider().plugin_for(SERVER_TYPE)
    assert isinstance(plugin, SecretMetadataProtection)
    return plugin


@pytest.mark.parametrize("encrypted", [True, False], ids=["encrypted", "control-plain"])
async def test_an_encrypted_bank_holds_no_name_path_or_metadata_and_a_plain_one_does(
    engine_for, tmp_path: Path, encrypted: bool
) -> None:
    source = source_tree(tmp_path / "strongbox-secret-root-c7a1")
    bank = tmp_path / "bank"
    sections = provider_sections(bank, encrypted=encrypted)
    async with engine_for("secret-metadata", bank="filesystem", sections=sections) as engine:
        await protect_and_restore(engine, source, tmp_path / "target", plugin_of(engine))
    needles = [SERVER_NAME, SERVER_ID, METADATA_VALUE, USER_DATA.decode(), str(source),
               source.name, FILE_NAME, DIR_NAME, FILE_TEXT.decode().strip()]
    found = found_in_bank(bank, needles)
    if encrypted:
        assert found == {}, f"in the clear in an encrypted bank: {found}"
    else:
        # the control: the scan does find what a plain bank keeps in the clear (the file
        # content and names are in zstd-compressed chunks there, so not all of them)
        assert {SERVER_NAME, SERVER_ID, METADATA_VALUE, USER_DATA.decode(), str(source),
                source.name} <= set(found), found


async def test_every_object_of_an_encrypted_bank_but_the_chunk_store_and_listing_is_sealed(
    engine_for, tmp_path: Path
) -> None:
    source = source_tree(tmp_path / "source")
    bank = tmp_path / "bank"
    sections = provider_sections(bank, encrypted=True)
    async with engine_for("secret-metadata", bank="filesystem", sections=sections) as engine:
        await protect_and_restore(engine, source, tmp_path / "target", plugin_of(engine))
    raw = await FilesystemBank.open({"path": str(bank)})
    try:
        kinds: set[str] = set()
        async for key in raw.list_all("/"):
            if key.startswith(CLEAR_PREFIXES):
                continue
            kinds.add(key.split("/")[1] + "/" + key.rsplit("/", 1)[1].rstrip("0123456789"))
            assert is_sealed(await raw.get(key)), f"{key} is not sealed"
    finally:
        await raw.close()
    # the engine's objects and the plugins' sections were all among them
    assert {"checkpoints/index", "checkpoints/graph", "checkpoints/resources",
            "checkpoints/saved_info", "checkpoints/user_data", "checkpoints/manifest",
            "operations/spec", "operations/index"} <= kinds, kinds


async def protect_server(engine: Engine, name: str) -> str:
    server = Resource(type=SERVER_TYPE, id=SERVER_ID, name=name)
    protected = await engine.run(ProtectRequest(resources=[]),
                                 graph=ResourceGraph([server], [[]]), timeout=60)
    assert protected.status == "succeeded", protected.error
    return protected.checkpoint_id


async def test_saved_info_copied_from_an_older_checkpoint_fails_the_restore_naming_it(
    engine_for, tmp_path: Path
) -> None:
    sections = provider_sections(tmp_path / "bank", encrypted=True)
    async with engine_for("secret-metadata", bank="filesystem", sections=sections) as engine:
        older = await protect_server(engine, "old-name")
        newer = await protect_server(engine, SERVER_NAME)
        bank = unsealed(await engine.bank(engine.provider()))
        key = "/saved_info"
        older_key = resource_section_prefix(
            await engine.bank(engine.provider()), older, f"{SERVER_TYPE}#{SERVER_ID}") + key
        newer_key = resource_section_prefix(
            await engine.bank(engine.provider()), newer, f"{SERVER_TYPE}#{SERVER_ID}") + key
        # whoever writes the bank rolls the newer checkpoint's saved info back
        await bank.put(newer_key, await bank.get(older_key))
        restored = await engine.run(RestoreRequest(checkpoint_id=newer), timeout=60)
        assert restored.status == "failed"
        assert f"sealed object {newer_key!r} (checkpoint {newer}) cannot be trusted" in (
            restored.error or "")
        assert plugin_of(engine).restored == {}
        # the older checkpoint still restores, with its own name
        assert (await engine.run(RestoreRequest(checkpoint_id=older), timeout=60)).status == \
            "succeeded"
        assert plugin_of(engine).restored[f"{SERVER_TYPE}#{SERVER_ID}"][0].name == "old-name"


async def test_a_plaintext_graph_planted_in_an_encrypted_bank_is_refused_before_any_restore(
    engine_for, tmp_path: Path
) -> None:
    sections = provider_sections(tmp_path / "bank", encrypted=True)
    async with engine_for("secret-metadata", bank="filesystem", sections=sections) as engine:
        checkpoint = await protect_server(engine, SERVER_NAME)
        planted = Resource(type=SERVER_TYPE, id="planted", name="planted")
        graph_key = checkpoint_prefix(checkpoint) + "graph"
        await unsealed(await engine.bank(engine.provider())).put(
            graph_key, ResourceGraph([planted], [[]]).encode())
        with pytest.raises(PlaintextRefused) as caught:
            await engine.run(RestoreRequest(checkpoint_id=checkpoint), timeout=60)
        assert graph_key in str(caught.value) and f"checkpoint {checkpoint}" in str(caught.value)
        assert plugin_of(engine).restored == {}
