"""A second protect through the engine takes unchanged files from the parent checkpoint,
and reads every file whose status says it may have changed."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from structlog.testing import capture_logs

from actors.requests import ProtectRequest, ResourceRef, RestoreRequest
from plugins.local.directory_parent import SETTLED_NS
from tests.helpers.directory_trees import snapshot

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


async def protect(engine, tree: Path) -> tuple[str, int]:
    """Protect ``tree``; return the checkpoint id and how many files were taken unread."""
    with capture_logs() as logs:
        result = await engine.run(
            ProtectRequest(resources=[ResourceRef(DIRECTORY, str(tree))]), timeout=60
        )
    assert result.status == "succeeded", result.error
    (protected,) = [log for log in logs if log["event"] == "directory_protected"]
    return result.checkpoint_id, protected["unchanged_files"]


async def test_unchanged_files_are_taken_unread_and_a_rewritten_one_is_read_again(
    engine_for, tmp_path: Path
) -> None:
    tree = tmp_path / "tree"
    build(tree)
    # files are trusted only once their ctime is settled before the walk
    await asyncio.sleep(SETTLED_NS / 1e9 + 0.2)
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

        restored = await e.run(
            RestoreRequest(
                checkpoint_id=latest,
                parameters={DIRECTORY: {"target": str(tmp_path / "restored")}},
            ),
            timeout=60,
        )
        assert restored.status == "succeeded", restored.error
        assert snapshot(tmp_path / "restored") == snapshot(tree)
