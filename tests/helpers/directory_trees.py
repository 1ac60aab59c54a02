"""Building directory trees with awkward content, and snapshotting them for comparison."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from typing import Literal

import msgspec

from banks.base import Bank
from banks.section import BankSection
from plugins.checkpoint.checkpoint import Checkpoint, CheckpointIndex, CheckpointStatus
from plugins.checkpoint.graph import ResourceGraph
from plugins.context import ActivityContext, RequestContext
from plugins.local.directory.manifest import Manifest
from plugins.local.directory.manifest_chunks import StoredManifest, read_manifest
from plugins.local.directory.protection import (
    DirectoryParameters,
    DirectoryProtection,
    DirectoryRestoreParameters,
)
from plugins.resource import Resource

BASE_MTIME_NS = 1_600_000_000_123_456_789


class Entry(msgspec.Struct, frozen=True):
    """What a snapshot records of one path: enough to call two trees identical."""

    kind: str
    mode: int
    mtime_ns: int
    digest: str = ""  # sha256 of a file's bytes
    size: int = 0
    target: str = ""  # a symlink's target text


def file_digest(path: Path | str, chunk_size: int = 1 << 20) -> str:
    """sha256 of a file, read in chunks so a 200 MB file is never held whole."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def snapshot(root: Path) -> dict[str, Entry]:
    """Every path under ``root`` (and ``.`` for the root), never following symlinks."""
    found: dict[str, Entry] = {}
    status = os.lstat(root)
    found["."] = Entry("dir", stat.S_IMODE(status.st_mode), status.st_mtime_ns)
    pending = [""]
    while pending:
        relative_dir = pending.pop()
        with os.scandir(root / relative_dir if relative_dir else root) as scan:
            children = list(scan)
        for child in children:
            relative = f"{relative_dir}/{child.name}" if relative_dir else child.name
            status = child.stat(follow_symlinks=False)
            mode, mtime = stat.S_IMODE(status.st_mode), status.st_mtime_ns
            if stat.S_ISLNK(status.st_mode):
                found[relative] = Entry("symlink", 0, mtime, target=os.readlink(child.path))
            elif stat.S_ISDIR(status.st_mode):
                found[relative] = Entry("dir", mode, mtime)
                pending.append(relative)
            elif stat.S_ISREG(status.st_mode):
                found[relative] = Entry(
                    "file", mode, mtime, digest=file_digest(child.path), size=status.st_size
                )
            else:
                found[relative] = Entry("other", mode, mtime)
    return found


def set_times(root: Path, paths: list[str], base_ns: int = BASE_MTIME_NS) -> None:
    """Give each path (deepest first, root last) its own mtime, ``base_ns`` plus a step."""
    ordered = sorted(paths, key=lambda p: p.count("/"), reverse=True)
    for step, relative in enumerate(ordered):
        when = base_ns + step * 1_000_000_007
        os.utime(root / relative, ns=(when, when), follow_symlinks=False)
    os.utime(root, ns=(base_ns - 1, base_ns - 1))


def all_paths(root: Path) -> list[str]:
    """Every relative path under ``root``, without following symlinks."""
    return [path for path in snapshot(root) if path != "."]


def directory_resource(root: Path) -> Resource:
    """The ``Strongbox::Directory`` resource of ``root``."""
    return Resource(type="Strongbox::Directory", id=str(root), name=root.name)


def checkpoint_for(
    bank: Bank,
    resource: Resource,
    *,
    writable: bool,
    operation_id: str = "op",
    checkpoint_id: str = "cp-1",
) -> Checkpoint:
    """A checkpoint holding just ``resource``, as the engine would hand it to an activity."""
    index = CheckpointIndex(
        id=checkpoint_id,
        provider_id="test-provider",
        status=CheckpointStatus.PROTECTING,
        created_at=0.0,
        updated_at=0.0,
        protect_operation_id="op",
        owner="test",
    )
    graph = ResourceGraph([resource], [[]])
    return Checkpoint(bank, index, graph, operation_id=operation_id, writable=writable)


class ProgressLog:
    """A progress callback that keeps every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int | None]] = []

    def __call__(self, done: int, total: int | None = None) -> None:
        self.calls.append((done, total))


def activity_context(operation: str, progress: ProgressLog | None = None) -> ActivityContext:
    """An activity context for ``operation``'s parallel phase."""
    return ActivityContext(
        operation_id="op",
        operation_type=operation,
        activity=f"{operation}_parallel",
        request=RequestContext(),
        progress=progress,
    )


