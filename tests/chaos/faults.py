"""The faults a chaos trial injects, and how each is applied and undone.

Faults: ``kill`` (SIGKILL a worker), ``stop`` (SIGSTOP a worker past the lease), ``broker``
(restart the broker node), ``cut`` (cut a worker's broker connection), ``bank_full``
(the bank's filesystem full until the operation ends), ``bank_503`` (the trial runs on the
object-store provider, whose store answers 503 for one to four seconds), ``hang`` (the
host's pre hangs past its timeout), ``raise`` (the disk's pre raises after the host was
quiesced).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable

from tests.chaos.cluster import LEASE_TTL, ChaosCluster

FAULTS = ("kill", "stop", "broker", "cut", "bank_full", "bank_503", "hang", "raise")
PROTECT_ONLY = {"hang", "raise", "bank_full"}  # faults of protect activities or bank writes
ARMED = {"hang", "raise"}  # armed before the operation starts, by the plugins themselves
# One to four seconds of 503s: the bank's retries (five attempts, about three seconds of
# pauses) ride out the short ones, the longer ones fail the activity they hit. Shorter than
# the lease, as a production store's hiccup is against its minute-long lease: a lease that
# cannot be renewed for longer gets its operation reaped while it still runs.
STORE_DOWN = (1.0, 4.0)

Undo = Callable[[], Awaitable[None]]


async def inject(cluster: ChaosCluster, fault: str, rng: random.Random) -> Undo | None:
    """Apply ``fault`` to a running operation; return what undoes it once the operation
    ended (None: nothing to undo).

    Raises:
        ValueError: for a fault this module does not know.
    """
    victim = rng.choice(sorted(cluster.workers))
    if fault == "kill":
        await cluster.kill(victim)
        await cluster.start_worker()
        return None
    if fault == "stop":
        cluster.pause(victim)
        await asyncio.sleep(LEASE_TTL * 1.3)  # the fault itself: stopped past the lease
        cluster.resume(victim)
        return None
    if fault == "broker":
        await asyncio.to_thread(cluster.node.restart, 1.0)
        return None
    if fault == "cut":
        cluster.proxies[victim].cut()
        return None
    if fault == "bank_full":
        await asyncio.to_thread(cluster.fill_bank)

        async def free() -> None:
            cluster.free_bank()
        return free
    if fault == "bank_503":
        store = cluster.object_store
        assert store is not None
        store.fail_for(rng.uniform(*STORE_DOWN))

        async def heal() -> None:
            store.heal()
        return heal
    raise ValueError(f"unknown fault {fault!r}")
