"""The manifest kept in the chunk store, encrypted, and the pointer the checkpoint keeps.

Up to version 3 the manifest, with every name, size, mode and chunk list of the tree,
was stored in the clear in the resource's bank section. Since version 4 the manifest
itself (the *body*) is written through the chunk store like file content: cut into
content-defined chunks, deduplicated, zstd-compressed and AES-256-GCM-encrypted. The
section keeps, at ``manifest``, only a pointer::

    {"v": 5, "chunks": ["<64 hex: chunk id>", ...], "walked_at_ns": 1700000000000000000,
     "mac": "<64 hex>"}

which tells whoever reads the bank without the key nothing of the tree: chunk ids are
keyed hashes, and the walk's start time is about the checkpoint's own creation time.
The chunks' sizes are not recorded: they would only say how big the tree is.

The body is JSON lines, a header then one line per entry, in the manifest's order (names
sorted, parents first)::

    {"root": "/srv/data", "root_mode": 493, "root_mtime_ns": 1700000000000000000, "skipped": []}
    {"path": "docs", "kind": "dir", "mode": 493, "mtime_ns": 1700000000000000000}
    {"path": "docs/a.txt", "kind": "file", "mode": 420, "size": 12, "chunks": [["<id>", 12]], ...}

An entry's line depends only on that file, so a change to a few files of a large tree
changes the chunk or two around their lines, and an unchanged tree gives the same bytes,
hence the same chunks: its second protect stores no manifest chunk at all. That is why
``walked_at_ns``, new at every protect, is in the pointer and not in the body.

``mac`` is HMAC-SHA256, under the store's chunk-id key, of a label, the pointer's
version, the checkpoint id, the resource's key, ``walked_at_ns`` and the body
(``directory_manifest_trust``). Each chunk authenticates itself, but the list of them is
in the clear: without the mac, whoever can write the bank could drop, repeat or reorder
a manifest's chunks (files would vanish from a restore), move the walk time (and so
what the next protect trusts as unchanged), or copy a pointer from another checkpoint or
resource (a silent rollback) unnoticed. Version 4 pointers, whose mac bound only the walk
time and the body, are still read from an unencrypted store only.
"""

from __future__ import annotations

import contextlib
import hmac
from collections.abc import AsyncIterator

import msgspec

from banks.chunks import ChunkNotFound, ChunkStore, CorruptChunk, KeyRequired, WriteStats, WrongKey
from banks.chunks.layout import is_chunk_id
from banks.errors import ObjectNotFound
from banks.sealed import SealedObjectError
from banks.section import BankSection
from plugins.local.directory.errors import ManifestChunkError, ManifestError
from plugins.local.directory.manifest import (
    MANIFEST_KEY,
    MANIFEST_VERSION,
    STORED_WHOLE_VERSIONS,
    Manifest,
    ManifestEntry,
    SkippedEntry,
    decode_manifest,
    manifest_version,
)
from plugins.local.directory.manifest_trust import StoreOpener, pointer_mac, refuse_downgrade

_FEED_SIZE = 1 << 20  # bytes of the body handed to the chunker at a time


