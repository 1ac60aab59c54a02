"""The manifest of a protected directory tree, and the checks a restore makes on it.

Since version 4 the manifest is kept encrypted in the chunk store and the resource's
bank section holds only a pointer to it at ``manifest`` (``directory_manifest_chunks``);
since version 5 the pointer's MAC also binds the checkpoint and the resource, and an
encrypted store reads no older version (``directory_manifest_trust``).
Up to version 3 it was stored whole at ``manifest``, in the clear, and is still read
from there (:func:`decode_manifest`). Either way it is written after every chunk it
names, so its presence means the checkpoint's data is complete. Version 3, in JSON::

    {"v": 2, "root": "/srv/data", "root_mode": 493, "root_mtime_ns": 1700000000000000000,
     "entries": [
       {"path": "docs", "kind": "dir", "mode": 493, "mtime_ns": ...},
       {"path": "docs/a.txt", "kind": "file", "mode": 420, "mtime_ns": ..., "size": 12,
        "chunks": [["<64 hex digits: the chunk id>", 12]]},
       {"path": "docs/latest", "kind": "symlink", "mode": 511, "mtime_ns": ...,
        "target": "a.txt"}],
     "skipped": [{"path": "tmp/gone", "reason": "vanished before it was read"}]}

Version 3 stores a file's content as its list of chunks (``[id, plaintext size]``) in
the bank's chunk store (``banks.chunks``), shared and deduplicated between checkpoints;
an empty file has ``"chunks": []``. A file smaller than the store's smallest chunk is
*bundled*: the small files of a protect are chunked as one stream, in walk order, so a
chunk holds many of them, and such an entry says where its bytes begin in its first
chunk (``"offset": 5120``); its content is the ``size`` bytes from there on. (A chunk
object per small file would cost a bank object, with its fsyncs or its request, for a
few KiB: the cost that decided a protect of many small files.) Version 2 was the same
without offsets; version 1, still read for restore, stored each file as one object of
the section and named it in ``"data": "data/00000001"``.

Since version 3 a file also records the ctime and inode the walk saw, and the manifest
``walked_at_ns``, when the walk began: what the next protect needs to take an unchanged
file's chunks without reading it (``directory_parent``). A bundled file whose ctime was
within 2 s of the walk also records ``digest``, a keyed digest of its content, by which
the next protect tells whether it changed without chunking it again; an optional field
of version 4 that readers not needing it ignore.

Paths are relative, POSIX, parents before children. Fields at their default are
omitted. A name that is not valid UTF-8 is stored readable in ``path`` (backslash
escapes) and exactly in ``raw_path`` (base64 bytes); likewise ``target``/``raw_target``.
"""

from __future__ import annotations

import os
import re
from typing import Literal

import msgspec

from banks.chunks import ChunkRef
from banks.chunks.layout import is_chunk_id
from plugins.local.directory.errors import ManifestError, UnsafeManifestEntry

MANIFEST_VERSION = 5  # v4 with a pointer bound to its checkpoint and resource
STORED_WHOLE_VERSIONS = frozenset({1, 2, 3})  # the tree itself in the section, in the clear
POINTER_VERSIONS = frozenset({4, MANIFEST_VERSION})  # the tree in the chunk store
READABLE_VERSIONS = STORED_WHOLE_VERSIONS | POINTER_VERSIONS
MANIFEST_KEY = "manifest"
SAVED_INFO_KEY = "saved_info"
DATA_PREFIX = "data/"

EntryKind = Literal["file", "dir", "symlink"]
_DATA_KEY = re.compile(r"data/[0-9]{1,12}")


