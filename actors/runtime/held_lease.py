"""A bank lease held for as long as some work runs: taken, renewed in the background every
third of its ttl (a twelfth after a renewal the bank refused), released at the end.

A short ttl renewed this way keeps others out while the holder lives, and lets them in
soon after it dies (SIGKILL, host loss), where a long ttl taken once would lock them out
for its whole length.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog

from banks.base import Bank

log = structlog.get_logger(__name__)

Release = Callable[[], Awaitable[None]]


async def hold_lease(bank: Bank, key: str, owner: str, ttl: float) -> Release:
    """Take the lease at ``key`` for ``owner`` and keep renewing it; return what releases it
    (a release that fails is logged: the lease lapses by itself within ``ttl``).

    Raises:
        LeaseHeld: if another owner holds it.
        BankError: if the bank could not take it.
    """
    await bank.acquire_lease(key, owner, ttl)
    renewing = (asyncio.create_task(_renew(bank, key, owner, ttl), name=f"lease {key}")
                if ttl > 0 else None)  # a lease that lapses at once is not renewed

    async def release() -> None:
        if renewing is not None:
            renewing.cancel()
            await asyncio.gather(renewing, return_exceptions=True)
        try:
            await bank.release_lease(key, owner)
        except Exception as error:
            log.warning("lease_release_failed", key=key, owner=owner, error=str(error))

    return release


def renewal_pause(ttl: float, *, renewed: bool) -> float:
    """Seconds until the next renewal of a lease of ``ttl``: a third of it after one that
    went through, a twelfth after one the bank refused. A refused renewal has used up the
    bank's own retries (seconds, on an object store) on top of the third already gone, so
    waiting another third can let the lease lapse during an outage shorter than it, and a
    reaper end a protect that is still running; tried again soon, the renewal gets through
    once the bank answers again."""
    return ttl / 3 if renewed else ttl / 12


async def _renew(bank: Bank, key: str, owner: str, ttl: float) -> None:
    renewed = True
    while True:
        await asyncio.sleep(renewal_pause(ttl, renewed=renewed))
        try:
            await bank.renew_lease(key, owner, ttl)
        except Exception as error:  # a lapse lets another in: what we hold is at-least-once
            log.warning("lease_renew_failed", key=key, owner=owner, error=str(error))
            renewed = False
        else:
            renewed = True
