"""Streamed sealed objects: segments of at most 1 MiB, each sealed on its own.

A plugin may stream a large object through its section (``put_stream``); sealed whole,
it would have to be held whole. So the streamed form seals it in segments, as the STREAM
construction does::

    the header (form 1, ``banks.sealed.envelope``)
    then per segment:  length of the rest of the record (4 bytes, big-endian)
                       final flag (1 byte: 1 for the last segment, else 0)
                       nonce (12 random bytes) || ciphertext || tag (16 bytes)

    associated data of segment i = the object's (header, key, scope)
                                   || i (8 bytes, big-endian) || the final flag

The index makes reordered, repeated or dropped segments fail; the flag, authenticated,
makes a stream cut after any segment but the last fail (the last is final, even if
empty), and bytes after it are refused. A reader hands on each segment once it is
authenticated, and raises at the end if the stream was cut, as a restore of chunks does.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterable, AsyncIterator

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from banks.sealed.envelope import (
    HEADER_SIZE,
    NONCE_SIZE,
    TAG_SIZE,
    Form,
    Purpose,
    associated_data,
    check_header,
    header_of,
)
from banks.sealed.errors import SealedObjectCorrupt

SEGMENT_SIZE = 1 << 20
_LENGTH = 4
_MAX_RECORD = 1 + NONCE_SIZE + SEGMENT_SIZE + TAG_SIZE


def _record(aead: AESGCM, base: bytes, index: int, plaintext: bytes, *, final: bool) -> bytes:
    flag = b"\x01" if final else b"\x00"
    nonce = os.urandom(NONCE_SIZE)
    sealed = aead.encrypt(nonce, plaintext, base + index.to_bytes(8, "big") + flag)
    body = flag + nonce + sealed
    return len(body).to_bytes(_LENGTH, "big") + body


async def seal_stream(
    aead: AESGCM, purpose: Purpose, key: str, scope: str, chunks: AsyncIterable[bytes]
) -> AsyncIterator[bytes]:
    """The stored form of the concatenated ``chunks``, in pieces of about a segment."""
    header = header_of(purpose, Form.STREAMED)
    base = associated_data(header, key, scope)
    yield header
    buffer = bytearray()
    index = 0
    async for chunk in chunks:
        buffer += chunk
        # strictly more than a segment: what is left is never empty, so the final
        # segment is written last whatever the stream's length
        while len(buffer) > SEGMENT_SIZE:
            yield _record(aead, base, index, bytes(buffer[:SEGMENT_SIZE]), final=False)
            del buffer[:SEGMENT_SIZE]
            index += 1
    yield _record(aead, base, index, bytes(buffer), final=True)


class StreamOpener:
    """Reads a streamed object fed piece by piece; ``finish`` when the bytes end.

    Raises (``feed``, ``finish``):
        SealedObjectCorrupt: naming the key and scope, if a segment fails, the stream is
            cut, or bytes follow its final segment.
    """

    def __init__(self, aead: AESGCM, purpose: Purpose, key: str, scope: str) -> None:
        self._aead, self._purpose, self._key, self._scope = aead, purpose, key, scope
        self._buffer = bytearray()
        self._base: bytes | None = None
        self._index = 0
        self._final = False

    def _corrupt(self, reason: str) -> SealedObjectCorrupt:
        return SealedObjectCorrupt(self._key, self._scope, reason)

    def feed(self, data: bytes) -> list[bytes]:
        """The plaintext of every segment ``data`` completes, in order."""
        self._buffer += data
        if self._base is None:
            if len(self._buffer) < HEADER_SIZE:
                return []
            header = bytes(self._buffer[:HEADER_SIZE])
            if check_header(header, self._purpose, self._key, self._scope) != Form.STREAMED:
                raise self._corrupt("a whole object read as a streamed one")
            self._base = associated_data(header, self._key, self._scope)
            del self._buffer[:HEADER_SIZE]
        pieces: list[bytes] = []
        while len(self._buffer) >= _LENGTH:
            if self._final:
                raise self._corrupt("bytes after its final segment")
            length = int.from_bytes(self._buffer[:_LENGTH], "big")
            if not 1 + NONCE_SIZE + TAG_SIZE <= length <= _MAX_RECORD:
                raise self._corrupt(f"segment {self._index} has an impossible length")
            if len(self._buffer) < _LENGTH + length:
                break
            body = bytes(self._buffer[_LENGTH : _LENGTH + length])
            del self._buffer[: _LENGTH + length]
            pieces.append(self._open(body))
        return pieces

    def _open(self, body: bytes) -> bytes:
        assert self._base is not None
        flag, nonce, sealed = body[:1], body[1 : 1 + NONCE_SIZE], body[1 + NONCE_SIZE :]
        aad = self._base + self._index.to_bytes(8, "big") + flag
        try:
            plaintext = self._aead.decrypt(nonce, sealed, aad)
        except InvalidTag:
            raise self._corrupt(
                f"segment {self._index} fails authentication (altered, reordered, or copied"
                " from another key, checkpoint or operation)"
            ) from None
        self._final = flag == b"\x01"
        self._index += 1
        return plaintext

    def finish(self) -> None:
        """Check the stream ended with its final segment."""
        if self._buffer or not self._final:
            raise self._corrupt("truncated: the stream ends before its final segment")


def unseal_streamed(aead: AESGCM, purpose: Purpose, key: str, scope: str, stored: bytes) -> bytes:
    """The whole plaintext of a streamed object read at once.

    Raises:
        SealedObjectCorrupt: as :class:`StreamOpener`.
    """
    opener = StreamOpener(aead, purpose, key, scope)
    pieces = opener.feed(stored)
    opener.finish()
    return b"".join(pieces)
