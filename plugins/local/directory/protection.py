"""The protection plugin of local directory trees (``Strongbox::Directory``).

File content goes to the bank's chunk store (``banks.chunks``: content-defined chunks,
deduplicated across checkpoints, zstd-compressed, AES-256-GCM-encrypted); the resource's
bank section holds only::

    saved_info    DirectorySavedInfo, JSON (no counts if encrypted; sealed by the engine)
    manifest      a pointer to the manifest, written last (``directory_manifest_chunks``)

The manifest (the tree, each file's chunk list) is itself kept in the chunk store,
encrypted, so the bank shows no file name. (Checkpoints of versions 1 to 3 hold it in
the section, in the clear; a version 1 one also holds ``data/<n>``, one object per file.
They are still restored from an unencrypted store only: see
``directory_manifest_trust``.)

Plugin options (the ``[directory]`` provider section): ``chunk_size``, bytes read per
step (default 1 MiB, 4 KiB to 64 MiB), ``concurrency``, files read at once by a protect
(and, times ``read_ahead``, chunks a restore has under way; default 4, 1 to 64), and the
chunk store's options (``banks.chunks.settings``): ``encryption``, ``passphrase``,
``key_file``, ``chunk_min_size``, ``chunk_avg_size``, ``chunk_max_size``,
``compression_level``, ``upload_concurrency``, ``read_ahead``. Encryption is on unless
``encryption = none`` is set, and then needs a passphrase or key file (options, or
``$STRONGBOX_PASSPHRASE`` / ``$STRONGBOX_KEY_FILE``).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal, cast

import msgspec
import structlog

from banks.base import Bank
from banks.chunks import ChunkStore, ChunkStoreError, ChunkStoreOptions, ChunkStoreSettings
from banks.option_schema import OptionSchema, between, combine_schemas
from plugins.access import check_path
from plugins.base import PluginOptions, ProtectionPlugin
from plugins.checkpoint.checkpoint import Checkpoint
from plugins.chunk_keeper import ChunkReferences, ChunkStores, StoreOpener
from plugins.context import ActivityContext, RequestContext
from plugins.errors import InvalidParameters
from plugins.local.directory.access import authorize_directory
from plugins.local.directory.errors import (
    DirectoryPluginError,
    DirectoryProtectError,
    DirectoryRestoreError,
    ManifestError,
    UnsafeManifestEntry,
)
from plugins.local.directory.manifest import (
    MANIFEST_KEY,
    SAVED_INFO_KEY,
    Manifest,
    check_entries,
)
from plugins.local.directory.manifest_chunks import read_manifest, store_manifest
from plugins.local.directory.parent import UnchangedFiles, previous_manifest
from plugins.local.directory.placement import PlannedRoot, check_roots, spread_target
from plugins.local.directory.protectable import DIRECTORY_TYPE
from plugins.local.directory.references import directory_chunk_references
from plugins.local.directory.restore import TreeRestorer
from plugins.local.directory.upload import TreeUploader
from plugins.local.directory.walk import TreeWalker, walk_tree
from plugins.phases import OperationType
from plugins.resource import Resource

log = structlog.get_logger(__name__)

DEFAULT_CHUNK_SIZE = 1 << 20
CHUNK_SIZE_BOUNDS = (4 << 10, 64 << 20)
DEFAULT_CONCURRENCY = 4
CONCURRENCY_BOUNDS = (1, 64)


class DirectoryParameters(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Protect parameters: ``exclude`` lists glob patterns relative to the root.

    A pattern without ``/`` matches a name at any depth (``*.tmp``, ``.cache``); one
    with ``/`` matches the relative path (``logs/*.gz``); a leading ``/`` anchors a name
    to the root. An excluded directory is skipped whole.
    """

    exclude: list[str] = []


class DirectoryRestoreParameters(
    msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True
):
    """Restore parameters: where to, and what to do with a file already there.

    ``target`` defaults to the root's own path. Given for the type, it is where a
    checkpoint's only root goes; several roots go each into a subdirectory of it
    (``plugins.local.directory.placement``). Given for one root, it is that root's.
    """

    target: str | None = None
    existing: Literal["fail", "overwrite", "skip"] = "fail"

    def __post_init__(self) -> None:
        if self.target is not None and not os.path.isabs(self.target):
            raise ValueError(f"target {self.target!r} must be an absolute path")


