"""Streaming the regular files of a walked tree into the chunk store, a few at a time.

Files at least as big as the store's smallest chunk stream one by one, ``concurrency``
at a time. Smaller files are *bundled*: read many per worker-thread hop, in walk order,
and written as one stream, so that a chunk holds many of them and each file's manifest
entry names the chunks it lies in and its offset in the first (``directory_manifest``).
A protect of many small files then costs a bank object per chunk, not per file, and a
thread hop per batch, not several per file. The stream runs beside the big files.
Unchanged small files in an unchanged order give the same stream, hence the same chunks
(a second protect stores none); a changed one changes the chunk or two around it. Small
files read again only because their status cannot be trusted (racily clean, see
``directory_parent``) are compared by digest and, if equal, keep the parent's chunks
instead of entering the stream, which holds only files that did change.
"""

from __future__ import annotations

import asyncio
import bisect
import errno
import functools
import itertools
import os
import stat
from collections.abc import AsyncIterator, Awaitable, Callable

import msgspec
import structlog

from banks.chunks import ChunkRef, ChunkStore, WriteStats
from plugins.context import ActivityContext
from plugins.local.directory.bounded_tasks import run_bounded
from plugins.local.directory.errors import DirectoryProtectError
from plugins.local.directory.manifest import ManifestEntry, SkippedEntry
from plugins.local.directory.parent import (
    UnchangedFiles,
    content_digest,
    settled,
    taken_from_parent,
)

log = structlog.get_logger(__name__)

# O_NOFOLLOW: a file replaced by a symlink after the walk is not read through it.
# O_NONBLOCK: a file replaced by a FIFO would otherwise block the open forever.
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
# small files read per worker-thread hop: at most this many, or this many bytes
_BATCH_FILES = 256
_BATCH_BYTES = 4 << 20

# what reading a small file gave: its bytes, status and content digest (when it is racy
# now or was at the parent's walk); None if it had grown too big to bundle (it is
# streamed on its own instead); or why it was skipped
_SmallRead = tuple[bytes, os.stat_result, str | None] | None | str


class _ChangedType(Exception):
    """The path is no longer a regular file."""


