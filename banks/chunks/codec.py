"""A chunk's identity and its stored form: keyed hash, zstd, AES-256-GCM, a version byte.

Stored form (one bank object per chunk)::

    byte 0      format version, 1
    byte 1      flags: bit 0 zstd-compressed, bit 1 AES-256-GCM-encrypted
    encrypted:  nonce (12 random bytes) || ciphertext || tag (16)
                associated data: the two header bytes || the 32-byte chunk id
    otherwise:  the payload as is
    payload:    a zstd frame, or the plaintext when compressing saved too little

The id is HMAC-SHA256 of the plaintext under a key derived from the master key, so ids
reveal nothing about the data to whoever reads the bank (a plain hash would confirm a
guess of a file's content). Binding the id into the AEAD means a chunk moved to another
chunk's key fails authentication. After decryption and decompression the HMAC is
computed again and compared: a chunk is returned only if it is exactly what its id says.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
from typing import overload

import zstandard
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from banks.chunks.decode_buffers import DecodeBuffers
from banks.chunks.errors import CorruptChunk
from banks.chunks.master_key import NONCE_SIZE, ChunkKeys

FORMAT_VERSION = 1
FLAG_ZSTD = 0x01
FLAG_AES_GCM = 0x02
_KNOWN_FLAGS = FLAG_ZSTD | FLAG_AES_GCM
_TAG_SIZE = 16
ID_HEX_LENGTH = 64
# keep a compressed payload only if it saves at least 1/32 of the chunk: below that the
# decompression on every restore costs more than the bytes saved
_MIN_SAVING_SHIFT = 5
# bytes compressed to judge whether a chunk compresses at all, taken from this many places
_SAMPLE_SIZE = 64 * 1024
_SAMPLES = 4
# zstd reads as a whole chunk at most this much: a frame claiming more is refused
MAX_CHUNK_SIZE = 16 << 20


def _saves_enough(compressed: int, plain: int) -> bool:
    return compressed <= plain - (plain >> _MIN_SAVING_SHIFT)


def _worth_compressing(compressor: zstandard.ZstdCompressor, plaintext: bytes | memoryview) -> bool:
    """False if samples from across the chunk do not compress (random, already packed).

    Compressing a whole incompressible chunk costs a chunk-sized buffer and CPU for
    nothing; the samples cost 1/16 of that (of a 1 MiB chunk). They are taken from
    :data:`_SAMPLES` places, not the start only: a chunk of bundled small files mixes
    text with packed data, and one sample would judge it by its first file.
    """
    if len(plaintext) <= 2 * _SAMPLE_SIZE:
        return True
    piece = _SAMPLE_SIZE // _SAMPLES
    stride = len(plaintext) // _SAMPLES
    view = memoryview(plaintext)
    sample = b"".join(view[i * stride : i * stride + piece] for i in range(_SAMPLES))
    return _saves_enough(len(compressor.compress(sample)), len(sample))


class ChunkCodec:
    """Computes ids and encodes and decodes chunks; thread-safe, CPU-bound (use threads)."""

    def __init__(self, keys: ChunkKeys, *, bank: str, compression_level: int = 3) -> None:
        self.bank = bank
        self.encrypted = keys.encryption_key is not None
        self._id_key = keys.id_key
        self._aead = AESGCM(keys.encryption_key) if keys.encryption_key is not None else None
        self.compression_level = compression_level
        self._local = threading.local()

    def chunk_id(self, plaintext: bytes | memoryview) -> str:
        """The chunk's id: HMAC-SHA256 of its plaintext, as 64 hex digits."""
        return hmac.digest(self._id_key, plaintext, hashlib.sha256).hex()

    def keyed_digest(self, label: bytes, *parts: bytes | memoryview) -> str:
        """HMAC-SHA256 under the id key of ``label``, a NUL, then ``parts``, as 64 hex digits.

        A keyed fingerprint of something made of chunks (a manifest): only a holder of
        the key can compute it, and the label keeps each use apart from the others.
        """
        mac = hmac.new(self._id_key, label + b"\0", hashlib.sha256)
        for part in parts:
            mac.update(part)
        return mac.hexdigest()

    def encode(self, chunk_id: str, plaintext: bytes | memoryview) -> bytes:
        """The stored form of the chunk whose id is ``chunk_id``."""
        flags = 0
        payload: bytes | memoryview = plaintext
        if self.compression_level > 0 and len(plaintext) > 0:
            compressor = self._compressor()
            if _worth_compressing(compressor, plaintext):
                compressed = compressor.compress(plaintext)
                if _saves_enough(len(compressed), len(plaintext)):
                    payload, flags = compressed, flags | FLAG_ZSTD
        if self._aead is None:
            return bytes((FORMAT_VERSION, flags)) + payload
        flags |= FLAG_AES_GCM
        header = bytes((FORMAT_VERSION, flags))
        nonce = os.urandom(NONCE_SIZE)
        sealed = self._aead.encrypt(nonce, payload, header + bytes.fromhex(chunk_id))
        return header + nonce + sealed

    def _compressor(self) -> zstandard.ZstdCompressor:
        # one per thread: zstandard's compressors are not thread-safe, and making one
        # per chunk allocated (and page-faulted) its tables every time
        compressor: zstandard.ZstdCompressor | None = getattr(self._local, "compressor", None)
        if compressor is None:
            compressor = zstandard.ZstdCompressor(level=self.compression_level)
            self._local.compressor = compressor
        return compressor

    def decode(self, chunk_id: str, stored: bytes, size: int | None = None) -> bytes:
        """The plaintext of a stored chunk, checked against its id (and ``size`` if given).

        Raises:
            CorruptChunk: naming the chunk and the bank, if the object is truncated,
                altered, of an unknown format, stored unencrypted in an encrypted store
                (or the reverse), or its plaintext does not hash to ``chunk_id``.
        """
        flags = self._check_header(chunk_id, stored)
        # views, not slices: a slice of a chunk-sized object is a chunk-sized copy
        view = memoryview(stored)
        payload: bytes | memoryview = (
            self._open(chunk_id, view) if self._aead is not None else view[2:]
        )
        if flags & FLAG_ZSTD:
            payload = self._decompress(chunk_id, payload, size)
        self._check_plaintext(chunk_id, payload, size)
        return payload if isinstance(payload, bytes) else bytes(payload)

    def decode_into(
        self, chunk_id: str, stored: bytes | memoryview, size: int, buffers: DecodeBuffers
    ) -> memoryview:
        """As :meth:`decode`, the plaintext in ``buffers`` (valid until their next use).

        Raises:
            CorruptChunk: as :meth:`decode`.
        """
        flags = self._check_header(chunk_id, stored)
        view = memoryview(stored)
        payload = view[2:]
        if self._aead is not None:
            sealed = len(payload) - NONCE_SIZE - _TAG_SIZE
            payload = self._open(chunk_id, view, buffers.opened.view(max(0, sealed)))
        if flags & FLAG_ZSTD:
            payload = self._decompress_into(chunk_id, payload, buffers.plain.view(size + 1))
        self._check_plaintext(chunk_id, payload, size)
        return payload

    def _check_header(self, chunk_id: str, stored: bytes | memoryview) -> int:
        """The flags of a stored chunk whose header this codec reads."""
        if len(stored) < 2:
            raise self._corrupt(chunk_id, "shorter than its header")
        version, flags = stored[0], stored[1]
        if version != FORMAT_VERSION:
            raise self._corrupt(chunk_id, f"unknown format version {version}")
        if flags & ~_KNOWN_FLAGS:
            raise self._corrupt(chunk_id, f"unknown flags {flags:#04x}")
        if bool(flags & FLAG_AES_GCM) != self.encrypted:
            state = "encrypted" if flags & FLAG_AES_GCM else "not encrypted"
            raise self._corrupt(chunk_id, f"it is {state}, unlike its store")
        return flags

    def _check_plaintext(
        self, chunk_id: str, payload: bytes | memoryview, size: int | None
    ) -> None:
        if size is not None and len(payload) != size:
            raise self._corrupt(chunk_id, f"holds {len(payload)} bytes, not {size}")
        if not hmac.compare_digest(self.chunk_id(payload), chunk_id):
            raise self._corrupt(chunk_id, "its content does not match its id")

    @overload
    def _open(self, chunk_id: str, stored: memoryview) -> bytes: ...

    @overload
    def _open(self, chunk_id: str, stored: memoryview, into: memoryview) -> memoryview: ...

    def _open(
        self, chunk_id: str, stored: memoryview, into: memoryview | None = None
    ) -> bytes | memoryview:
        """Authenticate and decrypt; into ``into`` (exactly the plaintext's size) if given."""
        assert self._aead is not None
        if len(stored) < 2 + NONCE_SIZE + _TAG_SIZE:
            raise self._corrupt(chunk_id, "shorter than its nonce and tag")
        nonce = bytes(stored[2 : 2 + NONCE_SIZE])
        sealed = stored[2 + NONCE_SIZE :]
        associated = bytes(stored[:2]) + bytes.fromhex(chunk_id)
        try:
            if into is None:
                return self._aead.decrypt(nonce, sealed, associated)
            self._aead.decrypt_into(nonce, sealed, associated, into)
            return into
        except InvalidTag:
            raise self._corrupt(
                chunk_id, "authentication failed (altered, or stored under another id or key)"
            ) from None

    def _decompress(self, chunk_id: str, payload: bytes | memoryview, size: int | None) -> bytes:
        limit = size if size is not None else MAX_CHUNK_SIZE
        try:
            return self._decompressor().decompress(payload, max_output_size=limit)
        except zstandard.ZstdError as error:
            raise self._corrupt(chunk_id, f"zstd: {error}") from None

    def _decompress_into(self, chunk_id: str, payload: memoryview, into: memoryview) -> memoryview:
        """The frame in ``payload`` decompressed into ``into``, up to its length.

        ``into`` is one byte longer than the reference's size: a frame holding more fills
        it, and fails the size check without being read any further.
        """
        filled = 0
        try:
            with self._decompressor().stream_reader(payload) as reader:
                while filled < len(into):
                    count = reader.readinto(into[filled:])
                    if count == 0:
                        break
                    filled += count
        except zstandard.ZstdError as error:
            raise self._corrupt(chunk_id, f"zstd: {error}") from None
        return into[:filled]

    def _decompressor(self) -> zstandard.ZstdDecompressor:
        # one per thread, as compressors: a decompression context is a few hundred KiB
        decompressor: zstandard.ZstdDecompressor | None = getattr(self._local, "decompressor", None)
        if decompressor is None:
            decompressor = zstandard.ZstdDecompressor()
            self._local.decompressor = decompressor
        return decompressor

    def _corrupt(self, chunk_id: str, reason: str) -> CorruptChunk:
        return CorruptChunk(self.bank, chunk_id, reason)
