"""A bank wrapper that counts what is written through it, for dedup tests."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Mapping

from banks.base import Bank, Lease, ObjectInfo


class CountingBank(Bank):
    """Delegates every call to ``inner``; counts puts and their bytes, per key prefix."""

    def __init__(self, inner: Bank) -> None:
        self.inner = inner
        self.name = inner.name
        self.puts: list[tuple[str, int]] = []

    @classmethod
    async def open(cls, config: Mapping[str, str]) -> Bank:
        raise NotImplementedError("wrap an opened bank instead")

    def reset(self) -> None:
        """Forget what was counted so far."""
        self.puts.clear()

    def written(self, prefix: str = "/") -> int:
        """Bytes put under ``prefix`` since the last reset."""
        return sum(size for key, size in self.puts if key.startswith(prefix))

    def put_count(self, prefix: str = "/") -> int:
        """Objects put under ``prefix`` since the last reset."""
        return sum(1 for key, _ in self.puts if key.startswith(prefix))

    async def put(self, key: str, data: bytes, metadata: Mapping[str, str] | None = None) -> None:
        self.puts.append((key, len(data)))
        await self.inner.put(key, data, metadata)

    async def put_stream(
        self, key: str, chunks: AsyncIterable[bytes], metadata: Mapping[str, str] | None = None
    ) -> int:
        size = await self.inner.put_stream(key, chunks, metadata)
        self.puts.append((key, size))
        return size

    async def get(self, key: str) -> bytes:
        return await self.inner.get(key)

    def get_stream(self, key: str, chunk_size: int = 1 << 20) -> AsyncIterator[bytes]:
        return self.inner.get_stream(key, chunk_size)

    async def head(self, key: str) -> ObjectInfo:
        return await self.inner.head(key)

    async def list(
        self, prefix: str = "/", marker: str | None = None, limit: int | None = None
    ) -> list[str]:
        return await self.inner.list(prefix, marker, limit)

    async def delete(self, key: str) -> None:
        await self.inner.delete(key)

    async def acquire_lease(self, key: str, owner: str, ttl: float) -> Lease:
        return await self.inner.acquire_lease(key, owner, ttl)

    async def check_lease(self, key: str) -> Lease | None:
        return await self.inner.check_lease(key)

    async def release_lease(self, key: str, owner: str) -> None:
        await self.inner.release_lease(key, owner)

    async def close(self) -> None:
        await self.inner.close()
