"""The chunks a directory checkpoint refers to, read from its manifest.

Verification and garbage collection both need, for one resource of one checkpoint,
every chunk id its manifest names; verification also wants which files use a chunk, so
a bad chunk can be reported with what it breaks.
"""

from __future__ import annotations

from banks.errors import ObjectNotFound
from plugins.checkpoint import Checkpoint
from plugins.local.directory_errors import ManifestError
from plugins.local.directory_manifest import MANIFEST_KEY, decode_manifest
from plugins.resource import Resource


async def directory_chunk_references(
    checkpoint: Checkpoint, resource: Resource
) -> dict[str, list[str]]:
    """Map each chunk id the resource's manifest names to the files that use it.

    A manifest of version 1 (files kept in the section, no chunk store) names none.

    Raises:
        ManifestError: if the manifest is missing (the protect did not complete, or the
            checkpoint was deleted) or unreadable.
        BankError: if the bank cannot be read.
    """
    try:
        data = await checkpoint.bank_section(resource).get(MANIFEST_KEY)
    except ObjectNotFound as error:
        raise ManifestError(resource.key, "missing: the protect did not complete") from error
    manifest = decode_manifest(data, resource.key)
    references: dict[str, list[str]] = {}
    for entry in manifest.entries:
        for ref in entry.chunks or ():
            references.setdefault(ref.id, []).append(entry.path)
    return references
