"""Each step of a chaos trial runs under a bound of its own, so that a stuck client or a
lost event counts as a hung operation, with the step named, instead of stopping the suite.

Every request a trial publishes carries ``DEADLINE``: the workers cancel an operation still
running then, and the reaper ends one nobody cancels a lease period later. So the wait for
an operation's end is bounded by its deadline, the reaper's grace and round, and a margin;
the client's own steps (subscribe, publish, unsubscribe, undoing a fault) by the margin
alone, which outlasts a broker restart and the reconnect after it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

DEADLINE = 120.0  # seconds an operation may take, fault and recovery included
MARGIN = 30.0  # a broker restart (about ten seconds here), a reconnect, a busy machine


class StepHung(Exception):
    """A step of a trial did not finish within its bound."""

    def __init__(self, step: str, bound: float) -> None:
        super().__init__(f"{step} did not finish in {bound:g} s")
        self.step = step
        self.bound = bound


def wait_bound(lease_ttl: float) -> float:
    """The bound on waiting for an operation's end: its deadline, then the reaper's grace
    (a lease period) and its round (another), then the margin."""
    return DEADLINE + 2 * lease_ttl + MARGIN


@contextlib.asynccontextmanager
async def bounded(step: str, seconds: float) -> AsyncIterator[None]:
    """Run the body for at most ``seconds``.

    Raises:
        StepHung: naming ``step``, if the body was still running then.
    """
    scope = asyncio.timeout(seconds)
    try:
        async with scope:
            yield
    except TimeoutError as error:
        if scope.expired():
            raise StepHung(step, seconds) from error
        raise  # the body's own TimeoutError, not our bound
