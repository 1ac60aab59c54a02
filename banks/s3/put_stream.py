"""A streamed put into S3: one PutObject when small, else a multipart upload.

Chunks gather in a buffer of at most ``part_size`` bytes (plus the chunk being added).
A stream that ends within the first part is one PutObject. Otherwise each full buffer
is one UploadPart (retried alone: a part is a whole request) and CompleteMultipartUpload
publishes the object at once; until then readers see the old object. If the stream or
an upload fails, the multipart upload is aborted, so no object appears and the store
frees the parts.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable
from typing import Any, Protocol, TypeVar

import structlog

from banks.keys import validate_key

_T = TypeVar("_T")


class S3Target(Protocol):
    """What an upload needs of its ``S3Bank`` (a ``Protocol``: the bank imports this module)."""

    client: Any  # a botocore S3 client
    bucket: str
    part_size: int

    @property
    def label(self) -> str:
        """The bank, as errors and logs name it."""

    async def call(
        self, operation: str, key: str, func: Callable[..., _T], /, *args: Any, **kwargs: Any
    ) -> _T:
        """``func(*args, **kwargs)`` in the bank's pool, errors translated, retried."""

    def object_name(self, key: str) -> str:
        """The S3 key holding bank key ``key``."""

log = structlog.get_logger(__name__)

MIN_PART_SIZE = 5 << 20  # S3's smallest part but the last


class MultipartUpload:
    """One put_stream into an :class:`S3Bank`."""

    def __init__(self, bank: S3Target, key: str, metadata: dict[str, str]) -> None:
        self.bank = bank
        self.key = validate_key(key)
        self.name = bank.object_name(key)
        self.metadata = metadata
        self.upload_id: str | None = None
        self.parts: list[dict[str, Any]] = []

    async def run(self, chunks: AsyncIterable[bytes]) -> int:
        """Consume ``chunks`` and publish the object; return its size."""
        size = self.bank.part_size
        buffer = bytearray()
        total = 0
        try:
            async for chunk in chunks:
                buffer += chunk  # copies: a producer may reuse its buffer
                total += len(chunk)
                while len(buffer) > size or (self.parts and len(buffer) == size):
                    await self._upload_part(bytes(memoryview(buffer)[:size]))  # one copy
                    del buffer[:size]
            if self.upload_id is None:
                await self._put_whole(bytes(buffer))
                return total
            if buffer or not self.parts:
                await self._upload_part(bytes(buffer))
            await self._complete()
        except BaseException:
            await self._abort()
            raise
        return total

    async def _put_whole(self, data: bytes) -> None:
        bank = self.bank
        await bank.call(
            "write",
            self.key,
            bank.client.put_object,
            Bucket=bank.bucket,
            Key=self.name,
            Body=data,
            Metadata=self.metadata,
        )

    async def _upload_part(self, data: bytes) -> None:
        bank = self.bank
        if self.upload_id is None:
            started = await bank.call(
                "start the upload of",
                self.key,
                bank.client.create_multipart_upload,
                Bucket=bank.bucket,
                Key=self.name,
                Metadata=self.metadata,
            )
            self.upload_id = str(started["UploadId"])
        number = len(self.parts) + 1
        answer = await bank.call(
            "write a part of",
            self.key,
            bank.client.upload_part,
            Bucket=bank.bucket,
            Key=self.name,
            UploadId=self.upload_id,
            PartNumber=number,
            Body=data,
        )
        self.parts.append({"ETag": answer["ETag"], "PartNumber": number})

    async def _complete(self) -> None:
        bank = self.bank
        await bank.call(
            "complete the upload of",
            self.key,
            bank.client.complete_multipart_upload,
            Bucket=bank.bucket,
            Key=self.name,
            UploadId=self.upload_id,
            MultipartUpload={"Parts": self.parts},
        )

    async def _abort(self) -> None:
        """Abort the upload, best effort: a failure leaves parts the store expires."""
        if self.upload_id is None:
            return
        bank = self.bank
        try:
            await bank.call(
                "abort the upload of",
                self.key,
                bank.client.abort_multipart_upload,
                Bucket=bank.bucket,
                Key=self.name,
                UploadId=self.upload_id,
            )
        except Exception as err:
            log.warning("s3_upload_not_aborted", bank=bank.label, key=self.key, error=str(err))
