"""The ``bank`` fixture: every bank implementation, one contract suite.

To add a backend (S3, Swift), write an async factory below and add it to
``BANK_FACTORIES``; the factory may call ``pytest.skip`` when its service is not
configured (no endpoint in the environment), so the suite still runs elsewhere.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from banks.base import Bank
from banks.filesystem_bank import FilesystemBank
from banks.memory_bank import MemoryBank

BankFactory = Callable[[Path], Awaitable[Bank]]


async def memory_bank(tmp_path: Path) -> Bank:
    """A fresh in-memory bank."""
    return await MemoryBank.open({})


async def filesystem_bank(tmp_path: Path) -> Bank:
    """A fresh filesystem bank in the test's temporary directory."""
    return await FilesystemBank.open({"path": str(tmp_path / "bank")})


BANK_FACTORIES: dict[str, BankFactory] = {
    "memory": memory_bank,
    "filesystem": filesystem_bank,
}


@pytest.fixture(params=list(BANK_FACTORIES))
async def bank(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Bank]:
    """One empty bank of each implementation, closed after the test."""
    opened = await BANK_FACTORIES[request.param](tmp_path)
    try:
        yield opened
    finally:
        await opened.close()
