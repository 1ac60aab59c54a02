"""Leases on an object store without locks: records as objects, written conditionally.

A lease is one small object (msgspec JSON: key, owner, expires_at, nonce) in a namespace
the bank keeps apart from its objects. S3 and Swift have no locks, so taking a lease is
read-check-write made as safe as the store allows, in three layers:

1. Within one process, acquirers of one key take turns (an asyncio lock per key): the
   common race, many tasks of one worker, is then decided exactly.
2. Between processes, the write is conditional where the store can: a new lease is
   written only if no lease object exists (``If-None-Match: *``, S3 and Swift), and a
   lease is replaced only if it is still the version that was read (``If-Match: <etag>``,
   S3 where supported). A write refused by its condition means another acquirer got
   there first: read again and decide again.
3. Where the store cannot make a replacement conditional (Swift, Swift's s3api), the
   acquirer reads the lease back after writing it and wins only if it reads its own
   nonce. This narrows the race between two processes taking over the same *expired*
   lease to the time between one's write and the other's read-back; it does not close it.

Expired leases are taken over by the next acquirer; the store's own expiry
(``X-Delete-At`` in Swift) only collects records nobody renews.
"""

from __future__ import annotations

import asyncio
import secrets
import time
import weakref
from typing import Protocol

import msgspec

from banks.base import Lease
from banks.errors import BankError, LeaseHeld
from banks.keys import validate_key

ATTEMPTS = 5  # reads and conditional writes per acquire before giving up on a contended key


class LeaseRecord(msgspec.Struct, frozen=True):
    """One lease as stored: ``nonce`` tells this write from any other."""

    key: str
    owner: str
    expires_at: float
    nonce: str = ""

    def lease(self) -> Lease:
        return Lease(key=self.key, owner=self.owner, expires_at=self.expires_at)


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(LeaseRecord)


def encode_record(record: LeaseRecord) -> bytes:
    """The stored form of ``record``."""
    return _encoder.encode(record)


def decode_record(data: bytes, key: str) -> LeaseRecord | None:
    """The record in ``data``, or None if it is damaged or belongs to another key.

    A damaged record counts as no lease, so the next acquirer repairs it rather than
    nobody ever taking the lease again.
    """
    try:
        record = _decoder.decode(data)
    except msgspec.DecodeError:
        return None
    return record if record.key == key else None


class LeaseObjects(Protocol):
    """The four calls on lease objects a bank provides (each already retried)."""

    async def read(self, key: str) -> tuple[LeaseRecord, str] | None:
        """The record at ``key`` and a version token (etag), or None if there is none."""

    async def create(self, key: str, record: LeaseRecord) -> bool:
        """Write ``record`` only if no lease object exists; False if one does."""

    async def replace(self, key: str, record: LeaseRecord, version: str) -> bool:
        """Write ``record`` over the version read; False if it changed since.

        A store without conditional replacement writes unconditionally and returns True.
        """

    async def remove(self, key: str) -> None:
        """Delete the lease object; a missing one is not an error."""


class ObjectStoreLeases:
    """acquire / check / release over a bank's :class:`LeaseObjects`."""

    def __init__(self, objects: LeaseObjects, bank: str) -> None:
        self._objects = objects
        self._bank = bank
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def _lock(self, key: str) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock

    async def acquire(self, key: str, owner: str, ttl: float) -> Lease:
        """Take or extend the lease at ``key`` for ``owner`` for ``ttl`` seconds.

        Raises:
            InvalidKey: if ``key`` breaks the key rules.
            LeaseHeld: if another owner holds an unexpired lease.
            BankError: if the key stays contended for :data:`ATTEMPTS` rounds.
        """
        validate_key(key)
        async with self._lock(key):
            for _ in range(ATTEMPTS):
                current = await self._objects.read(key)
                _refuse_if_held(current, key, owner)
                record = LeaseRecord(key, owner, time.time() + ttl, secrets.token_hex(8))
                if current is None:
                    written = await self._objects.create(key, record)
                else:
                    written = await self._objects.replace(key, record, current[1])
                if not written:
                    continue  # another acquirer wrote in between: decide again
                seen = await self._objects.read(key)
                if seen is not None and seen[0].nonce == record.nonce:
                    return record.lease()
                _refuse_if_held(seen, key, owner)
        raise BankError(f"{self._bank}: lease {key!r} stayed contended for {ATTEMPTS} attempts")

    async def check(self, key: str) -> Lease | None:
        """The unexpired lease at ``key``, or None.

        Raises:
            InvalidKey: if ``key`` breaks the key rules.
        """
        validate_key(key)
        current = await self._objects.read(key)
        if current is None or current[0].expires_at <= time.time():
            return None
        return current[0].lease()

    async def release(self, key: str, owner: str) -> None:
        """Drop the lease if ``owner`` holds it (expired or not); otherwise do nothing.

        Raises:
            InvalidKey: if ``key`` breaks the key rules.
        """
        validate_key(key)
        async with self._lock(key):
            current = await self._objects.read(key)
            if current is not None and current[0].owner == owner:
                await self._objects.remove(key)


def _refuse_if_held(current: tuple[LeaseRecord, str] | None, key: str, owner: str) -> None:
    if current is None:
        return
    record = current[0]
    if record.owner != owner and record.expires_at > time.time():
        raise LeaseHeld(key, record.owner, record.expires_at)


class LeasesThroughRecords:
    """The Bank lease methods of an object-store bank, delegated to its ``_leases``.

    Mixed in before ``Bank`` by S3Bank and SwiftBank, which differ only in how a lease
    record is read and written (their ``LeaseObjects``).
    """

    _leases: ObjectStoreLeases

    async def acquire_lease(self, key: str, owner: str, ttl: float) -> Lease:
        """Take or extend the lease at ``key`` (see this module's docstring).

        Raises:
            InvalidKey: if ``key`` breaks the key rules.
            LeaseHeld: if another owner holds an unexpired lease.
        """
        return await self._leases.acquire(key, owner, ttl)

    async def check_lease(self, key: str) -> Lease | None:
        """Return the unexpired lease at ``key``, or None."""
        return await self._leases.check(key)

    async def release_lease(self, key: str, owner: str) -> None:
        """Drop the lease if ``owner`` holds it; otherwise do nothing."""
        await self._leases.release(key, owner)
