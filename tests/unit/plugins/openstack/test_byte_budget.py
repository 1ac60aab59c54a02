"""The byte budget that bounds what a plugin's transfers hold at once on a worker."""

from __future__ import annotations

import asyncio

import pytest

from plugins.openstack.byte_budget import ByteBudget


async def test_transfers_wait_while_the_budget_is_spent_and_go_in_their_order() -> None:
    budget = ByteBudget(10)
    transcript: list[str] = []
    released = {name: asyncio.Event() for name in "abc"}

    async def transfer(name: str, size: int) -> None:
        await budget.acquire(size)
        transcript.append(f"{name} holds {size}")
        await released[name].wait()
        budget.release(size)
        transcript.append(f"{name} done")

    async with asyncio.TaskGroup() as group:
        for name, size in (("a", 6), ("b", 6), ("c", 3)):
            group.create_task(transfer(name, size))
            await asyncio.sleep(0)  # each asks in turn
        await asyncio.sleep(0)
        # c would fit beside a, but b asked first: no overtaking, so b is not starved
        assert transcript == ["a holds 6"]
        released["a"].set()
        released["b"].set()
        released["c"].set()
    assert transcript[:3] == ["a holds 6", "a done", "b holds 6"]
    assert transcript.index("b holds 6") < transcript.index("c holds 3")
    assert budget.in_use == 0 and budget.peak <= 10


async def test_a_request_larger_than_the_budget_runs_alone_and_a_cancelled_wait_takes_nothing(
) -> None:
    budget = ByteBudget(10)
    await budget.acquire(50)  # granted as the whole budget
    assert budget.in_use == 10
    waiting = asyncio.ensure_future(budget.acquire(1))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    budget.release(50)
    assert budget.in_use == 0
    await asyncio.wait_for(budget.acquire(10), timeout=1)
