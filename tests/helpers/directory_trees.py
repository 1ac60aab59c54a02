"""Building directory trees with awkward content, and snapshotting them for comparison."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import msgspec

from banks.base import Bank
from plugins.checkpoint import Checkpoint, CheckpointIndex, CheckpointStatus
from plugins.context import ActivityContext, RequestContext
from plugins.graph import ResourceGraph
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
                found[relative] = Entry("file", mode, mtime, digest=file_digest(child.path),
                                        size=status.st_size)
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


def checkpoint_for(bank: Bank, resource: Resource, *, writable: bool,
                   operation_id: str = "op") -> Checkpoint:
    """A checkpoint holding just ``resource``, as the engine would hand it to an activity."""
    index = CheckpointIndex(id="cp-1", provider_id="test-provider",
                            status=CheckpointStatus.PROTECTING, created_at=0.0, updated_at=0.0,
                            protect_operation_id="op", owner="test")
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
    return ActivityContext(operation_id="op", operation_type=operation,
                           activity=f"{operation}_parallel", request=RequestContext(),
                           progress=progress)
