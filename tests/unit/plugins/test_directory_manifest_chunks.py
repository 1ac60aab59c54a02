"""The manifest kept encrypted in the chunk store (v4): nothing of the tree in the bank's
clear bytes, a pointer that cannot be altered, every reader following it, old manifests
still read."""

from __future__ import annotations

import os
import re
from pathlib import Path

import msgspec
import pytest

from actors.operations.bank_gc import collect_bank_garbage
from actors.operations.checkpoint_chunks import open_chunk_store
from actors.operations.checkpoint_verify import verify_checkpoint, verify_resources
from actors.operations.engine import Engine
from actors.wire.requests import DeleteRequest, ProtectRequest, ResourceRef, RestoreRequest
from banks.chunks import KeyRequired, WrongKey
from banks.chunks.layout import DATA_PREFIX
from banks.filesystem.bank import FilesystemBank
from banks.memory_bank import MemoryBank
from plugins.checkpoint.checkpoint import resource_section_prefix
from plugins.local.directory.errors import ManifestChunkError, ManifestError, UnsafeManifestEntry
from plugins.local.directory.manifest import (
    MANIFEST_KEY,
    MANIFEST_VERSION,
    Manifest,
    ManifestEntry,
    encode_manifest,
)
from plugins.local.directory.manifest_chunks import ManifestPointer, store_manifest
from plugins.local.directory.protection import DirectoryProtection, DirectoryRestoreParameters
from tests.helpers.checkpoint_chunks import flip_a_bit, stored_chunks, stored_manifest
from tests.helpers.counting_bank import CountingBank
from tests.helpers.directory_trees import (
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

MARKER = "qzx-MARKER-7731"
DIRECTORY = "Strongbox::Directory"
GC_PASSPHRASE = "manifest gc passphrase"


def build_marked_tree(root: Path) -> None:
    """Names, a symlink target and contents (small, bundled and large) carrying MARKER."""
    inner = root / f"dir-{MARKER}"
    inner.mkdir(parents=True)
    (inner / f"{MARKER}.txt").write_text(f"the {MARKER} is in here\n" * 40)
    (root / f"tiny-{MARKER}").write_bytes(MARKER.encode())
    for number in range(30):
        (inner / f"small-{number:02d}").write_bytes(os.urandom(500) + MARKER.encode())
    (root / "big.bin").write_bytes(os.urandom(300_000) + MARKER.encode() + os.urandom(5_000))
    (root / f"link-{MARKER}").symlink_to(f"dir-{MARKER}/{MARKER}.txt")


def places_holding(directory: Path, text: str) -> list[str]:
    """Every path under ``directory`` whose name or bytes hold ``text``."""
    needle = text.encode()
    found = []
    for parent, directories, files in os.walk(directory):
        for name in directories + files:
            path = os.path.join(parent, name)
            if text in name or (name in files and needle in Path(path).read_bytes()):
                found.append(path)
    return found


@pytest.fixture
def marked(tmp_path: Path) -> Path:
    # the root's own path is the resource's id, in the graph: no marker there
    root = Path(os.path.realpath(tmp_path)) / "source"
    build_marked_tree(root)
    return root


async def test_an_encrypted_bank_holds_no_byte_of_the_trees_names_or_contents(
    marked: Path, tmp_path: Path
) -> None:
    bank_dir = tmp_path / "bank"
    bank = await FilesystemBank.open({"path": str(bank_dir)})
    await protect(bank, marked)
    assert places_holding(bank_dir, MARKER) == []
    await restore(bank, marked, tmp_path / "restored")
    assert snapshot(tmp_path / "restored") == snapshot(marked)


async def test_the_marker_search_finds_it_in_a_bank_that_neither_encrypts_nor_compresses(
    marked: Path, tmp_path: Path
) -> None:
    # the control: the search above would have seen the tree, had it been there
    bank_dir = tmp_path / "bank"
    plain = DirectoryProtection({"encryption": "none", "compression_level": "0", **SMALL_CHUNKS})
    resource = directory_resource(marked)
    await plain.activity_protect_parallel(
        checkpoint_for(await FilesystemBank.open({"path": str(bank_dir)}), resource,
                       writable=True),
        activity_context("protect"), resource, PLUGIN.Parameters())
    assert places_holding(bank_dir, MARKER)


async def test_the_pointer_shows_only_chunk_ids_and_an_unchanged_tree_stores_no_manifest_chunk(
    marked: Path,
) -> None:
    bank = CountingBank(MemoryBank())
    await protect(bank, marked)
    first = await stored_manifest_of(bank, marked)
    pointer = msgspec.json.decode(await section_of(bank, marked).get(MANIFEST_KEY))
    assert set(pointer) == {"v", "chunks", "walked_at_ns", "mac"}
    assert pointer["v"] == MANIFEST_VERSION == first.manifest.v and pointer["chunks"]
    bank.reset()
    await protect(bank, marked)
    again = await stored_manifest_of(bank, marked)
    assert again.chunks == first.chunks  # the same lines, the same chunks
    assert bank.put_count(DATA_PREFIX) == 0
    assert again.manifest.walked_at_ns > first.manifest.walked_at_ns


async def test_a_wrong_or_missing_key_fails_the_restore_naming_checkpoint_and_resource(
    marked: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bank = MemoryBank()
    await protect(bank, marked)
    resource = directory_resource(marked)
    monkeypatch.delenv("STRONGBOX_PASSPHRASE", raising=False)
    monkeypatch.delenv("STRONGBOX_KEY_FILE", raising=False)
    for intruder, error in ((DirectoryProtection({"passphrase": "guess", **SMALL_CHUNKS}),
                             WrongKey),
                            (DirectoryProtection(SMALL_CHUNKS), KeyRequired)):
        with pytest.raises(error) as raised:
            await intruder.activity_restore_parallel(
                checkpoint_for(bank, resource, writable=False), activity_context("restore"),
                resource, DirectoryRestoreParameters(target=str(tmp_path / "stolen")))
        message = str(raised.value)
        assert "checkpoint cp-1" in message and resource.key in message, message
        assert "guess" not in message
    assert not (tmp_path / "stolen").exists()


async def test_a_flipped_bit_in_a_manifest_chunk_is_named_as_the_manifest(
    marked: Path, tmp_path: Path
) -> None:
    bank = MemoryBank()
    await protect(bank, marked)
    [bad, *_] = (await stored_manifest_of(bank, marked)).chunks
    await flip_a_bit(bank, bad)
    resource = directory_resource(marked)
    # a sample of 0 reads no file chunk; the manifest is read whole all the same
    found = await verify_resources(
        checkpoint_for(bank, resource, writable=False), [(resource, PLUGIN)],
        lambda: PLUGIN.chunk_store(bank, create=False), sample=0.0)
    [problem] = found.problems
    assert (problem.chunk, problem.in_manifest, problem.resource) == (bad, True, resource.key)
    assert f"checkpoint cp-1 resource {resource.key} manifest chunk {bad}: authentication" in (
        problem.describe())
    with pytest.raises(ManifestChunkError, match=f"manifest chunk {bad}"):
        await restore(bank, marked, tmp_path / "restored")
    assert not (tmp_path / "restored").exists()


async def test_an_altered_pointer_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "source"
    for number in range(400):  # a manifest larger than the largest chunk (64 KiB)
        (root / f"d{number % 5}").mkdir(parents=True, exist_ok=True)
        (root / f"d{number % 5}" / f"file-{number:03d}").write_bytes(b"x" * number)
    bank = MemoryBank()
    await protect(bank, root)
    section = section_of(bank, root)
    pointer = msgspec.json.decode(await section.get(MANIFEST_KEY), type=ManifestPointer)
    assert len(pointer.chunks) >= 2
    for altered in (msgspec.structs.replace(pointer, chunks=pointer.chunks[:-1]),
                    msgspec.structs.replace(pointer, chunks=pointer.chunks[::-1]),
                    msgspec.structs.replace(pointer, walked_at_ns=pointer.walked_at_ns + 10**9)):
        await section.put(MANIFEST_KEY, msgspec.json.encode(altered))
        with pytest.raises(ManifestError, match="pointer was altered"):
            await restore(bank, root, tmp_path / "restored")


async def test_a_hostile_manifest_in_the_chunk_store_is_refused_before_anything_is_written(
    tmp_path: Path,
) -> None:
    bank, root, target = MemoryBank(), tmp_path / "source", tmp_path / "target"
    store = await PLUGIN.chunk_store(bank, create=True)
    hostile = Manifest(root=str(root), root_mode=0o755, root_mtime_ns=0,
                       entries=[ManifestEntry(path="../escape", kind="dir", mode=0o755)])
    await section_of(bank, root).put(
        MANIFEST_KEY, await store_manifest(store, hostile, store.stats, checkpoint_id="cp-1",
                                           resource_key=directory_resource(root).key))
    with pytest.raises(UnsafeManifestEntry, match=re.escape("'../escape'")):
        await restore(bank, root, target)
    assert not target.exists() and not (tmp_path / "escape").exists()


async def test_an_unencrypted_store_keeps_its_manifest_in_chunks_the_same_way(
    marked: Path, tmp_path: Path
) -> None:
    bank = MemoryBank()
    plain = DirectoryProtection({"encryption": "none", **SMALL_CHUNKS})
    resource = directory_resource(marked)
    await plain.activity_protect_parallel(checkpoint_for(bank, resource, writable=True),
                                          activity_context("protect"), resource,
                                          PLUGIN.Parameters())
    pointer = msgspec.json.decode(await section_of(bank, marked).get(MANIFEST_KEY))
    assert pointer["v"] == MANIFEST_VERSION
    await plain.activity_restore_parallel(
        checkpoint_for(bank, resource, writable=False), activity_context("restore"), resource,
        DirectoryRestoreParameters(target=str(tmp_path / "restored")))
    assert snapshot(tmp_path / "restored") == snapshot(marked)


# ---------------------------------------------------------------- through the engine


def sections(bank: Path, *, encrypted: bool = True) -> str:
    secret = f"passphrase = {GC_PASSPHRASE}" if encrypted else "encryption = none"
    return (f"plugin = directory\n[filesystem]\npath = {bank}\n"
            f"[directory]\n{secret}\nchunk_min_size = 4096\n"
            "chunk_avg_size = 16384\nchunk_max_size = 65536\n")


async def engine_protect(e: Engine, root: Path) -> str:
    result = await e.run(ProtectRequest(resources=[ResourceRef(DIRECTORY, str(root))]),
                         timeout=60)
    assert result.status == "succeeded", result.error
    return result.checkpoint_id


async def engine_restore(e: Engine, checkpoint_id: str, target: Path) -> None:
    restored = await e.run(RestoreRequest(
        checkpoint_id=checkpoint_id, parameters={DIRECTORY: {"target": str(target)}}),
        timeout=60)
    assert restored.status == "succeeded", restored.error


async def manifest_chunks(e: Engine, checkpoint_id: str, root: Path) -> set[str]:
    bank = await e.bank(e.provider())
    store = await open_chunk_store(e.provider(), bank)
    return set((await stored_manifest(bank, store, checkpoint_id, root)).chunks)


async def test_gc_keeps_a_live_checkpoints_manifest_chunks_and_reclaims_a_deleted_ones(
    engine_for, tmp_path: Path, marked: Path
) -> None:
    async with engine_for("noop", bank="filesystem", sections=sections(tmp_path / "bank")) as e:
        first = await engine_protect(e, marked)
        (marked / "new.txt").write_text("a change the second manifest records\n")
        second = await engine_protect(e, marked)
        expected = snapshot(marked)
        first_manifest = await manifest_chunks(e, first, marked)
        second_manifest = await manifest_chunks(e, second, marked)
        only_first = first_manifest - second_manifest
        assert only_first  # the new file changed the manifest
        await collect_bank_garbage(e, grace=0.0)
        assert first_manifest | second_manifest <= await stored_chunks(e)
        await engine_restore(e, first, tmp_path / "first")  # its manifest survived gc
        deleted = await e.run(DeleteRequest(checkpoint_id=first), timeout=60)
        assert deleted.status == "succeeded", deleted.error
        await collect_bank_garbage(e, grace=0.0)
        left = await stored_chunks(e)
        assert not only_first & left and second_manifest <= left
        await engine_restore(e, second, tmp_path / "second")
        assert snapshot(tmp_path / "second") == expected


async def test_a_manifest_v3_in_the_clear_still_restores_verifies_and_is_marked_in_a_plain_store(
    engine_for, tmp_path: Path, marked: Path
) -> None:
    plain = sections(tmp_path / "bank", encrypted=False)
    async with engine_for("noop", bank="filesystem", sections=plain) as e:
        checkpoint = await engine_protect(e, marked)
        bank = await e.bank(e.provider())
        store = await open_chunk_store(e.provider(), bank)
        found = await stored_manifest(bank, store, checkpoint, marked)
        # the checkpoint as an older version wrote it: the whole manifest in the section
        key = (resource_section_prefix(bank, checkpoint, f"{DIRECTORY}#{marked}")
               + f"/{MANIFEST_KEY}")
        await bank.put(key, encode_manifest(msgspec.structs.replace(found.manifest, v=3)))
        files = {ref.id for entry in found.manifest.entries for ref in entry.chunks or ()}
        report = await verify_checkpoint(e, checkpoint)
        assert report.ok and report.chunks == len(files)
        swept = await collect_bank_garbage(e, grace=0.0)
        # the v4 manifest's chunks are no one's now, the files' are still marked
        assert swept.marked == len(files) and swept.sweep.deleted == len(set(found.chunks))
        assert await stored_chunks(e) == files
        await engine_restore(e, checkpoint, tmp_path / "restored")
        assert snapshot(tmp_path / "restored") == snapshot(marked)
