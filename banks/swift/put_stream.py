"""A streamed put into Swift: one PUT when small, else segments and an SLO manifest.

Chunks are gathered into a buffer of at most ``segment_size`` bytes (plus the chunk
being added). If the stream ends within the first segment, the object is one PUT.
Otherwise each full buffer is uploaded (retried alone, it is a whole request) as
``<container>_segments/<object name>~<upload id>/<n>`` and the object is published by
one ``PUT ?multipart-manifest=put`` of the Static Large Object manifest: readers see the
old object until then and the whole new one after, never a part.

Segments of the object it replaces are deleted after the manifest lands. If the stream
or an upload fails, this upload's segments are deleted and no object appears.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterable, Callable
from typing import Any, Protocol, TypeVar

import msgspec
import structlog

from banks.errors import BankError
from banks.keys import validate_key
from banks.swift.client import SwiftClient

_T = TypeVar("_T")


class SwiftTarget(Protocol):
    """What an upload needs of its ``SwiftBank`` (a ``Protocol``: the bank imports this module)."""

    client: SwiftClient
    segment_container: str
    segment_size: int

    @property
    def label(self) -> str:
        """The bank, as errors and logs name it."""

    async def call(
        self, operation: str, key: str, func: Callable[..., _T], /, *args: Any, **kwargs: Any
    ) -> _T:
        """``func(*args, **kwargs)`` in the bank's pool, retried per the bank's policy."""

    def object_url(self, key: str) -> str:
        """The URL of the object holding ``key``."""

    def put_blocking(self, key: str, data: bytes, headers: dict[str, str]) -> None:
        """PUT one whole object (blocking)."""

log = structlog.get_logger(__name__)


def segment_prefix(key: str) -> str:
    """Where the segments of ``key`` are named: ``~`` never occurs in a key, so the
    prefix of ``/a/b`` does not also match the segments of ``/a/b/c``."""
    return f"objects{key}~"


class SegmentRef(msgspec.Struct, frozen=True):
    """One entry of an SLO manifest (the names Swift expects)."""

    path: str
    etag: str
    size_bytes: int


_manifest_encoder = msgspec.json.Encoder()


class SegmentedUpload:
    """One put_stream into a :class:`SwiftBank`."""

    def __init__(self, bank: SwiftTarget, key: str, headers: dict[str, str]) -> None:
        self.bank = bank
        self.key = validate_key(key)
        self.headers = headers
        self.upload_id = uuid.uuid4().hex
        self.segments: list[SegmentRef] = []

    def _segment_name(self, index: int) -> str:
        return f"{segment_prefix(self.key)}{self.upload_id}/{index:08d}"

    async def run(self, chunks: AsyncIterable[bytes]) -> int:
        """Consume ``chunks`` and publish the object; return its size."""
        size = self.bank.segment_size
        buffer = bytearray()
        total = 0
        try:
            async for chunk in chunks:
                buffer += chunk  # copies: a producer may reuse its buffer
                total += len(chunk)
                while len(buffer) >= size and (self.segments or len(buffer) > size):
                    # The first segment waits for one more byte: an object of exactly
                    # one segment is then a plain PUT.
                    await self._upload_segment(bytes(memoryview(buffer)[:size]))  # one copy
                    del buffer[:size]
            if not self.segments:
                await self.bank.call(
                    "write",
                    self.key,
                    self.bank.put_blocking,
                    self.key,
                    bytes(buffer),
                    self.headers,
                )
                return total
            if buffer:
                await self._upload_segment(bytes(buffer))
            await self._publish()
        except BaseException:
            await self._discard(self.segments)
            raise
        return total

    async def _upload_segment(self, data: bytes) -> None:
        name = self._segment_name(len(self.segments) + 1)
        etag = hashlib.md5(data, usedforsecurity=False).hexdigest()
        client = self.bank.client
        url = client.url(self.bank.segment_container, name)
        await self.bank.call(
            "write a segment of",
            self.key,
            client.request,
            "PUT",
            url,
            operation="write a segment of",
            key=self.key,
            data=data,
            headers={"ETag": etag},
        )
        path = f"/{self.bank.segment_container}/{name}"
        self.segments.append(SegmentRef(path=path, etag=etag, size_bytes=len(data)))

    async def _publish(self) -> None:
        old = await self._old_segments()
        client = self.bank.client
        await self.bank.call(
            "write the manifest of",
            self.key,
            client.request,
            "PUT",
            self.bank.object_url(self.key),
            operation="write the manifest of",
            key=self.key,
            params={"multipart-manifest": "put"},
            data=_manifest_encoder.encode(self.segments),
            headers={**self.headers, "Content-Type": "application/octet-stream"},
        )
        await self._discard(old)

    async def _old_segments(self) -> list[SegmentRef]:
        """The segments of the large object this upload replaces, if any."""
        client = self.bank.client
        try:
            response = await self.bank.call(
                "read the manifest of",
                self.key,
                client.request,
                "GET",
                self.bank.object_url(self.key),
                operation="read the manifest of",
                key=self.key,
                params={"multipart-manifest": "get", "format": "raw"},
                headers={"X-Newest": "true"},
            )
        except BankError:
            return []  # nothing there, or unreadable: leave any old segments be
        if response.headers.get("X-Static-Large-Object", "").lower() != "true":
            return []
        entries: list[dict[str, Any]] = response.json()
        return [SegmentRef(e["path"], e.get("etag", ""), e["size_bytes"]) for e in entries]

    async def _discard(self, segments: list[SegmentRef]) -> None:
        """Delete ``segments``, best effort: a failure leaves garbage, not a broken object."""
        client = self.bank.client
        for segment in segments:
            url = f"{client.storage_url}{segment.path}"
            try:
                await self.bank.call(
                    "delete a segment of",
                    self.key,
                    client.request,
                    "DELETE",
                    url,
                    operation="delete a segment of",
                    key=self.key,
                    ok=frozenset({204, 404}),
                )
            except Exception as err:
                log.warning(
                    "swift_segment_not_deleted",
                    bank=self.bank.label,
                    key=self.key,
                    segment=segment.path,
                    error=str(err),
                )
