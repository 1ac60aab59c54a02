"""Which local paths a request may read from and write to: its ``PathGrant``.

A request that arrives on the queue is hostile until checked (docs/security.md). The
engine puts a ``PathGrant`` in every request's context; a plugin whose resources or
parameters are local paths (``Strongbox::Directory``) checks them with ``check_path``
before anything runs. A path is normalised first: it must be absolute and free of NUL
bytes, ``..`` is resolved, and so is every symlink of the part that exists, so a link
that points outside a granted prefix is judged by where it points.

``None`` for a list means "anywhere"; an empty tuple means "nowhere". ``forbidden``
always wins (a bank's own storage: restoring into it would destroy the bank), and the
``SYSTEM_PATHS`` are refused unless a prefix granted explicitly lies within one of them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import PurePosixPath
from typing import Final, Literal

import msgspec

from plugins.errors import Forbidden

# The operating system's own trees: a restore onto one of them (``/``, ``/etc``) runs
# code as the worker's user. Only a policy that names one explicitly may write there.
SYSTEM_PATHS: Final = (
    "/", "/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc",
    "/run", "/sbin", "/sys", "/usr", "/var/lib", "/var/spool",
)
MAX_PATH_BYTES: Final = 4096  # PATH_MAX on Linux

PathUse = Literal["protect", "restore"]


class PathGrant(msgspec.Struct, frozen=True, kw_only=True):
    """Where one request may read (protect) and write (restore) on this worker's host."""

    protect_roots: tuple[str, ...] | None = None
    restore_targets: tuple[str, ...] | None = None
    forbidden: tuple[str, ...] = ()
    system_paths_refused: bool = False
    holder: str = "the local user"  # who the grant is for, as refusals name it

    def prefixes(self, use: PathUse) -> tuple[str, ...] | None:
        """The granted prefixes for ``use``; None for anywhere."""
        return self.protect_roots if use == "protect" else self.restore_targets


UNRESTRICTED: Final = PathGrant()


class ProjectGrant(msgspec.Struct, frozen=True, kw_only=True):
    """The cloud project a request acts for, as an authenticated token established it.

    ``project_id`` is the project the operation acts for (the token's own, unless a role
    with ``cross_project`` names another explicitly); ``token_project_id`` the token's.
    A checkpoint of another project may be restored, deleted or verified only with
    ``cross_project``.
    """

    project_id: str
    token_project_id: str
    cross_project: bool = False
    holder: str = ""

    def check_owner(self, checkpoint_id: str, owner: str | None, operation: str) -> None:
        """Refuse ``operation`` on a checkpoint another project owns, unless granted.

        Raises:
            Forbidden: naming the checkpoint, its project and the requester's.
        """
        if self.cross_project or owner == self.project_id:
            return
        raise Forbidden(f"{operation} of checkpoint {checkpoint_id} for {self.holder}: it "
                        f"belongs to project {owner}, not {self.project_id}")


def normalise_path(path: str, what: str) -> str:
    """``path`` absolute, with ``..`` and the symlinks of its existing part resolved.

    Raises:
        Forbidden: if it is not absolute, holds a NUL byte or is longer than PATH_MAX.
    """
    if "\x00" in path:
        raise Forbidden(f"{what} {path!r} holds a NUL byte")
    if len(path.encode("utf-8", "surrogateescape")) > MAX_PATH_BYTES:
        raise Forbidden(f"{what} is longer than {MAX_PATH_BYTES} bytes")
    if not os.path.isabs(path):
        raise Forbidden(f"{what} {path!r} is not an absolute path")
    return os.path.realpath(path)


def check_path(grant: PathGrant, use: PathUse, path: str, what: str) -> str:
    """Return ``path`` normalised if ``grant`` allows ``use`` of it; else refuse.

    Raises:
        Forbidden: naming the path, the use and the holder of the grant.
    """
    resolved = normalise_path(path, what)
    shown = path if resolved == path else f"{path} (resolved: {resolved})"
    for blocked in grant.forbidden:
        if _within(resolved, blocked) or (use == "restore" and _within(blocked, resolved)):
            raise Forbidden(f"{what} {shown} is the bank's own storage ({blocked}) or holds "
                            f"it; {grant.holder} may not {use} there")
    prefixes = grant.prefixes(use)
    if prefixes is not None:
        granted = [p for p in prefixes if _within(resolved, _normalised_prefix(p))]
        if not granted:
            allowed = ", ".join(prefixes) or "nowhere"
            raise Forbidden(f"{what} {shown} is outside what {grant.holder} may {use} "
                            f"(allowed: {allowed})")
    else:
        granted = []
    if use == "restore" and grant.system_paths_refused:
        system = _system_path_of(resolved)
        explicit = any(_within(_normalised_prefix(p), system) for p in granted if system)
        if system is not None and not explicit:
            raise Forbidden(f"{what} {shown} is in the system tree {system}; {grant.holder} "
                            f"may not restore there unless a policy grants it by name")
    return resolved


def _system_path_of(path: str) -> str | None:
    if path == "/":
        return "/"
    found = [s for s in SYSTEM_PATHS if s != "/" and _within(path, s)]
    return max(found, key=len) if found else None


def _normalised_prefix(prefix: str) -> str:
    return os.path.realpath(prefix)


def _within(path: str, prefix: str) -> bool:
    return PurePosixPath(path).is_relative_to(PurePosixPath(prefix))


def merge_forbidden(grant: PathGrant, paths: Iterable[str]) -> PathGrant:
    """``grant`` with ``paths`` (resolved) added to what it forbids."""
    extra = tuple(os.path.realpath(p) for p in paths if p)
    return msgspec.structs.replace(grant, forbidden=grant.forbidden + extra)
