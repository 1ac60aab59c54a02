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

A file that passes every check but the second is *racily clean*: its status says
unchanged, but a write in the tick of its recorded ctime would not show. It must be read
again; but a small file, bundled with others, cannot simply be chunked again: chunked
among the few other files read again, it makes a stream unlike the parent's, so its
chunks and its manifest line would be stored anew though nothing changed (a tree
protected twice within seconds of being written stored new data each time). So a small
file read while racy records a keyed digest of its content (:func:`content_digest`),
and the next protect reads a racily clean file, computes the digest of what it read,
and if it equals the parent's takes the parent's entry as it is (same chunks, same
offset, same manifest line); only a file whose content differs is bundled anew. (The
other way, reading again every file that shares a chunk with a racy one and chunking
that run exactly as before, reads many more files and breaks as soon as one of them
changed or vanished.) A reused entry keeps its digest, so its line stays the same.

Otherwise the file is read and chunked as usual (which still stores only new chunks).
Only the newest :data:`CANDIDATES` checkpoints of the provider are looked at.
"""

from __future__ import annotations

import msgspec
import structlog

from banks.chunks import ChunkStore
from banks.keys import decode_segment, encode_segment
from banks.section import BankSection
from plugins.checkpoint.checkpoint import Checkpoint, resource_section_prefix
from plugins.local.directory.errors import ManifestError
from plugins.local.directory.manifest import Manifest, ManifestEntry
from plugins.local.directory.manifest_chunks import read_manifest
from plugins.resource import Resource

log = structlog.get_logger(__name__)

CANDIDATES = 10
SETTLED_NS = 2_000_000_000  # coarser than any file timestamp (FAT's is 2 s)
_DIGEST_LABEL = b"strongbox directory file content"
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
            bank, resource_section_prefix(bank, checkpoint_id, resource.key), writable=False
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


def settled(ctime_ns: int, walked_at_ns: int) -> bool:
    """True if a file whose ctime was ``ctime_ns`` when a walk began at ``walked_at_ns``
    can be judged by its status at the next protect (no write could hide in its tick)."""
    return 0 < ctime_ns < walked_at_ns - SETTLED_NS


def content_digest(store: ChunkStore, content: bytes) -> str:
    """The keyed digest a racily clean file's content is compared by (64 hex digits).

    Keyed (HMAC-SHA256 under the store's id key, labelled apart from chunk ids), for
    the reason chunk ids are: a plain hash would let a guess of the content be checked.
    Blocking; meant for the worker thread that read ``content``.
    """
    return store.codec.keyed_digest(_DIGEST_LABEL, content)


class UnchangedFiles:
    """Looks up walked files in a parent manifest (see the module's rules)."""

    def __init__(self, parent: Manifest | None, store: ChunkStore) -> None:
        self.store = store
        self._walked_at_ns = parent.walked_at_ns if parent is not None else 0
        self._entries: dict[str, ManifestEntry] = {}
        if parent is not None:
            self._entries = {
                entry.fs_path(): entry
                for entry in parent.entries
                if entry.kind == "file" and entry.chunks is not None and entry.inode
            }

    async def reuse(self, walked: ManifestEntry) -> ManifestEntry | None:
        """``walked`` with the parent's chunks if the file is unchanged since, else None."""
        before = self._entries.get(walked.fs_path())
        if (
            before is None
            or not settled(before.ctime_ns, self._walked_at_ns)
            or not await self._same_file(before, walked)
        ):
            return None
        return taken_from_parent(walked, before)

    async def racily_clean(self, walked: ManifestEntry) -> ManifestEntry | None:
        """The parent's entry of ``walked`` if the file is racily clean and has a digest.

        The caller reads the file again and, if :func:`content_digest` of what it read
        equals the entry's ``digest``, takes it (:func:`taken_from_parent`).
        """
        before = self._entries.get(walked.fs_path())
        if (
            before is None
            or before.digest is None
            or settled(before.ctime_ns, self._walked_at_ns)
            or not await self._same_file(before, walked)
        ):
            return None
        return before

    async def _same_file(self, before: ManifestEntry, walked: ManifestEntry) -> bool:
        return (
            before.size == walked.size
            and before.mtime_ns == walked.mtime_ns
            and before.ctime_ns == walked.ctime_ns
            and before.inode == walked.inode
            and before.chunks is not None
            and await self.store.holds_all(ref.id for ref in before.chunks)
        )


def taken_from_parent(walked: ManifestEntry, before: ManifestEntry) -> ManifestEntry:
    """The entry of ``walked``, a file unchanged since ``before``, with the parent's content."""
    return msgspec.structs.replace(
        walked,
        size=before.size,
        chunks=before.chunks,
        offset=before.offset,
        digest=before.digest,
    )