class DirectorySavedInfo(
    msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True, omit_defaults=True
):
    """What a protect stored: the root, the chunks it added and, with an unencrypted
    store, counts of what it found.

    It was kept in the clear, so with an encrypted store it holds only what whoever read
    the bank saw anyway (the root was in the checkpoint's graph; the new chunks are new
    objects of that size): the tree's counts and sizes are left out, since they are the
    manifest's (encrypted), and so are the protect's plaintext and reference counts
    (``new_bytes``, ``deduplicated_chunks``), which are logged (``directory_protected``).
    The engine now seals it in an encrypted store (docs/checkpoint-format.md), but the
    plugin writes the same whatever bank it is handed, sealed or not.
    """

    root: str
    new_chunks: int = 0  # chunks stored anew, the manifest's included
    stored_bytes: int = 0  # what those chunks took in the bank (compressed, encrypted)
    # unencrypted store only (None otherwise):
    files: int | None = None
    directories: int | None = None
    symlinks: int | None = None
    total_bytes: int | None = None
    skipped: int | None = None
    new_bytes: int | None = None  # plaintext bytes of the chunks this protect stored anew
    deduplicated_chunks: int | None = None


def _in_the_clear(info: DirectorySavedInfo) -> DirectorySavedInfo:
    """What of ``info`` an encrypted store's bank may show (see :class:`DirectorySavedInfo`)."""
    return DirectorySavedInfo(
        root=info.root, new_chunks=info.new_chunks, stored_bytes=info.stored_bytes
    )


def _bounded_int(config: Mapping[str, str], key: str, default: int, bounds: tuple[int, int]) -> int:
    raw = config.get(key)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidParameters(f"plugin option {key!r}", f"{raw!r} is not an integer") from None
    low, high = bounds
    if not low <= value <= high:
        raise InvalidParameters(f"plugin option {key!r}", f"{value} is not in [{low}, {high}]")
    return value


class _OwnOptions(OptionSchema, frozen=True):
    chunk_size: Annotated[int, between(CHUNK_SIZE_BOUNDS)] | None = None
    concurrency: Annotated[int, between(CONCURRENCY_BOUNDS)] | None = None


DirectoryOptions = combine_schemas(
    "DirectoryOptions", PluginOptions, _OwnOptions, ChunkStoreOptions
)


