"""The bank interface: an object store with metadata, prefix listing and leases.

A bank only stores objects. Everything above it (checkpoints, sections, chunking) is
built on these few calls, so a new backend (S3, Swift) implements this class and passes
``tests/contract/test_bank_contract.py`` unchanged.

Semantics every implementation keeps:

- ``put`` is atomic: a reader sees the old object or the new one, never a part.
- ``put_stream`` consumes an async iterator of byte chunks without holding the whole
  object in memory; the object appears atomically when the stream ends, and not at all
  if the stream raises.
- ``list`` returns keys in ascending byte order, strictly after ``marker``, at most
  ``limit`` of them.
- ``delete`` of a missing key is not an error (deletes are retried).
- A lease has an owner and an expiry: ``acquire_lease`` succeeds when no lease exists,
  it has expired, or the same owner holds it. Lease keys are a namespace of their own:
  a lease never appears in ``list`` and never collides with an object of the same key.
- Times are Unix wall-clock seconds; hosts sharing a bank are expected to run NTP, and
  lease ttls should be large against their clock skew (tens of seconds, not one).
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from typing import ClassVar

import msgspec

from banks.option_schema import NoOptions


class ObjectInfo(msgspec.Struct, frozen=True):
    """What a bank knows of one object without reading it."""

    key: str
    size: int
    metadata: dict[str, str]
    modified_at: float


class Lease(msgspec.Struct, frozen=True):
    """A lease held in a bank: who owns ``key`` and until when (Unix time)."""

    key: str
    owner: str
    expires_at: float


class Bank(abc.ABC):
    """An object store for checkpoints.

    Raises (every method):
        BankError: subclasses from ``banks.errors``; vendor errors never escape.
    """

    name: str = "bank"
    # the options of the bank's provider-file section (banks.option_schema)
    Options: ClassVar[type[msgspec.Struct]] = NoOptions

    @property
    def local_path(self) -> str | None:
        """The directory on this host holding the bank's objects, if any: a restore may
        never write there (it would destroy the bank). None for a remote store."""
        return None

    @classmethod
    @abc.abstractmethod
    async def open(cls, config: Mapping[str, str]) -> Bank:
        """Create the bank from its provider-file section (the awaited factory).

        Raises:
            BankError: if the configuration is wrong or the store cannot be reached;
                the message names the option at fault.
        """

    @abc.abstractmethod
    async def put(self, key: str, data: bytes, metadata: Mapping[str, str] | None = None) -> None:
        """Store ``data`` at ``key`` atomically, replacing any object there."""

    @abc.abstractmethod
    async def put_stream(
        self,
        key: str,
        chunks: AsyncIterable[bytes],
        metadata: Mapping[str, str] | None = None,
    ) -> int:
        """Store the concatenated ``chunks`` at ``key`` atomically; return the byte count."""

    @abc.abstractmethod
    async def get(self, key: str) -> bytes:
        """Return the whole object.

        Raises:
            ObjectNotFound: if there is no object at ``key``.
        """

    @abc.abstractmethod
    def get_stream(self, key: str, chunk_size: int = 1 << 20) -> AsyncIterator[bytes]:
        """Yield the object in chunks of at most ``chunk_size`` bytes.

        Raises:
            ObjectNotFound: when iteration starts, if there is no object at ``key``.
        """

    @abc.abstractmethod
    async def head(self, key: str) -> ObjectInfo:
        """Return size and metadata of the object.

        Raises:
            ObjectNotFound: if there is no object at ``key``.
        """

    @abc.abstractmethod
    async def list(
        self, prefix: str = "/", marker: str | None = None, limit: int | None = None
    ) -> list[str]:
        """Return keys starting with ``prefix``, ascending, strictly after ``marker``."""

    @abc.abstractmethod
    async def delete(self, key: str) -> None:
        """Remove the object at ``key``; a missing object is not an error."""

    @abc.abstractmethod
    async def acquire_lease(self, key: str, owner: str, ttl: float) -> Lease:
        """Take or extend the lease at ``key`` for ``owner`` for ``ttl`` seconds.

        Raises:
            LeaseHeld: if another owner holds an unexpired lease.
        """

    async def renew_lease(self, key: str, owner: str, ttl: float) -> Lease:
        """Extend a lease ``owner`` holds; the same rules as :meth:`acquire_lease`.

        Raises:
            LeaseHeld: if another owner took the lease after it expired.
        """
        return await self.acquire_lease(key, owner, ttl)

    @abc.abstractmethod
    async def check_lease(self, key: str) -> Lease | None:
        """Return the unexpired lease at ``key``, or None if there is none."""

    @abc.abstractmethod
    async def release_lease(self, key: str, owner: str) -> None:
        """Drop the lease if ``owner`` holds it; otherwise do nothing."""

    async def list_all(self, prefix: str = "/", page_size: int = 1000) -> AsyncIterator[str]:
        """Yield every key under ``prefix``, paging through :meth:`list`."""
        marker: str | None = None
        while True:
            page = await self.list(prefix, marker=marker, limit=page_size)
            for key in page:
                yield key
            if len(page) < page_size:
                return
            marker = page[-1]

    async def close(self) -> None:  # noqa: B027 - optional hook, most banks hold nothing
        """Release connections and background tasks."""

    async def __aenter__(self) -> Bank:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
