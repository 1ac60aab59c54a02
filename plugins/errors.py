"""Errors raised by plugins and their registry.

    PluginError
    ├── PluginNotFound            no entry point of that name in a group (lists what exists)
    │   └── PluginMoved           a ``module:Class`` path from before a move (names the new one)
    ├── PluginLoadError           the entry point failed to import or is not the right class
    ├── ResourceTypeNotSupported  no protectable, or no protection plugin, for a type
    ├── ResourceNotFound          show_resource of an id that does not exist
    ├── ResourceGraphLoop         a dependency cycle while building the graph (names it)
    ├── InvalidParameters         parameters that fail a plugin's schema (names type and field)
    ├── InvalidPluginOption       a plugin option in the provider file that is not valid
    ├── Forbidden                 a request may not do this (a path outside its grant)
    ├── CheckpointError           a checkpoint that cannot be read or is in the wrong state
    │   ├── CheckpointNotFound
    │   └── InvalidCheckpointState
    └── ChunkListError            a resource's list of chunks (its manifest) cannot be used
        └── ChunkListChunkError   a chunk of it (or holding it) is missing or corrupt

``ChunkListError`` and ``ChunkListChunkError`` are the common ground of every plugin that
keeps content in the chunk store (``plugins.chunk_keeper``): each family subclasses them
(``ManifestError``, ``StoredBytesError``), and verify and garbage collection catch them
without knowing the family.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


class PluginError(Exception):
    """Base of every plugin-layer error."""


class AtFileLine(Exception):
    """An error in a configuration file, said as ``<file>:<line>: <what is wrong>``.

    A mixin: the provider files' error and the policy file's error share the shape (and an
    operator's editor jumps to it) but not a family.
    """

    def __init__(self, path: Path, line: int | None, problem: str) -> None:
        self.path = path
        self.line = line
        self.problem = problem
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {problem}")


class PluginNotFound(PluginError, LookupError):
    """No plugin of that name is registered."""

    def __init__(self, group: str, name: str, available: Iterable[str]) -> None:
        self.group = group
        self.name = name
        self.available = sorted(available)
        super().__init__(
            f"no {group} plugin named {name!r}; available: {', '.join(self.available) or 'none'}"
        )


class PluginMoved(PluginNotFound):
    """A ``module:Class`` path whose module moved; the message names where it is now."""

    def __init__(self, group: str, name: str, new_path: str) -> None:
        PluginError.__init__(
            self, f"no {group} plugin at {name!r}: that module moved, name it {new_path!r}"
        )
        self.group = group
        self.name = name
        self.new_path = new_path
        self.available = [new_path]


class PluginLoadError(PluginError):
    """A plugin's entry point could not be loaded or is not a plugin class."""


class ResourceTypeNotSupported(PluginError, LookupError):
    """A resource type has no protectable or protection plugin."""

    def __init__(self, resource_type: str, what: str, available: Iterable[str] = ()) -> None:
        self.resource_type = resource_type
        known = sorted(available)
        hint = f"; known types: {', '.join(known)}" if known else ""
        super().__init__(f"no {what} for resource type {resource_type!r}{hint}")


class ResourceNotFound(PluginError, LookupError):
    """The resource does not exist."""

    def __init__(self, resource_type: str, resource_id: str, reason: str = "") -> None:
        self.resource_type = resource_type
        self.resource_id = resource_id
        suffix = f": {reason}" if reason else ""
        super().__init__(f"resource {resource_type}#{resource_id} not found{suffix}")


class ResourceGraphLoop(PluginError):
    """The dependency walk came back to a resource already on its path."""

    def __init__(self, cycle: list[str]) -> None:
        self.cycle = cycle
        super().__init__("resource graph has a loop: " + " -> ".join(cycle))


class InvalidParameters(PluginError, ValueError):
    """Parameters that do not match a plugin's schema."""

    def __init__(self, where: str, reason: str) -> None:
        self.where = where
        self.reason = reason
        super().__init__(f"invalid parameters for {where}: {reason}")


class InvalidPluginOption(PluginError, ValueError):
    """A plugin option (from its provider-file section) with a value it cannot take."""

    def __init__(self, option: str, reason: str) -> None:
        self.option = option
        super().__init__(f"option {option!r}: {reason}")


class Forbidden(PluginError, PermissionError):
    """The request's identity may not do this; the message says what, and for whom."""


class CheckpointError(PluginError):
    """A checkpoint cannot be used as asked."""


class CheckpointNotFound(CheckpointError, LookupError):
    """No checkpoint with that id in the bank."""

    def __init__(self, checkpoint_id: str) -> None:
        self.checkpoint_id = checkpoint_id
        super().__init__(f"checkpoint {checkpoint_id!r} not found")


class InvalidCheckpointState(CheckpointError):
    """The checkpoint's status does not allow the operation or transition."""

    def __init__(self, checkpoint_id: str, status: str, wanted: str) -> None:
        self.checkpoint_id = checkpoint_id
        self.status = str(status)
        super().__init__(f"checkpoint {checkpoint_id!r} is '{self.status}'; {wanted}")


class ChunkListError(PluginError):
    """The list of chunks a resource's checkpoint refers to cannot be used (missing,
    malformed, or not the one the protect recorded). Subclasses set ``resource_key``."""

    resource_key: str


class ChunkListChunkError(ChunkListError):
    """A chunk a resource refers to (or that holds its chunk list) is missing or corrupt.

    Subclasses set ``checkpoint_id``, ``chunk_id`` and ``reason``.
    """

    checkpoint_id: str
    chunk_id: str
    reason: str
