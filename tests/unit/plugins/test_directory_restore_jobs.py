"""The directory restore as chunk jobs: the plan, exact restores through a filesystem bank
(chunks read into reused buffers), no partial file after a failure, existing files."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from banks.chunks import ChunkRef
from banks.chunks.layout import chunk_key
from banks.filesystem.bank import FilesystemBank
from plugins.local.directory.errors import DirectoryRestoreError
from plugins.local.directory.manifest import ManifestEntry
from plugins.local.directory.restore_plan import plan_jobs
from plugins.local.directory.restored_file import RestoredFile
from tests.helpers.directory_trees import (
    all_paths,
    build_awkward_tree,
    manifest_of,
    protect,
    restore,
    set_times,
    snapshot,
)

C1, C2, C3, C4 = (
    ChunkRef(digit * 64, size) for digit, size in (("1", 40), ("2", 30), ("3", 50), ("4", 60))
)


def file_entry(path: str, size: int, chunks: list[ChunkRef], offset: int = 0) -> ManifestEntry:
    return ManifestEntry(path=path, kind="file", size=size, chunks=chunks, offset=offset)


def test_the_plan_writes_each_chunk_once_in_order_with_every_piece_of_it() -> None:
    files = [
        file_entry("empty-first", 0, []),
        file_entry("a", 10, [C1]),
        file_entry("b", 20, [C1], offset=10),
        file_entry("empty", 0, []),
        file_entry("c", 15, [C1, C2], offset=30),  # its last 10 bytes of C1, 5 of C2
        file_entry("big", 170, [C3, C4, C4]),  # a repeated chunk, as in a file of zeros
    ]
    spanning: list[RestoredFile] = []
    jobs = list(plan_jobs(files, lambda entry: 0o644, spanning))
    described = [
        (job.ref, [(p.file.path, p.at, p.start, p.length) for p in job.pieces], job.size)
        for job in jobs
    ]
    assert described == [
        (
            C1,
            [
                ("empty-first", 0, 0, 0),
                ("a", 0, 0, 10),
                ("b", 0, 10, 20),
                ("empty", 0, 0, 0),
                ("c", 0, 30, 10),
            ],
            40,
        ),
        (C2, [("c", 10, 0, 5)], 5),
        (C3, [("big", 0, 0, 50)], 50),
        (C4, [("big", 50, 0, 60), ("big", 110, 0, 60)], 120),
    ]
    assert [file.path for file in spanning] == ["c", "big"]


def test_only_empty_files_make_a_job_without_a_chunk() -> None:
    (job,) = plan_jobs([file_entry("e1", 0, []), file_entry("e2", 0, [])], lambda e: 0, [])
    assert job.ref is None and [p.file.path for p in job.pieces] == ["e1", "e2"]


def build_tree(root: Path) -> None:
    """The awkward tree, 200 small files over a few directories (bundled, some crossing a
    chunk's end) and a large file of many chunks, half of it compressible."""
    root.mkdir()
    build_awkward_tree(root)
    chooser = random.Random(3)
    for number in range(200):
        directory = root / "small" / f"d{number % 6}"
        directory.mkdir(parents=True, exist_ok=True)
        (directory / f"f{number:03d}").write_bytes(chooser.randbytes(chooser.randint(0, 3000)))
    text = b"restore me, byte for byte\n" * 10_000
    (root / "large.bin").write_bytes(chooser.randbytes(600_000) + text + chooser.randbytes(7))
    (root / "large.bin").chmod(0o640)
    set_times(root, all_paths(root))


@pytest.fixture
async def protected(tmp_path: Path) -> tuple[FilesystemBank, Path]:
    source = tmp_path / "source"
    build_tree(source)
    bank = await FilesystemBank.open({"path": str(tmp_path / "bank")})
    await protect(bank, source)
    return bank, source


async def large_chunks(bank: FilesystemBank, source: Path) -> list[ChunkRef]:
    """The chunks of large.bin, as the manifest lists them."""
    manifest = await manifest_of(bank, source)
    (large,) = [entry for entry in manifest.entries if entry.path == "large.bin"]
    assert large.chunks is not None and len(large.chunks) > 10
    return large.chunks


async def test_a_tree_restores_byte_identical_through_a_filesystem_bank(
    protected: tuple[FilesystemBank, Path], tmp_path: Path
) -> None:
    bank, source = protected
    await large_chunks(bank, source)
    manifest = await manifest_of(bank, source)
    bundled = [e for e in manifest.entries if e.kind == "file" and e.offset > 0]
    assert any(len(entry.chunks or ()) > 1 for entry in bundled)  # one crosses a chunk's end
    await restore(bank, source, tmp_path / "restored")
    assert snapshot(tmp_path / "restored") == snapshot(source)


async def test_a_corrupt_chunk_fails_the_restore_and_leaves_no_partial_file(
    protected: tuple[FilesystemBank, Path], tmp_path: Path
) -> None:
    bank, source = protected
    chunks = await large_chunks(bank, source)
    bad = chunks[len(chunks) // 2].id
    stored = bytearray(await bank.get(chunk_key(bad)))
    stored[-20] ^= 0x01
    await bank.put(chunk_key(bad), bytes(stored))
    target = tmp_path / "restored"
    with pytest.raises(DirectoryRestoreError, match=rf"'large.bin'.*chunk {bad}.*corrupt"):
        await restore(bank, source, target)
    assert not (target / "large.bin").exists()
    expected = snapshot(source)
    restored = snapshot(target)
    files = [path for path, entry in restored.items() if entry.kind == "file"]
    assert files  # the files before the bad chunk were restored...
    for path in files:  # ...each whole: none was left half-written
        assert restored[path].digest == expected[path].digest, path


async def test_skip_keeps_and_overwrite_replaces_an_existing_file_of_many_chunks(
    protected: tuple[FilesystemBank, Path], tmp_path: Path
) -> None:
    bank, source = protected
    kept, replaced = tmp_path / "kept", tmp_path / "replaced"
    for target in (kept, replaced):
        await restore(bank, source, target)
        (target / "large.bin").write_bytes(b"mine now")
        os.utime(target, ns=(1, 1))
    await restore(bank, source, kept, existing="skip")
    await restore(bank, source, replaced, existing="overwrite")
    assert (kept / "large.bin").read_bytes() == b"mine now"
    assert snapshot(replaced) == snapshot(source)
