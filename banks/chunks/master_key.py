"""The store's master key: random, wrapped under a passphrase-derived key, split by HKDF.

A store has one random 32-byte master key. In an encrypted store it is kept only
wrapped: AES-256-GCM under a key-encryption key that scrypt derives from the passphrase
(or a key file's bytes) and a random salt. scrypt is memory-hard (``n=2**15, r=8``: 32
MiB and about 0.1 s per derivation here), so guessing passphrases offline costs memory,
not just time. A wrong passphrase fails the GCM tag and raises :class:`WrongKey`.

HKDF-SHA256 splits the master key into independent subkeys, so no key serves two
purposes: the chunk-id key (HMAC-SHA256), the chunk encryption key (AES-256-GCM), the
chunker's gear seed, and in an encrypted store the root of the keys that seal the bank's
other objects (``banks.sealed``: the engine's and the plugins' sections').
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from banks.chunks.errors import ChunkStoreConfigError, WrongKey

MASTER_KEY_SIZE = 32
NONCE_SIZE = 12
_WRAP_AAD = b"strongbox chunk store master key v1"
# accepted scrypt costs: below the floor is too cheap to guess against, above the ceiling
# a crafted config could make every open allocate gigabytes
_N_BOUNDS = (1 << 14, 1 << 22)
_R_BOUNDS = (1, 32)
_P_BOUNDS = (1, 16)


class ScryptParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The KDF of a wrapped key, stored beside it (the salt is base64 in JSON)."""

    salt: bytes
    n: int = 1 << 15
    r: int = 8
    p: int = 1
    name: str = "scrypt"

    def problem(self) -> str | None:
        """Why these parameters are refused, or None."""
        if self.name != "scrypt":
            return f"unknown key derivation {self.name!r}"
        if self.n & (self.n - 1) or not _N_BOUNDS[0] <= self.n <= _N_BOUNDS[1]:
            return f"scrypt n={self.n} is not a power of two in {list(_N_BOUNDS)}"
        if not _R_BOUNDS[0] <= self.r <= _R_BOUNDS[1] or not _P_BOUNDS[0] <= self.p <= _P_BOUNDS[1]:
            return f"scrypt r={self.r} or p={self.p} is out of range"
        if len(self.salt) < 16:
            return "the scrypt salt is shorter than 16 bytes"
        return None


@dataclass(frozen=True)
class ChunkKeys:
    """The subkeys of one master key. ``repr`` never shows them."""

    id_key: bytes = field(repr=False)
    encryption_key: bytes | None = field(repr=False)
    chunker_seed: int = field(repr=False)
    # the root of the sealed objects' keys (banks.sealed.ObjectKeys); None unencrypted
    sealing_root: bytes | None = field(default=None, repr=False)


def new_master_key() -> bytes:
    """A fresh random master key."""
    return os.urandom(MASTER_KEY_SIZE)


def derive_keys(master_key: bytes, *, encrypted: bool) -> ChunkKeys:
    """Split ``master_key`` into the id key, the encryption key, the chunker seed and,
    if ``encrypted``, the sealing root."""

    def expand(info: bytes, length: int = 32) -> bytes:
        kdf = HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info)
        return kdf.derive(master_key)

    return ChunkKeys(
        id_key=expand(b"strongbox chunk id"),
        encryption_key=expand(b"strongbox chunk encryption") if encrypted else None,
        chunker_seed=int.from_bytes(expand(b"strongbox chunker seed", 8), "big"),
        sealing_root=expand(b"strongbox sealed objects") if encrypted else None,
    )


def _key_encryption_key(secret: bytes, params: ScryptParams) -> bytes:
    kdf = Scrypt(salt=params.salt, length=32, n=params.n, r=params.r, p=params.p)
    return kdf.derive(secret)


def wrap_master_key(master_key: bytes, secret: bytes, params: ScryptParams) -> bytes:
    """``nonce || AES-256-GCM(kek, master_key)``; slow on purpose (scrypt): use a thread."""
    nonce = os.urandom(NONCE_SIZE)
    kek = _key_encryption_key(secret, params)
    return nonce + AESGCM(kek).encrypt(nonce, master_key, _WRAP_AAD)


def unwrap_master_key(wrapped: bytes, secret: bytes, params: ScryptParams, bank: str) -> bytes:
    """Invert :func:`wrap_master_key`; slow on purpose (scrypt): use a thread.

    Raises:
        WrongKey: if ``secret`` is not the one the key was wrapped with (or the wrapped
            key was altered: the two cannot be told apart, and both must fail closed).
        ChunkStoreConfigError: if the parameters or the wrapped key are malformed.
    """
    problem = params.problem()
    if problem is not None:
        raise ChunkStoreConfigError(f"bank {bank}", problem)
    if len(wrapped) != NONCE_SIZE + MASTER_KEY_SIZE + 16:
        raise ChunkStoreConfigError(f"bank {bank}", "the wrapped master key has the wrong length")
    kek = _key_encryption_key(secret, params)
    try:
        return AESGCM(kek).decrypt(wrapped[:NONCE_SIZE], wrapped[NONCE_SIZE:], _WRAP_AAD)
    except InvalidTag:
        raise WrongKey(bank) from None
