"""A file being restored from pieces of chunks, written by whichever worker thread holds
each piece's chunk.

A file's pieces may arrive in any order and from several threads at once (the chunks of a
large file are decoded side by side): the first piece to arrive creates the file, each
writes its bytes at its own offset, the last gives it its mode and mtime and closes it.
A lock per file orders that; it is held for one piece's write at most.

A file that cannot be finished (its write failed, or the restore failed elsewhere) is
*abandoned*: closed, never written again, and removed if it was created, since no file
beats a partial one.
"""

from __future__ import annotations

import os
import threading
from enum import Enum, auto

import structlog

from plugins.local.directory.errors import DirectoryRestoreError
from plugins.local.directory.manifest import ManifestEntry
from plugins.local.directory.target import (
    Existing,
    OpenDirs,
    TargetTree,
    finish_file,
    pwrite_all,
    why,
)

log = structlog.get_logger(__name__)


class _State(Enum):
    WAITING = auto()  # nothing written yet, or some pieces
    DONE = auto()
    SKIPPED = auto()  # it existed and existing='skip'
    ABANDONED = auto()


class RestoredFile:
    """One file of the manifest and how much of it is still to come."""

    __slots__ = ("_fd", "_left", "_lock", "_state", "entry", "mode", "path")

    def __init__(self, entry: ManifestEntry, mode: int, pieces: int) -> None:
        self.entry = entry
        self.path = entry.fs_path()
        self.mode = mode
        self._left = max(1, pieces)  # an empty file is one piece of no bytes
        self._fd: int | None = None
        self._state = _State.WAITING
        self._lock = threading.Lock()

    def write(
        self, data: memoryview, at: int, tree: TargetTree, existing: Existing, dirs: OpenDirs
    ) -> bool:
        """Write one piece at offset ``at`` (blocking); True if this found the file in the way
        and ``existing`` is ``skip`` (once per file; its other pieces are then dropped).

        Raises:
            DirectoryRestoreError: naming the file, if it cannot be created or written (it
                is then removed); or, from :meth:`TargetTree.create_file`, if it exists and
                ``existing`` is ``fail``.
            UnsafeManifestEntry: if a parent is a symlink or a directory is in the way.
        """
        with self._lock:
            if self._state is not _State.WAITING:
                return False
            if self._fd is None:
                fd = tree.create_file(self.path, existing, dirs)
                if fd is None:
                    self._state = _State.SKIPPED
                    return True
                self._fd = fd
            try:
                pwrite_all(self._fd, data, at)
                self._left -= 1
                if self._left == 0:
                    fd, self._fd = self._fd, None
                    self._state = _State.DONE
                    finish_file(fd, self.mode, self.entry.mtime_ns)
            except OSError as error:
                self._abandon_locked(tree)
                raise DirectoryRestoreError(
                    tree.resource_key, self.entry.path, tree.target, why(error)
                ) from error
        return False

    def abandon(self, tree: TargetTree) -> None:
        """Write no more of it; close and remove it if it was created and is unfinished
        (blocking)."""
        with self._lock:
            if self._state is _State.WAITING:
                self._abandon_locked(tree)

    def _abandon_locked(self, tree: TargetTree) -> None:
        self._state = _State.ABANDONED
        fd, self._fd = self._fd, None
        if fd is None:
            return
        os.close(fd)
        try:
            tree.remove_file(self.path)
        except DirectoryRestoreError as error:
            # the restore fails anyway, with the error that made it stop
            log.warning("directory_partial_file_left", path=self.entry.path, reason=str(error))
