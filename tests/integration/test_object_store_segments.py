"""What large objects leave behind in the store: segments and multipart uploads.

Swift keeps the segments of a large object in ``<container>_segments``; S3 keeps the
parts of an unfinished multipart upload. Neither may outlive a failed stream, and a
Swift delete or replacement takes the old segments with it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from banks.errors import ObjectNotFound
from banks.s3.bank import S3Bank
from banks.swift.bank import SwiftBank
from tests.integration.object_store_banks import bank_options, open_bank
from tests.swift_server.server import SwiftEndpoint

MIB = 1 << 20


async def stream(parts: int, part_size: int, fail: bool = False) -> AsyncIterator[bytes]:
    for index in range(parts):
        yield bytes([index]) * part_size
    if fail:
        raise RuntimeError("the source broke after the parts")


async def segments(bank: SwiftBank) -> list[str]:
    client = bank.client
    response = await bank.call(
        "list",
        "",
        client.request,
        "GET",
        client.url(bank.segment_container),
        operation="list",
        key="",
        params={"format": "json"},
    )
    return [] if response.status_code == 204 else [entry["name"] for entry in response.json()]


async def open_swift(server: SwiftEndpoint) -> SwiftBank:
    bank = await open_bank("swift", {**bank_options("swift", server), "segment_size": str(MIB)})
    assert isinstance(bank, SwiftBank)
    return bank


async def test_a_failed_swift_stream_leaves_no_object_and_no_segments(
    swift_server: SwiftEndpoint,
) -> None:
    bank = await open_swift(swift_server)
    try:
        with pytest.raises(RuntimeError, match="source broke"):
            await bank.put_stream("/large/failed", stream(3, MIB, fail=True))

        with pytest.raises(ObjectNotFound):
            await bank.head("/large/failed")
        assert await segments(bank) == []
    finally:
        await bank.close()


async def test_replacing_and_deleting_a_large_swift_object_removes_its_segments(
    swift_server: SwiftEndpoint,
) -> None:
    bank = await open_swift(swift_server)
    try:
        await bank.put_stream("/large/object", stream(3, MIB))
        first = await segments(bank)
        assert len(first) == 3
        # a large object below it keeps its own segments throughout
        await bank.put_stream("/large/object/below", stream(2, MIB))

        await bank.put_stream("/large/object", stream(2, MIB))  # replaced by a large one
        second = await segments(bank)
        assert not set(first) & set(second)
        assert len(second) == 4

        await bank.delete("/large/object")
        remaining = await segments(bank)
        assert len(remaining) == 2
        assert all(name.startswith("objects/large/object/below~") for name in remaining)
        assert (await bank.head("/large/object/below")).size == 2 * MIB
    finally:
        await bank.close()


async def test_a_failed_s3_stream_aborts_its_multipart_upload(
    swift_server: SwiftEndpoint,
) -> None:
    bank = await open_bank("s3", {**bank_options("s3", swift_server), "part_size": str(5 * MIB)})
    assert isinstance(bank, S3Bank)
    try:
        with pytest.raises(RuntimeError, match="source broke"):
            await bank.put_stream("/large/failed", stream(3, 5 * MIB, fail=True))

        with pytest.raises(ObjectNotFound):
            await bank.head("/large/failed")
        uploads = await bank.call(
            "list uploads", "", bank.client.list_multipart_uploads, Bucket=bank.bucket
        )
        assert uploads.get("Uploads", []) == []
    finally:
        await bank.close()
