"""Image bytes as raw segments of a bank section: the layout before the chunk store.

Protects now go through the chunk store (``image_chunks``). This module keeps the old
layout's two halves: :func:`upload_image`, which restores checkpoints written before
(``ImageSavedInfo.layout == "segments"``, unencrypted stores only: ``image_bytes``), and
:func:`download_image`, which wrote them and still writes them for the tests that check
old checkpoints restore (no plugin calls it any more).

Download: the image is read in ``chunk_size`` pieces (each read in the SDK pool) and
written as segments ``data/00000001``, ``data/00000002`` ... of at most ``segment_size``
bytes, each with ``put_stream``: at most one chunk is in memory, and no bank object grows
past what an object store accepts in one piece. MD5 (Glance's ``checksum``) and SHA-512
(its ``os_hash_value``) are computed on the way, and the MD5 must be Glance's.

Upload: the segments are read back with ``get_stream`` on the loop and handed to the SDK's
upload, running in a pool thread, through a blocking iterator that waits for each chunk
from the loop; requests sends them as a chunked body.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from banks.section import BankSection
from plugins.context import ActivityContext
from plugins.openstack.cloud import OpenStackCloud
from plugins.openstack.errors import ChecksumMismatch
from plugins.openstack.glance_download import open_download

SEGMENT_PREFIX = "data/"


def segment_key(number: int) -> str:
    """The relative bank key of segment ``number`` (1-based)."""
    return f"{SEGMENT_PREFIX}{number:08d}"


@dataclass
class Digests:
    """Running checksums of the bytes moved."""

    size: int = 0
    md5: Any = field(default_factory=hashlib.md5)
    sha512: Any = field(default_factory=hashlib.sha512)

    def update(self, chunk: bytes) -> None:
        self.size += len(chunk)
        self.md5.update(chunk)
        self.sha512.update(chunk)


async def download_image(
    cloud: OpenStackCloud,
    context: ActivityContext,
    image_id: str,
    section: BankSection,
    *,
    chunk_size: int,
    segment_size: int,
    total: int | None,
    checksum: str | None,
) -> tuple[Digests, int]:
    """Stream image ``image_id`` into ``section``; return the digests and segment count.

    ``checksum`` is Glance's MD5 of the image: the bytes read must have it.

    Raises:
        OpenStackError: the download failed (naming the image).
        ChecksumMismatch: the bytes read are not those Glance holds.
        BankError: a segment could not be written.
    """

    response = await open_download(cloud, context, image_id, chunk_size=chunk_size)
    digests, segments = await _copy_into(cloud, context, image_id, response, section,
                                         chunk_size=chunk_size, segment_size=segment_size,
                                         total=total)
    md5 = digests.md5.hexdigest()
    if checksum and checksum != md5:
        raise ChecksumMismatch("glance", "download image", image_id,
                               f"read {digests.size} bytes with MD5 {md5}, Glance says "
                               f"{checksum}")
    return digests, segments


async def _copy_into(cloud: OpenStackCloud, context: ActivityContext, image_id: str,
                     response: Any, section: BankSection, *, chunk_size: int,
                     segment_size: int, total: int | None) -> tuple[Digests, int]:
    """Read the download ``response`` into ``section``'s segments; close it."""
    digests = Digests()

    def report() -> None:
        context.progress(digests.size, total)

    try:
        reader = _ChunkReader(cloud, context, image_id,
                              response.iter_content(chunk_size=chunk_size))
        segments = 0
        while (first := await reader.next_chunk()) is not None:
            reader.push_back(first)
            segments += 1
            await section.put_stream(segment_key(segments),
                                     reader.segment(segment_size, digests, report))
        return digests, segments
    finally:
        await cloud.run(response.close)


class _ChunkReader:
    """Pulls chunks from a requests iterator, each ``next()`` in the SDK pool."""

    def __init__(self, cloud: OpenStackCloud, context: ActivityContext, image_id: str,
                 pieces: Iterator[bytes]) -> None:
        self._cloud = cloud
        self._context = context
        self._image_id = image_id
        self._pieces = pieces
        self._pending = b""

    def push_back(self, chunk: bytes) -> None:
        """Return ``chunk`` to be read again first."""
        self._pending = chunk + self._pending

    async def next_chunk(self) -> bytes | None:
        """The next non-empty chunk, or None at the end of the image."""
        if self._pending:
            chunk, self._pending = self._pending, b""
            return chunk

        def read(_connection: Any) -> bytes | None:
            return next((piece for piece in self._pieces if piece), None)

        return await self._cloud.call(self._context.project_id, "glance", "read image data",
                                      self._image_id, read)

    async def segment(self, limit: int, digests: Digests,
                      report: Callable[[], None]) -> AsyncIterator[bytes]:
        """Yield chunks up to ``limit`` bytes; a straddling chunk is split."""
        room = limit
        while room > 0:
            chunk = await self.next_chunk()
            if chunk is None:
                return
            if len(chunk) > room:
                chunk, self._pending = chunk[:room], chunk[room:]
            room -= len(chunk)
            digests.update(chunk)
            report()
            yield chunk


async def upload_image(
    cloud: OpenStackCloud,
    context: ActivityContext,
    image_id: str,
    section: BankSection,
    *,
    segments: int,
    size: int,
    chunk_size: int,
) -> Digests:
    """Upload the ``segments`` of ``section`` as the data of the (queued) image ``image_id``.

    Raises:
        OpenStackError: Glance refused the upload (naming the image).
        BankError: a segment could not be read.
    """
    loop = asyncio.get_running_loop()
    digests = Digests()

    async def chunks() -> AsyncGenerator[bytes, None]:
        for number in range(1, segments + 1):
            async for chunk in section.get_stream(segment_key(number), chunk_size):
                digests.update(chunk)
                context.progress(digests.size, size)
                yield chunk

    source = chunks()

    def blocking_chunks() -> Iterator[bytes]:
        # runs in the pool thread that sends the request; each chunk comes from the loop
        while True:
            future = asyncio.run_coroutine_threadsafe(_next_or_none(source), loop)
            chunk = future.result()
            if chunk is None:
                return
            yield chunk

    def send(connection: Any) -> None:
        from openstack import exceptions  # noqa: PLC0415 -- SDK imported only when used
        from openstack.image.v2.image import Image  # noqa: PLC0415

        response = Image.new(id=image_id).upload(connection.image, data=blocking_chunks(),
                                                 size=size)
        exceptions.raise_from_response(response)

    try:
        await cloud.call(context.project_id, "glance", "upload image", image_id, send)
    finally:
        await source.aclose()
    return digests


async def _next_or_none(source: AsyncIterator[bytes]) -> bytes | None:
    try:
        return await source.__anext__()
    except StopAsyncIteration:
        return None


__all__ = ["SEGMENT_PREFIX", "Digests", "download_image", "segment_key", "upload_image"]
