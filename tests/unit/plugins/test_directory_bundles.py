"""Small files bundled into shared chunks: few bank objects, exact restores, safe manifests."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from banks.chunks import ChunkRef
from banks.chunks.layout import DATA_PREFIX, chunk_key
from banks.memory_bank import MemoryBank
from plugins.local.directory.errors import DirectoryRestoreError, ManifestError
from plugins.local.directory.manifest import (
    Manifest,
    ManifestEntry,
    check_entries,
)
from tests.helpers.counting_bank import CountingBank
from tests.helpers.directory_trees import (
    manifest_of,
    protect,
    restore,
    snapshot,
    stored_manifest_of,
)

SMALL_FILES = 300
CHUNK_ID = "ab" * 32


def build_small_files(root: Path) -> None:
    """300 files of 0 to 3,000 bytes (below the test store's 4 KiB smallest chunk), one big."""
    chooser = random.Random(11)
    for number in range(SMALL_FILES):
        directory = root / f"d{number % 7}"
        directory.mkdir(parents=True, exist_ok=True)
        (directory / f"f{number:03d}").write_bytes(chooser.randbytes(chooser.randint(0, 3000)))
    (root / "big.bin").write_bytes(chooser.randbytes(200_000))


async def test_small_files_share_chunks_and_restore_byte_identical(tmp_path: Path) -> None:
    source = tmp_path / "source"
    build_small_files(source)
    bank = CountingBank(MemoryBank())
    await protect(bank, source)
    manifest = await manifest_of(bank, source)
    small = [e for e in manifest.entries if e.kind == "file" and e.path != "big.bin"]
    assert len(small) == SMALL_FILES
    # about 450 KB of small files in 16 KiB-average chunks: a few dozen objects, not 300
    big_chunks = next(len(e.chunks or ()) for e in manifest.entries if e.path == "big.bin")
    assert bank.put_count(DATA_PREFIX) - big_chunks < SMALL_FILES // 5
    assert sum(1 for entry in small if entry.offset > 0) > SMALL_FILES // 2
    await restore(bank, source, tmp_path / "restored")
    assert snapshot(tmp_path / "restored") == snapshot(source)


async def test_one_changed_small_file_stores_about_one_new_chunk(tmp_path: Path) -> None:
    source = tmp_path / "source"
    build_small_files(source)
    bank = CountingBank(MemoryBank())
    await protect(bank, source)
    before = set((await stored_manifest_of(bank, source)).chunks)
    changed = source / "d3" / "f150"
    content = bytearray(changed.read_bytes())
    content[len(content) // 2] ^= 0x01
    changed.write_bytes(bytes(content))
    bank.reset()
    await protect(bank, source)
    # the manifest (300 lines, a few chunks) changes only around the changed file's line
    new_in_manifest = set((await stored_manifest_of(bank, source)).chunks) - before
    assert 1 <= len(new_in_manifest) <= 2
    assert 1 <= bank.put_count(DATA_PREFIX) - len(new_in_manifest) <= 2
    await restore(bank, source, tmp_path / "restored")
    assert snapshot(tmp_path / "restored") == snapshot(source)


async def test_a_corrupt_shared_chunk_fails_the_restore_naming_a_file_and_the_chunk(
    tmp_path: Path,
) -> None:
    source = tmp_path / "source"
    build_small_files(source)
    bank = MemoryBank()
    await protect(bank, source)
    manifest = await manifest_of(bank, source)
    entry = next(e for e in manifest.entries if e.kind == "file" and e.offset > 0)
    assert entry.chunks
    bad = entry.chunks[0].id
    stored = bytearray(await bank.get(chunk_key(bad)))
    stored[len(stored) // 2] ^= 0x10
    await bank.put(chunk_key(bad), bytes(stored))
    with pytest.raises(DirectoryRestoreError, match=rf"chunk {bad}.*corrupt"):
        await restore(bank, source, tmp_path / "restored")


@pytest.mark.parametrize(
    ("offset", "size", "chunks"),
    [
        (100, 10, [ChunkRef(CHUNK_ID, 100)]),  # the offset is past the first chunk
        (90, 20, [ChunkRef(CHUNK_ID, 100)]),  # the content runs past the last chunk
        (10, 20, [ChunkRef(CHUNK_ID, 100), ChunkRef(CHUNK_ID, 100)]),  # a chunk too many
        (0, 5, []),  # bytes and no chunk
    ],
)
def test_a_bundled_entry_whose_chunks_do_not_span_it_exactly_is_refused(
    offset: int, size: int, chunks: list[ChunkRef]
) -> None:
    entry = ManifestEntry(path="f", kind="file", size=size, offset=offset, chunks=chunks)
    manifest = Manifest(root="/r", root_mode=0o755, root_mtime_ns=0, entries=[entry])
    with pytest.raises(ManifestError, match="'f'"):
        check_entries(manifest, "r", "/target")
