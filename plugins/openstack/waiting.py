"""Waiting for a cloud resource to reach a state, as steps of a (async) generator activity.

``StatusWait.steps()`` is an async generator: the activity iterates it and yields at each
step, so the runtime sleeps ``poll_interval`` between steps and can close the activity on
cancel or timeout. Polls back off: after each poll that finds the resource still busy, the
wait skips one more step before the next poll, up to ``MAX_SKIPPED`` (a backup that takes
an hour is polled about every ``poll_interval * (MAX_SKIPPED + 1)`` seconds, a volume that
is ready in two seconds is seen at once). Past ``deadline`` the wait raises
``CloudWaitTimeout`` naming the resource and the state it was stuck in.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from typing import Generic, TypeVar

from plugins.openstack.errors import CloudNotFound, CloudResourceFailed, CloudWaitTimeout

_T = TypeVar("_T")
MAX_SKIPPED = 7


class StatusWait(Generic[_T]):
    """Poll ``fetch()`` until ``status_of(result)`` is in ``ready``.

    ``ready`` may include ``"deleted"``: a fetch that raises ``CloudNotFound`` then counts
    as reaching it (``result`` stays None).

    Raises (from ``steps``):
        CloudResourceFailed: the status became one of ``failed`` (with the fault, if any).
        CloudWaitTimeout: still not ready at ``deadline`` (``time.monotonic()`` seconds).
    """

    def __init__(
        self,
        *,
        fetch: Callable[[], Awaitable[_T]],
        status_of: Callable[[_T], str],
        ready: Collection[str],
        failed: Collection[str],
        service: str,
        what: str,
        resource_id: str,
        deadline: float,
        fault_of: Callable[[_T], str | None] | None = None,
    ) -> None:
        self._fetch = fetch
        self._status_of = status_of
        self._ready = {s.lower() for s in ready}
        self._failed = {s.lower() for s in failed}
        self._fault_of = fault_of
        self.service = service
        self.what = what
        self.resource_id = resource_id
        self.deadline = deadline
        self.result: _T | None = None
        self.status: str | None = None
        self.polls = 0

    @property
    def item(self) -> _T:
        """The last fetched resource (after a wait that ended ready and not deleted).

        Raises:
            RuntimeError: if nothing was fetched, a programming error.
        """
        if self.result is None:
            raise RuntimeError(f"{self.service} {self.what} {self.resource_id}: not fetched")
        return self.result

    async def poll(self) -> bool:
        """Fetch once; True when ready.

        Raises:
            CloudResourceFailed: if the resource is in a failed state.
        """
        self.polls += 1
        try:
            result = await self._fetch()
        except CloudNotFound:
            if "deleted" in self._ready:
                self.status, self.result = "deleted", None
                return True
            raise
        self.result = result
        self.status = (self._status_of(result) or "").lower()
        if self.status in self._ready:
            return True
        if self.status in self._failed:
            fault = self._fault_of(result) if self._fault_of is not None else None
            detail = f" ({fault})" if fault else ""
            raise CloudResourceFailed(
                self.service, self.what, self.resource_id, f"went to '{self.status}'{detail}"
            )
        return False

    async def steps(self) -> AsyncIterator[None]:
        """Poll with back-off, yielding between polls, until ready."""
        skipped = 0
        while not await self.poll():
            if time.monotonic() >= self.deadline:
                raise CloudWaitTimeout(
                    self.service,
                    self.what,
                    self.resource_id,
                    f"still '{self.status}' after {self.polls} polls; gave up at the deadline",
                )
            skipped = min(skipped + 1, MAX_SKIPPED)
            for _ in range(skipped):
                yield
                if time.monotonic() >= self.deadline:
                    break


__all__ = ["MAX_SKIPPED", "StatusWait"]
