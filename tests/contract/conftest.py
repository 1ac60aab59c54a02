"""The ``bank`` fixture: every bank implementation, one contract suite.

To add a backend, write an async factory below and add it to ``BANK_FACTORIES``. A
factory gets the test's temporary directory and its fixture request, to ask for a server
fixture (``request.getfixturevalue("swift_server")``): servers a test can start are
started, not skipped. The S3 and Swift banks each get a fresh bucket/container per test.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from banks.base import Bank
from banks.filesystem.bank import FilesystemBank
from banks.memory_bank import MemoryBank
from banks.s3.bank import S3Bank
from banks.swift.bank import SwiftBank
from tests.swift_server.server import SwiftEndpoint

BankFactory = Callable[[Path, pytest.FixtureRequest], Awaitable[Bank]]


async def memory_bank(tmp_path: Path, request: pytest.FixtureRequest) -> Bank:
    """A fresh in-memory bank."""
    return await MemoryBank.open({})


async def filesystem_bank(tmp_path: Path, request: pytest.FixtureRequest) -> Bank:
    """A fresh filesystem bank in the test's temporary directory."""
    return await FilesystemBank.open({"path": str(tmp_path / "bank")})


async def swift_bank(tmp_path: Path, request: pytest.FixtureRequest) -> Bank:
    """A fresh container in the session's Swift cluster, 1 MiB segments (so SLO is used)."""
    server: SwiftEndpoint = request.getfixturevalue("swift_server")
    return await SwiftBank.open(
        {
            "auth": "tempauth",
            "auth_url": server.auth_url,
            "user": server.user,
            "key": server.key,
            "container": f"contract-{uuid.uuid4().hex[:12]}",
            "segment_size": str(1 << 20),
        }
    )


async def s3_bank(tmp_path: Path, request: pytest.FixtureRequest) -> Bank:
    """A fresh bucket through the Swift cluster's s3api, 5 MiB parts (so multipart is used)."""
    server: SwiftEndpoint = request.getfixturevalue("swift_server")
    return await S3Bank.open(
        {
            "endpoint_url": server.s3_endpoint,
            "access_key": server.user,
            "secret_key": server.key,
            "bucket": f"contract-{uuid.uuid4().hex[:12]}",
            "part_size": str(5 << 20),
        }
    )


BANK_FACTORIES: dict[str, BankFactory] = {
    "memory": memory_bank,
    "filesystem": filesystem_bank,
    "swift": swift_bank,
    "s3": s3_bank,
}


@pytest.fixture(params=list(BANK_FACTORIES))
async def bank(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Bank]:
    """One empty bank of each implementation, closed after the test."""
    opened = await BANK_FACTORIES[request.param](tmp_path, request)
    try:
        yield opened
    finally:
        await opened.close()
