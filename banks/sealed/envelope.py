"""The stored form of a sealed object: a small header, then AES-256-GCM.

::

    bytes 0-3   magic b"\\x89sbo" (0x89 starts no JSON and no UTF-8 text)
    byte 4      format version, 1
    byte 5      purpose: 1 a plugin's section object, 2 an engine object
    byte 6      form: 0 whole (below), 1 streamed in segments (``banks.sealed.stream``)
    bytes 7-18  nonce, 12 random bytes (a new one per write)
    then        ciphertext || tag (16 bytes)

    associated data = "strongbox sealed object v1" || 0x00
                      || len || the seven header bytes
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
HEADER_SIZE = len(MAGIC) + 3
_LABEL = b"strongbox sealed object v1\x00"


class Purpose(IntEnum):
    """Whose object it is, and so which key seals it."""

    SECTION = 1
    ENGINE = 2


class Form(IntEnum):
    """How the ciphertext follows the header."""

    WHOLE = 0
    STREAMED = 1


def is_sealed(data: bytes) -> bool:
    """True if ``data`` starts like a sealed object (of any version)."""
    return data[: len(MAGIC)] == MAGIC


def header_of(purpose: Purpose, form: Form) -> bytes:
    """The header of a sealed object of this purpose and form."""
    return MAGIC + bytes((FORMAT_VERSION, purpose, form))


def associated_data(header: bytes, key: str, scope: str) -> bytes:
    """What binds an object to its header, key and scope (each field length-prefixed)."""
    parts = (header, key.encode(), scope.encode())
    return _LABEL + b"".join(len(part).to_bytes(8, "big") + part for part in parts)


def check_header(stored: bytes, purpose: Purpose, key: str, scope: str) -> Form:
    """The form of a sealed object whose first bytes are ``stored``.

    Raises:
        SealedObjectCorrupt: if it is too short, of an unknown version or form, or sealed
            for another purpose.
    """
    if len(stored) < HEADER_SIZE or not is_sealed(stored):
        raise SealedObjectCorrupt(key, scope, "truncated, or not a sealed object")
    version, found, form = stored[len(MAGIC)], stored[len(MAGIC) + 1], stored[len(MAGIC) + 2]
    if version != FORMAT_VERSION:
        raise SealedObjectCorrupt(key, scope, f"sealed object format v{version} is unknown")
    if found != purpose:
        raise SealedObjectCorrupt(key, scope, "sealed for another purpose than its place holds")
    if form not in (Form.WHOLE, Form.STREAMED):
        raise SealedObjectCorrupt(key, scope, f"unknown sealed form {form}")
    return Form(form)


def seal(aead: AESGCM, purpose: Purpose, key: str, scope: str, plaintext: bytes) -> bytes:
    """The stored form of ``plaintext`` at bank key ``key`` in ``scope``."""
    header = header_of(purpose, Form.WHOLE)
    nonce = os.urandom(NONCE_SIZE)
    return header + nonce + aead.encrypt(nonce, plaintext, associated_data(header, key, scope))


def unseal(aead: AESGCM, purpose: Purpose, key: str, scope: str, stored: bytes) -> bytes:
    """The plaintext of a sealed object read from ``key``.

    Only the whole form; ``banks.sealed.stream.unseal_streamed`` reads the other.

    Raises:
        SealedObjectCorrupt: naming the key and scope, if the object is truncated, of an
            unknown version, sealed for another purpose, altered, or was sealed at another
            key or in another scope.
    """
    if check_header(stored, purpose, key, scope) != Form.WHOLE:
        raise SealedObjectCorrupt(key, scope, "a streamed object read as a whole one")
    if len(stored) < HEADER_SIZE + NONCE_SIZE + TAG_SIZE:
        raise SealedObjectCorrupt(key, scope, "truncated, or not a sealed object")
    header = stored[:HEADER_SIZE]
    nonce = stored[HEADER_SIZE : HEADER_SIZE + NONCE_SIZE]
    try:
        return aead.decrypt(
            nonce, stored[HEADER_SIZE + NONCE_SIZE :], associated_data(header, key, scope)
        )
    except InvalidTag:
        raise SealedObjectCorrupt(
            key,
            scope,
            "authentication failed (altered, or copied from another key, checkpoint or"
            " operation)",
        ) from None
