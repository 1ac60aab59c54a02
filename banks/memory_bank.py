"""A bank in process memory: for tests and benchmarks, never for data you want to keep."""

from __future__ import annotations

import bisect
import time
from collections.abc import AsyncIterable, AsyncIterator, Mapping

from banks.base import Bank, Lease, ObjectInfo
from banks.errors import LeaseHeld, ObjectNotFound
from banks.keys import validate_key, validate_prefix


class MemoryBank(Bank):
    """Objects in a dict, keys in a sorted list for prefix listing."""

    name = "memory"

    def __init__(self) -> None:
        self._objects: dict[str, tuple[bytes, dict[str, str], float]] = {}
        self._sorted_keys: list[str] = []
        self._leases: dict[str, Lease] = {}

    @classmethod
    async def open(cls, config: Mapping[str, str]) -> MemoryBank:
        return cls()

    def _store(self, key: str, data: bytes, metadata: Mapping[str, str] | None) -> None:
        if key not in self._objects:
            bisect.insort(self._sorted_keys, key)
        self._objects[key] = (data, dict(metadata or {}), time.time())

    async def put(self, key: str, data: bytes, metadata: Mapping[str, str] | None = None) -> None:
        self._store(validate_key(key), bytes(data), metadata)

    async def put_stream(
        self,
        key: str,
        chunks: AsyncIterable[bytes],
        metadata: Mapping[str, str] | None = None,
    ) -> int:
        validate_key(key)
        parts = [bytes(chunk) async for chunk in chunks]
        data = b"".join(parts)
        self._store(key, data, metadata)
        return len(data)

    async def get(self, key: str) -> bytes:
        try:
            return self._objects[validate_key(key)][0]
        except KeyError:
            raise ObjectNotFound(key, self.name) from None

    async def get_stream(self, key: str, chunk_size: int = 1 << 20) -> AsyncIterator[bytes]:
        data = await self.get(key)
        for start in range(0, len(data), chunk_size):
            yield data[start : start + chunk_size]

    async def head(self, key: str) -> ObjectInfo:
        try:
            data, metadata, modified = self._objects[validate_key(key)]
        except KeyError:
            raise ObjectNotFound(key, self.name) from None
        return ObjectInfo(key=key, size=len(data), metadata=dict(metadata), modified_at=modified)

    async def list(
        self, prefix: str = "/", marker: str | None = None, limit: int | None = None
    ) -> list[str]:
        validate_prefix(prefix)
        start = bisect.bisect_left(self._sorted_keys, prefix)
        if marker is not None and marker >= prefix:
            start = max(start, bisect.bisect_right(self._sorted_keys, marker))
        found: list[str] = []
        for key in self._sorted_keys[start:]:
            if not key.startswith(prefix) or (limit is not None and len(found) >= limit):
                break
            found.append(key)
        return found

    async def delete(self, key: str) -> None:
        if self._objects.pop(validate_key(key), None) is not None:
            del self._sorted_keys[bisect.bisect_left(self._sorted_keys, key)]

    async def acquire_lease(self, key: str, owner: str, ttl: float) -> Lease:
        validate_key(key)
        now = time.time()
        current = self._leases.get(key)
        if current is not None and current.owner != owner and current.expires_at > now:
            raise LeaseHeld(key, current.owner, current.expires_at)
        lease = Lease(key=key, owner=owner, expires_at=now + ttl)
        self._leases[key] = lease
        return lease

    async def check_lease(self, key: str) -> Lease | None:
        lease = self._leases.get(validate_key(key))
        if lease is None or lease.expires_at <= time.time():
            return None
        return lease

    async def release_lease(self, key: str, owner: str) -> None:
        lease = self._leases.get(validate_key(key))
        if lease is not None and lease.owner == owner:
            del self._leases[key]
