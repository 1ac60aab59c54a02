"""Restoring a manifest's tree from a bank section into a target directory.

Order: check every entry (nothing written yet); open or create the target; with
``existing="fail"`` look for any clash (still nothing written); create directories
parents first; write the files' content chunk by chunk (``directory_restore_plan``: each
chunk fetched, checked, decoded and written in one worker-thread hop, ``read_ahead``
chunks at a time), each file given its mode and mtime once its last piece is in; create
symlinks; last, set directories' modes and mtimes,
deepest first, so that writing children neither disturbs an mtime nor is refused by a
read-only parent.

A restore operation has made the same checks for all its roots before releasing any
(``DirectoryProtection.check_restore``, ``placement``): the checks here stand for a
restore of this one tree, and for what changed in the target since.

Owners are not restored (files belong to the restoring user), so files lose their
set-user-id and set-group-id bits, with a warning.

Files are not fsynced one by one, as restic does not: a restore that a crash interrupts
is run again (a file then holds whatever the page cache had written back), and a
restore's success means its bytes were written and checked, not that they reached the
disk, just as for any program writing files. A sync per file cost a disk flush each.
"""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import AsyncIterator, Iterable

import structlog

from banks.chunks import ChunkNotFound, ChunkStore, CorruptChunk
from banks.errors import ObjectNotFound
from banks.section import BankSection
from plugins.context import ActivityContext
from plugins.local.directory.bounded_tasks import run_bounded
from plugins.local.directory.errors import DirectoryRestoreError
from plugins.local.directory.manifest import Manifest, ManifestEntry, check_entries
from plugins.local.directory.restore_plan import ChunkJob, plan_jobs
from plugins.local.directory.restored_file import RestoredFile
from plugins.local.directory.target import (
    Existing,
    OpenDirs,
    TargetTree,
    finish_file,
    write_all,
)

log = structlog.get_logger(__name__)

_SET_ID_BITS = stat.S_ISUID | stat.S_ISGID


def _depth(entry: ManifestEntry) -> int:
    return entry.fs_path().count("/")


