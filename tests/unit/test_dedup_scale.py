"""Deduplication at scale: a 500 MB tree through the engine, the directory plugin and a
filesystem bank, encrypted, measured by what the bank holds on disk after each protect."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from actors.requests import ProtectRequest, ResourceRef, RestoreRequest
from bench.chunk_bench import tree_bytes
from bench.dataset import generate
from tests.helpers.directory_trees import snapshot

DIRECTORY = "Strongbox::Directory"
TREE_BYTES = 500_000_000
MAX_CHUNK = 4 << 20  # the store's default chunk_max_size
# the chunk format's overhead: header, nonce and tag
CHUNK_OVERHEAD = 2 + 12 + 16


def sections(bank: Path) -> str:
    return (
        f"plugin = directory\n[filesystem]\npath = {bank}\n"
        "[directory]\npassphrase = dedup scale passphrase\n"
    )


def chunk_files(bank: Path) -> dict[str, int]:
    """Every chunk object in the bank, by path, with its size on disk."""
    found: dict[str, int] = {}
    for directory, _, files in os.walk(bank / "objects" / "chunks" / "data"):
        for name in files:
            path = os.path.join(directory, name)
            found[path] = os.lstat(path).st_size
    return found


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
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("dedup-scale") / "tree"
    specs = generate(root, TREE_BYTES, seed=5)
    assert sum(spec.size for spec in specs) == TREE_BYTES
    assert len(specs) > 3000  # many small files, and a few large ones
    return root


async def test_a_500_mb_tree_dedups_whole_and_one_changed_byte_costs_about_one_chunk(
    engine_for, tree: Path, tmp_path: Path
) -> None:
    bank = tmp_path / "bank"
    async with engine_for("noop", bank="filesystem", sections=sections(bank)) as engine:
        first = await engine.run(protect_request(tree), timeout=600)
        assert first.status == "succeeded", first.error
        after_first = tree_bytes(bank)
        chunks_after_first = chunk_files(bank)
        # half the tree is text that compresses to about half, and all of it is stored
        assert 0.6 * TREE_BYTES < after_first < 0.9 * TREE_BYTES

        second = await engine.run(protect_request(tree), timeout=600)
        assert second.status == "succeeded", second.error
        assert chunk_files(bank) == chunks_after_first
        # what is new is the second checkpoint's records: its manifest, index, graph
        assert tree_bytes(bank) - after_first < 0.01 * TREE_BYTES

        flip_the_middle_byte_of_the_largest_file(tree)
        third = await engine.run(protect_request(tree), timeout=600)
        assert third.status == "succeeded", third.error
        new_chunks = {
            path: size
            for path, size in chunk_files(bank).items()
            if path not in chunks_after_first
        }
        assert 1 <= len(new_chunks) <= 2, new_chunks
        assert sum(new_chunks.values()) <= 2 * (MAX_CHUNK + CHUNK_OVERHEAD)

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
