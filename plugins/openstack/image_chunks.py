"""Moving image bytes between Glance and the bank's chunk store, in bounded memory.

Download (:func:`store_image`): the image is read in ``chunk_size`` pieces, each
``next()`` of the HTTP body in the SDK pool, where MD5 (Glance's ``checksum``), SHA-512
(its ``os_hash_value``) and our SHA-256 are also computed, off the event loop. The pieces
go straight into :meth:`ChunkStore.write_stream`: content-defined chunks, deduplicated
against every chunk the bank holds (an unchanged image stores nothing new; a run of zeros
gives the same maximal chunk over and over, stored once), compressed and encrypted. The
store holds at most about three of its largest chunks in the chunker plus
``upload_concurrency`` in flight, and asks for the next piece only when it has room, so
nothing is ever whole in memory or on disk.

Upload (:func:`send_image`): a :class:`ChunkFeed` hands the chunks, fetched ahead on the
loop and checked against their ids, to the SDK's upload in a pool thread; the SHA-256 of
what was sent must be the one recorded at protect time.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any

from banks.chunks import ChunkRef, ChunkStore, WriteStats
from plugins.context import ActivityContext
from plugins.openstack.byte_budget import ByteBudget
from plugins.openstack.chunk_feed import ChunkFeed
from plugins.openstack.cloud import OpenStackCloud
from plugins.openstack.errors import ChecksumMismatch
from plugins.openstack.glance_download import open_download
from plugins.openstack.hash_lane import HashLane
from plugins.openstack.image_manifest import ImageChunkList
from plugins.openstack.read_ahead import read_ahead


@dataclass
class ImageDigests:
    """Running checksums of the bytes read: our SHA-256, SHA-512 (Glance's
    ``os_hash_value``, its default multihash) and MD5 (its legacy ``checksum``) only where
    Glance has no SHA-512 to check the bytes against.

    One of Glance's digests is enough to know the bytes are Glance's, and hashing costs
    more CPU than anything else on the way (per GiB, here: MD5 1.6 s, SHA-512 1.4 s,
    SHA-256 0.7 s), so MD5 is skipped when SHA-512 checks, and Glance's own ``checksum``
    is recorded for it.
    """

    size: int = 0
    sha256: Any = field(default_factory=hashlib.sha256)
    sha512: Any = field(default_factory=hashlib.sha512)
    md5: Any | None = None

    @classmethod
    def checking(cls, checksum: str | None, hash_algo: str | None,
                 hash_value: str | None) -> ImageDigests:
        """The digests that check bytes against Glance's values (see the class)."""
        if hash_algo == "sha512" and hash_value:
            return cls()
        return cls(md5=hashlib.md5())

    # SHA-256 runs beside SHA-512, in a thread of its own (see plugins.openstack.hash_lane)
    _lane: HashLane | None = field(default=None, repr=False)

    def update(self, piece: bytes) -> None:
        """Add ``piece`` (blocking: called in the reading thread)."""
        self.size += len(piece)
        if self._lane is None:
            self._lane = HashLane(self.sha256)
        self._lane.update(piece)
        self.sha512.update(piece)
        if self.md5 is not None:
            self.md5.update(piece)

    def finish(self) -> None:
        """Wait for every piece to be hashed (blocking); ``sha256`` is whole after."""
        if self._lane is not None:
            self._lane.result()
            self._lane = None

    def md5_hex(self, glance: str | None) -> str:
        """The MD5 computed, else Glance's (whose bytes SHA-512 checked instead)."""
        return self.md5.hexdigest() if self.md5 is not None else glance or ""


@dataclass
class StoredImage:
    """What :func:`store_image` read and stored."""

    digests: ImageDigests
    chunks: list[ChunkRef]
    stats: WriteStats


