"""Streaming the regular files of a walked tree into the chunk store, a few at a time."""

from __future__ import annotations

import asyncio
import errno
import os
import stat
from collections.abc import AsyncIterator

import msgspec
import structlog

from banks.chunks import ChunkStore, WriteStats
from plugins.context import ActivityContext
from plugins.local.bounded_tasks import run_bounded
from plugins.local.directory_errors import DirectoryProtectError
from plugins.local.directory_manifest import ManifestEntry, SkippedEntry

log = structlog.get_logger(__name__)

# O_NOFOLLOW: a file replaced by a symlink after the walk is not read through it.
# O_NONBLOCK: a file replaced by a FIFO would otherwise block the open forever.
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


class _ChangedType(Exception):
    """The path is no longer a regular file."""


class TreeUploader:
    """Chunks and uploads files, ``concurrency`` at a time, reporting bytes read.

    Each file streams through :meth:`ChunkStore.write_stream` (bounded memory; only
    chunks the bank lacks are uploaded) and its entry gets the chunk list.

    Progress ``done`` only grows and ends equal to ``total``: ``total`` starts as the
    walk's byte count and is corrected as files turn out to have grown, shrunk or gone.
    """

    def __init__(
        self,
        *,
        store: ChunkStore,
        context: ActivityContext,
        resource_key: str,
        root: str,
        chunk_size: int,
        concurrency: int,
    ) -> None:
        self.store = store
        self.stats = WriteStats()
        self.context = context
        self.resource_key = resource_key
        self.root = root
        self.chunk_size = chunk_size
        self.concurrency = concurrency
        self.done = 0
        self.total = 0
        self.skipped: list[SkippedEntry] = []
        self._results: dict[int, ManifestEntry | None] = {}

    async def upload(self, entries: list[ManifestEntry]) -> list[ManifestEntry]:
        """Upload every file of ``entries``; return the entries as they go into the manifest.

        File entries come back with their chunk list and the size, mode and mtime of what
        was read; files that vanished are left out (and listed in ``skipped``).

        Raises:
            DirectoryProtectError: if a file cannot be read, naming it and the resource.
        """
        files = [(i, entry) for i, entry in enumerate(entries) if entry.kind == "file"]
        self.total = sum(entry.size for _, entry in files)
        self.context.progress(0, self.total)
        await run_bounded(files, self._upload_one, self.concurrency)
        self.context.progress(self.done, self.total)
        kept: list[ManifestEntry] = []
        for i, entry in enumerate(entries):
            result = self._results.get(i, entry) if entry.kind == "file" else entry
            if result is not None:
                kept.append(result)
        return kept

    async def _upload_one(self, item: tuple[int, ManifestEntry]) -> None:
        index, entry = item
        path = os.path.join(self.root, entry.fs_path())
        try:
            fd = await asyncio.to_thread(_open_regular, path)
        except (FileNotFoundError, _ChangedType) as error:
            reason = (
                "vanished before it was read"
                if isinstance(error, FileNotFoundError)
                else "is no longer a regular file"
            )
            self._skip(index, entry, reason)
            return
        except OSError as error:
            raise DirectoryProtectError(self.resource_key, path, error.strerror or "") from error
        expected = entry.size
        try:
            refs = await self.store.write_stream(self._chunks(fd, path, entry.size), self.stats)
            status = await asyncio.to_thread(os.fstat, fd)
        finally:
            os.close(fd)
        stored = sum(ref.size for ref in refs)
        if stored < expected:
            self.total -= expected - stored
            self.context.progress(self.done, self.total)
        if stored != expected:
            log.warning(
                "directory_file_changed_during_read",
                resource=self.resource_key,
                path=entry.path,
                walked_size=expected,
                read_size=stored,
            )
        self._results[index] = msgspec.structs.replace(
            entry,
            size=stored,
            chunks=refs,
            mode=stat.S_IMODE(status.st_mode),
            mtime_ns=status.st_mtime_ns,
        )

    async def _chunks(self, fd: int, path: str, expected: int) -> AsyncIterator[bytes]:
        read = 0
        while True:
            try:
                chunk = await asyncio.to_thread(os.read, fd, self.chunk_size)
            except OSError as error:
                raise DirectoryProtectError(
                    self.resource_key, path, error.strerror or ""
                ) from error
            if not chunk:
                return
            read += len(chunk)
            if read > expected:
                # the file grew: widen the total first so done never passes it
                self.total += read - expected
                expected = read
            self.done += len(chunk)
            self.context.progress(self.done, self.total)
            yield chunk

    def _skip(self, index: int, entry: ManifestEntry, reason: str) -> None:
        log.warning(
            "directory_entry_skipped", resource=self.resource_key, path=entry.path, reason=reason
        )
        self.skipped.append(SkippedEntry(entry.path, reason))
        self.total -= entry.size
        self._results[index] = None


def _open_regular(path: str) -> int:
    try:
        fd = os.open(path, _READ_FLAGS)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise _ChangedType(path) from error
        raise
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise _ChangedType(path)
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd
