"""The S3 bank: objects in one S3 bucket (AWS, or any S3 API such as Swift's s3api).

Layout in the bucket (``bucket``, default ``strongbox``)::

    objects/<key without its leading '/'>   one object per key
    leases/<key without its leading '/'>    one lease record (banks.object_store.leases)

Keys and object names sort alike, so a listing is ``ListObjectsV2`` with the prefix and
``StartAfter`` the marker, paged by continuation token; leases sit outside ``objects/``
and never list. Metadata travels JSON-encoded in ``x-amz-meta-sbx<n>``
(:mod:`banks.object_store.metadata_headers`), since S3 lower-cases metadata names.

Large streams are multipart uploads (:mod:`banks.s3.put_stream`): S3 shows an upload
only when it completes, so put_stream stays atomic. Leases: ``If-None-Match: *`` for a
new lease, ``If-Match: <etag>`` to replace one where the store implements it; where it
answers 501 (Swift's s3api, older S3 clones) the bank remembers that and falls back to
a read-back check (see :mod:`banks.object_store.leases` for what that does not close).

botocore is synchronous: every call runs in a bounded thread pool, retried with
backoff (:mod:`banks.object_store.retry`), its errors translated by :mod:`banks.s3.client`.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import functools
from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import structlog

from banks.base import Bank, ObjectInfo
from banks.errors import BankError, ObjectNotFound
from banks.keys import validate_key, validate_prefix
from banks.object_store.leases import (
    LeaseRecord,
    LeasesThroughRecords,
    ObjectStoreLeases,
    decode_record,
    encode_record,
)
from banks.object_store.metadata_headers import MetadataTooLarge, decode_metadata, encode_metadata
from banks.object_store.options import number_option
from banks.object_store.retry import RetryPolicy, with_retries
from banks.s3.client import (
    ENV_PREFIX,
    NotSupported,
    PreconditionFailed,
    make_client,
    s3_option,
    translate,
)
from banks.s3.options import S3Options
from banks.s3.put_stream import MIN_PART_SIZE, MultipartUpload

log = structlog.get_logger(__name__)

_T = TypeVar("_T")

OBJECTS = "objects"
LEASES = "leases"
LIST_PAGE = 1000  # S3's largest listing page


class S3Bank(LeasesThroughRecords, Bank):
    """Objects in an S3 bucket; see the module docstring for the layout."""

    name = "s3"
    Options = S3Options

    def __init__(
        self,
        client: Any,
        bucket: str,
        *,
        endpoint: str,
        part_size: int,
        concurrency: int,
        retry: RetryPolicy,
    ) -> None:
        """Use ``client`` on ``bucket``; no I/O here (:meth:`open` checks the bucket)."""
        self.client = client
        self.bucket = bucket
        self.endpoint = endpoint
        self.part_size = part_size
        self._retry = retry
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix=f"s3-{bucket}")
        self._leases = ObjectStoreLeases(_S3LeaseObjects(self), self.label)
        self.if_match_supported = True  # until the store answers 501 to it

    def __repr__(self) -> str:
        return f"S3Bank(endpoint={self.endpoint!r}, bucket={self.bucket!r})"

    @property
    def label(self) -> str:
        """How errors and logs name this bank."""
        return f"s3 bank {self.endpoint}/{self.bucket}"

    @classmethod
    async def open(cls, config: Mapping[str, str]) -> S3Bank:
        """Build the client, then create the bucket if it is missing.

        Options (provider section ``[s3]``, else ``$STRONGBOX_S3_<OPTION>``, and the
        ``AWS_*`` variables for the endpoint, region and credentials): ``endpoint_url``,
        ``region``, ``bucket``, ``access_key``, ``secret_key``, ``session_token``,
        ``addressing_style`` (path | virtual | auto), ``part_size``, ``concurrency``,
        ``connect_timeout``, ``read_timeout``, ``retry_*``. See docs/banks.md.

        Raises:
            BankError: naming the option at fault, or BankUnavailable if the store
                cannot be reached.
        """
        numbers = functools.partial(number_option, config, bank="s3", env_prefix=ENV_PREFIX)
        timeouts = (
            numbers("connect_timeout", 5.0, minimum=0.001),
            numbers("read_timeout", 60.0, minimum=0.001),
        )
        part_size = int(numbers("part_size", 16 << 20, minimum=MIN_PART_SIZE))
        concurrency = int(numbers("concurrency", 8, minimum=1))
        retry = RetryPolicy.from_config(config, "s3")
        bucket = s3_option(config, "bucket") or "strongbox"
        client = await asyncio.to_thread(make_client, config, timeouts, concurrency)
        endpoint = str(client.meta.endpoint_url)
        bank = cls(
            client,
            bucket,
            endpoint=endpoint,
            part_size=part_size,
            concurrency=concurrency,
            retry=retry,
        )
        try:
            await bank._ensure_bucket(s3_option(config, "region") or "us-east-1")
        except BaseException:
            await bank.close()
            raise
        log.info("s3_bank_opened", bank=bank.label)
        return bank

    async def _ensure_bucket(self, region: str) -> None:
        try:
            await self.call(
                "check the bucket", self.bucket, self.client.head_bucket, Bucket=self.bucket
            )
        except ObjectNotFound:
            extra: dict[str, Any] = {}
            if region != "us-east-1":  # S3 refuses the default region spelled out
                extra["CreateBucketConfiguration"] = {"LocationConstraint": region}
            try:
                await self.call(
                    "create the bucket",
                    self.bucket,
                    self.client.create_bucket,
                    Bucket=self.bucket,
                    **extra,
                )
            except BankError as err:
                if "BucketAlreadyOwnedByYou" not in str(err):  # a concurrent open made it
                    raise

    async def close(self) -> None:
        """Stop the thread pool and drop the client's connections."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.client.close()

    # -- plumbing ---------------------------------------------------------------------

    async def call(
        self, operation: str, key: str, func: Callable[..., _T], /, *args: Any, **kwargs: Any
    ) -> _T:
        """``func(*args, **kwargs)`` in the pool, its errors translated, retried per policy."""
        loop = asyncio.get_running_loop()

        def run() -> _T:
            try:
                return func(*args, **kwargs)
            except Exception as err:
                raise translate(err, self.label, operation, key) from None

        return await with_retries(
            self._retry, self.label, operation, key, lambda: loop.run_in_executor(self._pool, run)
        )

    def object_name(self, key: str) -> str:
        """The S3 key holding bank key ``key``."""
        return OBJECTS + validate_key(key)

    def metadata(self, key: str, metadata: Mapping[str, str] | None) -> dict[str, str]:
        """``metadata`` as S3 user metadata (see :mod:`banks.object_store.metadata_headers`).

        Raises:
            TypeError: if a name or value is not a str.
            BankError: if it is too large for S3's 2 KiB.
        """
        try:
            return encode_metadata(metadata)
        except MetadataTooLarge as err:
            raise BankError(f"{self.label}: metadata of {key!r} is too large: {err}") from None

    # -- writes ---------------------------------------------------------------------

    async def put(self, key: str, data: bytes, metadata: Mapping[str, str] | None = None) -> None:
        """Store ``data`` at ``key`` in one PutObject (S3 makes it visible whole).

        Raises:
            InvalidKey: if ``key`` breaks the key rules.
            TypeError: if a metadata name or value is not a str.
            BankFull: if the store refuses for size or quota.
            BankUnavailable: if the store cannot be reached after the retries.
        """
        name = self.object_name(key)
        await self.call(
            "write",
            key,
            self.client.put_object,
            Bucket=self.bucket,
            Key=name,
            Body=bytes(data),
            Metadata=self.metadata(key, metadata),
        )

    async def put_stream(
        self,
        key: str,
        chunks: AsyncIterable[bytes],
        metadata: Mapping[str, str] | None = None,
    ) -> int:
        """Stream ``chunks`` into ``key``; at most ``part_size`` bytes are held at once.

        A stream of at most one part is one PutObject; a longer one a multipart upload,
        aborted if ``chunks`` raises (whose exception then propagates unchanged).

        Raises:
            InvalidKey: if ``key`` breaks the key rules.
            TypeError: if a metadata name or value is not a str.
            BankFull: if the store refuses for size or quota.
            BankUnavailable: if the store cannot be reached after the retries.
        """
        upload = MultipartUpload(self, key, self.metadata(validate_key(key), metadata))
        return await upload.run(chunks)

    # -- reads ----------------------------------------------------------------------

    async def get(self, key: str) -> bytes:
        """Return the whole object.

        Raises:
            InvalidKey: if ``key`` breaks the key rules.
            ObjectNotFound: if there is no object at ``key``.
            BankUnavailable: if the store cannot be reached after the retries.
        """
        name = self.object_name(key)

        def read() -> bytes:
            response = self.client.get_object(Bucket=self.bucket, Key=name)
            with response["Body"] as body:
                data: bytes = body.read()
            return data

        return await self.call("read", key, read)

    async def get_stream(self, key: str, chunk_size: int = 1 << 20) -> AsyncIterator[bytes]:
        """Yield the object in chunks of at most ``chunk_size`` bytes, from one GetObject.

        Raises:
            InvalidKey: if ``key`` breaks the key rules.
            ObjectNotFound: when iteration starts, if there is no object at ``key``.
            BankUnavailable: if the store cannot be reached or the transfer breaks off.
            ValueError: if ``chunk_size`` is not positive.
        """
        if chunk_size <= 0:
            raise ValueError(f"chunk_size must be positive, not {chunk_size}")
        name = self.object_name(key)
        response = await self.call(
            "read", key, self.client.get_object, Bucket=self.bucket, Key=name
        )
        body = response["Body"]
        loop = asyncio.get_running_loop()

        def next_chunk() -> bytes:
            try:
                chunk: bytes = body.read(chunk_size)
            except Exception as err:
                raise translate(err, self.label, "read", key) from None
            return chunk

        try:
            while chunk := await loop.run_in_executor(self._pool, next_chunk):
                yield chunk
        finally:
            body.close()

    async def head(self, key: str) -> ObjectInfo:
        """Return size and metadata of the object.

        Raises:
            InvalidKey: if ``key`` breaks the key rules.
            ObjectNotFound: if there is no object at ``key``.
            BankUnavailable: if the store cannot be reached after the retries.
        """
        name = self.object_name(key)
        response = await self.call(
            "read", key, self.client.head_object, Bucket=self.bucket, Key=name
        )
        return ObjectInfo(
            key=key,
            size=int(response["ContentLength"]),
            # Names come back in whatever case the store chose (Swift's s3api: "Sbx0").
            metadata=decode_metadata(
                {name.lower(): value for name, value in response.get("Metadata", {}).items()}
            ),
            modified_at=response["LastModified"].timestamp(),
        )

    # -- listing --------------------------------------------------------------------

    async def list(
        self, prefix: str = "/", marker: str | None = None, limit: int | None = None
    ) -> builtins.list[str]:
        """Return keys starting with ``prefix``, ascending, strictly after ``marker``.

        Raises:
            InvalidKey: if ``prefix`` is not ``/`` or a valid key (optionally ending in ``/``).
            BankUnavailable: if the store cannot be reached after the retries.
        """
        validate_prefix(prefix)
        keys: builtins.list[str] = []
        request: dict[str, Any] = {"Bucket": self.bucket, "Prefix": OBJECTS + prefix}
        if marker is not None:
            request["StartAfter"] = OBJECTS + marker
        while limit is None or len(keys) < limit:
            request["MaxKeys"] = LIST_PAGE if limit is None else min(LIST_PAGE, limit - len(keys))
            page = await self.call("list", prefix, self.client.list_objects_v2, **request)
            keys.extend(item["Key"][len(OBJECTS) :] for item in page.get("Contents", []))
            if not page.get("IsTruncated"):
                break
            request["ContinuationToken"] = page["NextContinuationToken"]
        return keys

    # -- delete ---------------------------------------------------------------------

    async def delete(self, key: str) -> None:
        """Remove the object at ``key``; a missing object is not an error.

        Raises:
            InvalidKey: if ``key`` breaks the key rules.
            BankUnavailable: if the store cannot be reached after the retries.
        """
        name = self.object_name(key)
        # S3 answers 204 for a missing key; some S3 clones answer 404.
        with contextlib.suppress(ObjectNotFound):
            await self.call("delete", key, self.client.delete_object, Bucket=self.bucket, Key=name)