async def store_image(
    cloud: OpenStackCloud,
    context: ActivityContext,
    image_id: str,
    store: ChunkStore,
    *,
    chunk_size: int,
    total: int | None,
    checksum: str | None,
    hash_algo: str | None = None,
    hash_value: str | None = None,
    budget: ByteBudget | None = None,
) -> StoredImage:
    """Stream image ``image_id`` from Glance into ``store``; return its chunks and digests.

    ``checksum`` (MD5) and ``hash_value`` (of ``hash_algo``, if ``sha512``) are Glance's:
    the bytes read must have them. Pieces are read ahead of the store up to what its
    chunker cuts at once (twice its largest chunk: see :mod:`read_ahead`); ``budget``, if
    given, is asked for each piece's bytes while it is in this function's hands.

    Raises:
        OpenStackError: the download failed (naming the image).
        ChecksumMismatch: the bytes read are not those Glance holds.
        BankError: a chunk could not be stored.
    """

    response = await open_download(cloud, context, image_id, chunk_size=chunk_size)
    digests = ImageDigests.checking(checksum, hash_algo, hash_value)
    stats = WriteStats()
    depth = max(2, -(-2 * store.chunker_params.max_size // chunk_size))
    try:
        pieces = response.iter_content(chunk_size=chunk_size)

        def read(_connection: Any) -> bytes | None:
            piece = next((piece for piece in pieces if piece), None)
            if piece is not None:
                digests.update(piece)  # here, in the pool thread: off the loop
            return piece

        async def read_next() -> bytes | None:
            if budget is not None:
                await budget.acquire(chunk_size)
            piece = None
            try:
                piece = await cloud.call(context.project_id, "glance", "read image data",
                                         image_id, read)
            finally:
                if piece is None and budget is not None:
                    budget.release(chunk_size)
            return piece

        def taken(piece: bytes) -> None:
            # the store has taken the piece into its chunker when it asks for the next
            if budget is not None:
                budget.release(chunk_size)

        async def body() -> AsyncGenerator[bytes, None]:
            done = 0
            async with contextlib.aclosing(read_ahead(read_next, depth, taken=taken)) as ahead:
                async for piece in ahead:
                    done += len(piece)
                    context.progress(done, total)
                    yield piece

        async with contextlib.aclosing(body()) as stream:
            # closed here, not when collected: its reads end before the response closes
            chunks = await store.write_stream(stream, stats)
    finally:
        await cloud.run(response.close)
        await cloud.run(digests.finish)
    _check_glance_digests(image_id, digests, checksum, hash_algo, hash_value)
    return StoredImage(digests, chunks, stats)


def _check_glance_digests(image_id: str, digests: ImageDigests, checksum: str | None,
                          hash_algo: str | None, hash_value: str | None) -> None:
    if digests.md5 is not None and checksum and checksum != digests.md5.hexdigest():
        raise ChecksumMismatch("glance", "download image", image_id,
                               f"read {digests.size} bytes with MD5 {digests.md5.hexdigest()},"
                               f" Glance says {checksum}")
    sha512 = digests.sha512.hexdigest()
    if hash_algo == "sha512" and hash_value and hash_value != sha512:
        raise ChecksumMismatch("glance", "download image", image_id,
                               f"read {digests.size} bytes with SHA-512 {sha512}, Glance's "
                               f"os_hash_value is {hash_value}")


async def send_image(
    cloud: OpenStackCloud,
    context: ActivityContext,
    image_id: str,
    store: ChunkStore,
    listed: ImageChunkList,
    *,
    resource_key: str,
    checkpoint_id: str,
    budget: ByteBudget | None = None,
) -> ChunkFeed:
    """Upload the chunks of ``listed`` as the data of the (queued) image ``image_id``.

    Returns the feed (what it sent, its SHA-256, its peak buffered bytes).

    Raises:
        StoredChunkError: a chunk is missing or corrupt (naming the resource and chunk).
        ChecksumMismatch: the bytes sent are not the size or SHA-256 recorded.
        OpenStackError: Glance refused the upload (naming the image).
    """
    feed = ChunkFeed(store, listed.chunks, asyncio.get_running_loop(),
                     resource_key=resource_key, checkpoint_id=checkpoint_id,
                     read_ahead=store.read_ahead, budget=budget,
                     progress=lambda done: context.progress(done, listed.size))

    def send(connection: Any) -> None:
        from openstack import exceptions  # noqa: PLC0415 -- SDK imported only when used
        from openstack.image.v2.image import Image  # noqa: PLC0415

        response = Image.new(id=image_id).upload(connection.image, data=iter(feed),
                                                 size=listed.size)
        exceptions.raise_from_response(response)

    try:
        await cloud.call(context.project_id, "glance", "upload image", image_id, send)
    except Exception as error:
        # a bad chunk ends the body; requests and the SDK may report it as their own error
        if feed.failure is not None:
            raise feed.failure from error
        raise
    finally:
        await feed.close()
    if feed.failure is not None:
        raise feed.failure
    sha256 = feed.sha256.hexdigest()
    if feed.sent != listed.size or sha256 != listed.sha256:
        raise ChecksumMismatch("glance", "upload image", image_id,
                               f"bank bytes of {resource_key} have SHA-256 {sha256} "
                               f"({feed.sent} bytes), recorded {listed.sha256} "
                               f"({listed.size} bytes)")
    return feed


__all__ = ["ImageDigests", "StoredImage", "send_image", "store_image"]
