"""The Swift bank: objects in one Swift container, over openstacksdk's keystoneauth session.

Layout in the container (``container``, default ``strongbox``)::

    objects/<key without its leading '/'>   one object per key (SLO manifest if large)
    leases/<key without its leading '/'>    one lease record (banks.object_store.leases)

and in ``<container>_segments``: ``<object name>~<upload id>/<00000001>``, the segments
of large objects. Keys and object names sort alike, so a listing is one container GET
(``prefix``, ``marker``, ``limit``) per page of up to 10,000 names; ``objects/`` and
``leases/`` are apart, so a lease never shows in :meth:`SwiftBank.list`.

Metadata travels JSON-encoded in ``X-Object-Meta-Sbx<n>`` headers
(:mod:`banks.object_store.metadata_headers`): Swift would otherwise title-case the names. Reads send
``X-Newest: true``, so that a replica that missed the last write never answers.

- :mod:`banks.swift.auth`: tempauth or Keystone (clouds.yaml, ``OS_*``) to a session.
- :mod:`banks.swift.client`: one blocking request, HTTP statuses to bank errors.
- :mod:`banks.swift.put_stream`: large objects as Static Large Objects.

Calls block, so each runs in the bank's bounded thread pool and is retried with backoff
(:mod:`banks.object_store.retry`).
"""

from __future__ import annotations

import asyncio
import builtins
import functools
import hashlib
import math
from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import requests
import structlog

from banks.base import Bank, ObjectInfo
from banks.errors import BankError, BankUnavailable, ObjectNotFound
from banks.keys import validate_key, validate_prefix
from banks.object_store.leases import (
    LeaseRecord,
    LeasesThroughRecords,
    ObjectStoreLeases,
    decode_record,
    encode_record,
)
from banks.object_store.metadata_headers import MetadataTooLarge, decode_metadata, encode_metadata
from banks.object_store.options import number_option, option
from banks.object_store.retry import RetryPolicy, with_retries
from banks.swift import auth as swift_auth
from banks.swift.client import PreconditionFailed, SwiftClient
from banks.swift.options import SwiftOptions
from banks.swift.put_stream import SegmentedUpload, segment_prefix

log = structlog.get_logger(__name__)

_T = TypeVar("_T")

OBJECTS = "objects"
LEASES = "leases"
META = "x-object-meta-"
LIST_PAGE = 10_000  # Swift's largest listing page
NEWEST = {"X-Newest": "true"}


