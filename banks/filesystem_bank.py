"""The embedded default bank: objects as files in a local directory.

Layout under the bank root::

    <root>/objects/<key path>~obj     one file per object (see "Object files")
    <root>/objects/<dirs>/~tmp-<hex>  a write in progress; never listed, removed on failure
    <root>/leases/lock                the flock(2) lock taken around every lease change
    <root>/leases/<sha256 of key>     one lease record (msgspec JSON: key, owner, expires_at)

Key to path: the key ``/checkpoints/abc/index`` is the file
``objects/checkpoints/abc/index~obj``. Every segment but the last is a directory with the
segment's own name; the last gets the suffix ``~obj``. ``~`` cannot occur in a key, so
this is what lets ``/a`` and ``/a/b`` both exist (a file ``a~obj`` beside a directory
``a``), and what tells objects from temp files and stray files when listing.

Object files: one file holds metadata and data, so that one ``os.replace`` publishes
both at once (a sidecar would need two renames, and a reader could pair new data with
old metadata)::

    b"SBX1"                 magic and format version
    4 bytes, big-endian     length N of the header
    N bytes                 msgpack header {"metadata": {str: str}}
    the rest                the object's bytes

``head`` reads only the header; the size is the file size less the header.

Writes go to a temp file in the object's own directory, are fsynced, renamed over the
object with ``os.replace`` and the directory is fsynced, so a reader or a crash sees the
old object or the new one, never a part.

Listing: a directory walk is not key order (``/a-c`` sorts before ``/a/b`` because ``-``
is below ``/``). Each directory is read once, its entries are sorted by the key text they
stand for (an object ``name``, a directory ``name/``), and the walk goes depth first in
that order, which yields keys in ascending order. The walk starts at the directory of the
prefix's last ``/`` and skips subtrees that hold no key after the marker, so paging
through a large bank reads only the directories along the marker's path.

Leases are safe between processes: every read-check-write of a lease record happens
while holding ``flock(LOCK_EX)`` on ``leases/lock``. Lease changes are rare (one per
checkpoint), so one lock for all leases costs nothing and, unlike one lock file per key,
never has to be deleted (deleting a lock file races with a process waiting on it).

Limits: the filesystem must be case-sensitive (``/A`` and ``/a`` are two keys); a key
segment may be at most :data:`MAX_SEGMENT_LENGTH` characters; a temp file left by a
crash stays on disk (it is never listed) until removed by hand. ``fcntl`` makes this
bank POSIX-only.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import errno
import fcntl
import hashlib
import os
import secrets
import struct
import threading
import time
from collections.abc import AsyncIterable, AsyncIterator, Iterator, Mapping
from pathlib import Path

import msgspec
import platformdirs
import structlog

from banks.base import Bank, Lease, ObjectInfo
from banks.errors import (
    BankError,
    BankFull,
    BankUnavailable,
    InvalidKey,
    LeaseHeld,
    ObjectNotFound,
)
from banks.keys import validate_key, validate_prefix

log = structlog.get_logger(__name__)

ENV_PATH = "STRONGBOX_BANK_PATH"
OBJECT_SUFFIX = "~obj"
TEMP_PREFIX = "~tmp-"
# NAME_MAX is 255 bytes on every common filesystem; leave room for the suffix.
MAX_SEGMENT_LENGTH = 255 - len(OBJECT_SUFFIX)

_MAGIC = b"SBX1"
_HEADER_LENGTH = struct.Struct(">I")
_PREAMBLE = len(_MAGIC) + _HEADER_LENGTH.size
# A header is a few metadata strings; a bigger length means a corrupt file, not a read.
_MAX_HEADER = 1 << 20
# put_stream gathers small chunks up to this size, so a stream of tiny chunks costs one
# thread hop per MiB rather than one per chunk, and memory stays bounded.
_WRITE_BATCH = 1 << 20
# A concurrent delete may prune the directory between our mkdir and our open; retry.
_CREATE_ATTEMPTS = 5
_FILE_MODE = 0o600  # backups hold other people's data: readable by the bank's user only
_DIR_MODE = 0o700

_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
# Errors that a retry may cure (a network filesystem coming back, a busy device).
_TRANSIENT_ERRNOS = frozenset(
    {errno.EIO, errno.EAGAIN, errno.EBUSY, errno.ETIMEDOUT, errno.ESTALE, errno.ENOTCONN,
     errno.EHOSTDOWN, errno.EHOSTUNREACH, errno.ENETDOWN, errno.ENETUNREACH}
)


class _Header(msgspec.Struct):
    metadata: dict[str, str] = msgspec.field(default_factory=dict)


class _LeaseRecord(msgspec.Struct):
    key: str
    owner: str
    expires_at: float


_header_encoder = msgspec.msgpack.Encoder()
_header_decoder = msgspec.msgpack.Decoder(_Header)
_lease_encoder = msgspec.json.Encoder()
_lease_decoder = msgspec.json.Decoder(_LeaseRecord)


class _CorruptObject(Exception):
    """An object file without a valid header (internal; mapped to BankError)."""


def _write_all(fd: int, data: bytes | memoryview) -> None:
    """Write every byte of ``data``; ``os.write`` may write less than asked."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _fsync_dir(directory: Path) -> None:
    """Make a rename or unlink in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _ensure_dir(directory: Path) -> None:
    """Create ``directory`` and missing parents, fsyncing each parent that gained one.

    ``os.makedirs`` does not fsync, so after a crash a new directory (and the object
    renamed into it) could vanish although the write had returned.
    """
    missing: list[Path] = []
    current = directory
    while not current.is_dir():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for path in reversed(missing):
        try:
            os.mkdir(path, _DIR_MODE)
        except FileExistsError:
            if not path.is_dir():
                raise NotADirectoryError(errno.ENOTDIR, "not a directory", str(path)) from None
            continue
        _fsync_dir(path.parent)


def _read_header(fd: int) -> tuple[_Header, int]:
    """Read the header at the start of the open file ``fd``; return it and its end offset.

    Raises:
        _CorruptObject: if the file does not start with a valid header.
    """
    preamble = os.pread(fd, _PREAMBLE, 0)
    if len(preamble) < _PREAMBLE or not preamble.startswith(_MAGIC):
        raise _CorruptObject("no object header")
    (length,) = _HEADER_LENGTH.unpack_from(preamble, len(_MAGIC))
    if length > _MAX_HEADER:
        raise _CorruptObject(f"header length {length} is implausible")
    raw = os.pread(fd, length, _PREAMBLE)
    if len(raw) < length:
        raise _CorruptObject("truncated object header")
    try:
        header = _header_decoder.decode(raw)
    except msgspec.DecodeError as err:
        raise _CorruptObject(f"unreadable object header: {err}") from None
    return header, _PREAMBLE + length


def _resolve_root(config: Mapping[str, str]) -> tuple[Path, str]:
    """The bank root from ``config``, the environment or the user data dir, and its source.

    Runs in a thread: ``expanduser`` may read the password database.
    """
    if config.get("path"):
        return Path(config["path"]).expanduser(), "option 'path'"
    if os.environ.get(ENV_PATH):
        return Path(os.environ[ENV_PATH]).expanduser(), f"option 'path' (from ${ENV_PATH})"
    return Path(platformdirs.user_data_dir("strongbox")) / "bank", "option 'path' (default)"


def _encode_header(metadata: Mapping[str, str] | None) -> bytes:
    """The preamble and header of an object file.

    Raises:
        TypeError: if a metadata name or value is not a str; checked here because
            such a header would encode but never decode, making the object unreadable.
    """
    for name, value in (metadata or {}).items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise TypeError(f"bank metadata must map str to str, not {name!r}: {value!r}")
    raw = _header_encoder.encode(_Header(metadata=dict(metadata or {})))
    return _MAGIC + _HEADER_LENGTH.pack(len(raw)) + raw


class _PendingFile:
    """The temp file of a streamed put, written by one worker thread at a time.

    When the task is cancelled while a write runs in its thread, the thread goes on;
    the lock makes :meth:`discard` wait for it, so the descriptor is never closed under
    a running write (the number could be reused by another file, which the write would
    then corrupt).
    """

    def __init__(self, fd: int, temp: Path) -> None:
        self.fd = fd
        self.temp = temp
        self._lock = threading.Lock()

    def write(self, batch: list[bytes]) -> None:
        with self._lock:
            for data in batch:
                _write_all(self.fd, data)

    def discard(self) -> None:
        with self._lock:
            FilesystemBank._discard(self.fd, self.temp)


class FilesystemBank(Bank):
    """Objects as files under a root directory; see the module docstring for the layout."""

    name = "filesystem"

    def __init__(self, root: Path) -> None:
        """Use ``root`` as the bank directory; no I/O here (:meth:`open` creates it)."""
        self.root = Path(root)
        self._objects = self.root / "objects"
        self._leases = self.root / "leases"

    def __repr__(self) -> str:
        return f"FilesystemBank(root={str(self.root)!r})"

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
        _ensure_dir(self._objects)
        _ensure_dir(self._leases)

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

    def _corrupt(self, key: str, err: _CorruptObject) -> BankError:
        return BankError(f"filesystem bank {str(self.root)!r}: object {key!r} is corrupt: {err}")

    # -- keys and paths -------------------------------------------------------------

    def _path(self, key: str) -> Path:
        """The object file of ``key``.

        Raises:
            InvalidKey: if the key breaks the key rules or a segment is too long.
        """
        validate_key(key)
        segments = key[1:].split("/")
        for segment in segments:
            if len(segment) > MAX_SEGMENT_LENGTH:
                raise InvalidKey(
                    key, f"a segment is longer than {MAX_SEGMENT_LENGTH} characters"
                )
        return self._objects.joinpath(*segments[:-1], segments[-1] + OBJECT_SUFFIX)

    # -- writes ---------------------------------------------------------------------

    def _create_temp(self, directory: Path) -> tuple[int, Path]:
        """Create a fresh temp file in ``directory`` (making it if needed)."""
        for attempt in range(_CREATE_ATTEMPTS):
            temp = directory / f"{TEMP_PREFIX}{secrets.token_hex(8)}"
            try:
                fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _FILE_MODE)
            except FileNotFoundError:
                if attempt == _CREATE_ATTEMPTS - 1:
                    raise
                _ensure_dir(directory)
                continue
            return fd, temp
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    @staticmethod
    def _discard(fd: int | None, temp: Path) -> None:
        """Close and remove a temp file after a failed write; never raises."""
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(temp)

    @staticmethod
    def _commit(fd: int, temp: Path, target: Path) -> None:
        """fsync and close ``fd``, rename ``temp`` over ``target``, fsync the directory.

        On failure the temp file is removed.
        """
        close_attempted = False
        try:
            os.fsync(fd)
            # A failed close still frees the descriptor; never close it twice.
            close_attempted = True
            os.close(fd)
            os.replace(temp, target)
        except BaseException:
            FilesystemBank._discard(None if close_attempted else fd, temp)
            raise
        _fsync_dir(target.parent)

    def _put_sync(self, target: Path, header: bytes, data: bytes) -> None:
        fd, temp = self._create_temp(target.parent)
        try:
            _write_all(fd, header)
            _write_all(fd, data)
        except BaseException:
            self._discard(fd, temp)
            raise
        self._commit(fd, temp, target)

    async def put(self, key: str, data: bytes, metadata: Mapping[str, str] | None = None) -> None:
        """Store ``data`` at ``key`` atomically, replacing any object there.

        Raises:
            InvalidKey: if ``key`` breaks the key rules.
            TypeError: if a metadata name or value is not a str.
            BankFull: if the filesystem is out of space or quota.
            BankError: for any other filesystem error (BankUnavailable if retryable).
        """
        target = self._path(key)
        header = _encode_header(metadata)
        try:
            await asyncio.to_thread(self._put_sync, target, header, data)
        except OSError as err:
            raise self._error(err, key, "write") from err

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
        target = self._path(key)
        header = _encode_header(metadata)
        try:
            fd, temp = await asyncio.to_thread(self._create_temp, target.parent)
        except OSError as err:
            raise self._error(err, key, "write") from err
        pending_file = _PendingFile(fd, temp)
        total = 0
        pending: builtins.list[bytes] = [header]
        pending_size = len(header)
        try:
            async for chunk in chunks:
                # Copy a bytearray or memoryview: the producer may reuse its buffer while
                # the chunk waits in ``pending``.
                data = chunk if isinstance(chunk, bytes) else bytes(chunk)
                total += len(data)
                pending.append(data)
                pending_size += len(data)
                if pending_size >= _WRITE_BATCH:
                    batch, pending, pending_size = pending, [], 0
                    await self._write_batch(pending_file, batch, key)
            await self._write_batch(pending_file, pending, key)
        except BaseException:
            # Whatever failed (the producer, a write, a cancellation), no object may
            # appear. The thread runs to the end even if this await is cancelled again,
            # so the temp file is always removed. The producer's own exceptions pass
            # through unchanged: an OSError reading its source is not a bank error.
            await asyncio.to_thread(pending_file.discard)
            raise
        try:
            await asyncio.to_thread(self._commit, fd, temp, target)
        except OSError as err:
            raise self._error(err, key, "write") from err
        return total

    async def _write_batch(
        self, pending_file: _PendingFile, batch: builtins.list[bytes], key: str
    ) -> None:
        """Write ``batch`` in one thread hop.

        Raises:
            BankFull: if the filesystem is out of space or quota.
            BankError: for any other filesystem error.
        """
        try:
            await asyncio.to_thread(pending_file.write, batch)
        except OSError as err:
            raise self._error(err, key, "write") from err

    # -- reads ----------------------------------------------------------------------

    def _get_sync(self, path: Path) -> bytes:
        with open(os.open(path, os.O_RDONLY), "rb", buffering=0) as file:
            _, offset = _read_header(file.fileno())
            file.seek(offset)
            return file.read()

    async def get(self, key: str) -> bytes:
        """Return the whole object.

        Raises:
            InvalidKey: if ``key`` breaks the key rules.
            ObjectNotFound: if there is no object at ``key``.
            BankError: if the object file is corrupt or cannot be read.
        """
        path = self._path(key)
        try:
            return await asyncio.to_thread(self._get_sync, path)
        except (FileNotFoundError, NotADirectoryError):
            raise ObjectNotFound(key, self._label()) from None
        except _CorruptObject as err:
            raise self._corrupt(key, err) from None
        except OSError as err:
            raise self._error(err, key, "read") from err

    def _open_for_stream(self, path: Path) -> tuple[int, int]:
        fd = os.open(path, os.O_RDONLY)
        try:
            _, offset = _read_header(fd)
        except BaseException:
            os.close(fd)
            raise
        return fd, offset

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
        path = self._path(key)
        try:
            fd, offset = await asyncio.to_thread(self._open_for_stream, path)
        except (FileNotFoundError, NotADirectoryError):
            raise ObjectNotFound(key, self._label()) from None
        except _CorruptObject as err:
            raise self._corrupt(key, err) from None
        except OSError as err:
            raise self._error(err, key, "read") from err
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

    def _head_sync(self, path: Path) -> tuple[_Header, int, float]:
        fd = os.open(path, os.O_RDONLY)
        try:
            header, offset = _read_header(fd)
            stat = os.fstat(fd)
        finally:
            os.close(fd)
        return header, stat.st_size - offset, stat.st_mtime

    async def head(self, key: str) -> ObjectInfo:
        """Return size and metadata of the object without reading its data.

        Raises:
            InvalidKey: if ``key`` breaks the key rules.
            ObjectNotFound: if there is no object at ``key``.
            BankError: if the object file is corrupt or cannot be read.
        """
        path = self._path(key)
        try:
            header, size, modified = await asyncio.to_thread(self._head_sync, path)
        except (FileNotFoundError, NotADirectoryError):
            raise ObjectNotFound(key, self._label()) from None
        except _CorruptObject as err:
            raise self._corrupt(key, err) from None
        except OSError as err:
            raise self._error(err, key, "read") from err
        return ObjectInfo(key=key, size=size, metadata=header.metadata, modified_at=modified)

    # -- listing --------------------------------------------------------------------

    @staticmethod
    def _entries(
        directory: str, key_prefix: str, start: str, marker: str | None
    ) -> builtins.list[tuple[str, bool, str]]:
        """The objects and subdirectories of ``directory`` that may hold keys after ``marker``.

        Only names starting with ``start`` count. Each entry is ``(sort text, is directory,
        path)``, the sort text being the object's key or the directory's key prefix ending
        in ``/``; sorted by it, so that walking them depth first yields keys in ascending
        order. Entries wholly at or before ``marker`` are dropped here, so that paging
        through a big directory sorts only what is left of it.
        """
        found: builtins.list[tuple[str, bool, str]] = []
        try:
            with os.scandir(directory) as scan:
                for entry in scan:
                    name = entry.name
                    if not name.startswith(start) or name.startswith(TEMP_PREFIX):
                        continue
                    if name.endswith(OBJECT_SUFFIX):
                        key = key_prefix + name[: -len(OBJECT_SUFFIX)]
                        if marker is None or key > marker:
                            found.append((key, False, entry.path))
                    elif "~" not in name and entry.is_dir(follow_symlinks=False):
                        below = key_prefix + name + "/"
                        # Every key below starts with ``below``; when ``marker`` is past
                        # ``below`` without starting with it, all of them are before it.
                        if marker is None or marker < below or marker.startswith(below):
                            found.append((below, True, entry.path))
        except (FileNotFoundError, NotADirectoryError):
            # Not there (or pruned by a concurrent delete): it holds no keys.
            return []
        found.sort()
        return found

    def _walk(self, prefix: str, marker: str | None) -> Iterator[str]:
        """Yield keys under ``prefix``, ascending, strictly after ``marker``."""
        parent, _, start = prefix.rpartition("/")
        directory = self._objects.joinpath(*parent[1:].split("/")) if parent else self._objects
        stack = [iter(self._entries(str(directory), parent + "/", start, marker))]
        while stack:
            entry = next(stack[-1], None)
            if entry is None:
                stack.pop()
                continue
            text, is_dir, path = entry
            if is_dir:
                stack.append(iter(self._entries(path, text, "", marker)))
            else:
                yield text

    def _list_sync(self, prefix: str, marker: str | None, limit: int | None) -> builtins.list[str]:
        found: builtins.list[str] = []
        if limit is not None and limit <= 0:
            return found
        for key in self._walk(prefix, marker):
            found.append(key)
            if limit is not None and len(found) >= limit:
                break
        return found

    async def list(self, prefix: str = "/", marker: str | None = None,
                   limit: int | None = None) -> builtins.list[str]:
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
        try:
            return await asyncio.to_thread(self._list_sync, prefix, marker, limit)
        except OSError as err:
            raise self._error(err, prefix, "list") from err

    # -- delete ---------------------------------------------------------------------

    def _delete_sync(self, path: Path) -> None:
        try:
            os.unlink(path)
        except (FileNotFoundError, NotADirectoryError):
            return
        # Prune directories the delete left empty, so that deleted checkpoints do not
        # leave a tree of empty directories; stop at the first one that is not empty.
        directory = path.parent
        while directory != self._objects:
            try:
                os.rmdir(directory)
            except OSError:
                break
            directory = directory.parent
        try:
            _fsync_dir(directory)
        except OSError:
            # The unlink is done; durability of the directory entry is best effort.
            log.warning("bank_delete_fsync_failed", bank=self._label(), directory=str(directory))

    async def delete(self, key: str) -> None:
        """Remove the object at ``key`` and prune its empty parent directories.

        A missing object is not an error.

        Raises:
            InvalidKey: if ``key`` breaks the key rules.
            BankError: if the file cannot be removed.
        """
        path = self._path(key)
        try:
            await asyncio.to_thread(self._delete_sync, path)
        except OSError as err:
            raise self._error(err, key, "delete") from err

    # -- leases ---------------------------------------------------------------------

    def _lease_path(self, key: str) -> Path:
        # A hash, not the key: keys run to 900 characters and a file name to 255.
        return self._leases / hashlib.sha256(validate_key(key).encode()).hexdigest()

    def _read_lease(self, path: Path, key: str) -> _LeaseRecord | None:
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            record = _lease_decoder.decode(raw)
        except msgspec.DecodeError:
            # Records are replaced atomically, so this is damage, not a half write;
            # treating it as expired lets the next owner repair it instead of no one
            # ever being able to take the lease again.
            log.warning("bank_lease_record_corrupt", bank=self._label(), key=key)
            return None
        return record if record.key == key else None

    def _write_lease(self, path: Path, record: _LeaseRecord) -> None:
        fd, temp = self._create_temp(path.parent)
        try:
            _write_all(fd, _lease_encoder.encode(record))
        except BaseException:
            self._discard(fd, temp)
            raise
        self._commit(fd, temp, path)

    def _locked(self) -> int:
        """Open and exclusively flock the lease lock file; return its descriptor."""
        lock_path = self._leases / "lock"
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, _FILE_MODE)
        except FileNotFoundError:
            _ensure_dir(self._leases)
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, _FILE_MODE)
        try:
            # Blocks this worker thread only; the lock is held for one small read and
            # write, so the wait is short. Each call has its own descriptor, so threads
            # of one process exclude each other too.
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _acquire_sync(self, key: str, owner: str, ttl: float) -> Lease:
        path = self._lease_path(key)
        lock = self._locked()
        try:
            now = time.time()
            current = self._read_lease(path, key)
            if current is not None and current.owner != owner and current.expires_at > now:
                raise LeaseHeld(key, current.owner, current.expires_at)
            record = _LeaseRecord(key=key, owner=owner, expires_at=now + ttl)
            self._write_lease(path, record)
        finally:
            os.close(lock)  # closing the descriptor releases the flock
        return Lease(key=key, owner=owner, expires_at=record.expires_at)

    async def acquire_lease(self, key: str, owner: str, ttl: float) -> Lease:
        """Take or extend the lease at ``key`` for ``owner`` for ``ttl`` seconds.

        Safe between processes sharing the bank directory.

        Raises:
            InvalidKey: if ``key`` breaks the key rules.
            LeaseHeld: if another owner holds an unexpired lease.
            BankError: if the lease record cannot be read or written.
        """
        validate_key(key)
        try:
            return await asyncio.to_thread(self._acquire_sync, key, owner, ttl)
        except OSError as err:
            raise self._error(err, key, "take the lease") from err

    def _check_sync(self, key: str) -> Lease | None:
        # No lock: records are replaced atomically, so a reader sees a whole one.
        record = self._read_lease(self._lease_path(key), key)
        if record is None or record.expires_at <= time.time():
            return None
        return Lease(key=key, owner=record.owner, expires_at=record.expires_at)

    async def check_lease(self, key: str) -> Lease | None:
        """Return the unexpired lease at ``key``, or None if there is none.

        Raises:
            InvalidKey: if ``key`` breaks the key rules.
            BankError: if the lease record cannot be read.
        """
        validate_key(key)
        try:
            return await asyncio.to_thread(self._check_sync, key)
        except OSError as err:
            raise self._error(err, key, "read the lease") from err

    def _release_sync(self, key: str, owner: str) -> None:
        path = self._lease_path(key)
        lock = self._locked()
        try:
            current = self._read_lease(path, key)
            if current is not None and current.owner == owner:
                os.unlink(path)
        finally:
            os.close(lock)

    async def release_lease(self, key: str, owner: str) -> None:
        """Drop the lease if ``owner`` holds it; otherwise do nothing.

        Raises:
            InvalidKey: if ``key`` breaks the key rules.
            BankError: if the lease record cannot be read or removed.
        """
        validate_key(key)
        try:
            await asyncio.to_thread(self._release_sync, key, owner)
        except OSError as err:
            raise self._error(err, key, "release the lease") from err
