"""Walking a directory tree into manifest entries, off the event loop, a batch at a time."""

from __future__ import annotations

import asyncio
import fnmatch
import os
import stat
from collections.abc import Sequence

import msgspec
import structlog

from plugins.local.directory.errors import DirectoryProtectError
from plugins.local.directory.manifest import (
    EntryKind,
    ManifestEntry,
    SkippedEntry,
    storable_name,
)

log = structlog.get_logger(__name__)

# Entries per worker-thread hop: large enough that thread hand-offs cost nothing
# measurable, small enough that the event loop is never held up by one huge tree.
WALK_BATCH = 2000


class ExcludeMatcher:
    """Glob patterns relative to the root, in the manner of ``.gitignore``.

    A pattern without ``/`` matches an entry's name at any depth (``*.log``, ``cache``);
    a pattern with ``/`` matches the whole relative path (``build/*.o``; ``*`` crosses
    ``/``); a leading ``/`` anchors a name pattern to the root (``/tmp``). An excluded
    directory is not descended into.
    """

    def __init__(self, patterns: Sequence[str]) -> None:
        self.name_patterns: list[str] = []
        self.path_patterns: list[str] = []
        for raw in patterns:
            pattern = raw.strip().removeprefix("./").rstrip("/")
            if not pattern:
                continue
            if "/" in pattern:
                self.path_patterns.append(pattern.lstrip("/"))
            else:
                self.name_patterns.append(pattern)

    def excludes(self, relative: str, name: str) -> bool:
        """True if the entry at the relative POSIX path ``relative`` is excluded."""
        return any(fnmatch.fnmatchcase(name, p) for p in self.name_patterns) or any(
            fnmatch.fnmatchcase(relative, p) for p in self.path_patterns
        )


class TreeWalker:
    """Depth-first walk with ``os.scandir``, never following symlinks, names sorted.

    ``next_batch`` does blocking I/O and is meant to run in a worker thread; it returns
    an empty list when the walk is over. Parents are always returned before children.
    """

    def __init__(self, root: str, resource_key: str, exclude: Sequence[str] = ()) -> None:
        self.root = root
        self.resource_key = resource_key
        self.matcher = ExcludeMatcher(exclude)
        self.skipped: list[SkippedEntry] = []
        self._pending: list[str] = [""]

    def stat_root(self) -> os.stat_result:
        """The root's own status (following a symlink at the root: the user named it).

        Raises:
            DirectoryProtectError: if the root is missing or not a directory.
        """
        try:
            status = os.stat(self.root)
        except OSError as error:
            raise self._unreadable(self.root, error) from error
        if not stat.S_ISDIR(status.st_mode):
            raise DirectoryProtectError(self.resource_key, self.root, "not a directory")
        return status

    def next_batch(self, limit: int = WALK_BATCH) -> list[ManifestEntry]:
        """Scan directories until at least ``limit`` entries are found or the walk ends.

        Raises:
            DirectoryProtectError: if a directory or symlink cannot be read (permission).
        """
        found: list[ManifestEntry] = []
        while self._pending and len(found) < limit:
            relative_dir = self._pending.pop()
            subdirs: list[str] = []
            for entry in self._scan(relative_dir):
                found.append(entry)
                if entry.kind == "dir":
                    subdirs.append(entry.fs_path())
            # reversed, so the stack pops them in name order
            self._pending.extend(reversed(subdirs))
        return found

    def _unreadable(self, path: str, error: OSError) -> DirectoryProtectError:
        return DirectoryProtectError(self.resource_key, path, error.strerror or str(error))

    def _skip(self, relative: str, reason: str) -> None:
        text = storable_name(relative)[0]
        log.warning("directory_entry_skipped", resource=self.resource_key, path=text, reason=reason)
        self.skipped.append(SkippedEntry(text, reason))

    def _scan(self, relative_dir: str) -> list[ManifestEntry]:
        directory = os.path.join(self.root, relative_dir) if relative_dir else self.root
        try:
            with os.scandir(directory) as iterator:
                children = sorted(iterator, key=lambda child: child.name)
        except (FileNotFoundError, NotADirectoryError):
            # removed or replaced since its parent was scanned: a live tree, not an error
            self._skip(relative_dir, "directory vanished before it was read")
            return []
        except OSError as error:
            raise self._unreadable(directory, error) from error
        entries: list[ManifestEntry] = []
        for child in children:
            relative = f"{relative_dir}/{child.name}" if relative_dir else child.name
            if self.matcher.excludes(relative, child.name):
                continue
            entry = self._describe(child, relative)
            if entry is not None:
                entries.append(entry)
        return entries

    def _describe(self, child: os.DirEntry[str], relative: str) -> ManifestEntry | None:
        try:
            status = child.stat(follow_symlinks=False)
            target = os.readlink(child.path) if stat.S_ISLNK(status.st_mode) else None
        except FileNotFoundError:
            self._skip(relative, "vanished before it was read")
            return None
        except OSError as error:
            raise self._unreadable(child.path, error) from error
        mode = status.st_mode
        kind: EntryKind
        if stat.S_ISDIR(mode):
            kind = "dir"
        elif stat.S_ISREG(mode):
            kind = "file"
        elif target is not None:
            kind = "symlink"
        else:
            self._skip(relative, "not a regular file, directory or symlink")
            return None
        path, raw_path = storable_name(relative)
        entry = ManifestEntry(
            path=path,
            raw_path=raw_path,
            kind=kind,
            mode=stat.S_IMODE(mode),
            mtime_ns=status.st_mtime_ns,
            size=status.st_size if kind == "file" else 0,
            ctime_ns=status.st_ctime_ns if kind == "file" else 0,
            inode=status.st_ino if kind == "file" else 0,
        )
        if target is not None:
            text, raw = storable_name(target)
            entry = msgspec.structs.replace(entry, target=text, raw_target=raw)
        return entry


async def walk_tree(walker: TreeWalker) -> tuple[os.stat_result, list[ManifestEntry]]:
    """Run ``walker`` to the end in worker threads; return the root's status and the entries.

    Raises:
        DirectoryProtectError: if the root or any directory cannot be read.
    """
    root_status = await asyncio.to_thread(walker.stat_root)
    entries: list[ManifestEntry] = []
    while batch := await asyncio.to_thread(walker.next_batch):
        entries.extend(batch)
    return root_status, entries
