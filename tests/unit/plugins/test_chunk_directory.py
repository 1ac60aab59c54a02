"""The directory plugin on the chunk store: dedup between checkpoints, corruption, keys."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from banks.chunks import WrongKey
from banks.chunks.layout import DATA_PREFIX, chunk_key
from banks.filesystem.bank import FilesystemBank
from banks.memory_bank import MemoryBank
from plugins.local.directory.errors import DirectoryRestoreError
from plugins.local.directory.manifest import (
    MANIFEST_KEY,
    Manifest,
    ManifestEntry,
    encode_manifest,
)
from plugins.local.directory.protection import (
    DirectoryParameters,
    DirectoryProtection,
    DirectoryRestoreParameters,
)
from tests.helpers.counting_bank import CountingBank
from tests.helpers.directory_trees import (
    PLAIN_PLUGIN,
    PLUGIN,
    SMALL_CHUNKS,
    activity_context,
    build_awkward_tree,
    checkpoint_for,
    directory_resource,
    manifest_of,
    protect,
    restore,
    section_of,
    snapshot,
    stored_manifest_of,
)


def write_large(path: Path, size: int = 2 << 20) -> None:
    path.write_bytes(random.Random(5).randbytes(size))


async def protect_logged(bank, root: Path) -> dict:
    """Protect ``root``; return the ``directory_protected`` record (the protect's counts,
    which an encrypted store's saved info does not show)."""
    with capture_logs() as logs:
        await protect(bank, root)
    (record,) = [log for log in logs if log["event"] == "directory_protected"]
    return record


@pytest.fixture
def source(tmp_path: Path) -> Path:
    root = tmp_path / "source"
    root.mkdir()
    build_awkward_tree(root)
    write_large(root / "large.bin")
    return root


async def test_a_second_protect_of_an_unchanged_tree_uploads_no_chunk(
    source: Path, tmp_path: Path
) -> None:
    bank = CountingBank(await FilesystemBank.open({"path": str(tmp_path / "bank")}))
    await protect(bank, source)
    first = bank.written(DATA_PREFIX)
    assert first > 2 << 20
    bank.reset()
    info = await protect_logged(bank, source)
    assert bank.written(DATA_PREFIX) == 0
    assert info["new_chunks"] == 0 and info["deduplicated_chunks"] > 100
    await restore(bank, source, tmp_path / "restored")
    assert snapshot(tmp_path / "restored") == snapshot(source)


async def test_one_changed_byte_in_a_large_file_stores_about_one_new_chunk(
    source: Path, tmp_path: Path
) -> None:
    bank = CountingBank(MemoryBank())
    await protect(bank, source)
    old_manifest = set((await stored_manifest_of(bank, source)).chunks)
    large = source / "large.bin"
    content = bytearray(large.read_bytes())
    content[len(content) // 2] ^= 0x55
    large.write_bytes(bytes(content))
    bank.reset()
    info = await protect_logged(bank, source)
    # the manifest changed too (the file's mtime, its chunk list): a chunk or two of it
    new_in_manifest = set((await stored_manifest_of(bank, source)).chunks) - old_manifest
    assert 1 <= len(new_in_manifest) <= 2
    assert bank.put_count(DATA_PREFIX) == info["new_chunks"]
    assert 1 <= info["new_chunks"] - len(new_in_manifest) <= 2
    store = await PLUGIN.chunk_store(bank, create=False)
    manifest_bytes = sum([len(await store.read_chunk(chunk)) for chunk in new_in_manifest])
    assert info["new_bytes"] - manifest_bytes <= 2 * 65536
    await restore(bank, source, tmp_path / "restored")
    assert (tmp_path / "restored" / "large.bin").read_bytes() == bytes(content)


async def test_a_flipped_bit_fails_the_restore_naming_the_file_and_chunk_and_writes_nothing_bad(
    source: Path, tmp_path: Path
) -> None:
    bank = MemoryBank()
    await protect(bank, source)
    manifest = await manifest_of(bank, source)
    (large,) = [entry for entry in manifest.entries if entry.path == "large.bin"]
    assert large.chunks is not None and len(large.chunks) > 10
    bad = large.chunks[3].id
    stored = bytearray(await bank.get(chunk_key(bad)))
    stored[len(stored) // 2] ^= 0x04
    await bank.put(chunk_key(bad), bytes(stored))
    target = tmp_path / "restored"
    with pytest.raises(DirectoryRestoreError, match=rf"'large.bin'.*chunk {bad}.*corrupt"):
        await restore(bank, source, target)
    assert not (target / "large.bin").exists()


async def test_a_wrong_passphrase_fails_protect_and_restore_closed(
    source: Path, tmp_path: Path
) -> None:
    bank = MemoryBank()
    await protect(bank, source)
    intruder = DirectoryProtection({"passphrase": "guess", **SMALL_CHUNKS})
    resource = directory_resource(source)
    with pytest.raises(WrongKey, match="bank memory"):
        await intruder.activity_restore_parallel(
            checkpoint_for(bank, resource, writable=False),
            activity_context("restore"),
            resource,
            DirectoryRestoreParameters(target=str(tmp_path / "stolen")),
        )
    assert not (tmp_path / "stolen").exists()
    with pytest.raises(WrongKey):
        await intruder.activity_protect_parallel(
            checkpoint_for(bank, resource, writable=True),
            activity_context("protect"),
            resource,
            DirectoryParameters(),
        )


async def test_a_checkpoint_in_manifest_v1_still_restores_where_the_options_say_no_encryption(
    tmp_path: Path,
) -> None:
    bank = MemoryBank()
    root, target = tmp_path / "old", tmp_path / "restored"
    section = section_of(bank, root)
    await section.put("data/00000000", b"written by the first version\n")
    entries = [
        ManifestEntry(path="docs", kind="dir", mode=0o755, mtime_ns=1_600_000_000_000_000_000),
        ManifestEntry(
            path="docs/old.txt",
            kind="file",
            mode=0o640,
            mtime_ns=1_600_000_000_000_000_000,
            size=29,
            data="data/00000000",
        ),
    ]
    manifest = Manifest(v=1, root=str(root), root_mode=0o755, root_mtime_ns=0, entries=entries)
    await section.put(MANIFEST_KEY, encode_manifest(manifest))
    # no chunk store, and no key, is needed; but the options must say plaintext is
    # accepted (an encrypted plugin refuses it: test_directory_manifest_trust)
    await restore(bank, root, target, plugin=PLAIN_PLUGIN)
    assert (target / "docs" / "old.txt").read_bytes() == b"written by the first version\n"
    assert os.stat(target / "docs" / "old.txt").st_mode & 0o777 == 0o640
    assert await bank.list("/chunks/") == []


async def test_chunks_are_shared_by_checkpoints_of_two_trees_with_the_same_file(
    tmp_path: Path,
) -> None:
    bank = CountingBank(MemoryBank())
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    write_large(one / "same.bin")
    write_large(two / "copy.bin")
    await protect(bank, one)
    bank.reset()
    await protect(bank, two)
    # only the second tree's manifest is new: its one file's chunks are the first's
    assert bank.put_count(DATA_PREFIX) == len((await stored_manifest_of(bank, two)).chunks)
    assert PLUGIN.store_settings.encryption == "aes-256-gcm"