class SwiftBank(LeasesThroughRecords, Bank):
    """Objects in a Swift container; see the module docstring for the layout."""

    name = "swift"
    Options = SwiftOptions

    def __init__(
        self,
        client: SwiftClient,
        container: str,
        *,
        segment_size: int,
        concurrency: int,
        retry: RetryPolicy,
    ) -> None:
        """Use ``client`` on ``container``; no I/O here (:meth:`open` connects)."""
        self.container = container
        self.segment_container = f"{container}_segments"
        self.segment_size = segment_size
        self.client = client
        self._retry = retry
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix=f"swift-{container}")
        self._leases = ObjectStoreLeases(_SwiftLeaseObjects(self), self.label)

    def __repr__(self) -> str:
        return f"SwiftBank(url={self.client.storage_url!r}, container={self.container!r})"

    @property
    def label(self) -> str:
        """How errors and logs name this bank."""
        return f"swift bank {self.client.storage_url}/{self.container}"

    @classmethod
    async def open(cls, config: Mapping[str, str]) -> SwiftBank:
        """Authenticate, then create the container and its segment container if missing.

        Options (provider section ``[swift]``, else ``$STRONGBOX_SWIFT_<OPTION>``):
        ``auth`` (tempauth | keystone), ``auth_url``, ``user``, ``key`` (tempauth),
        ``cloud`` or ``username``/``password``/``project_name``/... (keystone),
        ``storage_url``, ``container``, ``segment_size``, ``concurrency``,
        ``connect_timeout``, ``read_timeout``, ``retry_attempts``, ``retry_base_delay``,
        ``retry_max_delay``. See docs/banks.md.

        Raises:
            BankError: naming the option at fault, or BankUnavailable if Swift cannot
                be reached.
        """
        env = swift_auth.ENV_PREFIX
        numbers = functools.partial(number_option, config, bank="swift", env_prefix=env)
        connect_timeout = numbers("connect_timeout", 5.0, minimum=0.001)
        read_timeout = numbers("read_timeout", 60.0, minimum=0.001)
        segment_size = int(numbers("segment_size", 16 << 20, minimum=1 << 20))
        concurrency = int(numbers("concurrency", 8, minimum=1))
        retry = RetryPolicy.from_config(config, "swift")
        container = option(config, "container", env) or "strongbox"
        if "/" in container:
            raise BankError(f"swift bank: option 'container' {container!r} may not hold '/'")

        where = option(config, "auth_url", env) or option(config, "storage_url", env)
        sess, storage_url = await with_retries(
            retry,
            f"swift bank at {where}",
            "authenticate for the container",
            container,
            lambda: asyncio.to_thread(swift_auth.connect, config, connect_timeout),
        )
        # One pooled connection per worker thread, not requests' default of ten.
        adapter = requests.adapters.HTTPAdapter(pool_maxsize=concurrency)
        for scheme in ("http://", "https://"):
            sess.session.mount(scheme, adapter)
        client = SwiftClient(
            sess, storage_url, (connect_timeout, read_timeout), f"swift bank {storage_url}"
        )
        bank = cls(
            client,
            container,
            segment_size=segment_size,
            concurrency=concurrency,
            retry=retry,
        )
        client.label = bank.label
        try:
            for name in (bank.container, bank.segment_container):
                await bank.call(
                    "create the container",
                    name,
                    client.request,
                    "PUT",
                    client.url(name),
                    operation="create the container",
                    key=name,
                )
        except BaseException:
            await bank.close()
            raise
        log.info("swift_bank_opened", bank=bank.label)
        return bank

    async def close(self) -> None:
        """Stop the thread pool and drop pooled connections; requests in flight finish."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.client.session.session.close()

    # -- plumbing ---------------------------------------------------------------------

    async def call(
        self, operation: str, key: str, func: Callable[..., _T], /, *args: Any, **kwargs: Any
    ) -> _T:
        """``func(*args, **kwargs)`` in the pool, retried per the bank's policy."""
        loop = asyncio.get_running_loop()
        call = functools.partial(func, *args, **kwargs)
        return await with_retries(
            self._retry, self.label, operation, key, lambda: loop.run_in_executor(self._pool, call)
        )

    def object_url(self, key: str) -> str:
        """The URL of the object holding ``key``."""
        return self.client.url(self.container, OBJECTS + validate_key(key))

    def _metadata_headers(self, key: str, metadata: Mapping[str, str] | None) -> dict[str, str]:
        try:
            encoded = encode_metadata(metadata)
        except MetadataTooLarge as err:
            raise BankError(f"{self.label}: metadata of {key!r} is too large: {err}") from None
        return {f"X-Object-Meta-{name}": value for name, value in encoded.items()}

    def _request(self, method: str, url: str, operation: str, key: str, **kw: Any) -> Any:
        return self.client.request(method, url, operation=operation, key=key, **kw)

    # -- writes ---------------------------------------------------------------------

    def put_blocking(self, key: str, data: bytes, headers: dict[str, str]) -> None:
        """PUT one whole object (blocking: run it through ``call``)."""
        etag = hashlib.md5(data, usedforsecurity=False).hexdigest()  # Swift checks it
        self._request(
            "PUT",
            self.object_url(key),
            "write",
            key,
            data=data,
            headers={**headers, "ETag": etag, "Content-Type": "application/octet-stream"},
        )

    async def put(self, key: str, data: bytes, metadata: Mapping[str, str] | None = None) -> None:
        """Store ``data`` at ``key`` in one PUT (Swift makes it visible whole).

        Raises:
            InvalidKey: if ``key`` breaks the key rules.
            TypeError: if a metadata name or value is not a str.
            BankFull: if Swift refuses for size or quota (413, 507).
            BankUnavailable: if Swift cannot be reached after the retries.
        """
        validate_key(key)
        headers = self._metadata_headers(key, metadata)
        await self.call("write", key, self.put_blocking, key, bytes(data), headers)

    async def put_stream(
        self,
        key: str,
        chunks: AsyncIterable[bytes],
        metadata: Mapping[str, str] | None = None,
    ) -> int:
        """Stream ``chunks`` into ``key``; up to ``segment_size`` bytes are held at once.

        A stream no longer than one segment is one PUT; a longer one is uploaded as
        segments and published by its SLO manifest, so it appears whole or not at all.
        If ``chunks`` raises, the segments are removed and its exception propagates.

        Raises:
            InvalidKey: if ``key`` breaks the key rules.
            TypeError: if a metadata name or value is not a str.
            BankFull: if Swift refuses for size or quota.
            BankUnavailable: if Swift cannot be reached after the retries.
        """
        validate_key(key)
        headers = self._metadata_headers(key, metadata)
        upload = SegmentedUpload(self, key, headers)
        return await upload.run(chunks)

    # -- reads ----------------------------------------------------------------------

    async def get(self, key: str) -> bytes:
        """Return the whole object.

        Raises:
            InvalidKey: if ``key`` breaks the key rules.
            ObjectNotFound: if there is no object at ``key``.
            BankUnavailable: if Swift cannot be reached after the retries.
        """
        url = self.object_url(key)
        response = await self.call(
            "read", key, self._request, "GET", url, "read", key, headers=NEWEST
        )
        content: bytes = response.content
        return content

    async def get_stream(self, key: str, chunk_size: int = 1 << 20) -> AsyncIterator[bytes]:
        """Yield the object in chunks of at most ``chunk_size`` bytes, from one GET.

        Raises:
            InvalidKey: if ``key`` breaks the key rules.
            ObjectNotFound: when iteration starts, if there is no object at ``key``.
            BankUnavailable: if Swift cannot be reached, or the transfer breaks off.
            ValueError: if ``chunk_size`` is not positive.
        """
        if chunk_size <= 0:
            raise ValueError(f"chunk_size must be positive, not {chunk_size}")
        url = self.object_url(key)
        response = await self.call(
            "read", key, self._request, "GET", url, "read", key, headers=NEWEST, stream=True
        )
        loop = asyncio.get_running_loop()
        pieces = response.iter_content(chunk_size)
        try:
            while True:
                try:
                    chunk = await loop.run_in_executor(self._pool, next, pieces, None)
                except requests.RequestException as err:
                    raise BankUnavailable(
                        f"{self.label}: reading {key!r} broke off: {type(err).__name__}: {err}"
                    ) from None
                if chunk is None:
                    return
                if chunk:
                    yield chunk
        finally:
            response.close()

    async def head(self, key: str) -> ObjectInfo:
        """Return size and metadata of the object.

        Raises:
            InvalidKey: if ``key`` breaks the key rules.
            ObjectNotFound: if there is no object at ``key``.
            BankUnavailable: if Swift cannot be reached after the retries.
        """
        url = self.object_url(key)
        response = await self.call(
            "read", key, self._request, "HEAD", url, "read", key, headers=NEWEST
        )
        headers = response.headers
        metadata = {
            name[len(META) :].lower(): value
            for name, value in headers.items()
            if name.lower().startswith(META)
        }
        return ObjectInfo(
            key=key,
            size=int(headers.get("Content-Length", 0)),
            metadata=decode_metadata(metadata),
            modified_at=float(headers.get("X-Timestamp", 0.0)),
        )

    # -- listing --------------------------------------------------------------------

    def _list_page(self, prefix: str, marker: str, limit: int) -> builtins.list[str]:
        params = {"prefix": OBJECTS + prefix, "marker": marker, "limit": str(limit)}
        params["format"] = "json"
        response = self._request(
            "GET", self.client.url(self.container), "list", prefix, params=params
        )
        if response.status_code == 204:
            return []
        return [entry["name"][len(OBJECTS) :] for entry in response.json()]

    async def list(
        self, prefix: str = "/", marker: str | None = None, limit: int | None = None
    ) -> builtins.list[str]:
        """Return keys starting with ``prefix``, ascending, strictly after ``marker``.

        Raises:
            InvalidKey: if ``prefix`` is not ``/`` or a valid key (optionally ending in ``/``).
            BankUnavailable: if Swift cannot be reached after the retries.
        """
        validate_prefix(prefix)
        keys: builtins.list[str] = []
        after = OBJECTS + marker if marker is not None else ""
        while limit is None or len(keys) < limit:
            page_size = LIST_PAGE if limit is None else min(LIST_PAGE, limit - len(keys))
            page = await self.call("list", prefix, self._list_page, prefix, after, page_size)
            keys.extend(page)
            if len(page) < page_size:
                break
            after = OBJECTS + page[-1]
        return keys

    # -- delete ---------------------------------------------------------------------

    def _delete_blocking(self, key: str) -> None:
        self._request("DELETE", self.object_url(key), "delete", key, ok=frozenset({204, 404}))
        # A large object's segments go with it. Listing them costs less than asking the
        # SLO middleware (multipart-manifest=delete reads the object first, and refuses
        # plain objects), and it also collects segments a plain put left behind when it
        # replaced a large object.
        params = {"prefix": segment_prefix(key), "format": "json"}
        segments = self.client.url(self.segment_container)
        response = self._request("GET", segments, "delete", key, params=params)
        for entry in [] if response.status_code == 204 else response.json():
            url = self.client.url(self.segment_container, entry["name"])
            self._request("DELETE", url, "delete", key, ok=frozenset({204, 404}))

    async def delete(self, key: str) -> None:
        """Remove the object at ``key`` (and its segments); a missing object is not an error.

        Raises:
            InvalidKey: if ``key`` breaks the key rules.
            BankUnavailable: if Swift cannot be reached after the retries.
        """
        validate_key(key)
        await self.call("delete", key, self._delete_blocking, key)


