"""The stored form of a sealed object: a small header, then AES-256-GCM.

::

    bytes 0-3   magic b"\\x89sbo" (0x89 starts no JSON and no UTF-8 text)
    byte 4      format version, 1
    byte 5      purpose: 1 a plugin's section object, 2 an engine object
    bytes 6-17  nonce, 12 random bytes (a new one per write)
    then        ciphertext || tag (16 bytes)

    associated data = "strongbox sealed object v1" || 0x00
                      || len || the six header bytes
                      || len || the object's bank key (UTF-8)
                      || len || its scope ("checkpoint <id>", "operation <id>" or "bank")

each ``len`` the field's length as 8 bytes big-endian, so no two sequences of fields feed
the same bytes. Binding the key and the scope means an object copied to another key, or
from another checkpoint or operation (a silent rollback), fails authentication; binding
the header means its version or purpose cannot be changed either. Random 96-bit nonces
are safe far beyond these volumes (below 2^-32 of a collision at 2^32 objects per key).
"""

from __future__ import annotations

import os
from enum import IntEnum

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from banks.sealed.errors import SealedObjectCorrupt

MAGIC = b"\x89sbo"
FORMAT_VERSION = 1
NONCE_SIZE = 12
TAG_SIZE = 16
HEADER_SIZE = len(MAGIC) + 2
_LABEL = b"strongbox sealed object v1\x00"


class Purpose(IntEnum):
    """Whose object it is, and so which key seals it."""

    SECTION = 1
    ENGINE = 2


def is_sealed(data: bytes) -> bool:
    """True if ``data`` starts like a sealed object (of any version)."""
    return data[: len(MAGIC)] == MAGIC


def _associated_data(header: bytes, key: str, scope: str) -> bytes:
    parts = (header, key.encode(), scope.encode())
    return _LABEL + b"".join(len(part).to_bytes(8, "big") + part for part in parts)


def seal(aead: AESGCM, purpose: Purpose, key: str, scope: str, plaintext: bytes) -> bytes:
    """The stored form of ``plaintext`` at bank key ``key`` in ``scope``."""
    header = MAGIC + bytes((FORMAT_VERSION, purpose))
    nonce = os.urandom(NONCE_SIZE)
    return header + nonce + aead.encrypt(nonce, plaintext, _associated_data(header, key, scope))


def unseal(aead: AESGCM, purpose: Purpose, key: str, scope: str, stored: bytes) -> bytes:
    """The plaintext of a sealed object read from ``key``.

    Raises:
        SealedObjectCorrupt: naming the key and scope, if the object is truncated, of an
            unknown version, sealed for another purpose, altered, or was sealed at another
            key or in another scope.
    """
    if len(stored) < HEADER_SIZE + NONCE_SIZE + TAG_SIZE or not is_sealed(stored):
        raise SealedObjectCorrupt(key, scope, "truncated, or not a sealed object")
    version, found = stored[len(MAGIC)], stored[len(MAGIC) + 1]
    if version != FORMAT_VERSION:
        raise SealedObjectCorrupt(key, scope, f"sealed object format v{version} is unknown")
    if found != purpose:
        raise SealedObjectCorrupt(key, scope, "sealed for another purpose than its place holds")
    header = stored[:HEADER_SIZE]
    nonce = stored[HEADER_SIZE : HEADER_SIZE + NONCE_SIZE]
    try:
        return aead.decrypt(
            nonce, stored[HEADER_SIZE + NONCE_SIZE :], _associated_data(header, key, scope)
        )
    except InvalidTag:
        raise SealedObjectCorrupt(
            key,
            scope,
            "authentication failed (altered, or copied from another key, checkpoint or"
            " operation)",
        ) from None
