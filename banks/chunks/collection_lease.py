"""The lease ``/chunks/gc``: one garbage collection per bank, and protects held back by it.

A collection holds the lease from before it looks for running protects until its sweep
ends, renewing it every third of its ttl: a collector that dies lets go within one ttl,
not an hour. If a renewal fails, or the last one is older than the ttl (the process
stalled), the lease may be someone else's now and :meth:`CollectionLease.check` raises,
so the sweep stops before its next delete.

A protect calls :func:`wait_while_collecting` after taking its checkpoint lease and
before it writes a chunk. Each side takes its own lease, then looks for the other's: a
collection that started first makes the protect wait; a protect that started first is
seen by the collection, which then refuses (or waits) instead of marking.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import structlog

from banks.base import Bank
from banks.chunks.errors import ChunkStoreError
from banks.errors import BankError

log = structlog.get_logger(__name__)

GC_LEASE_KEY = "/chunks/gc"
GC_LEASE_TTL = 60.0
WAIT_POLL_INTERVAL = 0.5


class CollectionLeaseLost(ChunkStoreError):
    """The collection could not keep its lease; it stopped before deleting more."""


class CollectionRunning(ChunkStoreError):
    """A protect waited too long for a garbage collection of its bank to end."""


class CollectionLease:
    """The lease ``/chunks/gc`` as a collection holds it (see :func:`hold_collection_lease`)."""

    def __init__(self, bank: Bank, owner: str, ttl: float) -> None:
        self.bank = bank
        self.owner = owner
        self.ttl = ttl
        self._renewed_at = time.monotonic()
        self._lost: str | None = None

    def check(self) -> None:
        """Raise unless the lease is surely still ours.

        Raises:
            CollectionLeaseLost: a renewal failed, or none succeeded within the ttl.
        """
        if self._lost is None and time.monotonic() - self._renewed_at >= self.ttl:
            self._lost = f"not renewed for {self.ttl:g} s"
        if self._lost is not None:
            raise CollectionLeaseLost(
                f"bank {self.bank.name}: garbage collection lost its lease {GC_LEASE_KEY!r} "
                f"({self._lost}); stopped before deleting more")

    async def _keep(self) -> None:
        while self._lost is None:
            await asyncio.sleep(self.ttl / 3)
            try:
                await self.bank.renew_lease(GC_LEASE_KEY, self.owner, self.ttl)
            except BankError as error:
                self._lost = f"renewal failed: {error}"
                log.error("gc_lease_lost", bank=self.bank.name, error=str(error))
                return
            self._renewed_at = time.monotonic()


@asynccontextmanager
async def hold_collection_lease(bank: Bank, *,
                                ttl: float = GC_LEASE_TTL) -> AsyncIterator[CollectionLease]:
    """Take ``/chunks/gc`` for the block, renewing it, and release it at the end.

    Raises:
        LeaseHeld: another collection of this bank is running.
    """
    lease = CollectionLease(bank, f"chunk-gc-{uuid.uuid4()}", ttl)
    await bank.acquire_lease(GC_LEASE_KEY, lease.owner, ttl)
    keeper = asyncio.create_task(lease._keep(), name=f"gc-lease:{bank.name}")
    try:
        yield lease
    finally:
        keeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await keeper
        await bank.release_lease(GC_LEASE_KEY, lease.owner)


async def wait_while_collecting(bank: Bank, *, timeout: float, waiter: str,
                                poll_interval: float = WAIT_POLL_INTERVAL,
                                give_up: Callable[[], bool] = lambda: False) -> float:
    """Return once no garbage collection holds the bank's lease, or as soon as
    ``give_up()`` is true (the waiter was cancelled); the seconds waited.

    ``waiter`` names who waits, for the log and the error.

    Raises:
        CollectionRunning: the lease is still held after ``timeout`` seconds.
        BankError: the bank cannot be read.
    """
    started = time.monotonic()
    held = await bank.check_lease(GC_LEASE_KEY)
    if held is None:
        return 0.0
    log.info("waiting_for_garbage_collection", bank=bank.name, waiter=waiter,
             lease_owner=held.owner, timeout=timeout)
    while held is not None and not give_up():
        waited = time.monotonic() - started
        if waited >= timeout:
            raise CollectionRunning(
                f"bank {bank.name}: {waiter} waited {waited:.0f} s for the garbage "
                f"collection holding lease {GC_LEASE_KEY!r} (owner {held.owner!r}, until "
                f"{held.expires_at:.0f}); retry when it ends")
        await asyncio.sleep(min(poll_interval, max(timeout - waited, 0.0)))
        held = await bank.check_lease(GC_LEASE_KEY)
    waited = time.monotonic() - started
    log.info("garbage_collection_waited", bank=bank.name, waiter=waiter, seconds=waited)
    return waited
