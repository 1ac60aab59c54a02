"""S3 and Swift banks when the store fails: refused, 5xx, stalls, full.

Real HTTP throughout: the banks talk to the test Swift cluster (native API or s3api)
through :class:`~tests.helpers.fault_proxy.FaultProxy`, which answers some requests
itself. Each bank allows 3 attempts with millisecond backoff here.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest

from banks.base import Bank
from banks.errors import BankFull, BankUnavailable
from tests.helpers.fault_proxy import FaultProxy
from tests.integration.object_store_banks import FAST_RETRIES, bank_options, open_bank
from tests.swift_server.server import SwiftEndpoint

KINDS = ["swift", "s3"]


@pytest.fixture
async def proxy(swift_server: SwiftEndpoint) -> AsyncIterator[FaultProxy]:
    upstream = urlsplit(swift_server.s3_endpoint)
    async with FaultProxy(str(upstream.hostname), int(upstream.port or 80)) as running:
        yield running


async def proxied_bank(kind: str, server: SwiftEndpoint, proxy: FaultProxy, **extra: str) -> Bank:
    return await open_bank(kind, {**bank_options(kind, server, proxy.url), **FAST_RETRIES, **extra})


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("kind", KINDS)
async def test_an_unreachable_store_fails_open_after_bounded_retries_naming_the_bank(
    kind: str, swift_server: SwiftEndpoint
) -> None:
    options = {
        **bank_options(kind, swift_server, f"http://127.0.0.1:{closed_port()}"),
        **FAST_RETRIES,
    }

    with pytest.raises(BankUnavailable) as raised:
        await open_bank(kind, options)

    message = str(raised.value)
    assert f"{kind} bank" in message
    assert "after 3 attempts" in message
    assert options.get("container", options.get("bucket", "")) in message
    assert swift_server.key not in message


@pytest.mark.parametrize("kind", KINDS)
async def test_a_few_503s_are_retried_and_the_write_lands(
    kind: str, swift_server: SwiftEndpoint, proxy: FaultProxy
) -> None:
    bank = await proxied_bank(kind, swift_server, proxy)
    try:
        proxy.fail_next(2, 503, method="PUT")

        await bank.put("/retried/object", b"landed", {"m": "1"})

        assert [seen.action for seen in proxy.faults()] == [503, 503]
        assert await bank.get("/retried/object") == b"landed"
    finally:
        await bank.close()


@pytest.mark.parametrize("kind", KINDS)
async def test_persistent_503s_raise_bank_unavailable_naming_operation_and_key(
    kind: str, swift_server: SwiftEndpoint, proxy: FaultProxy
) -> None:
    bank = await proxied_bank(kind, swift_server, proxy)
    try:
        proxy.fail_next(100, 503, method="PUT")

        with pytest.raises(BankUnavailable) as raised:
            await bank.put("/never/lands", b"x")

        message = str(raised.value)
        assert "cannot write '/never/lands' after 3 attempts" in message
        assert "503" in message
        assert swift_server.key not in message
        assert len(proxy.faults()) == 3  # bounded: one per attempt, then the error
    finally:
        await bank.close()


@pytest.mark.parametrize("kind", KINDS)
async def test_a_stalled_store_times_out_into_bank_unavailable(
    kind: str, swift_server: SwiftEndpoint, proxy: FaultProxy
) -> None:
    bank = await proxied_bank(kind, swift_server, proxy, read_timeout="0.5")
    try:
        await bank.put("/slow/object", b"x")
        proxy.fail_next(100, "stall", method="GET")

        with pytest.raises(BankUnavailable) as raised:
            await bank.get("/slow/object")

        assert "cannot read '/slow/object' after 3 attempts" in str(raised.value)
        assert "imeout" in str(raised.value) or "timed out" in str(raised.value)
        assert len(proxy.faults()) == 3
    finally:
        await bank.close()


@pytest.mark.parametrize("kind", KINDS)
async def test_a_full_store_is_bank_full_at_once(
    kind: str, swift_server: SwiftEndpoint, proxy: FaultProxy
) -> None:
    bank = await proxied_bank(kind, swift_server, proxy)
    try:
        proxy.fail_next(100, 507, method="PUT")

        with pytest.raises(BankFull, match="/full/object"):
            await bank.put("/full/object", b"x")

        assert len(proxy.faults()) == 1  # a full store is not retried
    finally:
        await bank.close()


@pytest.mark.parametrize("kind", KINDS)
async def test_a_read_that_breaks_off_midway_is_bank_unavailable(
    kind: str, swift_server: SwiftEndpoint, proxy: FaultProxy
) -> None:
    bank = await proxied_bank(kind, swift_server, proxy)
    try:
        await bank.put("/broken/read", bytes(1 << 20))
        proxy.fail_next(1, "cut", method="GET")

        with pytest.raises(BankUnavailable, match="/broken/read"):
            async for _ in bank.get_stream("/broken/read", chunk_size=16 << 10):
                pass

        assert [seen.action for seen in proxy.faults()] == ["cut"]
        assert await bank.get("/broken/read") == bytes(1 << 20)  # the next read is whole
    finally:
        await bank.close()
