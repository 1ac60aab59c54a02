"""Leases between separate bank instances (no shared in-process lock), as between hosts."""

from __future__ import annotations

import asyncio

import pytest

from banks.errors import LeaseHeld
from tests.integration.object_store_banks import bank_options, open_bank
from tests.swift_server.server import SwiftEndpoint


@pytest.mark.parametrize("kind", ["swift", "s3"])
async def test_acquirers_on_separate_bank_instances_have_one_winner_for_a_new_lease(
    kind: str, swift_server: SwiftEndpoint
) -> None:
    options = bank_options(kind, swift_server)
    banks = [await open_bank(kind, options) for _ in range(6)]  # one container, six clients
    try:

        async def attempt(index: int) -> str | None:
            try:
                return (await banks[index].acquire_lease("/leases/new", f"host-{index}", 30)).owner
            except LeaseHeld:
                return None

        results = await asyncio.gather(*(attempt(index) for index in range(len(banks))))

        winners = [owner for owner in results if owner is not None]
        assert len(winners) == 1, results
        for bank in banks:
            held = await bank.check_lease("/leases/new")
            assert held is not None
            assert held.owner == winners[0]
    finally:
        for bank in banks:
            await bank.close()


@pytest.mark.parametrize("kind", ["swift", "s3"])
async def test_a_lease_held_by_one_instance_is_refused_to_another_and_freed_by_release(
    kind: str, swift_server: SwiftEndpoint
) -> None:
    options = bank_options(kind, swift_server)
    first, second = await open_bank(kind, options), await open_bank(kind, options)
    try:
        lease = await first.acquire_lease("/leases/shared", "host-a", 30)

        with pytest.raises(LeaseHeld) as raised:
            await second.acquire_lease("/leases/shared", "host-b", 30)
        assert raised.value.owner == "host-a"
        assert await second.check_lease("/leases/shared") == lease

        await second.release_lease("/leases/shared", "host-b")  # not its lease: no effect
        assert await first.check_lease("/leases/shared") == lease
        await first.release_lease("/leases/shared", "host-a")
        assert (await second.acquire_lease("/leases/shared", "host-b", 30)).owner == "host-b"
    finally:
        await first.close()
        await second.close()