class _SwiftLeaseObjects:
    """Lease records as objects under ``leases/``, expiring by ``X-Delete-At``."""

    def __init__(self, bank: SwiftBank) -> None:
        self._bank = bank

    def _url(self, key: str) -> str:
        return self._bank.client.url(self._bank.container, LEASES + key)

    async def read(self, key: str) -> tuple[LeaseRecord, str] | None:
        try:
            response = await self._bank.call(
                "read the lease",
                key,
                self._bank._request,
                "GET",
                self._url(key),
                "read the lease",
                key,
                headers=NEWEST,
            )
        except ObjectNotFound:
            return None
        record = decode_record(response.content, key)
        return None if record is None else (record, response.headers.get("ETag", ""))

    async def _write(self, key: str, record: LeaseRecord, headers: dict[str, str]) -> bool:
        # Swift deletes the record a second after it expires if nobody renews it.
        headers = {**headers, "X-Delete-At": str(math.ceil(record.expires_at) + 1)}
        try:
            await self._bank.call(
                "write the lease",
                key,
                self._bank._request,
                "PUT",
                self._url(key),
                "write the lease",
                key,
                data=encode_record(record),
                headers=headers,
                ok=frozenset({201}),
            )
        except PreconditionFailed:
            return False
        return True

    async def create(self, key: str, record: LeaseRecord) -> bool:
        return await self._write(key, record, {"If-None-Match": "*"})

    async def replace(self, key: str, record: LeaseRecord, version: str) -> bool:
        # Swift has no If-Match on PUT: the lease logic reads the record back instead.
        return await self._write(key, record, {})

    async def remove(self, key: str) -> None:
        await self._bank.call(
            "release the lease",
            key,
            self._bank._request,
            "DELETE",
            self._url(key),
            "release the lease",
            key,
            ok=frozenset({204, 404}),
        )
