"""Errors of the directory plugins.

    PluginError                      (plugins.errors)
    └── DirectoryPluginError
        ├── DirectoryProtectError    a file or directory that cannot be read during protect
        ├── DirectoryRestoreError    a restore that cannot proceed (existing file, bad target)
        │   └── UnsafeManifestEntry  an entry that could write outside the target; refused
        └── ManifestError            a manifest that is missing, malformed or of unknown version
                                     (also a ChunkListError)
            ├── ManifestChunkError   a chunk holding a manifest (v4) is missing or corrupt
            │                        (also a ChunkListChunkError)
            └── ManifestDowngrade    an older, weaker manifest version in an encrypted store

Every message names the path at fault and the resource (or target) it concerns.
"""

from __future__ import annotations

from plugins.errors import ChunkListChunkError, ChunkListError, PluginError


class DirectoryPluginError(PluginError):
    """Base of the directory plugins' errors."""


class DirectoryProtectError(DirectoryPluginError):
    """A path of the tree could not be protected."""

    def __init__(self, resource_key: str, path: str, reason: str) -> None:
        self.resource_key = resource_key
        self.path = path
        super().__init__(f"cannot protect {path!r} of {resource_key}: {reason}")


class DirectoryRestoreError(DirectoryPluginError):
    """A path of the tree could not be restored."""

    def __init__(self, resource_key: str, path: str, target: str, reason: str) -> None:
        self.resource_key = resource_key
        self.path = path
        self.target = target
        super().__init__(f"cannot restore {path!r} of {resource_key} into {target!r}: {reason}")


class UnsafeManifestEntry(DirectoryRestoreError):
    """A manifest entry that is absolute, climbs with ``..`` or passes through a non-directory."""


class ManifestError(DirectoryPluginError, ChunkListError):
    """The manifest of a checkpoint cannot be used."""

    def __init__(self, resource_key: str, reason: str) -> None:
        self.resource_key = resource_key
        super().__init__(f"directory manifest of {resource_key}: {reason}")


class ManifestChunkError(ManifestError, ChunkListChunkError):
    """A chunk holding part of a manifest (version 4) is missing or fails its checks."""

    def __init__(self, resource_key: str, checkpoint_id: str, chunk_id: str, reason: str) -> None:
        self.checkpoint_id = checkpoint_id
        self.chunk_id = chunk_id
        self.reason = reason
        super().__init__(
            resource_key, f"checkpoint {checkpoint_id}: manifest chunk {chunk_id}: {reason}"
        )


class ManifestDowngrade(ManifestError):
    """A manifest of a version an encrypted store no longer reads: one in the clear
    (v1-v3) or whose pointer is not bound to its checkpoint and resource (v4)."""

    def __init__(
        self, resource_key: str, checkpoint_id: str, found: int, required: int, why: str
    ) -> None:
        self.checkpoint_id = checkpoint_id
        self.found = found
        self.required = required
        super().__init__(
            resource_key,
            f"checkpoint {checkpoint_id}: manifest format v{found} found where v{required}"
            f" is required, as {why} (refused as a downgraded or planted manifest)",
        )
