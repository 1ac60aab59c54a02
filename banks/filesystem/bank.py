"""The embedded default bank: objects as files in a local directory.

Layout under the bank root::

    <root>/objects/<key path>~obj     one file per object (see banks.filesystem.object_file)
    <root>/objects/<dirs>/~tmp-<hex>  a write in progress; never listed, removed on failure
    <root>/leases/lock                the flock(2) lock taken around every lease change
    <root>/leases/<sha256 of key>     one lease record (msgspec JSON: key, owner, expires_at)

Key to path: the key ``/checkpoints/abc/index`` is the file
``objects/checkpoints/abc/index~obj``. Every segment but the last is a directory with the
segment's own name; the last gets the suffix ``~obj``. ``~`` cannot occur in a key, so
this is what lets ``/a`` and ``/a/b`` both exist (a file ``a~obj`` beside a directory
``a``), and what tells objects from temp files and stray files when listing.

Here is :class:`FilesystemBank`: the Bank methods, its :meth:`~FilesystemBank.open`
factory and the mapping of OSErrors to bank errors. Each other part is one module:

- :mod:`banks.filesystem.object_file`: the object file (``SBX1`` header, then data), in one file so
  that one ``os.replace`` publishes metadata and data at once; key to path.
- :mod:`banks.filesystem.atomic`: writes go to a temp file in the object's directory,
  fsynced, renamed over the object, the directory fsynced, so a reader or a crash sees
  the old object or the new one, never a part. :mod:`banks.filesystem.put_stream`
  streams a put into such a temp file in batches.
- :mod:`banks.filesystem.listing`: a depth-first walk that yields keys in ascending
  order and reads only the directories along the prefix and marker.
- :mod:`banks.filesystem.leases`: leases safe between processes, every read-check-write
  of a record made under ``flock(LOCK_EX)`` on ``leases/lock``.

Limits: the filesystem must be case-sensitive (``/A`` and ``/a`` are two keys); a key
segment may be at most :data:`MAX_SEGMENT_LENGTH` characters; a temp file left by a
crash stays on disk (it is never listed) until removed by hand. ``fcntl`` makes this
bank POSIX-only.
"""

from __future__ import annotations

import asyncio
import builtins
import errno
import os
from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import ParamSpec, TypeVar

import platformdirs

from banks.base import Bank, Lease, ObjectInfo
from banks.errors import BankError, BankFull, BankUnavailable, InvalidKey, ObjectNotFound
from banks.filesystem.atomic import TEMP_PREFIX, ensure_dir
from banks.filesystem.leases import FilesystemLeases
from banks.filesystem.listing import list_keys
from banks.filesystem.object_file import (
    MAX_SEGMENT_LENGTH,
    OBJECT_SUFFIX,
    CorruptObject,
    delete_object,
    encode_header,
    head_object,
    object_path,
    open_object,
    read_object,
    read_object_into,
    write_object,
)
from banks.filesystem.options import FilesystemOptions
from banks.filesystem.put_stream import put_stream
from banks.keys import validate_key, validate_prefix

__all__ = ["ENV_PATH", "MAX_SEGMENT_LENGTH", "OBJECT_SUFFIX", "TEMP_PREFIX", "FilesystemBank"]

_P = ParamSpec("_P")
_T = TypeVar("_T")

ENV_PATH = "STRONGBOX_BANK_PATH"

_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
# Errors that a retry may cure (a network filesystem coming back, a busy device).
_TRANSIENT_ERRNOS = frozenset(
    {
        errno.EIO,
        errno.EAGAIN,
        errno.EBUSY,
        errno.ETIMEDOUT,
        errno.ESTALE,
        errno.ENOTCONN,
        errno.EHOSTDOWN,
        errno.EHOSTUNREACH,
        errno.ENETDOWN,
        errno.ENETUNREACH,
    }
)


def _resolve_root(config: Mapping[str, str]) -> tuple[Path, str]:
    """The bank root from ``config``, the environment or the user data dir, and its source.

    Runs in a thread: ``expanduser`` may read the password database.
    """
    if config.get("path"):
        return Path(config["path"]).expanduser(), "option 'path'"
    if os.environ.get(ENV_PATH):
        return Path(os.environ[ENV_PATH]).expanduser(), f"option 'path' (from ${ENV_PATH})"
    return Path(platformdirs.user_data_dir("strongbox")) / "bank", "option 'path' (default)"


