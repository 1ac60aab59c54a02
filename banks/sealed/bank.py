"""A bank whose objects are sealed: a wrapper that encrypts and authenticates on the way.

The engine wraps a provider's bank in a :class:`SealedBank` when its chunk store is
encrypted, so every object the engine and the plugins write (checkpoint index, graph,
journals, operation records, every section object) is sealed with the store's keys,
and nothing above the wrapper changes. Which keys are sealed, and in what scope, is the
caller's ``layout`` (the checkpoint layout lives above the banks); keys it leaves in the
clear (the chunk store's own objects, the listing entries) pass through unchanged, as do
listings, deletes and leases.

Reading an object in the clear where a sealed one belongs raises
:class:`PlaintextRefused`: an encrypted store never falls back to plaintext, so an
object planted by whoever can write the bank, or a downgraded one, is refused. The keys
are loaded on first use (the store's key unwrap is slow on purpose), once per wrapper.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Mapping
from typing import Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from banks.base import Bank, Lease, ObjectInfo
from banks.sealed.envelope import (
    HEADER_SIZE,
    Form,
    Purpose,
    check_header,
    is_sealed,
    seal,
    unseal,
)
from banks.sealed.errors import PlaintextRefused, SealingUnavailable
from banks.sealed.object_keys import ObjectKeys
from banks.sealed.stream import StreamOpener, seal_stream, unseal_streamed

RootOpener = Callable[[bool], Awaitable[bytes]]


class Placement(Protocol):
    """Where a sealed object belongs: whose it is and the scope it is bound to."""

    @property
    def purpose(self) -> Purpose: ...

    @property
    def scope(self) -> str: ...


class SealingLayout(Protocol):
    """Which keys of a bank are sealed: ``placement`` is None for keys left in the clear."""

    def placement(self, key: str) -> Placement | None: ...


def _feed_all(opener: StreamOpener, data: bytes, chunk_size: int) -> list[bytes]:
    pieces: list[bytes] = []
    for plaintext in opener.feed(data):
        pieces.extend(plaintext[start : start + chunk_size]
                      for start in range(0, len(plaintext), chunk_size))
    return pieces


# a larger object (a graph of many thousand resources) is sealed and opened in a worker
# thread, so the event loop never stalls on it (AES-GCM releases the GIL)
_IN_LOOP_LIMIT = 1 << 20


class _Ciphers:
    def __init__(self, keys: ObjectKeys) -> None:
        self.keys = keys
        self.by_purpose = {
            Purpose.SECTION: AESGCM(keys.section_key),
            Purpose.ENGINE: AESGCM(keys.engine_key),
        }


class SealedBank(Bank):
    """``inner`` with every object the layout places sealed under the store's keys.

    ``open_root(create)`` returns the sealing root of the bank's store, creating the
    store when ``create`` (a first write) and there is none.

    Raises (besides the inner bank's errors):
        PlaintextRefused: a plaintext object where a sealed one belongs.
        SealedObjectCorrupt: a sealed object that fails its checks.
        SealingUnavailable: a write that cannot be sealed (metadata), or a keyed name
            asked for before the keys were loaded.
        KeyRequired, WrongKey, NoChunkStore: from ``open_root``.
    """

    def __init__(self, inner: Bank, layout: SealingLayout, open_root: RootOpener) -> None:
        self.inner = inner
        self.name = inner.name
        self._layout = layout
        self._open_root = open_root
        self._ciphers: _Ciphers | None = None
        self._loading: asyncio.Future[_Ciphers] | None = None
        read_into = getattr(inner, "read_into_blocking", None)
        if read_into is not None:
            # the chunk store's fast read path: chunks only, which are in the clear here
            # (they are encrypted in their own format)
            def read_into_blocking(key: str, reserve: Callable[[int], memoryview]) -> memoryview:
                if self._layout.placement(key) is not None:
                    raise SealingUnavailable(key, f"object {key!r} is sealed: read it with get")
                result: memoryview = read_into(key, reserve)
                return result

            self.read_into_blocking = read_into_blocking

    @property
    def local_path(self) -> str | None:
        """The inner bank's directory, if any."""
        return self.inner.local_path

    @classmethod
    async def open(cls, config: Mapping[str, str]) -> Bank:
        """Not a bank of its own: wrap an opened one.

        Raises:
            SealingUnavailable: always.
        """
        raise SealingUnavailable("/", "a sealed bank wraps an opened bank; it is not opened")

    # ------------------------------------------------------------------ keys

    async def ready(self, *, create: bool) -> ObjectKeys:
        """Load the keys (creating the store if ``create`` and there is none)."""
        return (await self._load(create)).keys

    def keyed_name(self, text: str) -> str:
        """The key segment standing for ``text`` (a resource key) in this bank.

        Raises:
            SealingUnavailable: if the keys are not loaded yet (call :meth:`ready` first).
        """
        if self._ciphers is None:
            raise SealingUnavailable("/", "the sealed bank's keys are not loaded yet")
        return self._ciphers.keys.keyed_name(text)

    async def _load(self, create: bool) -> _Ciphers:
        if self._ciphers is not None:
            return self._ciphers
        loading = self._loading
        if loading is None or (
            loading.done() and (loading.cancelled() or loading.exception() is not None)
        ):
            loading = self._loading = asyncio.ensure_future(self._derive(create))
        ciphers = await asyncio.shield(loading)
        self._ciphers = ciphers
        return ciphers

    async def _derive(self, create: bool) -> _Ciphers:
        return _Ciphers(ObjectKeys.derive(await self._open_root(create)))

    # ------------------------------------------------------------------ objects

    async def _sealed(self, key: str, data: bytes) -> bytes:
        placement = self._layout.placement(key)
        if placement is None:
            return data
        ciphers = await self._load(create=True)
        cipher = ciphers.by_purpose[placement.purpose]
        if len(data) > _IN_LOOP_LIMIT:
            return await asyncio.to_thread(seal, cipher, placement.purpose, key,
                                           placement.scope, data)
        return seal(cipher, placement.purpose, key, placement.scope, data)

    async def _opened(self, key: str, stored: bytes) -> bytes:
        placement = self._layout.placement(key)
        if placement is None:
            return stored
        if not is_sealed(stored):
            raise PlaintextRefused(key, placement.scope)
        ciphers = await self._load(create=False)
        cipher = ciphers.by_purpose[placement.purpose]
        if check_header(stored, placement.purpose, key, placement.scope) == Form.STREAMED:
            opener = unseal_streamed
        else:
            opener = unseal
        if len(stored) > _IN_LOOP_LIMIT:
            return await asyncio.to_thread(opener, cipher, placement.purpose, key,
                                           placement.scope, stored)
        return opener(cipher, placement.purpose, key, placement.scope, stored)

    def _check_metadata(self, key: str, metadata: Mapping[str, str] | None) -> None:
        if metadata and self._layout.placement(key) is not None:
            raise SealingUnavailable(key, f"object {key!r}: metadata would not be sealed")

    async def put(self, key: str, data: bytes, metadata: Mapping[str, str] | None = None) -> None:
        """Seal ``data`` if the layout places ``key`` sealed, then store it."""
        self._check_metadata(key, metadata)
        await self.inner.put(key, await self._sealed(key, bytes(data)), metadata)

    async def put_stream(
        self, key: str, chunks: AsyncIterable[bytes], metadata: Mapping[str, str] | None = None
    ) -> int:
        """Stream into ``key``, sealed segment by segment (``banks.sealed.stream``) if the
        layout places it sealed. Returns the plaintext byte count."""
        self._check_metadata(key, metadata)
        placement = self._layout.placement(key)
        if placement is None:
            return await self.inner.put_stream(key, chunks, metadata)
        cipher = (await self._load(create=True)).by_purpose[placement.purpose]
        counted = 0

        async def counting() -> AsyncIterator[bytes]:
            nonlocal counted
            async for chunk in chunks:
                counted += len(chunk)
                yield chunk

        sealed = seal_stream(cipher, placement.purpose, key, placement.scope, counting())
        await self.inner.put_stream(key, sealed, metadata)
        return counted

    async def get(self, key: str) -> bytes:
        """The object at ``key``, opened and checked if it is sealed."""
        return await self._opened(key, await self.inner.get(key))

    async def get_stream(self, key: str, chunk_size: int = 1 << 20) -> AsyncIterator[bytes]:
        """The object in pieces: a streamed sealed one segment by segment, each handed on
        once authenticated; a whole one read and checked whole first."""
        placement = self._layout.placement(key)
        if placement is None:
            async for piece in self.inner.get_stream(key, chunk_size):
                yield piece
            return
        stream = self.inner.get_stream(key, max(chunk_size, 1 << 16))
        first = b""
        async for piece in stream:  # enough to tell the form: a header, or the end
            first += piece
            if len(first) >= HEADER_SIZE:
                break
        streamed = (
            len(first) >= HEADER_SIZE
            and is_sealed(first)
            and check_header(first, placement.purpose, key, placement.scope) == Form.STREAMED
        )
        if not streamed:  # a whole object, or one _opened refuses
            data = await self._opened(key, first + b"".join([piece async for piece in stream]))
            for start in range(0, len(data), chunk_size):
                yield data[start : start + chunk_size]
            return
        cipher = (await self._load(create=False)).by_purpose[placement.purpose]
        opener = StreamOpener(cipher, placement.purpose, key, placement.scope)
        for piece in _feed_all(opener, first, chunk_size):
            yield piece
        async for data in stream:
            for piece in _feed_all(opener, data, chunk_size):
                yield piece
        opener.finish()

    async def head(self, key: str) -> ObjectInfo:
        """The inner bank's answer (a sealed object's stored size)."""
        return await self.inner.head(key)

    async def list(
        self, prefix: str = "/", marker: str | None = None, limit: int | None = None
    ) -> list[str]:
        """The inner bank's listing."""
        return await self.inner.list(prefix, marker, limit)

    async def delete(self, key: str) -> None:
        """Delete in the inner bank."""
        await self.inner.delete(key)

    async def acquire_lease(self, key: str, owner: str, ttl: float) -> Lease:
        """The inner bank's lease."""
        return await self.inner.acquire_lease(key, owner, ttl)

    async def renew_lease(self, key: str, owner: str, ttl: float) -> Lease:
        """The inner bank's lease."""
        return await self.inner.renew_lease(key, owner, ttl)

    async def check_lease(self, key: str) -> Lease | None:
        """The inner bank's lease."""
        return await self.inner.check_lease(key)

    async def release_lease(self, key: str, owner: str) -> None:
        """The inner bank's lease."""
        await self.inner.release_lease(key, owner)

    async def close(self) -> None:
        """Close the inner bank."""
        await self.inner.close()
