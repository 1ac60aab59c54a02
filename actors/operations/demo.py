"""The main job: protect a sample directory tree and restore it, in one process.

``strongbox demo`` builds a sample tree (nested and empty directories, symlinks, files of
several sizes, modes and mtimes), protects it with the shipped ``Local`` provider on the
filesystem bank, restores it to another directory and compares the two trees: bytes,
modes, mtimes, symlink targets. Nothing here is special-cased: it is the same engine,
plugins and bank as ``strongbox protect`` and ``strongbox restore``.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import stat
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import msgspec
import structlog

from actors.operations.engine import Engine
from actors.wire.events import OperationFinished
from actors.wire.requests import EngineRequest, ProtectRequest, ResourceRef, RestoreRequest

log = structlog.get_logger(__name__)

DIRECTORY_TYPE = "Strongbox::Directory"


class TreeEntry(msgspec.Struct, frozen=True):
    """One entry of a tree as compared: what a faithful restore must reproduce."""

    path: str
    kind: str
    mode: int
    mtime_ns: int
    size: int
    digest: str  # sha256 of a file, the target of a symlink, "" for a directory


def describe_tree(root: Path) -> list[TreeEntry]:
    """Every entry under ``root`` (not ``root`` itself), sorted, files hashed by streaming."""
    entries: list[TreeEntry] = []
    for directory, dirnames, filenames in os.walk(root):
        for name in sorted(dirnames + filenames):
            path = Path(directory, name)
            info = path.lstat()
            relative = path.relative_to(root).as_posix()
            if stat.S_ISLNK(info.st_mode):
                kind, digest, size = "symlink", os.readlink(path), 0
            elif stat.S_ISDIR(info.st_mode):
                kind, digest, size = "dir", "", 0
            else:
                kind, digest, size = "file", _sha256(path), info.st_size
            mtime = 0 if kind == "symlink" else info.st_mtime_ns
            entries.append(
                TreeEntry(
                    relative,
                    kind,
                    stat.S_IMODE(info.st_mode) if kind != "symlink" else 0,
                    mtime,
                    size,
                    digest,
                )
            )
    return sorted(entries, key=lambda e: e.path)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def make_sample_tree(root: Path, *, large_mib: int = 16) -> None:
    """Write the sample tree the demo protects."""
    if root.exists():
        shutil.rmtree(root)
    (root / "docs" / "notes").mkdir(parents=True)
    (root / "empty").mkdir()
    (root / "data").mkdir()
    (root / "docs" / "readme.txt").write_text("Strongbox keeps this file safe.\n")
    (root / "docs" / "notes" / "todo.md").write_text("- protect\n- restore\n- compare\n")
    for number in range(200):
        (root / "data" / f"record-{number:03d}.json").write_text(
            msgspec.json.encode({"id": number, "payload": "x" * (number * 37 % 4096)}).decode()
        )
    with (root / "data" / "large.bin").open("wb") as handle:
        seed = hashlib.sha256(b"strongbox").digest()
        for block in range(large_mib):
            handle.write(hashlib.sha256(seed + block.to_bytes(4, "big")).digest() * 32768)
    secret = root / "docs" / "private.key"
    secret.write_bytes(os.urandom(64))
    secret.chmod(0o600)
    (root / "docs" / "link-to-readme").symlink_to("readme.txt")
    (root / "dangling").symlink_to("nowhere/at/all")
    tool = root / "run.sh"
    tool.write_text("#!/bin/sh\necho hello\n")
    tool.chmod(0o755)
    stamp = time.time() - 86_400 * 30
    for number, path in enumerate(sorted(root.rglob("*"))):
        if not path.is_symlink():
            os.utime(path, ns=(int((stamp + number) * 1e9), int((stamp + number) * 1e9)))


def compare_trees(original: Path, restored: Path) -> list[str]:
    """Differences between two trees, as sentences; empty when identical."""
    left = {e.path: e for e in describe_tree(original)}
    right = {e.path: e for e in describe_tree(restored)}
    problems = [f"missing from the restore: {p}" for p in sorted(left.keys() - right.keys())]
    problems += [f"not in the original: {p}" for p in sorted(right.keys() - left.keys())]
    for path in sorted(left.keys() & right.keys()):
        if left[path] != right[path]:
            problems.append(f"differs: {path}: {left[path]} != {right[path]}")
    return problems


async def run_demo(
    engine: Engine,
    work: Path,
    run: Callable[[EngineRequest, str], Awaitable[OperationFinished]],
) -> tuple[OperationFinished, OperationFinished, list[str], int]:
    """Protect the sample tree under ``work`` and restore it next to it.

    ``run(request, label)`` carries out one operation (the CLI renders its progress).
    Returns both results, the differences found, and how many entries were compared.
    """
    sample, restored = work / "sample", work / "restored"
    await asyncio.to_thread(make_sample_tree, sample)
    if restored.exists():
        await asyncio.to_thread(shutil.rmtree, restored)
    protected = await run(
        ProtectRequest(
            provider_id=engine.provider().id,
            resources=[ResourceRef(DIRECTORY_TYPE, str(sample.resolve()))],
        ),
        "protect",
    )
    restore = await run(
        RestoreRequest(
            provider_id=engine.provider().id,
            checkpoint_id=protected.checkpoint_id,
            parameters={DIRECTORY_TYPE: {"target": str(restored.resolve())}},
        ),
        "restore",
    )
    problems = await asyncio.to_thread(compare_trees, sample, restored)
    compared = len(await asyncio.to_thread(describe_tree, sample))
    return protected, restore, problems, compared
