"""The chunks a directory checkpoint refers to, read from its manifest.

Verification and garbage collection both need, for one resource of one checkpoint,
every chunk id it refers to: those of its files, and (since manifest version 4) those
holding the manifest itself. Verification also wants which files use a chunk, so a bad
chunk can be reported with what it breaks.
"""

from __future__ import annotations

import msgspec

from plugins.checkpoint.checkpoint import Checkpoint
from plugins.local.directory.manifest_chunks import read_manifest
from plugins.local.directory.manifest_trust import StoreOpener
from plugins.resource import Resource


class DirectoryReferences(msgspec.Struct, frozen=True):
    """The chunks of one resource's checkpoint: of its manifest, and of its files."""

    manifest_chunks: list[str]  # empty before manifest version 4
    files: dict[str, list[str]]  # chunk id -> the paths of the files that use it


async def directory_chunk_references(
    checkpoint: Checkpoint, resource: Resource, open_store: StoreOpener
) -> DirectoryReferences:
    """The chunks the resource's manifest is kept in, and each chunk its files use.

    ``open_store`` opens the bank's chunk store, needed to read a version 4 manifest. A
    manifest of version 1 (files kept in the section, no chunk store) names no chunk.

    Raises:
        ManifestError: if the manifest is missing (the protect did not complete, or the
            checkpoint was deleted) or unreadable; ManifestChunkError if a chunk holding
            it is missing or corrupt.
        KeyRequired, WrongKey: the store's key is missing or wrong.
        BankError: if the bank cannot be read.
    """
    stored = await read_manifest(
        checkpoint.bank_section(resource),
        open_store,
        resource_key=resource.key,
        checkpoint_id=checkpoint.id,
    )
    files: dict[str, list[str]] = {}
    for entry in stored.manifest.entries:
        for ref in entry.chunks or ():
            files.setdefault(ref.id, []).append(entry.path)
    return DirectoryReferences(stored.chunks, files)
