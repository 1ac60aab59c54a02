"""The restore target, opened once, with writes that can never leave it.

Every operation walks from the target's directory descriptor one component at a time
with ``O_NOFOLLOW | O_DIRECTORY``, and creates files with ``O_CREAT | O_EXCL |
O_NOFOLLOW`` relative to their parent's descriptor. A symlink or a file where a
directory should be, whether the manifest or someone else put it there, stops the
restore: nothing is ever written through a symlink. The methods block; run them in a
worker thread.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal

from plugins.local.directory.errors import DirectoryRestoreError, UnsafeManifestEntry

if TYPE_CHECKING:
    from plugins.local.directory.manifest import ManifestEntry

Existing = Literal["fail", "overwrite", "skip"]

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | _CLOEXEC
_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | _CLOEXEC
# Created owner-only and writable; the stored mode is applied after the content.
_WORK_DIR_MODE = 0o700
_WORK_FILE_MODE = 0o600


class TargetTree:
    """A directory to restore into, held open by descriptor."""

    def __init__(self, fd: int, target: str, resource_key: str, *, created: bool) -> None:
        self.fd = fd
        self.target = target
        self.resource_key = resource_key
        self.created = created

    @classmethod
    def open(cls, target: str, resource_key: str) -> TargetTree:
        """Open ``target``, creating it (and missing parents) if needed.

        Raises:
            DirectoryRestoreError: if it is relative, not a directory or cannot be made.
        """
        if not os.path.isabs(target):
            raise DirectoryRestoreError(resource_key, target, target, "target must be absolute")
        created = False
        try:
            if not os.path.lexists(target):
                os.makedirs(target, mode=_WORK_DIR_MODE)
                created = True
            # the target itself may be a symlink: the user chose it, so it is followed
            fd = os.open(target, os.O_RDONLY | os.O_DIRECTORY | _CLOEXEC)
        except OSError as error:
            raise DirectoryRestoreError(resource_key, target, target, why(error)) from error
        return cls(fd, target, resource_key, created=created)

    @classmethod
    def probe(cls, target: str, resource_key: str) -> TargetTree | None:
        """Open ``target`` if something is there, else check that it can be made: its
        nearest existing ancestor is a directory this process may write in. Writes nothing.

        Raises:
            DirectoryRestoreError: if it is relative, not a directory, or cannot be made.
        """
        if os.path.lexists(target) or not os.path.isabs(target):
            return cls.open(target, resource_key)
        ancestor = os.path.dirname(target)
        while not os.path.lexists(ancestor):
            ancestor = os.path.dirname(ancestor)
        if not os.path.isdir(ancestor) or not os.access(ancestor, os.W_OK | os.X_OK):
            raise DirectoryRestoreError(
                resource_key, target, target,
                f"cannot be created: {ancestor!r} is not a directory we may write in",
            )
        return None

    def close(self) -> None:
        """Release the target's descriptor."""
        os.close(self.fd)

    def check_no_clash(self, entries: Iterable[ManifestEntry]) -> None:
        """Refuse, for ``existing='fail'``, any entry with something already in its place
        (a directory where the entry is one too is no clash: the trees merge).

        Raises:
            DirectoryRestoreError: naming the first entry in the way.
            UnsafeManifestEntry: if a parent on the way is a symlink or not a directory.
        """
        for entry in entries:
            found = self.lookup(entry.fs_path())
            if found is None:
                continue
            if entry.kind != "dir" or not stat.S_ISDIR(found.st_mode):
                raise self._fail(entry.path, "already exists (existing='fail')")

    def _refuse(self, path: str, reason: str) -> UnsafeManifestEntry:
        return UnsafeManifestEntry(self.resource_key, path, self.target, reason)

    def _fail(self, path: str, reason: str) -> DirectoryRestoreError:
        return DirectoryRestoreError(self.resource_key, path, self.target, reason)

    def open_dir(self, relative: str) -> int:
        """Open the directory at ``relative`` ('' for the target) through real directories only.

        Raises:
            UnsafeManifestEntry: if a component is a symlink or not a directory.
            DirectoryRestoreError: if a component is missing or cannot be opened.
        """
        fd = os.dup(self.fd)
        walked = ""
        for part in relative.split("/") if relative else ():
            walked = f"{walked}/{part}" if walked else part
            try:
                child = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except OSError as error:
                os.close(fd)
                if error.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise self._refuse(relative, f"{walked!r} is not a real directory") from error
                raise self._fail(relative, f"{walked!r}: {why(error)}") from error
            os.close(fd)
            fd = child
        return fd

    def _parent(self, relative: str) -> tuple[int, str]:
        parent, _, name = relative.rpartition("/")
        return self.open_dir(parent), name

    def lookup(self, relative: str) -> os.stat_result | None:
        """The status of what is at ``relative`` without following it, or None.

        Raises:
            UnsafeManifestEntry: if a parent on the way is a symlink or not a directory.
        """
        parent, _, name = relative.rpartition("/")
        try:
            fd = self.open_dir(parent)
        except UnsafeManifestEntry:
            raise
        except DirectoryRestoreError:
            return None  # a parent is missing, so the entry is too
        try:
            return os.stat(name, dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            return None
        finally:
            os.close(fd)

    def ensure_dir(self, relative: str, existing: Existing) -> bool:
        """Create the directory at ``relative``; return False if a real one was already there.

        Raises:
            UnsafeManifestEntry: if a symlink or another non-directory is in the way.
        """
        fd, name = self._parent(relative)
        try:
            try:
                os.mkdir(name, _WORK_DIR_MODE, dir_fd=fd)
            except FileExistsError:
                found = os.stat(name, dir_fd=fd, follow_symlinks=False)
                if not stat.S_ISDIR(found.st_mode):
                    raise self._refuse(relative, "a non-directory is in the way") from None
                if existing == "overwrite":
                    # its stored mode is applied at the end; until then we must write in it.
                    # Through a no-follow descriptor: a swapped-in symlink is never chmod-ed.
                    child = os.open(name, _DIR_FLAGS, dir_fd=fd)
                    try:
                        os.fchmod(child, stat.S_IMODE(found.st_mode) | stat.S_IRWXU)
                    finally:
                        os.close(child)
                return False
            return True
        except OSError as error:
            raise self._fail(relative, why(error)) from error
        finally:
            os.close(fd)

    def create_file(
        self, relative: str, existing: Existing, parents: OpenDirs | None = None
    ) -> int | None:
        """Create the file at ``relative`` for writing; None if it exists and ``skip``.

        ``parents``, if given, keeps its parent directory open for the next files.

        Raises:
            DirectoryRestoreError: if it exists and ``existing`` is ``fail``, or on I/O error.
            UnsafeManifestEntry: if a parent is a symlink or a directory is in the way.
        """
        if parents is None:
            fd, name = self._parent(relative)
        else:
            parent, _, name = relative.rpartition("/")
            fd = parents.open(parent)
        try:
            try:
                # the usual case first: nothing there (O_EXCL), one call instead of two
                return os.open(name, _NEW_FILE_FLAGS, _WORK_FILE_MODE, dir_fd=fd)
            except FileExistsError:
                pass
            if not self._make_room(fd, name, relative, existing):
                return None
            return os.open(name, _NEW_FILE_FLAGS, _WORK_FILE_MODE, dir_fd=fd)
        except OSError as error:
            raise self._fail(relative, why(error)) from error
        finally:
            if parents is None:
                os.close(fd)

    def remove_file(self, relative: str) -> None:
        """Remove the file this restore created at ``relative`` (a failed, partial one).

        Raises:
            UnsafeManifestEntry: if a parent is a symlink or not a directory.
        """
        fd, name = self._parent(relative)
        try:
            os.unlink(name, dir_fd=fd)
        except FileNotFoundError:
            pass
        except OSError as error:
            raise self._fail(relative, why(error)) from error
        finally:
            os.close(fd)

    def create_symlink(
        self, relative: str, link_target: str, mtime_ns: int, existing: Existing
    ) -> bool:
        """Create the symlink at ``relative``; False if it exists and ``skip``.

        Raises:
            DirectoryRestoreError: if it exists and ``existing`` is ``fail``, or on I/O error.
            UnsafeManifestEntry: if a parent is a symlink or a directory is in the way.
        """
        fd, name = self._parent(relative)
        try:
            if not self._make_room(fd, name, relative, existing):
                return False
            os.symlink(link_target, name, dir_fd=fd)
            if os.utime in os.supports_follow_symlinks:
                os.utime(name, ns=(mtime_ns, mtime_ns), dir_fd=fd, follow_symlinks=False)
            return True
        except OSError as error:
            raise self._fail(relative, why(error)) from error
        finally:
            os.close(fd)

    def _make_room(self, parent_fd: int, name: str, relative: str, existing: Existing) -> bool:
        try:
            found = os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
        except FileNotFoundError:
            return True
        if existing == "skip":
            return False
        if existing == "fail":
            raise self._fail(relative, "already exists (existing='fail')")
        if stat.S_ISDIR(found.st_mode):
            raise self._refuse(relative, "a directory is in the way; it is never replaced")
        # unlink removes the name, never what a symlink points at
        os.unlink(name, dir_fd=parent_fd)
        return True

    def set_dir_metadata(self, relative: str, mode: int, mtime_ns: int) -> None:
        """Apply a directory's stored mode and mtime ('' for the target itself).

        Raises:
            UnsafeManifestEntry: if a component is a symlink or not a directory.
            DirectoryRestoreError: on I/O error.
        """
        fd = self.open_dir(relative)
        try:
            os.fchmod(fd, mode)
            os.utime(fd, ns=(mtime_ns, mtime_ns))
        except OSError as error:
            raise self._fail(relative or ".", why(error)) from error
        finally:
            os.close(fd)


class OpenDirs:
    """Directories of a target kept open across a run of files, as :meth:`TargetTree.open_dir`
    opens them: files restored together mostly share a parent, whose path is then walked
    once rather than per file. Blocking, for one thread; close it (``with``) after the run.
    """

    # enough for the few directories a run of bundled small files spans; beyond, all are
    # closed, so a run through many directories never holds many descriptors
    LIMIT = 16

    def __init__(self, tree: TargetTree) -> None:
        self.tree = tree
        self._fds: dict[str, int] = {}

    def open(self, relative: str) -> int:
        """The descriptor of the directory at ``relative`` ('' for the target), kept open.

        Raises:
            UnsafeManifestEntry, DirectoryRestoreError: as :meth:`TargetTree.open_dir`.
        """
        fd = self._fds.get(relative)
        if fd is None:
            if len(self._fds) >= self.LIMIT:
                self.close()
            fd = self._fds[relative] = self.tree.open_dir(relative)
        return fd

    def close(self) -> None:
        """Close every directory held."""
        fds, self._fds = self._fds, {}
        for fd in fds.values():
            os.close(fd)

    def __enter__(self) -> OpenDirs:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def finish_file(fd: int, mode: int, mtime_ns: int) -> None:
    """Apply a restored file's mode and mtime through its descriptor, then close it."""
    try:
        os.fchmod(fd, mode)
        os.utime(fd, ns=(mtime_ns, mtime_ns))
    finally:
        os.close(fd)


def write_all(fd: int, data: bytes | memoryview) -> None:
    """Write every byte of ``data`` (``os.write`` may write less than asked)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def pwrite_all(fd: int, data: bytes | memoryview, offset: int) -> None:
    """Write every byte of ``data`` at ``offset`` (``os.pwrite`` may write less than asked)."""
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view, offset = view[written:], offset + written


def why(error: OSError) -> str:
    """An OSError's reason, without the path (the caller names the entry)."""
    return error.strerror or str(error)