class ManifestPointer(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What the section holds of a version 4 or 5 manifest (see the module)."""

    v: int
    chunks: list[str]
    walked_at_ns: int
    mac: str


class _BodyHeader(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    root: str
    root_mode: int
    root_mtime_ns: int
    skipped: list[SkippedEntry] = []


class StoredManifest(msgspec.Struct, frozen=True):
    """A manifest as read, and the chunks that hold it (none before version 4)."""

    manifest: Manifest
    chunks: list[str]


_encoder = msgspec.json.Encoder()
_pointer_decoder = msgspec.json.Decoder(ManifestPointer)
_header_decoder = msgspec.json.Decoder(_BodyHeader)
_entry_decoder = msgspec.json.Decoder(ManifestEntry)


def encode_body(manifest: Manifest) -> bytes:
    """The JSON lines of ``manifest`` (everything but its walk time)."""
    header = _BodyHeader(
        root=manifest.root,
        root_mode=manifest.root_mode,
        root_mtime_ns=manifest.root_mtime_ns,
        skipped=manifest.skipped,
    )
    return _encoder.encode(header) + b"\n" + _encoder.encode_lines(manifest.entries)


def decode_body(
    body: bytes, walked_at_ns: int, resource_key: str, version: int = MANIFEST_VERSION
) -> Manifest:
    """The manifest whose JSON lines are ``body``, of the pointer's ``version``.

    Raises:
        ManifestError: if a line is malformed.
    """
    header_end = body.find(b"\n")
    if header_end < 0:
        raise ManifestError(resource_key, "malformed: no header line")
    view = memoryview(body)
    try:
        header = _header_decoder.decode(view[:header_end])
        entries = _entry_decoder.decode_lines(view[header_end + 1 :])
    except msgspec.DecodeError as error:
        raise ManifestError(resource_key, f"malformed: {error}") from error
    return Manifest(
        v=version,
        root=header.root,
        root_mode=header.root_mode,
        root_mtime_ns=header.root_mtime_ns,
        entries=entries,
        skipped=header.skipped,
        walked_at_ns=walked_at_ns,
    )


async def store_manifest(
    store: ChunkStore,
    manifest: Manifest,
    stats: WriteStats,
    *,
    checkpoint_id: str,
    resource_key: str,
) -> bytes:
    """Store ``manifest``'s body in the chunk store; return its pointer, for the section
    of ``resource_key`` in ``checkpoint_id`` (which its MAC binds: it is refused anywhere
    else).

    Put the pointer at ``manifest`` last: its presence means every chunk the body names,
    and the body itself, are stored. ``stats`` is added to with the body's chunks.
    """
    body = encode_body(manifest)
    refs = await store.write_stream(_pieces(body), stats)
    mac = await pointer_mac(
        store,
        version=MANIFEST_VERSION,
        checkpoint_id=checkpoint_id,
        resource_key=resource_key,
        walked_at_ns=manifest.walked_at_ns,
        body=body,
    )
    pointer = ManifestPointer(
        v=MANIFEST_VERSION,
        chunks=[ref.id for ref in refs],
        walked_at_ns=manifest.walked_at_ns,
        mac=mac,
    )
    return _encoder.encode(pointer)


async def read_manifest(
    section: BankSection, open_store: StoreOpener, *, resource_key: str, checkpoint_id: str
) -> StoredManifest:
    """The manifest of the resource whose section this is, whatever its version.

    The store is opened (``open_store``) for a manifest kept in it, and for one of an
    older version, to refuse it if the store is encrypted.

    Raises:
        ManifestError: if the manifest is missing (the protect did not complete, or the
            checkpoint was deleted), malformed, or its chunks do not make up what the
            pointer recorded for this checkpoint and resource (the pointer was altered,
            or copied from elsewhere); ManifestChunkError if one of its chunks is
            missing or corrupt, naming the chunk; ManifestDowngrade if it is of a
            version older than an encrypted store reads; a ManifestError also if the
            pointer, sealed in an encrypted store, fails its checks or is in the clear.
        KeyRequired, WrongKey: the store is encrypted and the key is missing or wrong,
            naming the checkpoint and the resource.
        BankError: if the bank cannot be read.
    """
    try:
        data = await section.get(MANIFEST_KEY)
    except ObjectNotFound as error:
        raise ManifestError(resource_key, "missing: the protect did not complete") from error
    except SealedObjectError as error:  # an encrypted store's pointer altered, moved, planted
        raise ManifestError(resource_key, f"checkpoint {checkpoint_id}: {error}") from error
    version = manifest_version(data, resource_key)
    await refuse_downgrade(
        open_store, version, resource_key=resource_key, checkpoint_id=checkpoint_id
    )
    if version in STORED_WHOLE_VERSIONS:
        return StoredManifest(decode_manifest(data, resource_key), [])
    pointer = _decode_pointer(data, resource_key)
    what = f"the directory manifest of {resource_key} in checkpoint {checkpoint_id}"
    try:
        store = await open_store()
    except (KeyRequired, WrongKey) as error:
        raise error.needed(what) from error
    body = await _read_body(store, pointer, resource_key, checkpoint_id)
    mac = await pointer_mac(
        store,
        version=pointer.v,
        checkpoint_id=checkpoint_id,
        resource_key=resource_key,
        walked_at_ns=pointer.walked_at_ns,
        body=body,
    )
    if not hmac.compare_digest(mac, pointer.mac):
        raise ManifestError(
            resource_key,
            f"checkpoint {checkpoint_id}: its v{pointer.v} pointer does not match the manifest"
            f" the protect recorded for this checkpoint and resource (the pointer was altered,"
            f" its version changed, or it was copied from another checkpoint or resource)",
        )
    manifest = decode_body(body, pointer.walked_at_ns, resource_key, pointer.v)
    return StoredManifest(manifest, pointer.chunks)


def _decode_pointer(data: bytes, resource_key: str) -> ManifestPointer:
    try:
        pointer = _pointer_decoder.decode(data)
    except msgspec.DecodeError as error:
        raise ManifestError(resource_key, f"malformed: {error}") from error
    if not pointer.chunks or not all(map(is_chunk_id, pointer.chunks)):
        raise ManifestError(resource_key, "malformed: its chunk list is empty or not of ids")
    return pointer


async def _read_body(
    store: ChunkStore, pointer: ManifestPointer, resource_key: str, checkpoint_id: str
) -> bytes:
    pieces: list[bytes] = []
    try:
        async with contextlib.aclosing(store.read_chunks(pointer.chunks)) as stream:
            async for piece in stream:
                pieces.append(piece)
    except (ChunkNotFound, CorruptChunk) as error:
        reason = error.reason if isinstance(error, CorruptChunk) else "missing from the bank"
        raise ManifestChunkError(resource_key, checkpoint_id, error.chunk_id, reason) from error
    return b"".join(pieces)


async def _pieces(body: bytes) -> AsyncIterator[bytes]:
    view = memoryview(body)
    for start in range(0, len(body), _FEED_SIZE):
        yield bytes(view[start : start + _FEED_SIZE])
