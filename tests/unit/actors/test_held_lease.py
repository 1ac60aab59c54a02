"""A lease held while work runs: others kept out, renewed before it lapses, released at
the end, and a release that fails is only logged (the lease lapses by itself)."""

from __future__ import annotations

import asyncio

import pytest

from actors.runtime.held_lease import hold_lease
from banks.errors import BankUnavailable, LeaseHeld
from banks.memory_bank import MemoryBank


async def test_a_held_lease_keeps_others_out_until_released() -> None:
    bank = MemoryBank()
    release = await hold_lease(bank, "/leases/k", "a", 30.0)
    with pytest.raises(LeaseHeld):
        await hold_lease(bank, "/leases/k", "b", 30.0)
    await release()
    assert await bank.check_lease("/leases/k") is None
    await (await hold_lease(bank, "/leases/k", "b", 30.0))()


async def test_a_held_lease_is_renewed_before_it_lapses() -> None:
    bank = MemoryBank()
    renewed = asyncio.Event()
    renew = bank.renew_lease

    async def renewing(key: str, owner: str, ttl: float):  # type: ignore[no-untyped-def]
        lease = await renew(key, owner, ttl)
        renewed.set()
        return lease

    bank.renew_lease = renewing  # type: ignore[method-assign]
    release = await hold_lease(bank, "/leases/k", "a", 0.3)  # renewed every 0.1 s
    first = await bank.check_lease("/leases/k")
    async with asyncio.timeout(5):
        await renewed.wait()
    now = await bank.check_lease("/leases/k")
    assert first is not None and now is not None and now.owner == "a"
    assert now.expires_at > first.expires_at
    await release()


async def test_a_release_that_fails_is_logged_not_raised() -> None:
    bank = MemoryBank()
    release = await hold_lease(bank, "/leases/k", "a", 30.0)

    async def unreachable(key: str, owner: str) -> None:
        raise BankUnavailable("bank down")

    bank.release_lease = unreachable  # type: ignore[method-assign]
    await release()  # the lease lapses by itself within its ttl
