"""An encrypted store cannot be downgraded: an old manifest planted in its bank, or a
pointer copied from another checkpoint or resource or with its version lowered, is
refused by restore (nothing written) and reported by verify; plain stores still read
every older version."""

from __future__ import annotations

import re
from pathlib import Path

import msgspec
import pytest

from actors.operations.checkpoint_verify import Problem, verify_resources
from banks.base import Bank
from banks.chunks.layout import CONFIG_KEY
from banks.memory_bank import MemoryBank
from plugins.local.directory.errors import ManifestDowngrade, ManifestError
from plugins.local.directory.manifest import (
    MANIFEST_KEY,
    MANIFEST_VERSION,
    Manifest,
    ManifestEntry,
    encode_manifest,
)
from plugins.local.directory.manifest_chunks import ManifestPointer, encode_body
from plugins.local.directory.manifest_trust import pointer_mac
from plugins.local.directory.protection import DirectoryProtection, DirectoryRestoreParameters
from tests.helpers.directory_trees import (
    PLAIN_PLUGIN,
    PLUGIN,
    SMALL_CHUNKS,
    activity_context,
    checkpoint_for,
    directory_resource,
    protect,
    restore,
    section_of,
    snapshot,
    stored_manifest_of,
)

PLANTED = b"planted by an attacker\n"
SWAPPED = "copied from another checkpoint or resource"


def build_tree(root: Path, text: str) -> None:
    (root / "docs").mkdir(parents=True, exist_ok=True)
    (root / "docs" / "a.txt").write_text(text)
    (root / "b.bin").write_bytes(text.encode() * 5000)


@pytest.fixture
def source(tmp_path: Path) -> Path:
    root = tmp_path / "source"
    build_tree(root, "the first version\n")
    return root


async def plant_old_manifest(bank: Bank, root: Path, version: int) -> None:
    """A manifest of ``version`` as an older release wrote it: whole, in the clear."""
    section = section_of(bank, root)
    if version == 1:
        await section.put("data/00000000", PLANTED)
        entry = ManifestEntry(path="planted.txt", kind="file", mode=0o644, size=len(PLANTED),
                              data="data/00000000")
    else:  # an empty file needs no chunk
        entry = ManifestEntry(path="planted.txt", kind="file", mode=0o644, chunks=[])
    manifest = Manifest(v=version, root=str(root), root_mode=0o755, root_mtime_ns=0,
                        entries=[entry])
    await section.put(MANIFEST_KEY, encode_manifest(manifest))


async def problems_of(
    bank: Bank, root: Path, *, checkpoint_id: str = "cp-1",
    plugin: DirectoryProtection = PLUGIN,
) -> list[Problem]:
    resource = directory_resource(root)
    checkpoint = checkpoint_for(bank, resource, writable=False, checkpoint_id=checkpoint_id)
    found = await verify_resources(checkpoint, [(resource, plugin)],
                                   lambda: plugin.chunk_store(bank, create=False), sample=1.0)
    return found.problems


async def restore_to_its_root(bank: Bank, root: Path, plugin: DirectoryProtection) -> None:
    resource = directory_resource(root)
    await plugin.activity_restore_parallel(
        checkpoint_for(bank, resource, writable=False), activity_context("restore"), resource,
        DirectoryRestoreParameters())


async def rewrite_as_v4(bank: Bank, root: Path, plugin: DirectoryProtection) -> None:
    """Replace the pointer by the valid v4 pointer of the same manifest (a MAC that binds
    no checkpoint), as the release before v5 wrote it."""
    store = await plugin.chunk_store(bank, create=False)
    section = section_of(bank, root)
    pointer = msgspec.json.decode(await section.get(MANIFEST_KEY), type=ManifestPointer)
    manifest = (await stored_manifest_of(bank, root, plugin=plugin)).manifest
    mac = await pointer_mac(store, version=4, checkpoint_id="ignored", resource_key="ignored",
                            walked_at_ns=pointer.walked_at_ns, body=encode_body(manifest))
    await section.put(MANIFEST_KEY, msgspec.json.encode(
        msgspec.structs.replace(pointer, v=4, mac=mac)))


