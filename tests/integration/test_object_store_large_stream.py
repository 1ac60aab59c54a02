"""A 64 MiB put_stream into each object-store bank: segmented, bounded in memory, whole."""

from __future__ import annotations

import hashlib
import tracemalloc
from collections.abc import AsyncIterator

import pytest

from banks.base import Bank
from banks.s3.bank import S3Bank
from banks.swift.bank import SwiftBank
from tests.integration.object_store_banks import bank_options, open_bank
from tests.swift_server.server import SwiftEndpoint

SIZE = 64 << 20
PART = 8 << 20
CHUNK = 1 << 20


async def generated(digest: hashlib._Hash) -> AsyncIterator[bytes]:
    """SIZE bytes in CHUNK pieces, made on the fly (never all in memory), hashed as sent."""
    for index in range(SIZE // CHUNK):
        chunk = hashlib.sha256(index.to_bytes(4, "big")).digest() * (CHUNK // 32)
        digest.update(chunk)
        yield chunk


async def segment_count(bank: Bank, key: str) -> int:
    """How many segments (Swift SLO) or parts (S3 multipart) the object was stored as."""
    if isinstance(bank, SwiftBank):
        response = await bank.call(
            "read",
            key,
            bank.client.request,
            "GET",
            bank.object_url(key),
            operation="read",
            key=key,
            params={"multipart-manifest": "get"},
        )
        return len(response.json())
    assert isinstance(bank, S3Bank)
    head = await bank.call(
        "read", key, bank.client.head_object, Bucket=bank.bucket, Key=bank.object_name(key)
    )
    return int(head["ETag"].strip('"').rsplit("-", 1)[1])  # multipart ETags end in -<parts>


@pytest.mark.parametrize("kind", ["swift", "s3"])
async def test_a_64_mib_stream_is_stored_in_parts_with_bounded_memory_and_reads_back_whole(
    kind: str, swift_server: SwiftEndpoint
) -> None:
    size_option = "segment_size" if kind == "swift" else "part_size"
    bank = await open_bank(kind, {**bank_options(kind, swift_server), size_option: str(PART)})
    try:
        sent = hashlib.sha256()
        tracemalloc.start()
        try:
            written = await bank.put_stream("/large/object", generated(sent), {"k": "v"})
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()

        assert written == SIZE
        # The bank holds about one part (plus the part being sent), never the object.
        assert peak < 4 * PART, f"peak {peak >> 20} MiB for {SIZE >> 20} MiB streamed"
        assert await segment_count(bank, "/large/object") == SIZE // PART
        info = await bank.head("/large/object")
        assert (info.size, info.metadata) == (SIZE, {"k": "v"})
        received = hashlib.sha256()
        async for chunk in bank.get_stream("/large/object", chunk_size=4 << 20):
            received.update(chunk)
        assert received.hexdigest() == sent.hexdigest()

        await bank.delete("/large/object")
        assert await bank.list("/large/") == []
    finally:
        await bank.close()
