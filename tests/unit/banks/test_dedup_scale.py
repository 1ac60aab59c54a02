"""Deduplication at scale: a 500 MB tree through the engine, the directory plugin and a
filesystem bank, encrypted, measured by what the bank holds on disk after each protect.

The tree is protected right after it is written, as a freshly generated dataset is: the
files written last have a ctime within ``SETTLED_NS`` of the first walk, so the second
protect cannot trust their status and reads them again (racily clean). How many such
files there are depended on the machine's speed; the test makes it certain by moving
the ctime of small files spread over the tree to just before the first protect.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from actors.operations.engine import Engine
from actors.wire.requests import ProtectRequest, ResourceRef, RestoreRequest
from bench.chunk_bench import tree_bytes
from bench.dataset import generate
from plugins.checkpoint.checkpoint import resource_section_prefix
from plugins.local.directory.manifest import MANIFEST_KEY
from tests.helpers.directory_trees import snapshot

DIRECTORY = "Strongbox::Directory"
TREE_BYTES = 500_000_000
MIN_CHUNK = 256 << 10  # the store's default chunk_min_size: smaller files are bundled
MAX_CHUNK = 4 << 20  # the store's default chunk_max_size
# the chunk format's overhead: header, nonce and tag
CHUNK_OVERHEAD = 2 + 12 + 16
RACY_EVERY = 25  # one small file in this many gets a fresh ctime before the first protect


def sections(bank: Path) -> str:
    return (
        f"plugin = directory\n[filesystem]\npath = {bank}\n"
        "[directory]\npassphrase = dedup scale passphrase\n"
    )


def chunk_files(bank: Path) -> dict[str, int]:
    """Every chunk object in the bank, by chunk id, with its size on disk."""
    found: dict[str, int] = {}
    for directory, _, files in os.walk(bank / "objects" / "chunks" / "data"):
        for name in files:
            chunk_id = name.partition("~")[0]
            found[chunk_id] = os.lstat(os.path.join(directory, name)).st_size
    return found


async def manifest_chunks(engine: Engine, checkpoint_id: str, tree: Path) -> set[str]:
    """The chunks holding the checkpoint's manifest, from its pointer (in the clear)."""
    bank = await engine.bank(engine.provider())
    pointer = await bank.get(
        resource_section_prefix(bank, checkpoint_id, f"{DIRECTORY}#{tree}") + f"/{MANIFEST_KEY}"
    )
    return set(msgspec.json.decode(pointer)["chunks"])


def freshen_small_files(tree: Path) -> int:
    """Move the ctime of every ``RACY_EVERY``-th small file to now (content and mtime kept)."""
    small = sorted(
        path for path in tree.rglob("*") if path.is_file() and path.stat().st_size < MIN_CHUNK
    )
    for path in small[::RACY_EVERY]:
        status = path.stat()
        os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns))
    return len(small[::RACY_EVERY])


def flip_the_middle_byte_of_the_largest_file(tree: Path) -> None:
    files = (path for path in tree.rglob("*") if path.is_file())
    largest = max(files, key=lambda path: path.stat().st_size)
    middle = largest.stat().st_size // 2
    with open(largest, "r+b") as handle:
        handle.seek(middle)
        old = handle.read(1)
        handle.seek(middle)
        handle.write(bytes([old[0] ^ 0xFF]))


def protect_request(tree: Path) -> ProtectRequest:
    # a new request each time: one request (one id) is one operation, run once
    return ProtectRequest(resources=[ResourceRef(DIRECTORY, str(tree))])


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    base = tmp_path_factory.mktemp("dedup-scale")
    root = base / "tree"
    specs = generate(root, TREE_BYTES, seed=5)
    assert sum(spec.size for spec in specs) == TREE_BYTES
    assert len(specs) > 3000  # many small files, and a few large ones
    yield root
    shutil.rmtree(base, ignore_errors=True)  # 500 MB: not left for the next runs to find


async def test_a_500_mb_tree_dedups_whole_and_one_changed_byte_costs_about_one_chunk(
    engine_for, tree: Path, tmp_path: Path
) -> None:
    bank = tmp_path / "bank"
    assert freshen_small_files(tree) > 50
    async with engine_for("noop", bank="filesystem", sections=sections(bank)) as engine:
        first = await engine.run(protect_request(tree), timeout=600)
        assert first.status == "succeeded", first.error
        after_first = tree_bytes(bank)
        chunks_after_first = chunk_files(bank)
        # half the tree is text that compresses to about half, and all of it is stored
        assert 0.6 * TREE_BYTES < after_first < 0.9 * TREE_BYTES

        second = await engine.run(protect_request(tree), timeout=600)
        assert second.status == "succeeded", second.error
        new_after_second = set(chunk_files(bank)) - set(chunks_after_first)
        in_manifest = new_after_second & await manifest_chunks(engine, second.checkpoint_id, tree)
        assert not new_after_second - in_manifest, (
            "the unchanged tree, racily clean small files included, stored new data chunks"
        )
        assert not in_manifest, "the unchanged tree's manifest stored new manifest chunks"
        # what is new is the second checkpoint's records: its manifest pointer, index, graph
        assert tree_bytes(bank) - after_first < 0.01 * TREE_BYTES

        flip_the_middle_byte_of_the_largest_file(tree)
        third = await engine.run(protect_request(tree), timeout=600)
        assert third.status == "succeeded", third.error
        new_chunks = {
            chunk_id: size
            for chunk_id, size in chunk_files(bank).items()
            if chunk_id not in chunks_after_first
        }
        new_manifest = set(new_chunks) & await manifest_chunks(engine, third.checkpoint_id, tree)
        new_data = {k: v for k, v in new_chunks.items() if k not in new_manifest}
        assert 1 <= len(new_data) <= 2, f"one changed byte stored these data chunks: {new_data}"
        assert sum(new_data.values()) <= 2 * (MAX_CHUNK + CHUNK_OVERHEAD)
        # the changed file's manifest line changes the manifest chunk or two around it
        assert 1 <= len(new_manifest) <= 2, (
            f"one changed file stored {len(new_manifest)} manifest chunks"
        )
        assert sum(new_chunks[k] for k in new_manifest) <= 2 * (MAX_CHUNK + CHUNK_OVERHEAD)

        target = tmp_path / "restored"
        restored = await engine.run(
            RestoreRequest(
                checkpoint_id=third.checkpoint_id,
                parameters={DIRECTORY: {"target": str(target)}},
            ),
            timeout=600,
        )
        assert restored.status == "succeeded", restored.error
        assert snapshot(target) == snapshot(tree)