class _S3LeaseObjects:
    """Lease records as objects under ``leases/``, written conditionally."""

    def __init__(self, bank: S3Bank) -> None:
        self._bank = bank

    async def read(self, key: str) -> tuple[LeaseRecord, str] | None:
        bank = self._bank

        def read() -> tuple[bytes, str]:
            response = bank.client.get_object(Bucket=bank.bucket, Key=LEASES + key)
            with response["Body"] as body:
                return body.read(), str(response.get("ETag", ""))

        try:
            data, etag = await bank.call("read the lease", key, read)
        except ObjectNotFound:
            return None
        record = decode_record(data, key)
        return None if record is None else (record, etag)

    async def _write(self, key: str, record: LeaseRecord, condition: dict[str, str]) -> bool:
        bank = self._bank
        try:
            await bank.call(
                "write the lease",
                key,
                bank.client.put_object,
                Bucket=bank.bucket,
                Key=LEASES + key,
                Body=encode_record(record),
                **condition,
            )
        except PreconditionFailed:
            return False
        return True

    async def create(self, key: str, record: LeaseRecord) -> bool:
        return await self._write(key, record, {"IfNoneMatch": "*"})

    async def replace(self, key: str, record: LeaseRecord, version: str) -> bool:
        bank = self._bank
        if bank.if_match_supported:
            try:
                return await self._write(key, record, {"IfMatch": version})
            except NotSupported:
                bank.if_match_supported = False
                log.info("s3_bank_if_match_unsupported", bank=bank.label)
        return await self._write(key, record, {})

    async def remove(self, key: str) -> None:
        bank = self._bank
        with contextlib.suppress(ObjectNotFound):
            await bank.call(
                "release the lease",
                key,
                bank.client.delete_object,
                Bucket=bank.bucket,
                Key=LEASES + key,
            )
