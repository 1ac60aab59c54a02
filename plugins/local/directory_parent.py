"""The previous protect of a tree, and which of its files can be taken as they are.

A second protect of a tree that barely changed should not read it all again: like
restic with its parent snapshot, the plugin finds the newest earlier checkpoint of the
same provider holding a manifest of the same directory, and reuses the chunk list of
each file whose status has not changed since. A file counts as unchanged only if all of
these hold:

- same path, still a regular file, with the same size, mtime, ctime and inode;
- its ctime (which no one can set back, unlike the mtime) was recorded, before its
  content was read, at least :data:`SETTLED_NS` before that protect's walk began. A
  write after the walk moves the ctime past the recorded one; a write in the same clock
  tick as the recorded ctime would not, so a file changed that close to the walk is
  read again (the racy case git's index knows as well);
- every chunk its list names is in the chunk store's index, listed after the last
  garbage collection (so none of them has been collected).

Otherwise the file is read and chunked as usual (which still stores only new chunks).
Only the newest :data:`CANDIDATES` checkpoints of the provider are looked at.
"""

from __future__ import annotations

import structlog

from banks.chunks import ChunkStore
from banks.keys import decode_segment, encode_segment
from banks.section import BankSection
from plugins.checkpoint import Checkpoint, checkpoint_prefix
from plugins.local.directory_errors import ManifestError
from plugins.local.directory_manifest import Manifest, ManifestEntry
from plugins.local.directory_manifest_chunks import read_manifest
from plugins.resource import Resource

log = structlog.get_logger(__name__)

CANDIDATES = 10
SETTLED_NS = 2_000_000_000  # coarser than any file timestamp (FAT's is 2 s)
_FIRST_VERSION_WITH_CTIME = 3


async def previous_manifest(
    checkpoint: Checkpoint, resource: Resource, store: ChunkStore
) -> Manifest | None:
    """The manifest of ``resource`` in the newest other checkpoint of the provider, if any.

    ``store`` is the bank's chunk store, which holds manifests since version 4.

    Raises:
        BankError: if the bank cannot be read.
    """
    bank = checkpoint.bank
    listing = f"/indices/by-provider/{encode_segment(checkpoint.provider_id)}/"

    async def opened() -> ChunkStore:
        return store

    for key in await bank.list(listing, limit=CANDIDATES + 1):
        checkpoint_id = decode_segment(key.rpartition("@")[2])
        if checkpoint_id == checkpoint.id:
            continue
        section = BankSection(
            bank,
            f"{checkpoint_prefix(checkpoint_id)}resource-data/{encode_segment(resource.key)}",
            writable=False,
        )
        try:
            stored = await read_manifest(
                section, opened, resource_key=resource.key, checkpoint_id=checkpoint_id
            )
        except ManifestError:
            continue  # not of this resource, deleted meanwhile, or unreadable: not a parent
        manifest = stored.manifest
        if manifest.v >= _FIRST_VERSION_WITH_CTIME and manifest.root == resource.id:
            log.debug("directory_parent_found", resource=resource.key, checkpoint=checkpoint_id)
            return manifest
    return None


class UnchangedFiles:
    """Looks up walked files in a parent manifest (see the module's rules)."""

    def __init__(self, parent: Manifest | None, store: ChunkStore) -> None:
        self.store = store
        self._entries: dict[str, ManifestEntry] = {}
        if parent is not None:
            trusted_before = parent.walked_at_ns - SETTLED_NS
            self._entries = {
                entry.fs_path(): entry
                for entry in parent.entries
                if entry.kind == "file"
                and entry.chunks is not None
                and entry.inode
                and 0 < entry.ctime_ns < trusted_before
            }

    async def reuse(self, walked: ManifestEntry) -> ManifestEntry | None:
        """``walked`` with the parent's chunks if the file is unchanged since, else None."""
        before = self._entries.get(walked.fs_path())
        if (
            before is None
            or before.size != walked.size
            or before.mtime_ns != walked.mtime_ns
            or before.ctime_ns != walked.ctime_ns
            or before.inode != walked.inode
            or before.chunks is None
            or not await self.store.holds_all(ref.id for ref in before.chunks)
        ):
            return None
        return ManifestEntry(
            path=walked.path,
            raw_path=walked.raw_path,
            kind="file",
            mode=walked.mode,
            mtime_ns=walked.mtime_ns,
            ctime_ns=walked.ctime_ns,
            inode=walked.inode,
            size=before.size,
            chunks=before.chunks,
            offset=before.offset,
        )
