"""The filesystem bank's leases: one record file per key, changed under one flock.

Layout under the bank's ``leases`` directory::

    lock                the flock(2) lock taken around every lease change
    <sha256 of key>     one lease record (msgspec JSON: key, owner, expires_at)

Leases are safe between processes: every read-check-write of a lease record happens
while holding ``flock(LOCK_EX)`` on ``leases/lock``. Lease changes are rare (one per
checkpoint), so one lock for all leases costs nothing and, unlike one lock file per key,
never has to be deleted (deleting a lock file races with a process waiting on it).

``fcntl`` makes this POSIX-only.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import time
from pathlib import Path

import msgspec
import structlog

from banks.base import Lease
from banks.errors import LeaseHeld
from banks.filesystem.atomic import FILE_MODE, ensure_dir, replace_file
from banks.keys import validate_key

log = structlog.get_logger(__name__)


class LeaseRecord(msgspec.Struct):
    """One lease as stored in its record file."""

    key: str
    owner: str
    expires_at: float


_lease_encoder = msgspec.json.Encoder()
_lease_decoder = msgspec.json.Decoder(LeaseRecord)


class FilesystemLeases:
    """The lease records in one ``leases`` directory.

    Every method blocks (on the filesystem and the flock); the bank calls them in a
    worker thread and maps their OSErrors to bank errors.
    """

    def __init__(self, directory: Path, label: str) -> None:
        """Keep records in ``directory``; ``label`` names the bank in log events."""
        self.directory = directory
        self.label = label

    def _path(self, key: str) -> Path:
        # A hash, not the key: keys run to 900 characters and a file name to 255.
        return self.directory / hashlib.sha256(validate_key(key).encode()).hexdigest()

    def _read(self, path: Path, key: str) -> LeaseRecord | None:
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
            log.warning("bank_lease_record_corrupt", bank=self.label, key=key)
            return None
        return record if record.key == key else None

    def _locked(self) -> int:
        """Open and exclusively flock the lease lock file; return its descriptor."""
        lock_path = self.directory / "lock"
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, FILE_MODE)
        except FileNotFoundError:
            ensure_dir(self.directory)
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, FILE_MODE)
        try:
            # Blocks this worker thread only; the lock is held for one small read and
            # write, so the wait is short. Each call has its own descriptor, so threads
            # of one process exclude each other too.
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def acquire(self, key: str, owner: str, ttl: float) -> Lease:
        """Take or extend the lease at ``key`` for ``owner`` for ``ttl`` seconds.

        Raises:
            InvalidKey: if ``key`` breaks the key rules.
            LeaseHeld: if another owner holds an unexpired lease.
            OSError: if the lease record cannot be read or written.
        """
        path = self._path(key)
        lock = self._locked()
        try:
            now = time.time()
            current = self._read(path, key)
            if current is not None and current.owner != owner and current.expires_at > now:
                raise LeaseHeld(key, current.owner, current.expires_at)
            record = LeaseRecord(key=key, owner=owner, expires_at=now + ttl)
            replace_file(path, _lease_encoder.encode(record))
        finally:
            os.close(lock)  # closing the descriptor releases the flock
        return Lease(key=key, owner=owner, expires_at=record.expires_at)

    def check(self, key: str) -> Lease | None:
        """The unexpired lease at ``key``, or None if there is none.

        Raises:
            InvalidKey: if ``key`` breaks the key rules.
            OSError: if the lease record cannot be read.
        """
        # No lock: records are replaced atomically, so a reader sees a whole one.
        record = self._read(self._path(key), key)
        if record is None or record.expires_at <= time.time():
            return None
        return Lease(key=key, owner=record.owner, expires_at=record.expires_at)

    def release(self, key: str, owner: str) -> None:
        """Drop the lease if ``owner`` holds it; otherwise do nothing.

        Raises:
            InvalidKey: if ``key`` breaks the key rules.
            OSError: if the lease record cannot be read or removed.
        """
        path = self._path(key)
        lock = self._locked()
        try:
            current = self._read(path, key)
            if current is not None and current.owner == owner:
                os.unlink(path)
        finally:
            os.close(lock)
