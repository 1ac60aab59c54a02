"""A bank section: a prefix of a bank handed to one plugin for one resource."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Mapping

from banks.base import Bank, ObjectInfo
from banks.errors import ReadOnlySection
from banks.keys import validate_key


class BankSection:
    """A view of the keys under ``prefix``; keys given to it are relative (``data/0001``).

    A read-only section (restore, verify) refuses writes, so a restore can never alter
    the checkpoint it reads from.
    """

    def __init__(self, bank: Bank, prefix: str, *, writable: bool = True) -> None:
        self.bank = bank
        self.prefix = "/" + prefix.strip("/") + "/"
        validate_key(self.prefix.rstrip("/"))
        self.writable = writable

    def _key(self, relative: str) -> str:
        return validate_key(self.prefix + relative.lstrip("/"))

    def _check_writable(self) -> None:
        if not self.writable:
            raise ReadOnlySection(self.prefix)

    def subsection(self, name: str, *, writable: bool | None = None) -> BankSection:
        """Return the section under ``name`` (read-only if this one is)."""
        return BankSection(
            self.bank,
            self.prefix + name.strip("/"),
            writable=self.writable if writable is None else (writable and self.writable),
        )

    async def put(self, key: str, data: bytes, metadata: Mapping[str, str] | None = None) -> None:
        """Store ``data`` at the relative ``key``.

        Raises:
            ReadOnlySection: if the section is read-only.
        """
        self._check_writable()
        await self.bank.put(self._key(key), data, metadata)

    async def put_stream(
        self, key: str, chunks: AsyncIterable[bytes], metadata: Mapping[str, str] | None = None
    ) -> int:
        """Stream ``chunks`` into the relative ``key``; return the byte count.

        Raises:
            ReadOnlySection: if the section is read-only.
        """
        self._check_writable()
        return await self.bank.put_stream(self._key(key), chunks, metadata)

    async def get(self, key: str) -> bytes:
        """Return the object at the relative ``key``."""
        return await self.bank.get(self._key(key))

    def get_stream(self, key: str, chunk_size: int = 1 << 20) -> AsyncIterator[bytes]:
        """Yield the object at the relative ``key`` in chunks."""
        return self.bank.get_stream(self._key(key), chunk_size)

    async def head(self, key: str) -> ObjectInfo:
        """Return size and metadata of the object at the relative ``key``."""
        return await self.bank.head(self._key(key))

    async def list(
        self, prefix: str = "", marker: str | None = None, limit: int | None = None
    ) -> list[str]:
        """Return relative keys under the relative ``prefix``, ascending."""
        absolute_marker = self.prefix + marker if marker is not None else None
        keys = await self.bank.list(self.prefix + prefix, absolute_marker, limit)
        return [key[len(self.prefix) :] for key in keys]

    async def delete(self, key: str) -> None:
        """Remove the object at the relative ``key``.

        Raises:
            ReadOnlySection: if the section is read-only.
        """
        self._check_writable()
        await self.bank.delete(self._key(key))

    async def delete_all(self) -> int:
        """Remove every object of the section; return how many.

        Raises:
            ReadOnlySection: if the section is read-only.
        """
        self._check_writable()
        removed = 0
        # one pass with a marker: a store whose listing lags behind deletes (S3, Swift)
        # must not make this loop over keys it already removed
        async for key in self.bank.list_all(self.prefix):
            await self.bank.delete(key)
            removed += 1
        return removed