class ManifestEntry(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One file, directory or symlink of the tree."""

    path: str
    kind: EntryKind
    mode: int = 0
    mtime_ns: int = 0
    size: int = 0
    target: str | None = None
    data: str | None = None
    chunks: list[ChunkRef] | None = None
    offset: int = 0  # where the content begins in its first chunk (a bundled small file)
    # a file's status before its content was read, to tell next time if it changed
    # (directory_parent); mtime_ns and size are those of what was read
    ctime_ns: int = 0
    inode: int = 0
    # keyed digest of the content, for a bundled file read within SETTLED_NS of the walk:
    # the next protect reads such a file again and keeps these chunks if it is equal
    digest: str | None = None
    raw_path: bytes | None = None
    raw_target: bytes | None = None

    def fs_path(self) -> str:
        """The relative path as the OS spells it (undecodable bytes as surrogates)."""
        return os.fsdecode(self.raw_path) if self.raw_path is not None else self.path

    def fs_target(self) -> str:
        """The symlink's target as the OS spells it ('' for other kinds)."""
        if self.raw_target is not None:
            return os.fsdecode(self.raw_target)
        return self.target or ""


class SkippedEntry(msgspec.Struct, frozen=True):
    """A path seen by the walk but not protected, and why."""

    path: str
    reason: str


class Manifest(msgspec.Struct, frozen=True, kw_only=True):
    """The whole tree: the root's own metadata and every entry below it."""

    v: int = MANIFEST_VERSION
    root: str
    root_mode: int
    root_mtime_ns: int
    entries: list[ManifestEntry]
    skipped: list[SkippedEntry] = []
    walked_at_ns: int = 0  # when the walk began (directory_parent trusts older ctimes only)


class _VersionOnly(msgspec.Struct):
    v: int


_encoder = msgspec.json.Encoder()
_version_decoder = msgspec.json.Decoder(_VersionOnly)
_manifest_decoder = msgspec.json.Decoder(Manifest)


def storable_name(name: str) -> tuple[str, bytes | None]:
    """Split an OS name into (readable text, exact bytes or None when the text is exact)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raw = os.fsencode(name)
        return raw.decode("utf-8", "backslashreplace"), raw
    return name, None


def encode_manifest(manifest: Manifest) -> bytes:
    """Serialize ``manifest`` to the JSON form versions 1 to 3 stored in the section."""
    return _encoder.encode(manifest)


def manifest_version(data: bytes, resource_key: str) -> int:
    """The format version of the object stored at ``manifest``.

    Raises:
        ManifestError: if it is malformed or of a version this code does not read.
    """
    try:
        version = _version_decoder.decode(data).v
    except msgspec.DecodeError as error:
        raise ManifestError(resource_key, f"malformed: {error}") from error
    if version not in READABLE_VERSIONS:
        raise ManifestError(resource_key, f"format v{version} is not supported")
    return version


def decode_manifest(data: bytes, resource_key: str) -> Manifest:
    """Read a manifest stored whole in the section (versions 1 to 3).

    Raises:
        ManifestError: if it is malformed or of another version.
    """
    version = manifest_version(data, resource_key)
    if version not in STORED_WHOLE_VERSIONS:
        raise ManifestError(resource_key, f"format v{version} is not stored whole")
    try:
        return _manifest_decoder.decode(data)
    except msgspec.DecodeError as error:
        raise ManifestError(resource_key, f"malformed: {error}") from error


def check_entries(manifest: Manifest, resource_key: str, target: str) -> None:
    """Refuse a manifest that could write outside ``target``, before anything is written.

    Every path must be relative, non-empty, free of ``.``, ``..`` and empty segments and
    of NUL, appear once, and have as parent either the root or a ``dir`` entry of the
    manifest: so no entry can be written through a symlink the manifest itself creates.

    Raises:
        UnsafeManifestEntry: naming the first entry at fault and the target.
        ManifestError: if a file has no valid content reference (a data key in v1, a
            chunk list covering exactly its bytes from its offset since v2) or a symlink
            no target.
    """
    directories = {entry.fs_path() for entry in manifest.entries if entry.kind == "dir"}
    seen: set[str] = set()
    for entry in manifest.entries:
        path = entry.fs_path()
        reason = _unsafe_reason(path, seen, directories)
        if reason is not None:
            raise UnsafeManifestEntry(resource_key, entry.path, target, reason)
        seen.add(path)
        if entry.kind == "file":
            problem = _content_problem(entry, manifest.v)
            if problem is not None:
                raise ManifestError(resource_key, f"file {entry.path!r} {problem}")
        if entry.kind == "symlink" and not entry.fs_target():
            raise ManifestError(resource_key, f"symlink {entry.path!r} has no target")
        if not 0 <= entry.mode <= 0o7777 or entry.size < 0:
            raise ManifestError(resource_key, f"entry {entry.path!r} has an invalid mode or size")


def _content_problem(entry: ManifestEntry, version: int) -> str | None:
    if version == 1:
        if entry.data is None or not _DATA_KEY.fullmatch(entry.data):
            return "has no valid data key"
        return None
    if entry.chunks is None or entry.data is not None:
        return "has no chunk list"
    if not all(is_chunk_id(ref.id) and ref.size > 0 for ref in entry.chunks):
        return "has a malformed chunk reference"
    if version < 3 and entry.offset != 0:
        return f"has an offset, which format v{version} does not have"
    return _chunk_span_problem(entry)


def _chunk_span_problem(entry: ManifestEntry) -> str | None:
    """Why the chunks do not hold exactly bytes offset .. offset + size, or None.

    Exactly: the offset lies in the first chunk and the content ends in the last, so a
    manifest can make a restore read no chunk it does not need.
    """
    chunks = entry.chunks or []
    end = entry.offset + entry.size
    if not chunks:
        return None if end == 0 else f"has no chunks for its size {entry.size}"
    total = sum(ref.size for ref in chunks)
    if entry.offset < 0 or entry.offset >= chunks[0].size or entry.size == 0:
        return f"has an offset {entry.offset} outside its first chunk, or no bytes"
    if not total - chunks[-1].size < end <= total:
        return f"has chunks that do not end with its {entry.size} bytes from {entry.offset}"
    return None


def _unsafe_reason(path: str, seen: set[str], directories: set[str]) -> str | None:
    parent = path.rpartition("/")[0]
    checks = (
        (not path, "empty path"),
        ("\x00" in path, "path holds a NUL byte"),
        (path.startswith("/"), "absolute path"),
        (
            any(part in ("", ".", "..") for part in path.split("/")),
            "path has a '..', '.' or empty segment",
        ),
        (path in seen, "path appears twice"),
        (
            bool(parent) and parent not in directories,
            f"its parent {parent!r} is not a directory of the manifest",
        ),
    )
    return next((reason for failed, reason in checks if failed), None)