class TreeUploader:
    """Chunks and uploads files, ``concurrency`` at a time, reporting bytes read.

    Each file streams through :meth:`ChunkStore.write_stream` (bounded memory; only
    chunks the bank lacks are uploaded) and its entry gets the chunk list.

    Progress ``done`` only grows and ends equal to ``total``: ``total`` starts as the
    walk's byte count and is corrected as files turn out to have grown, shrunk or gone.

    ``walked_at_ns`` is when the walk of ``entries`` began: a bundled file whose ctime is
    not settled before it gets a content digest in its entry (``directory_parent``).
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
        walked_at_ns: int,
        unchanged: UnchangedFiles | None = None,
    ) -> None:
        self.store = store
        self.unchanged = unchanged or UnchangedFiles(None, store)
        self.walked_at_ns = walked_at_ns
        self.reused_files = 0  # taken from the parent unread
        self.rechecked_files = 0  # racily clean, read again, equal: taken from the parent
        # racily clean files, by index: the parent's entry, taken if the digest is equal
        self._racy: dict[int, ManifestEntry] = {}
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
        files = await self._take_unchanged(files)
        limit = self.store.chunker_params.min_size
        small = [(i, entry) for i, entry in files if entry.size < limit]
        grown: list[tuple[int, ManifestEntry]] = []
        jobs: list[Callable[[], Awaitable[None]]] = [
            lambda: self._upload_bundle(small, limit, grown)
        ]
        jobs += [
            functools.partial(self._upload_one, item) for item in files if item[1].size >= limit
        ]
        # the bundle is one more job beside the ``concurrency`` big files
        await run_bounded(jobs, lambda job: job(), self.concurrency + 1)
        await run_bounded(grown, self._upload_one, self.concurrency)
        self.context.progress(self.done, self.total)
        kept: list[ManifestEntry] = []
        for i, entry in enumerate(entries):
            result = self._results.get(i, entry) if entry.kind == "file" else entry
            if result is not None:
                kept.append(result)
        return kept

    async def _take_unchanged(
        self, files: list[tuple[int, ManifestEntry]]
    ) -> list[tuple[int, ManifestEntry]]:
        """Give files unchanged since the parent checkpoint its chunks; return the others.

        Racily clean ones are among those returned, noted in ``_racy`` to be compared.
        """
        changed: list[tuple[int, ManifestEntry]] = []
        for index, entry in files:
            reused = await self.unchanged.reuse(entry)
            if reused is None:
                racy = await self.unchanged.racily_clean(entry)
                if racy is not None:
                    self._racy[index] = racy
                changed.append((index, entry))
                continue
            self._results[index] = reused
            self.reused_files += 1
            self._count_taken(reused)
            self.done += reused.size
        self.context.progress(self.done, self.total)
        return changed

    def _count_taken(self, taken: ManifestEntry) -> None:
        chunks = len(taken.chunks or ())
        self.stats.chunks += chunks
        self.stats.deduplicated_chunks += chunks
        self.stats.plaintext_bytes += taken.size

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
        self._record(index, entry, stored, refs, status)

    def _record(
        self,
        index: int,
        entry: ManifestEntry,
        size: int,
        refs: list[ChunkRef],
        status: os.stat_result,
        *,
        offset: int = 0,
        digest: str | None = None,
    ) -> None:
        if size != entry.size:
            log.warning(
                "directory_file_changed_during_read",
                resource=self.resource_key,
                path=entry.path,
                walked_size=entry.size,
                read_size=size,
            )
        self._results[index] = msgspec.structs.replace(
            entry,
            size=size,
            chunks=refs,
            offset=offset,
            digest=digest,
            mode=stat.S_IMODE(status.st_mode),
            mtime_ns=status.st_mtime_ns,
        )

    async def _upload_bundle(
        self,
        files: list[tuple[int, ManifestEntry]],
        limit: int,
        grown: list[tuple[int, ManifestEntry]],
    ) -> None:
        """Write the small ``files`` as one stream; those grown to ``limit`` go to ``grown``."""
        placed: list[tuple[int, ManifestEntry, int, int, os.stat_result, str | None]] = []
        position = 0

        async def stream() -> AsyncIterator[bytes]:
            nonlocal position
            for batch in _batches(files):
                reads = await asyncio.to_thread(self._read_small_files, batch, limit)
                pieces: list[bytes] = []
                for (index, entry), read in zip(batch, reads, strict=True):
                    if isinstance(read, str):
                        self._skip(index, entry, read)
                    elif read is None:
                        grown.append((index, entry))
                    else:
                        data, status, digest = read
                        # total first, so done never passes it
                        self.total += len(data) - entry.size
                        self.done += len(data)
                        if self._take_if_equal(index, entry, digest):
                            continue
                        if settled(entry.ctime_ns, self.walked_at_ns):
                            digest = None  # its status will do next time
                        placed.append((index, entry, position, len(data), status, digest))
                        position += len(data)
                        pieces.append(data)
                if pieces:
                    self.context.progress(self.done, self.total)
                    yield b"".join(pieces)

        refs = await self.store.write_stream(stream(), self.stats)
        ends = list(itertools.accumulate(ref.size for ref in refs))
        for index, entry, start, size, status, digest in placed:
            if size == 0:
                self._record(index, entry, 0, [], status, digest=digest)
                continue
            first = bisect.bisect_right(ends, start)  # the chunk the file starts in
            last = bisect.bisect_left(ends, start + size)  # and the one it ends in
            chunk_start = ends[first - 1] if first else 0
            self._record(
                index,
                entry,
                size,
                refs[first : last + 1],
                status,
                offset=start - chunk_start,
                digest=digest,
            )

    def _take_if_equal(self, index: int, entry: ManifestEntry, digest: str | None) -> bool:
        """Take the parent's entry of a racily clean file whose content ``digest`` equals
        the parent's; False if it is not one, or changed."""
        before = self._racy.get(index)
        if before is None or digest is None or digest != before.digest:
            return False
        taken = taken_from_parent(entry, before)
        self._results[index] = taken
        self.rechecked_files += 1
        self._count_taken(taken)
        return True

    def _read_small_files(
        self, batch: list[tuple[int, ManifestEntry]], limit: int
    ) -> list[_SmallRead]:
        """Read each file of ``batch`` whole, in a worker thread (see :data:`_SmallRead`).

        Raises:
            DirectoryProtectError: if a file cannot be read, naming it.
        """
        reads: list[_SmallRead] = []
        for index, entry in batch:
            path = os.path.join(self.root, entry.fs_path())
            try:
                fd = _open_regular(path)
            except FileNotFoundError:
                reads.append("vanished before it was read")
                continue
            except _ChangedType:
                reads.append("is no longer a regular file")
                continue
            except OSError as error:
                raise self._unreadable(path, error) from error
            try:
                data = _read_up_to(fd, limit + 1)
                status = os.fstat(fd)
            except OSError as error:
                raise self._unreadable(path, error) from error
            finally:
                os.close(fd)
            if len(data) > limit:
                reads.append(None)
                continue
            digest = None
            if index in self._racy or not settled(entry.ctime_ns, self.walked_at_ns):
                digest = content_digest(self.store, data)
            reads.append((data, status, digest))
        return reads

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

    def _unreadable(self, path: str, error: OSError) -> DirectoryProtectError:
        return DirectoryProtectError(self.resource_key, path, error.strerror or "")

    def _skip(self, index: int, entry: ManifestEntry, reason: str) -> None:
        log.warning(
            "directory_entry_skipped", resource=self.resource_key, path=entry.path, reason=reason
        )
        self.skipped.append(SkippedEntry(entry.path, reason))
        self.total -= entry.size
        self._results[index] = None


def _batches(files: list[tuple[int, ManifestEntry]]) -> list[list[tuple[int, ManifestEntry]]]:
    batches: list[list[tuple[int, ManifestEntry]]] = []
    current: list[tuple[int, ManifestEntry]] = []
    size = 0
    for item in files:
        current.append(item)
        size += item[1].size
        if len(current) >= _BATCH_FILES or size >= _BATCH_BYTES:
            batches.append(current)
            current, size = [], 0
    if current:
        batches.append(current)
    return batches


def _read_up_to(fd: int, limit: int) -> bytes:
    """At most ``limit`` bytes from ``fd``, fewer only at the end of the file."""
    pieces: list[bytes] = []
    left = limit
    while left > 0:
        piece = os.read(fd, left)
        if not piece:
            break
        pieces.append(piece)
        left -= len(piece)
    return b"".join(pieces)


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