class DirectoryProtection(ProtectionPlugin):
    """Streams a directory tree into the bank file by file, and restores it safely.

    Raises (from the activities):
        DirectoryProtectError: a file or directory of the tree cannot be read.
        DirectoryRestoreError: a restore clash, a missing bank object, an unwritable target.
        UnsafeManifestEntry: a manifest entry that could write outside the target.
        ManifestError: no manifest (the protect never completed) or an unreadable one.
    """

    supported_resource_types = frozenset({DIRECTORY_TYPE})
    Parameters = DirectoryParameters
    RestoreParameters = DirectoryRestoreParameters
    SavedInfo = DirectorySavedInfo
    Options = DirectoryOptions

    def __init__(self, config: Mapping[str, str] | None = None) -> None:
        super().__init__(config)
        self.chunk_size = _bounded_int(
            self.config, "chunk_size", DEFAULT_CHUNK_SIZE, CHUNK_SIZE_BOUNDS
        )
        self.concurrency = _bounded_int(
            self.config, "concurrency", DEFAULT_CONCURRENCY, CONCURRENCY_BOUNDS
        )
        try:
            self.store_settings = ChunkStoreSettings.from_options(
                self.config, "options of [directory]"
            )
        except ChunkStoreError as error:
            raise InvalidParameters("plugin options of [directory]", str(error)) from error
        # one store per bank: its key is unwrapped (scrypt) and its index listed once
        self._stores = ChunkStores(self.store_settings)

    def authorize(self, operation: OperationType, context: RequestContext,
                  resource: Resource, parameters: msgspec.Struct) -> None:
        """A protect reads, and a restore writes, only where the request's grant allows.

        Raises:
            Forbidden: a root or a target outside the grant, or the bank's own storage.
        """
        authorize_directory(operation, context, resource, parameters)

    async def chunk_store(self, bank: Bank, *, create: bool) -> ChunkStore:
        """The chunk store of ``bank``, opened once and shared by every activity.

        Raises:
            KeyRequired, WrongKey: the store is encrypted and the secret is missing or wrong.
            ChunkStoreConfigError: no store (and not ``create``), or a bad configuration.
        """
        return await self._stores.open(bank, create=create)

    async def chunk_references(
        self, checkpoint: Checkpoint, resource: Resource, open_store: StoreOpener
    ) -> ChunkReferences:
        """The chunks the resource's manifest is kept in, and each chunk its files use
        (``references.directory_chunk_references``).

        Raises:
            ManifestError: the manifest is missing or unreadable (ManifestChunkError: a
                chunk holding it is bad).
            KeyRequired, WrongKey: the store's key is missing or wrong.
        """
        found = await directory_chunk_references(checkpoint, resource, open_store)
        return ChunkReferences(found.manifest_chunks, found.files)

    async def activity_protect_parallel(
        self,
        checkpoint: Checkpoint,
        context: ActivityContext,
        resource: Resource,
        parameters: DirectoryParameters,
    ) -> None:
        """Walk the tree, stream its files, then write the saved info and the manifest.

        Raises:
            DirectoryProtectError: naming the path that cannot be read.
        """
        section = checkpoint.bank_section(resource)
        # A retried protect starts clean, so no stale manifest can outlive new data.
        await section.delete_all()
        walker = TreeWalker(resource.id, resource.key, parameters.exclude)
        walked_at_ns = time.time_ns()
        root_status, walked = await walk_tree(walker)
        store = await self.chunk_store(checkpoint.bank, create=True)
        # a chunk this process remembers may have been collected since by another one
        await store.refresh_index_if_collected()
        parent = await previous_manifest(checkpoint, resource, store)
        uploader = TreeUploader(
            unchanged=UnchangedFiles(parent, store),
            store=store,
            context=context,
            resource_key=resource.key,
            root=resource.id,
            chunk_size=self.chunk_size,
            concurrency=self.concurrency,
            walked_at_ns=walked_at_ns,
        )
        entries = await uploader.upload(walked)
        skipped = walker.skipped + uploader.skipped
        manifest = Manifest(
            root=resource.id,
            root_mode=root_status.st_mode & 0o7777,
            root_mtime_ns=root_status.st_mtime_ns,
            entries=entries,
            skipped=skipped,
            walked_at_ns=walked_at_ns,
        )
        # the manifest's own chunks count among the protect's, so they come first
        manifest_chunks_before = uploader.stats.chunks
        pointer = await store_manifest(
            store, manifest, uploader.stats, checkpoint_id=checkpoint.id, resource_key=resource.key
        )
        kinds = [entry.kind for entry in entries]
        info = DirectorySavedInfo(
            root=resource.id,
            files=kinds.count("file"),
            directories=kinds.count("dir"),
            symlinks=kinds.count("symlink"),
            total_bytes=uploader.done,
            skipped=len(skipped),
            new_chunks=uploader.stats.new_chunks,
            new_bytes=uploader.stats.new_plaintext_bytes,
            stored_bytes=uploader.stats.stored_bytes,
            deduplicated_chunks=uploader.stats.deduplicated_chunks,
        )
        saved = _in_the_clear(info) if store.encrypted else info
        await section.put(SAVED_INFO_KEY, msgspec.json.encode(saved))
        await section.put(MANIFEST_KEY, pointer)
        log.info(
            "directory_protected",
            operation_id=context.operation_id,
            resource=resource.key,
            files=info.files,
            directories=info.directories,
            symlinks=info.symlinks,
            bytes=info.total_bytes,
            skipped=info.skipped,
            new_chunks=info.new_chunks,
            new_bytes=info.new_bytes,
            stored_bytes=info.stored_bytes,
            deduplicated_chunks=info.deduplicated_chunks,
            unchanged_files=uploader.reused_files,
            rechecked_files=uploader.rechecked_files,
            manifest_chunks=uploader.stats.chunks - manifest_chunks_before,
        )

    def per_resource_parameters(
        self, operation: OperationType, resources: Sequence[Resource], shared: Mapping[str, Any]
    ) -> dict[str, dict[str, Any]]:
        """A restore ``target`` shared by several roots: a subdirectory of it each
        (``plugins.local.directory.placement``); a single root takes it as it is."""
        target = shared.get("target")
        if operation != "restore" or not isinstance(target, str) or len(resources) < 2:
            return {}
        spread = spread_target(target, [resource.id for resource in resources])
        return {resource.key: {"target": spread[resource.id]} for resource in resources}

    async def check_restore(
        self, checkpoint: Checkpoint, planned: Sequence[tuple[Resource, msgspec.Struct]]
    ) -> None:
        """Check every root before any is restored (``placement.check_roots``): a restore
        that would fail on one root writes nothing for the others.

        Raises:
            ManifestError, KeyRequired, WrongKey: as ``activity_restore_parallel``.
            UnsafeManifestEntry, DirectoryRestoreError: naming the root and the path.
        """
        roots: list[PlannedRoot] = []
        for resource, parameters in planned:
            wanted = cast("DirectoryRestoreParameters", parameters)
            manifest = await self._manifest(checkpoint, resource)
            target = wanted.target or manifest.root
            roots.append(PlannedRoot(resource.key, manifest, target, wanted.existing))
        await asyncio.to_thread(check_roots, roots)

    async def _manifest(self, checkpoint: Checkpoint, resource: Resource) -> Manifest:
        return (
            await read_manifest(
                checkpoint.bank_section(resource),
                lambda: self.chunk_store(checkpoint.bank, create=False),
                resource_key=resource.key,
                checkpoint_id=checkpoint.id,
            )
        ).manifest

    async def activity_restore_parallel(
        self,
        checkpoint: Checkpoint,
        context: ActivityContext,
        resource: Resource,
        parameters: DirectoryRestoreParameters,
    ) -> None:
        """Restore the tree into ``parameters.target`` or the original root.

        Raises:
            ManifestError: if the checkpoint holds no readable manifest for the resource,
                one of another root, or one whose pointer belongs elsewhere;
                ManifestDowngrade if it is older than an encrypted store reads.
            KeyRequired, WrongKey: if the store's key is missing or wrong (naming the
                checkpoint and the resource).
            UnsafeManifestEntry: if an entry could write outside the target.
            DirectoryRestoreError: naming the path that cannot be restored.
        """
        section = checkpoint.bank_section(resource)
        manifest = await self._manifest(checkpoint, resource)
        if manifest.root != resource.id:
            # the default target is the manifest's root: never one the resource is not
            raise ManifestError(
                resource.key,
                f"checkpoint {checkpoint.id}: it records root {manifest.root!r}, not the"
                f" resource's {resource.id!r}",
            )
        # checked again here, on the path as it resolves now: a symlink swapped in since
        # the request was authorized, or a root the bank's manifest names, cannot take the
        # restore outside the grant
        target = check_path(context.request.paths, "restore", parameters.target or manifest.root,
                            f"restore target of {resource.key}")
        store: ChunkStore | None = None
        if manifest.v >= 2:
            # refuse a hostile manifest before asking for the store and its key
            check_entries(manifest, resource.key, target)
            store = await self.chunk_store(checkpoint.bank, create=False)
        # (a v1 checkpoint holds its files in the section: it needs no store, nor a key)
        restorer = TreeRestorer(
            section=section,
            store=store,
            context=context,
            resource_key=resource.key,
            manifest=manifest,
            target=target,
            existing=parameters.existing,
            chunk_size=self.chunk_size,
            concurrency=self.concurrency,
        )
        await restorer.restore()
        await checkpoint.record_restored(resource, target)

    async def activity_delete_parallel(
        self,
        checkpoint: Checkpoint,
        context: ActivityContext,
        resource: Resource,
        parameters: msgspec.Struct,
    ) -> None:
        """Remove the resource's section; its chunks may be shared, so they stay.

        Chunks no checkpoint refers to any more are for the chunk store's garbage
        collection to remove.
        """
        removed = await checkpoint.bank_section(resource).delete_all()
        log.info(
            "directory_checkpoint_deleted",
            operation_id=context.operation_id,
            resource=resource.key,
            objects=removed,
        )


__all__ = [
    "DirectoryParameters",
    "DirectoryPluginError",
    "DirectoryProtectError",
    "DirectoryProtection",
    "DirectoryRestoreError",
    "DirectoryRestoreParameters",
    "DirectorySavedInfo",
    "ManifestError",
    "UnsafeManifestEntry",
]
