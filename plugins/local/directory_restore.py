"""Restoring a manifest's tree from a bank section into a target directory.

Order: check every entry (nothing written yet); open or create the target; with
``existing="fail"`` look for any clash (still nothing written); create directories
parents first; stream files, ``concurrency`` at a time, each given its mode and mtime
once its content is in; create symlinks; last, set directories' modes and mtimes,
deepest first, so that writing children neither disturbs an mtime nor is refused by a
read-only parent.

Owners are not restored (files belong to the restoring user), so files lose their
set-user-id and set-group-id bits, with a warning.
"""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import AsyncIterator

import structlog

from banks.chunks import ChunkNotFound, ChunkStore, CorruptChunk
from banks.errors import ObjectNotFound
from banks.section import BankSection
from plugins.context import ActivityContext
from plugins.local.bounded_tasks import run_bounded
from plugins.local.directory_chunk_cache import ChunkCache
from plugins.local.directory_errors import DirectoryRestoreError
from plugins.local.directory_manifest import Manifest, ManifestEntry, check_entries
from plugins.local.directory_target import Existing, TargetTree, finish_file, write_all

log = structlog.get_logger(__name__)

_SET_ID_BITS = stat.S_ISUID | stat.S_ISGID


def _depth(entry: ManifestEntry) -> int:
    return entry.fs_path().count("/")


def _bundled(entry: ManifestEntry) -> bool:
    """True for a small file stored in chunks shared with others (check_entries has
    made sure its chunks span exactly its bytes)."""
    chunks = entry.chunks
    return chunks is not None and (
        entry.offset > 0 or sum(ref.size for ref in chunks) != entry.size
    )


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
        # bundled small files share chunks: each is fetched once for all of them
        self.shared_chunks = ChunkCache(store) if store is not None else None

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
            if self.existing == "fail":
                await asyncio.to_thread(self._check_no_clash, tree, entries)
            created = await asyncio.to_thread(self._make_directories, tree, directories)
            self.context.progress(0, self.total)
            await run_bounded(
                files, lambda entry: self._restore_file(tree, entry), self.concurrency
            )
            await asyncio.to_thread(self._make_symlinks, tree, symlinks)
            await asyncio.to_thread(self._finish_directories, tree, directories, created)
        finally:
            tree.close()
        self.context.progress(self.done, self.total)
        log.info(
            "directory_restored",
            resource=self.resource_key,
            target=self.target,
            entries=len(entries),
            bytes=self.done,
            skipped=self.skipped,
        )

    def _check_no_clash(self, tree: TargetTree, entries: list[ManifestEntry]) -> None:
        for entry in entries:
            found = tree.lookup(entry.fs_path())
            if found is None:
                continue
            if entry.kind != "dir" or not stat.S_ISDIR(found.st_mode):
                raise DirectoryRestoreError(
                    self.resource_key, entry.path, self.target, "already exists (existing='fail')"
                )

    def _make_directories(self, tree: TargetTree, directories: list[ManifestEntry]) -> set[str]:
        created: set[str] = set()
        for entry in directories:
            if tree.ensure_dir(entry.fs_path(), self.existing):
                created.add(entry.fs_path())
        return created

    async def _restore_file(self, tree: TargetTree, entry: ManifestEntry) -> None:
        if _bundled(entry):
            await self._restore_bundled_file(tree, entry)
            return
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
        except (ObjectNotFound, ChunkNotFound, CorruptChunk) as error:
            os.close(fd)
            # what was written is verified but incomplete: no file beats a partial one
            await asyncio.to_thread(tree.remove_file, path)
            raise DirectoryRestoreError(
                self.resource_key, entry.path, self.target, self._unreadable(entry, error)
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
                f" the {entry.size} the manifest says ({self._source(entry)})",
            )
        await asyncio.to_thread(finish_file, fd, self._file_mode(entry), entry.mtime_ns)

    async def _restore_bundled_file(self, tree: TargetTree, entry: ManifestEntry) -> None:
        """A small file: its content from the shared chunks first, then one thread hop
        creates, writes and finishes it (small files are many: hops are their cost)."""
        assert self.shared_chunks is not None and entry.chunks is not None
        try:
            pieces = [
                piece
                async for piece in self.shared_chunks.read_span(
                    entry.chunks, entry.offset, entry.size
                )
            ]
        except (ChunkNotFound, CorruptChunk) as error:
            # nothing of the file is written yet
            raise DirectoryRestoreError(
                self.resource_key, entry.path, self.target, str(error)
            ) from error
        if not await asyncio.to_thread(self._write_whole_file, tree, entry, pieces):
            self.skipped += 1
        self._advance(entry.size)

    def _write_whole_file(
        self, tree: TargetTree, entry: ManifestEntry, pieces: list[memoryview]
    ) -> bool:
        fd = tree.create_file(entry.fs_path(), self.existing)
        if fd is None:
            return False
        try:
            for piece in pieces:
                write_all(fd, piece)
        except BaseException:
            os.close(fd)
            raise
        finish_file(fd, self._file_mode(entry), entry.mtime_ns)
        return True

    def _content(self, entry: ManifestEntry) -> AsyncIterator[bytes]:
        if entry.chunks is not None:
            # check_entries: v2 file entries carry chunks, and a v2 restore opens a store
            assert self.store is not None
            return self.store.read_stream(entry.chunks)
        # check_entries guarantees a v1 file entry has a data key
        return self.section.get_stream(entry.data or "", self.chunk_size)

    @staticmethod
    def _source(entry: ManifestEntry) -> str:
        if entry.chunks is not None:
            return f"{len(entry.chunks)} chunks"
        return f"bank object {entry.data!r}"

    @staticmethod
    def _unreadable(entry: ManifestEntry, error: Exception) -> str:
        if isinstance(error, ObjectNotFound):
            return f"its data {entry.data!r} is not in the bank"
        return str(error)

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
