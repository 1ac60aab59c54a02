"""The filesystem bank with a gate: a test holds one kind of write half-way, on purpose.

Everything is stored by the real ``FilesystemBank``; the gate only decides *when*. A test
sets ``hold_puts_of`` or ``hold_deletes_of`` to a key prefix: the first such write waits
(``reached`` is set) until the test sets ``release``. ``lease_checks`` counts the
``check_lease`` calls per key, so a test can wait until a party has looked at a lease.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

from banks.base import Lease
from banks.filesystem.bank import FilesystemBank


class GatedBank(FilesystemBank):
    """A filesystem bank whose chosen writes wait for the test's word."""

    name = "gated"

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.hold_puts_of: str | None = None
        self.hold_deletes_of: str | None = None
        self.reached = asyncio.Event()
        self.release = asyncio.Event()
        self.lease_checks: Counter[str] = Counter()
        self._lease_checked = asyncio.Event()

    async def _gate(self, key: str, prefix: str | None) -> None:
        if prefix is not None and key.startswith(prefix) and not self.release.is_set():
            self.reached.set()
            await self.release.wait()

    async def put(self, key: str, data: bytes, metadata: Mapping[str, str] | None = None) -> None:
        await self._gate(key, self.hold_puts_of)
        await super().put(key, data, metadata)

    async def delete(self, key: str) -> None:
        await self._gate(key, self.hold_deletes_of)
        await super().delete(key)

    async def check_lease(self, key: str) -> Lease | None:
        self.lease_checks[key] += 1
        self._lease_checked.set()
        return await super().check_lease(key)

    async def lease_checked(self, key: str, more_than: int) -> None:
        """Return once ``check_lease(key)`` has been called more than ``more_than`` times."""
        while self.lease_checks[key] <= more_than:
            self._lease_checked.clear()
            await self._lease_checked.wait()
