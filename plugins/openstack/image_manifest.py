"""The chunk list of an image's (or a volume's) bytes, kept in the resource's section.

Since image layout ``chunks`` the bytes are in the bank's chunk store (shared with every
other checkpoint and plugin of the bank: a chunk an image and a directory have in common
is stored once), and the section keeps, at ``image_chunks``, before ``saved_info``::

    {"v": 1, "size": 1073741824, "sha256": "<64 hex>",
     "chunks": [["<64 hex: chunk id>", 1048576], ...], "mac": "<64 hex>"}

``chunks`` are in order and add up to ``size``; ``sha256`` is of the whole image, checked
as a restore streams the bytes into Glance. ``mac`` is HMAC-SHA256 under the store's id
key of a label, then each of the version, the checkpoint id, the resource's ``type#id``
key, the size, the digest and the encoded chunk list, each after its length (8 bytes,
big-endian). Each chunk authenticates itself against its keyed id, but the list is in the
section: without the MAC whoever writes the bank could drop, repeat or reorder chunks,
or copy the list of an older checkpoint of the same image (a silent rollback) or of
another resource. In an unencrypted store, whose key is in the clear, it guards against
accidents only, as the directory manifest's.

About 75 bytes per chunk: a 1 GiB image of 1 MiB chunks has a 75 KB list.
"""

from __future__ import annotations

import hmac

import msgspec

from banks.chunks import ChunkRef, ChunkStore
from banks.chunks.layout import is_chunk_id
from banks.errors import ObjectNotFound
from banks.section import BankSection
from plugins.openstack.errors import StoredBytesError

IMAGE_CHUNKS_KEY = "image_chunks"
IMAGE_CHUNKS_VERSION = 1
_LABEL = b"strongbox image chunk list v1"


class ImageChunkList(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What the section holds at ``image_chunks`` (see the module)."""

    v: int
    size: int
    sha256: str
    chunks: list[ChunkRef]
    mac: str

    def offsets(self) -> list[int]:
        """Where each chunk begins in the image."""
        starts, at = [], 0
        for ref in self.chunks:
            starts.append(at)
            at += ref.size
        return starts


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(ImageChunkList)


async def list_mac(store: ChunkStore, *, checkpoint_id: str, resource_key: str, size: int,
                   sha256: str, chunks: list[ChunkRef]) -> str:
    """The MAC of a chunk list of this checkpoint and resource (see the module)."""
    fields = (
        IMAGE_CHUNKS_VERSION.to_bytes(8, "big"),
        checkpoint_id.encode(),
        resource_key.encode(),
        size.to_bytes(8, "big"),
        sha256.encode(),
        _encoder.encode(chunks),
    )
    parts = [part for field in fields for part in (len(field).to_bytes(8, "big"), field)]
    return await store.keyed_digest(_LABEL, *parts)


async def write_chunk_list(section: BankSection, store: ChunkStore, *, checkpoint_id: str,
                           resource_key: str, size: int, sha256: str,
                           chunks: list[ChunkRef]) -> None:
    """Put the chunk list of the resource's bytes into its section (before its saved info)."""
    mac = await list_mac(store, checkpoint_id=checkpoint_id, resource_key=resource_key,
                         size=size, sha256=sha256, chunks=chunks)
    listed = ImageChunkList(v=IMAGE_CHUNKS_VERSION, size=size, sha256=sha256, chunks=chunks,
                            mac=mac)
    await section.put(IMAGE_CHUNKS_KEY, _encoder.encode(listed))


async def read_chunk_list(section: BankSection, store: ChunkStore, *, checkpoint_id: str,
                          resource_key: str) -> ImageChunkList:
    """The chunk list the protect recorded for this checkpoint and resource.

    Raises:
        StoredBytesError: it is missing (the protect did not complete), malformed, its
            chunks do not add up to its size, or its MAC does not match (altered, or
            copied from another checkpoint or resource).
        BankError: the bank cannot be read.
    """
    def refused(reason: str) -> StoredBytesError:
        return StoredBytesError(resource_key, checkpoint_id, reason)

    try:
        data = await section.get(IMAGE_CHUNKS_KEY)
    except ObjectNotFound as error:
        raise refused("no chunk list: the protect did not complete") from error
    try:
        listed = _decoder.decode(data)
    except msgspec.DecodeError as error:
        raise refused(f"malformed chunk list: {error}") from error
    if listed.v != IMAGE_CHUNKS_VERSION:
        raise refused(f"chunk list version {listed.v} is not {IMAGE_CHUNKS_VERSION}")
    if not all(is_chunk_id(ref.id) and ref.size > 0 for ref in listed.chunks):
        raise refused("malformed chunk list: an entry is not a chunk id and a size")
    if sum(ref.size for ref in listed.chunks) != listed.size:
        raise refused(f"malformed chunk list: its chunks do not add up to {listed.size} bytes")
    mac = await list_mac(store, checkpoint_id=checkpoint_id, resource_key=resource_key,
                         size=listed.size, sha256=listed.sha256, chunks=listed.chunks)
    if not hmac.compare_digest(mac, listed.mac):
        raise refused("the chunk list does not match the one the protect recorded for this"
                      " checkpoint and resource (altered, or copied from another checkpoint"
                      " or resource)")
    return listed


__all__ = [
    "IMAGE_CHUNKS_KEY",
    "IMAGE_CHUNKS_VERSION",
    "ImageChunkList",
    "list_mac",
    "read_chunk_list",
    "write_chunk_list",
]