@pytest.mark.parametrize("version", [1, 2, 3])
async def test_a_plaintext_manifest_planted_in_an_encrypted_bank_is_refused_and_reported(
    source: Path, tmp_path: Path, version: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    bank = MemoryBank()
    await protect(bank, source)
    await plant_old_manifest(bank, source, version)
    before = snapshot(source)
    key = directory_resource(source).key
    expected = f"checkpoint cp-1: manifest format v{version} found where v{MANIFEST_VERSION}"
    with pytest.raises(ManifestDowngrade, match=re.escape(expected)) as raised:
        await restore(bank, source, tmp_path / "target")
    assert key in str(raised.value) and "the store is encrypted" in str(raised.value)
    assert not (tmp_path / "target").exists()
    with pytest.raises(ManifestDowngrade):  # nor into the root the manifest names
        await restore_to_its_root(bank, source, PLUGIN)
    assert snapshot(source) == before
    # refusing it needs no key
    monkeypatch.delenv("STRONGBOX_PASSPHRASE", raising=False)
    monkeypatch.delenv("STRONGBOX_KEY_FILE", raising=False)
    with pytest.raises(ManifestDowngrade):
        await restore(bank, source, tmp_path / "target",
                      plugin=DirectoryProtection(SMALL_CHUNKS))
    [problem] = await problems_of(bank, source)
    assert (problem.resource, problem.chunk) == (key, None)
    assert expected in problem.describe()


async def test_deleting_the_store_config_does_not_let_a_plaintext_manifest_in(
    source: Path, tmp_path: Path
) -> None:
    bank = MemoryBank()
    await protect(bank, source)
    await plant_old_manifest(bank, source, 1)
    await bank.delete(CONFIG_KEY)  # now the bank says nothing of encryption: the options do
    reopened = DirectoryProtection(PLUGIN.config)  # a process that did not open the store
    with pytest.raises(ManifestDowngrade, match="holds no chunk store and the options ask"):
        await restore(bank, source, tmp_path / "target", plugin=reopened)
    assert not (tmp_path / "target").exists()
    [problem] = await problems_of(bank, source, plugin=reopened)
    assert "v1 found where v5" in problem.reason
    await restore(bank, source, tmp_path / "target", plugin=PLAIN_PLUGIN)  # as configured
    assert (tmp_path / "target" / "planted.txt").read_bytes() == PLANTED


async def test_a_pointer_copied_from_another_checkpoint_of_the_resource_is_refused_and_reported(
    source: Path, tmp_path: Path
) -> None:
    bank = MemoryBank()
    await protect(bank, source, checkpoint_id="cp-a")
    first = snapshot(source)
    build_tree(source, "the second version, which the rollback would hide\n")
    await protect(bank, source, checkpoint_id="cp-b")
    old = await section_of(bank, source, checkpoint_id="cp-a").get(MANIFEST_KEY)
    await section_of(bank, source, checkpoint_id="cp-b").put(MANIFEST_KEY, old)
    with pytest.raises(ManifestError, match=re.escape(SWAPPED)) as raised:
        await restore(bank, source, tmp_path / "b", checkpoint_id="cp-b")
    assert "checkpoint cp-b" in str(raised.value)
    assert not (tmp_path / "b").exists()
    [problem] = await problems_of(bank, source, checkpoint_id="cp-b")
    assert problem.resource == directory_resource(source).key and SWAPPED in problem.reason
    assert await problems_of(bank, source, checkpoint_id="cp-a") == []
    await restore(bank, source, tmp_path / "a", checkpoint_id="cp-a")
    assert snapshot(tmp_path / "a") == first


async def test_a_pointer_copied_between_two_resources_of_a_checkpoint_is_refused_and_reported(
    tmp_path: Path,
) -> None:
    bank, one, two = MemoryBank(), tmp_path / "one", tmp_path / "two"
    build_tree(one, "tree one\n")
    build_tree(two, "tree two\n")
    await protect(bank, one)
    await protect(bank, two)
    await section_of(bank, two).put(MANIFEST_KEY, await section_of(bank, one).get(MANIFEST_KEY))
    with pytest.raises(ManifestError, match=re.escape(SWAPPED)):
        await restore(bank, two, tmp_path / "target")
    assert not (tmp_path / "target").exists()
    [problem] = await problems_of(bank, two)
    assert problem.resource == directory_resource(two).key and SWAPPED in problem.reason
    assert await problems_of(bank, one) == []


async def test_a_pointer_whose_version_was_lowered_is_refused(
    source: Path, tmp_path: Path
) -> None:
    for plugin, error, message in (
        (PLUGIN, ManifestDowngrade, "v4 found where v5 is required"),
        (PLAIN_PLUGIN, ManifestError, "its v4 pointer does not match"),
    ):
        bank = MemoryBank()
        await protect(bank, source, plugin=plugin)
        section = section_of(bank, source)
        pointer = msgspec.json.decode(await section.get(MANIFEST_KEY))
        await section.put(MANIFEST_KEY, msgspec.json.encode({**pointer, "v": 4}))
        with pytest.raises(error, match=message):
            await restore(bank, source, tmp_path / "target", plugin=plugin)
        assert not (tmp_path / "target").exists()
        [problem] = await problems_of(bank, source, plugin=plugin)
        assert message in problem.reason


async def test_a_genuine_v4_pointer_still_restores_from_a_plain_store_only(
    source: Path, tmp_path: Path
) -> None:
    plain = MemoryBank()
    await protect(plain, source, plugin=PLAIN_PLUGIN)
    await rewrite_as_v4(plain, source, PLAIN_PLUGIN)
    await restore(plain, source, tmp_path / "plain", plugin=PLAIN_PLUGIN)
    assert snapshot(tmp_path / "plain") == snapshot(source)
    assert await problems_of(plain, source, plugin=PLAIN_PLUGIN) == []
    encrypted = MemoryBank()
    await protect(encrypted, source)
    await rewrite_as_v4(encrypted, source, PLUGIN)
    with pytest.raises(ManifestDowngrade, match="v4 found where v5 is required"):
        await restore(encrypted, source, tmp_path / "encrypted")
    assert not (tmp_path / "encrypted").exists()


@pytest.mark.parametrize("version", [1, 3])
async def test_plain_stores_still_restore_old_manifests(
    source: Path, tmp_path: Path, version: int
) -> None:
    bank = MemoryBank()
    await protect(bank, source, plugin=PLAIN_PLUGIN)
    await plant_old_manifest(bank, source, version)
    await restore(bank, source, tmp_path / "target", plugin=PLAIN_PLUGIN)
    expected = PLANTED if version == 1 else b""
    assert (tmp_path / "target" / "planted.txt").read_bytes() == expected
    assert await problems_of(bank, source, plugin=PLAIN_PLUGIN) == []


async def test_a_manifest_naming_another_root_is_refused_before_its_root_is_written(
    source: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    bank = MemoryBank()
    await plant_old_manifest(bank, elsewhere, 1)
    await section_of(bank, source).put(MANIFEST_KEY,
                                       await section_of(bank, elsewhere).get(MANIFEST_KEY))
    with pytest.raises(ManifestError, match=re.escape(f"records root {str(elsewhere)!r}")):
        await restore_to_its_root(bank, source, PLAIN_PLUGIN)
    assert not elsewhere.exists()


async def test_an_encrypted_round_trip_still_restores_the_tree(
    source: Path, tmp_path: Path
) -> None:
    bank = MemoryBank()
    await protect(bank, source)
    assert (await stored_manifest_of(bank, source)).manifest.v == MANIFEST_VERSION
    await restore(bank, source, tmp_path / "target")
    assert snapshot(tmp_path / "target") == snapshot(source)
    assert await problems_of(bank, source) == []
