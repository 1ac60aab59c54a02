"""A second protect through the engine takes unchanged files from the parent checkpoint,
and reads every file whose status says it may have changed; a racily clean small file
(its status unchanged but its ctime too close to the parent's walk to trust) is read and
keeps the parent's chunks if its content is equal, and is stored anew if it is not."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import msgspec
import pytest
from structlog.testing import capture_logs

from actors.wire.requests import ProtectRequest, ResourceRef, RestoreRequest
from banks.chunks import ChunkStore
from banks.memory_bank import MemoryBank
from plugins.local.directory.manifest import Manifest
from plugins.local.directory.parent import SETTLED_NS, UnchangedFiles
from plugins.local.directory.upload import TreeUploader
from plugins.local.directory.walk import TreeWalker, walk_tree
from tests.helpers.directory_trees import PLUGIN, activity_context, snapshot

DIRECTORY = "Strongbox::Directory"
FILES = 40


def sections(bank: Path) -> str:
    return (
        f"plugin = directory\n[filesystem]\npath = {bank}\n"
        "[directory]\npassphrase = unchanged files passphrase\nchunk_min_size = 4096\n"
        "chunk_avg_size = 16384\nchunk_max_size = 65536\n"
    )


def build(root: Path) -> None:
    for number in range(FILES):
        size = 1000 if number % 2 else 50_000  # bundled and streamed files alike
        (root / f"dir{number % 4}").mkdir(parents=True, exist_ok=True)
        (root / f"dir{number % 4}" / f"file{number:02d}").write_bytes(os.urandom(size))


# small files (bundled), spread over the walk order so the bundle stream runs around them
RACY_SMALL_FILES = ("dir1/file05", "dir1/file13", "dir3/file23", "dir3/file35")


async def protected(engine, tree: Path) -> tuple[str, dict]:
    """Protect ``tree``; return the checkpoint id and the plugin's ``directory_protected``
    log record (files taken unread, read again, chunks stored anew)."""
    with capture_logs() as logs:
        result = await engine.run(
            ProtectRequest(resources=[ResourceRef(DIRECTORY, str(tree))]), timeout=60
        )
    assert result.status == "succeeded", result.error
    (record,) = [log for log in logs if log["event"] == "directory_protected"]
    return result.checkpoint_id, record


async def protect(engine, tree: Path) -> tuple[str, int]:
    """Protect ``tree``; return the checkpoint id and how many files were taken unread."""
    checkpoint_id, record = await protected(engine, tree)
    return checkpoint_id, record["unchanged_files"]


async def restores_as(engine, checkpoint_id: str, tree: Path, target: Path) -> None:
    """Restore ``tree`` from the checkpoint into ``target``; it must come out the same."""
    restored = await engine.run(
        RestoreRequest(
            checkpoint_id=checkpoint_id, parameters={DIRECTORY: {"target": str(target)}}
        ),
        timeout=60,
    )
    assert restored.status == "succeeded", restored.error
    assert snapshot(target) == snapshot(tree)


def touch_status(tree: Path, names: tuple[str, ...]) -> None:
    """Move the ctime of ``names`` to now, content and mtime as they were."""
    for name in names:
        before = (tree / name).stat()
        os.utime(tree / name, ns=(before.st_atime_ns, before.st_mtime_ns))


@pytest.fixture
async def settled_tree(tmp_path: Path) -> Path:
    """The test tree, written more than ``SETTLED_NS`` ago."""
    tree = tmp_path / "tree"
    build(tree)
    # files are trusted only once their ctime is settled before the walk
    await asyncio.sleep(SETTLED_NS / 1e9 + 0.2)
    return tree


async def test_unchanged_files_are_taken_unread_and_a_rewritten_one_is_read_again(
    engine_for, settled_tree: Path, tmp_path: Path
) -> None:
    tree = settled_tree
    async with engine_for("noop", bank="filesystem", sections=sections(tmp_path / "bank")) as e:
        _, unread = await protect(e, tree)
        assert unread == 0  # no parent yet
        _, unread = await protect(e, tree)
        assert unread == FILES

        # same size, and the old mtime put back: only the ctime tells it changed
        for name in ("dir1/file01", "dir2/file02"):
            path = tree / name
            before = path.stat()
            path.write_bytes(os.urandom(before.st_size))
            os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
        latest, unread = await protect(e, tree)
        assert unread == FILES - 2

        await restores_as(e, latest, tree, tmp_path / "restored")


async def test_racily_clean_small_files_protected_again_at_once_store_nothing_new(
    engine_for, settled_tree: Path, tmp_path: Path
) -> None:
    tree = settled_tree
    # as if just written: within SETTLED_NS of the first walk, so the second protect
    # cannot trust their status and must read them again
    touch_status(tree, RACY_SMALL_FILES)
    async with engine_for("noop", bank="filesystem", sections=sections(tmp_path / "bank")) as e:
        _, first = await protected(e, tree)
        assert first["new_chunks"] > 0
        latest, second = await protected(e, tree)
        # read again among themselves they made a stream of their own: new data chunks
        # and new manifest lines; compared by digest, they keep the parent's chunks
        assert second["new_chunks"] == 0, second
        assert second["stored_bytes"] == 0, second
        assert second["rechecked_files"] == len(RACY_SMALL_FILES)
        assert second["unchanged_files"] == FILES - len(RACY_SMALL_FILES)

        await restores_as(e, latest, tree, tmp_path / "restored")


async def upload_tree(
    store: ChunkStore, tree: Path, parent: Manifest | None
) -> tuple[Manifest, TreeUploader]:
    """Walk and upload ``tree`` as a protect does, with ``parent`` as the parent manifest."""
    walked_at_ns = time.time_ns()
    root_status, walked = await walk_tree(TreeWalker(str(tree), "test"))
    uploader = TreeUploader(
        store=store,
        context=activity_context("protect"),
        resource_key="test",
        root=str(tree),
        chunk_size=65536,
        concurrency=2,
        walked_at_ns=walked_at_ns,
        unchanged=UnchangedFiles(parent, store),
    )
    entries = await uploader.upload(walked)
    manifest = Manifest(
        root=str(tree),
        root_mode=root_status.st_mode & 0o7777,
        root_mtime_ns=root_status.st_mtime_ns,
        entries=entries,
        walked_at_ns=walked_at_ns,
    )
    return manifest, uploader


async def content_of(store: ChunkStore, manifest: Manifest, name: str) -> bytes:
    entry = next(entry for entry in manifest.entries if entry.path == name)
    data = b"".join([piece async for piece in store.read_stream(entry.chunks or [])])
    return data[entry.offset : entry.offset + entry.size]


async def test_a_racily_clean_file_changed_in_the_same_ctime_tick_is_stored_anew(
    tmp_path: Path,
) -> None:
    tree = tmp_path / "tree"
    build(tree)  # just written: every file is racy at this first walk
    store = await PLUGIN.chunk_store(MemoryBank(), create=True)
    parent, _ = await upload_tree(store, tree, None)
    changed = tree / "dir1" / "file05"
    before = changed.stat()
    new_content = os.urandom(before.st_size)
    changed.write_bytes(new_content)
    os.utime(changed, ns=(before.st_atime_ns, before.st_mtime_ns))
    # A file system whose ctime is coarse gives the write the ctime already recorded:
    # then the status matches the parent's in every field, and only the content differs.
    same_tick = [
        msgspec.structs.replace(entry, ctime_ns=changed.stat().st_ctime_ns)
        if entry.path == "dir1/file05"
        else entry
        for entry in parent.entries
    ]
    parent = msgspec.structs.replace(parent, entries=same_tick)

    manifest, uploader = await upload_tree(store, tree, parent)

    assert await content_of(store, manifest, "dir1/file05") == new_content
    small = sum(1 for entry in parent.entries if entry.kind == "file" and entry.size < 4096)
    assert uploader.rechecked_files == small - 1  # the other small files, read and equal
    for entry in manifest.entries:
        if entry.kind == "file" and entry.path != "dir1/file05":
            assert await content_of(store, manifest, entry.path) == (tree / entry.path).read_bytes()