class TreeRestorer:
    """Restores one manifest into one target; ``restore`` may be awaited once."""

    def __init__(
        self,
        *,
        section: BankSection,
        store: ChunkStore | None,
        context: ActivityContext,
        resource_key: str,
        manifest: Manifest,
        target: str,
        existing: Existing,
        chunk_size: int,
        concurrency: int,
    ) -> None:
        self.section = section
        self.store = store
        self.context = context
        self.resource_key = resource_key
        self.manifest = manifest
        self.target = target
        self.existing: Existing = existing
        self.chunk_size = chunk_size
        self.concurrency = concurrency
        self.done = 0
        self.total = sum(e.size for e in manifest.entries if e.kind == "file")
        self.skipped = 0

    async def restore(self) -> None:
        """Write the tree into the target.

        Raises:
            UnsafeManifestEntry: if an entry could land outside the target or pass
                through a symlink; raised before anything is written when the manifest
                itself is at fault.
            DirectoryRestoreError: if a file exists and ``existing`` is ``fail``, a bank
                object is missing or short, or the target cannot be written.
        """
        check_entries(self.manifest, self.resource_key, self.target)
        entries = self.manifest.entries
        directories = sorted((e for e in entries if e.kind == "dir"), key=_depth)
        files = [e for e in entries if e.kind == "file"]
        symlinks = [e for e in entries if e.kind == "symlink"]
        tree = await asyncio.to_thread(TargetTree.open, self.target, self.resource_key)
        try:
            # a target this restore just created is empty: nothing in it can clash
            if self.existing == "fail" and not tree.created:
                await asyncio.to_thread(tree.check_no_clash, entries)
            created = await asyncio.to_thread(self._make_directories, tree, directories)
            self.context.progress(0, self.total)
            if self.store is None:
                await run_bounded(
                    files, lambda entry: self._restore_file(tree, entry), self.concurrency
                )
            else:
                await self._restore_chunked_files(tree, self.store, files)
            await asyncio.to_thread(self._make_symlinks, tree, symlinks)
            await asyncio.to_thread(self._finish_directories, tree, directories, created)
        finally:
            tree.close()
            if self.store is not None:
                self.store.drop_decode_buffers()
        self.context.progress(self.done, self.total)
        log.info(
            "directory_restored",
            resource=self.resource_key,
            target=self.target,
            entries=len(entries),
            bytes=self.done,
            skipped=self.skipped,
        )

    def _make_directories(self, tree: TargetTree, directories: list[ManifestEntry]) -> set[str]:
        created: set[str] = set()
        for entry in directories:
            if tree.ensure_dir(entry.fs_path(), self.existing):
                created.add(entry.fs_path())
        return created

    async def _restore_chunked_files(
        self, tree: TargetTree, store: ChunkStore, files: list[ManifestEntry]
    ) -> None:
        """Run the files' chunk jobs in order, ``concurrency`` times ``read_ahead`` under
        way: as many fetches from a remote bank as the former per-file read-ahead had in
        flight, while the store decodes and writes ``read_ahead`` at once.

        On a failure (or a cancel) no job is started any more, those running are let
        finish (a thread cannot be stopped; each is at most one chunk's work), and files
        left unfinished are removed: no file beats a partial one.
        """
        spanning: list[RestoredFile] = []
        running: set[asyncio.Task[None]] = set()
        under_way = self.concurrency * store.read_ahead
        try:
            for job in plan_jobs(files, self._file_mode, spanning):
                while len(running) >= under_way:
                    running = await _first_done(running)
                running.add(asyncio.ensure_future(self._run_job(tree, store, job)))
            while running:
                running = await _first_done(running)
        except BaseException:
            if running:
                await asyncio.wait(running)
            await asyncio.to_thread(_abandon_all, tree, spanning)
            raise

    async def _run_job(self, tree: TargetTree, store: ChunkStore, job: ChunkJob) -> None:
        def write(chunk: memoryview) -> int:
            return self._write_pieces(tree, job, chunk)

        if job.ref is None:
            skipped = await asyncio.to_thread(write, memoryview(b""))
        else:
            try:
                skipped = await store.read_chunk_into(job.ref, write)
            except (ChunkNotFound, CorruptChunk) as error:
                # nothing of it was written; the restore removes the files it left partial
                raise DirectoryRestoreError(
                    self.resource_key, job.pieces[0].file.entry.path, self.target, str(error)
                ) from error
        self.skipped += skipped
        self._advance(job.size)

    def _write_pieces(self, tree: TargetTree, job: ChunkJob, chunk: memoryview) -> int:
        """Write every piece of ``job`` from its decoded chunk (in a worker thread); return
        how many files were skipped (``existing='skip'``)."""
        skipped = 0
        with OpenDirs(tree) as dirs:
            for piece in job.pieces:
                data = chunk[piece.start : piece.start + piece.length]
                skipped += piece.file.write(data, piece.at, tree, self.existing, dirs)
        return skipped

    async def _restore_file(self, tree: TargetTree, entry: ManifestEntry) -> None:
        """A file of a version 1 manifest: a bank object of its own, streamed."""
        path = entry.fs_path()
        fd = await asyncio.to_thread(tree.create_file, path, self.existing)
        if fd is None:
            self.skipped += 1
            self._advance(entry.size)
            return
        stream = self._content(entry)
        try:
            written = 0
            async for chunk in stream:
                written += len(chunk)
                if written > entry.size:
                    break  # a bigger object than the manifest says: stop before writing it
                await asyncio.to_thread(write_all, fd, chunk)
                self._advance(len(chunk))
        except ObjectNotFound as error:
            os.close(fd)
            await asyncio.to_thread(tree.remove_file, path)
            raise DirectoryRestoreError(
                self.resource_key,
                entry.path,
                self.target,
                f"its data {entry.data!r} is not in the bank",
            ) from error
        except BaseException:
            os.close(fd)
            raise
        finally:
            # a stream left early (the size check) must release the bank's file now
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()
        if written != entry.size:
            os.close(fd)
            await asyncio.to_thread(tree.remove_file, path)
            raise DirectoryRestoreError(
                self.resource_key,
                entry.path,
                self.target,
                f"the bank holds {'more' if written > entry.size else 'fewer'} bytes than"
                f" the {entry.size} the manifest says (bank object {entry.data!r})",
            )
        await asyncio.to_thread(finish_file, fd, self._file_mode(entry), entry.mtime_ns)

    def _content(self, entry: ManifestEntry) -> AsyncIterator[bytes]:
        # check_entries guarantees a v1 file entry has a data key
        return self.section.get_stream(entry.data or "", self.chunk_size)

    def _file_mode(self, entry: ManifestEntry) -> int:
        # Owners are not restored, so a set-user/group-id bit would make the file run as
        # whoever restores it (root, often): an escalation a crafted checkpoint could plant.
        mode = entry.mode & ~_SET_ID_BITS
        if mode != entry.mode:
            log.warning(
                "directory_set_id_bits_dropped",
                resource=self.resource_key,
                path=entry.path,
                stored_mode=oct(entry.mode),
            )
        return mode

    def _advance(self, count: int) -> None:
        self.done += count
        self.context.progress(self.done, self.total)

    def _make_symlinks(self, tree: TargetTree, symlinks: list[ManifestEntry]) -> None:
        for entry in symlinks:
            # the link's target is data: it may point anywhere, and is never followed here
            if not tree.create_symlink(
                entry.fs_path(), entry.fs_target(), entry.mtime_ns, self.existing
            ):
                self.skipped += 1

    def _finish_directories(
        self, tree: TargetTree, directories: list[ManifestEntry], created: set[str]
    ) -> None:
        # Directories this restore did not create keep their own metadata, unless the
        # user asked to overwrite: merging into an existing tree should not re-date it.
        touch_existing = self.existing == "overwrite"
        for entry in reversed(directories):
            path = entry.fs_path()
            if touch_existing or path in created:
                tree.set_dir_metadata(path, entry.mode, entry.mtime_ns)
        if touch_existing or tree.created:
            tree.set_dir_metadata("", self.manifest.root_mode, self.manifest.root_mtime_ns)


async def _first_done(running: set[asyncio.Task[None]]) -> set[asyncio.Task[None]]:
    """Wait until one of ``running`` ends; return those still running.

    Raises:
        Exception: the failure of a task that ended (the first, if several did).
    """
    done, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
    for task in done:
        failure = task.exception()
        if failure is not None:
            # the others are awaited by the caller; their failures are then seen
            for other in done:
                other.exception()
            raise failure
    return running


def _abandon_all(tree: TargetTree, files: Iterable[RestoredFile]) -> None:
    for file in files:
        file.abandon(tree)