class FilesystemBank(Bank):
    """Objects as files under a root directory; see the module docstring for the layout."""

    name = "filesystem"
    Options = FilesystemOptions

    def __init__(self, root: Path) -> None:
        """Use ``root`` as the bank directory; no I/O here (:meth:`open` creates it)."""
        self.root = Path(root)
        self._objects = self.root / "objects"
        self._leases = FilesystemLeases(self.root / "leases", self._label())

    def __repr__(self) -> str:
        return f"FilesystemBank(root={str(self.root)!r})"

    @property
    def local_path(self) -> str | None:
        """The bank root: restores are refused inside it."""
        return str(self.root)

    @classmethod
    async def open(cls, config: Mapping[str, str]) -> FilesystemBank:
        """Open (creating if needed) the bank at ``config["path"]``.

        Without ``path``, the directory is ``$STRONGBOX_BANK_PATH``, else
        ``<user data dir>/strongbox/bank`` as platformdirs places it.

        Raises:
            BankError: if the path exists and is not a directory, or cannot be created;
                the message names the option ``path`` and the path.
        """
        root, source = await asyncio.to_thread(_resolve_root, config)
        bank = cls(root)
        try:
            await asyncio.to_thread(bank._create_layout)
        except OSError as err:
            if err.filename == str(root) and err.errno in (errno.EEXIST, errno.ENOTDIR):
                reason = "exists and is not a directory"
            else:
                # Name the path at fault: it may be a parent of the root.
                reason = f"cannot be created: {err.strerror or err} ({err.filename!s})"
            raise BankError(f"filesystem bank {source}: {str(root)!r} {reason}") from err
        return bank

    def _create_layout(self) -> None:
        if self.root.exists() and not self.root.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, "not a directory", str(self.root))
        ensure_dir(self._objects)
        ensure_dir(self._leases.directory)

    # -- errors ---------------------------------------------------------------------

    def _label(self) -> str:
        return f"filesystem:{self.root}"

    def _error(self, err: OSError, key: str, action: str) -> BankError:
        """Map an OSError met while doing ``action`` on ``key`` to a BankError."""
        reason = err.strerror or str(err)
        where = f"filesystem bank {str(self.root)!r}"
        if err.errno in _FULL_ERRNOS:
            return BankFull(f"{where} is full: cannot {action} {key!r}: {reason}")
        if err.errno == errno.ENAMETOOLONG:
            return InvalidKey(key, f"too long for the filesystem bank ({reason})")
        if err.errno in _TRANSIENT_ERRNOS:
            return BankUnavailable(f"{where}: cannot {action} {key!r}: {reason}")
        return BankError(f"{where}: cannot {action} {key!r}: {reason}")

    async def _in_thread(
        self, key: str, action: str, func: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs
    ) -> _T:
        """``func(*args, **kwargs)`` in a worker thread; an OSError becomes :meth:`_error`."""
        try:
            return await asyncio.to_thread(func, *args, **kwargs)
        except OSError as err:
            raise self._error(err, key, action) from err

    def _corrupt(self, key: str, err: CorruptObject) -> BankError:
        return BankError(f"filesystem bank {str(self.root)!r}: object {key!r} is corrupt: {err}")

    # -- writes ---------------------------------------------------------------------

    async def put(self, key: str, data: bytes, metadata: Mapping[str, str] | None = None) -> None:
        """Store ``data`` at ``key`` atomically, replacing any object there.

        Raises:
            InvalidKey: if ``key`` breaks the key rules.
            TypeError: if a metadata name or value is not a str.
            BankFull: if the filesystem is out of space or quota.
            BankError: for any other filesystem error (BankUnavailable if retryable).
        """
        target = object_path(self._objects, key)
        header = encode_header(metadata)
        await self._in_thread(key, "write", write_object, target, header, data)

    async def put_stream(
        self,
        key: str,
        chunks: AsyncIterable[bytes],
        metadata: Mapping[str, str] | None = None,
    ) -> int:
        """Stream ``chunks`` into ``key``; the object appears only when the stream ends.

        If ``chunks`` raises, the temp file is removed, no object appears (an old one
        stays) and the iterator's exception propagates unchanged.

        Raises:
            InvalidKey: if ``key`` breaks the key rules.
            TypeError: if a metadata name or value is not a str.
            BankFull: if the filesystem is out of space or quota.
            BankError: for any other filesystem error (BankUnavailable if retryable).
        """
        target = object_path(self._objects, key)
        header = encode_header(metadata)
        return await put_stream(target, header, chunks, lambda err: self._error(err, key, "write"))

    # -- reads ----------------------------------------------------------------------

    async def _read(self, key: str, read: Callable[[Path], _T]) -> _T:
        """``read(<object file of key>)`` in a worker thread, its errors as bank errors.

        Raises:
            InvalidKey: if ``key`` breaks the key rules.
            ObjectNotFound: if there is no object at ``key``.
            BankError: if the object file is corrupt or cannot be read.
        """
        return await asyncio.to_thread(self._read_blocking, key, read)

    def _read_blocking(self, key: str, read: Callable[[Path], _T]) -> _T:
        """As :meth:`_read`, in the calling thread."""
        path = object_path(self._objects, key)
        try:
            return read(path)
        except (FileNotFoundError, NotADirectoryError):
            raise ObjectNotFound(key, self._label()) from None
        except CorruptObject as err:
            raise self._corrupt(key, err) from None
        except OSError as err:
            raise self._error(err, key, "read") from err

    async def get(self, key: str) -> bytes:
        """Return the whole object.

        Raises:
            InvalidKey: if ``key`` breaks the key rules.
            ObjectNotFound: if there is no object at ``key``.
            BankError: if the object file is corrupt or cannot be read.
        """
        return await self._read(key, read_object)

    def read_into_blocking(self, key: str, reserve: Callable[[int], memoryview]) -> memoryview:
        """The whole object, read into ``reserve(its size)``; blocks (call it in a worker
        thread). For the chunk store's restores, which reuse their buffers.

        Raises:
            InvalidKey: if ``key`` breaks the key rules.
            ObjectNotFound: if there is no object at ``key``.
            BankError: if the object file is corrupt or cannot be read.
        """
        return self._read_blocking(key, lambda path: read_object_into(path, reserve))

    async def get_stream(self, key: str, chunk_size: int = 1 << 20) -> AsyncIterator[bytes]:
        """Yield the object in chunks of at most ``chunk_size`` bytes.

        The file stays open while iterating, so a concurrent overwrite does not change
        what this stream yields.

        Raises:
            InvalidKey: if ``key`` breaks the key rules.
            ObjectNotFound: when iteration starts, if there is no object at ``key``.
            BankError: if the object file is corrupt or cannot be read.
            ValueError: if ``chunk_size`` is not positive.
        """
        if chunk_size <= 0:
            raise ValueError(f"chunk_size must be positive, not {chunk_size}")
        fd, offset = await self._read(key, open_object)
        try:
            while True:
                try:
                    chunk = await asyncio.to_thread(os.pread, fd, chunk_size, offset)
                except OSError as err:
                    raise self._error(err, key, "read") from err
                if not chunk:
                    return
                offset += len(chunk)
                yield chunk
        finally:
            # Closing a regular file's descriptor does not block. If a cancelled pread is
            # still running in its thread it may then read another file's descriptor;
            # pread moves no offset and its result is dropped, so that is harmless.
            os.close(fd)

    async def head(self, key: str) -> ObjectInfo:
        """Return size and metadata of the object without reading its data.

        Raises:
            InvalidKey: if ``key`` breaks the key rules.
            ObjectNotFound: if there is no object at ``key``.
            BankError: if the object file is corrupt or cannot be read.
        """
        header, size, modified = await self._read(key, head_object)
        return ObjectInfo(key=key, size=size, metadata=header.metadata, modified_at=modified)

    # -- listing --------------------------------------------------------------------

    async def list(
        self, prefix: str = "/", marker: str | None = None, limit: int | None = None
    ) -> builtins.list[str]:
        """Return keys starting with ``prefix``, ascending, strictly after ``marker``.

        Raises:
            InvalidKey: if ``prefix`` is not ``/`` or a valid key (optionally ending in ``/``).
            BankError: if a directory cannot be read.
        """
        validate_prefix(prefix)
        if "//" in prefix:
            # validate_prefix lets "/a//" through; no key holds "//", so nothing matches
            # (and the walk below would otherwise invent keys with an empty segment).
            return []
        return await self._in_thread(
            prefix, "list", list_keys, self._objects, prefix, marker, limit
        )

    # -- delete ---------------------------------------------------------------------

    async def delete(self, key: str) -> None:
        """Remove the object at ``key`` and prune its empty parent directories.

        A missing object is not an error.

        Raises:
            InvalidKey: if ``key`` breaks the key rules.
            BankError: if the file cannot be removed.
        """
        path = object_path(self._objects, key)
        await self._in_thread(key, "delete", delete_object, path, self._objects, self._label())

    # -- leases ---------------------------------------------------------------------

    async def acquire_lease(self, key: str, owner: str, ttl: float) -> Lease:
        """Take or extend the lease at ``key`` for ``owner`` for ``ttl`` seconds.

        Safe between processes sharing the bank directory.

        Raises:
            InvalidKey: if ``key`` breaks the key rules.
            LeaseHeld: if another owner holds an unexpired lease.
            BankError: if the lease record cannot be read or written.
        """
        validate_key(key)
        return await self._in_thread(key, "take the lease", self._leases.acquire, key, owner, ttl)

    async def check_lease(self, key: str) -> Lease | None:
        """Return the unexpired lease at ``key``, or None if there is none.

        Raises:
            InvalidKey: if ``key`` breaks the key rules.
            BankError: if the lease record cannot be read.
        """
        validate_key(key)
        return await self._in_thread(key, "read the lease", self._leases.check, key)

    async def release_lease(self, key: str, owner: str) -> None:
        """Drop the lease if ``owner`` holds it; otherwise do nothing.

        Raises:
            InvalidKey: if ``key`` breaks the key rules.
            BankError: if the lease record cannot be read or removed.
        """
        validate_key(key)
        await self._in_thread(key, "release the lease", self._leases.release, key, owner)