# Small reads and small content-defined chunks, so that even the test tree's files take
# several of each; encrypted, as a user's store is by default.
TEST_PASSPHRASE = "correct horse battery staple"
SMALL_CHUNKS = {"chunk_min_size": "4096", "chunk_avg_size": "16384", "chunk_max_size": "65536"}
PLUGIN = DirectoryProtection(
    {"chunk_size": "65536", "concurrency": "3", "passphrase": TEST_PASSPHRASE, **SMALL_CHUNKS}
)
# the same, with a store in the clear: the only kind that still reads manifests v1 to v4
PLAIN_PLUGIN = DirectoryProtection(
    {"chunk_size": "65536", "concurrency": "3", "encryption": "none", **SMALL_CHUNKS}
)
UNDECODABLE = os.fsdecode(b"caf\xe9.txt")


def build_awkward_tree(root: Path) -> None:
    """Files of several sizes and modes, empty and read-only directories, three symlinks."""
    (root / "nested" / "deeper" / "empty_leaf").mkdir(parents=True)
    (root / "empty_dir").mkdir()
    (root / "cache").mkdir()
    (root / "locked").mkdir()
    (root / "empty.txt").write_bytes(b"")
    (root / "small.txt").write_bytes(b"hello, world\n")
    (root / "medium.bin").write_bytes(os.urandom(100_000))
    (root / "nested" / "deeper" / "big.bin").write_bytes(os.urandom(3 * 65536 + 17))
    (root / "nested" / "secret").write_bytes(b"s3cret")
    (root / "nested" / "script.sh").write_bytes(b"#!/bin/sh\necho hi\n")
    (root / "nested" / "readonly.txt").write_bytes(b"do not touch")
    (root / "locked" / "inside.txt").write_bytes(b"behind a read-only door")
    (root / "cache" / "blob.o").write_bytes(b"object code")
    (root / "trace.log").write_bytes(b"log line\n")
    (root / UNDECODABLE).write_bytes(b"latin-1 name")
    (root / "link_to_file").symlink_to("small.txt")
    (root / "link_to_dir").symlink_to("nested")
    (root / "dangling").symlink_to("does/not/exist")
    (root / "nested" / "secret").chmod(0o600)
    (root / "nested" / "script.sh").chmod(0o755)
    (root / "nested" / "readonly.txt").chmod(0o444)
    (root / "locked").chmod(0o500)
    set_times(root, all_paths(root))


async def protect(
    bank: Bank,
    root: Path,
    progress: ProgressLog | None = None,
    *,
    checkpoint_id: str = "cp-1",
    plugin: DirectoryProtection = PLUGIN,
    **parameters: object,
) -> None:
    """Run the protect activity of ``plugin`` on the tree at ``root``."""
    resource = directory_resource(root)
    checkpoint = checkpoint_for(bank, resource, writable=True, checkpoint_id=checkpoint_id)
    await plugin.activity_protect_parallel(
        checkpoint,
        activity_context("protect", progress),
        resource,
        DirectoryParameters(**parameters),
    )


async def restore(
    bank: Bank,
    root: Path,
    target: Path,
    progress: ProgressLog | None = None,
    existing: Literal["fail", "overwrite", "skip"] = "fail",
    *,
    checkpoint_id: str = "cp-1",
    plugin: DirectoryProtection = PLUGIN,
) -> None:
    """Run the restore activity of ``plugin`` from ``root``'s section into ``target``."""
    resource = directory_resource(root)
    checkpoint = checkpoint_for(
        bank, resource, writable=False, operation_id="restore-op", checkpoint_id=checkpoint_id
    )
    parameters = DirectoryRestoreParameters(target=str(target), existing=existing)
    await plugin.activity_restore_parallel(
        checkpoint, activity_context("restore", progress), resource, parameters
    )


def section_of(
    bank: Bank, root: Path, *, writable: bool = True, checkpoint_id: str = "cp-1"
) -> BankSection:
    """The plugin's bank section for the tree at ``root``."""
    resource = directory_resource(root)
    checkpoint = checkpoint_for(bank, resource, writable=writable, checkpoint_id=checkpoint_id)
    return checkpoint.bank_section(resource)


async def stored_manifest_of(
    bank: Bank, root: Path, *, plugin: DirectoryProtection = PLUGIN
) -> StoredManifest:
    """The manifest :func:`protect` stored for ``root`` (any version) and the chunks
    holding it, read as a restore reads it: through ``plugin``'s chunk store and key."""
    return await read_manifest(
        section_of(bank, root, writable=False),
        lambda: plugin.chunk_store(bank, create=False),
        resource_key=directory_resource(root).key,
        checkpoint_id="cp-1",
    )


async def manifest_of(bank: Bank, root: Path) -> Manifest:
    """The manifest :func:`protect` stored for ``root`` (see :func:`stored_manifest_of`)."""
    return (await stored_manifest_of(bank, root)).manifest
