"""A protect's checkpoint lease outlives a bank outage shorter than the lease: a renewal the
bank refused (after its own retries, seconds on an object store) is tried again soon, not
a third of the lease later, so no reaper ends a protect that is still running.

Found by the chaos suite's ``bank_503`` fault (a 5 s lease, the store down 1-4 s): a
renewal refused after about three seconds of retries, then a third of the lease's pause,
came after the lease had lapsed, and the reaper ended the running protect ``abandoned``.
"""

from __future__ import annotations

import asyncio
import time

from actors.runtime.held_lease import hold_lease
from actors.wire.requests import ProtectRequest
from banks.base import Lease
from banks.errors import BankUnavailable
from banks.memory_bank import MemoryBank
from plugins.checkpoint.graph import ResourceGraph
from tests.fakes import node

LEASE_TTL = 4.0  # renewed every 1.33 s; after a refused renewal, 0.33 s later
REFUSING = 1.9  # how long the refused renewal takes: an object store's retries


def refuse_second_renewal(bank: MemoryBank, prefix: str) -> tuple[asyncio.Future[float],
                                                                  list[float]]:
    """Make the bank refuse the second renewal of a lease under ``prefix``, slowly; the
    future is when the renewal after it came, the list when the lease would have lapsed."""
    renew = bank.renew_lease
    calls = 0
    lapsing: list[float] = []
    again: asyncio.Future[float] = asyncio.get_running_loop().create_future()

    async def renewing(key: str, owner: str, ttl: float) -> Lease:
        nonlocal calls
        if not key.startswith(prefix):
            return await renew(key, owner, ttl)
        calls += 1
        if calls == 2:  # the last renewal went through a third of the lease ago
            held = await bank.check_lease(key)
            assert held is not None
            lapsing.append(held.expires_at)
            await asyncio.sleep(REFUSING)
            raise BankUnavailable("bank down (after its retries)")
        if calls == 3 and not again.done():
            again.set_result(time.time())
        return await renew(key, owner, ttl)

    bank.renew_lease = renewing  # type: ignore[method-assign]
    return again, lapsing


async def test_a_protects_lease_renewal_the_bank_refused_is_tried_again_before_it_lapses(
        engine_for) -> None:
    async with engine_for("recording", lease_ttl=LEASE_TTL) as engine:
        bank = await engine.bank(engine.provider())
        again, lapsing = refuse_second_renewal(bank, "/leases/checkpoints/")
        operation = await engine.submit(
            ProtectRequest(resources=[],
                           parameters={"Test::Node#a": {"hang_at": "protect_parallel"}}),
            graph=ResourceGraph([node("a")], [[]]))
        async with asyncio.timeout(30):
            renewed_at = await again
        assert renewed_at < lapsing[0], "the lease lapsed before the next renewal"
        await engine.cancel(operation)
        assert (await engine.wait(operation, timeout=30)).status == "cancelled"


async def test_a_held_lease_renewal_the_bank_refused_is_tried_again_before_it_lapses() -> None:
    bank = MemoryBank()
    again, lapsing = refuse_second_renewal(bank, "/leases/k")
    release = await hold_lease(bank, "/leases/k", "a", LEASE_TTL)
    async with asyncio.timeout(30):
        renewed_at = await again
    await release()
    assert renewed_at < lapsing[0], "the lease lapsed before the next renewal"
