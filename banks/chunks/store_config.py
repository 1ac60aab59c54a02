"""``/chunks/config``: what every process opening the store must agree on.

    {"v": 1, "store_id": "…", "created_at": 1795306920.2, "encryption": "aes-256-gcm",
     "chunker": {"min_size": 262144, "avg_size": 1048576, "max_size": 4194304},
     "kdf": {"salt": "<base64>", "n": 32768, "r": 8, "p": 1, "name": "scrypt"},
     "wrapped_key": "<base64 nonce||ciphertext||tag>", "plain_key": null}

An unencrypted store (``"encryption": "none"``) keeps its master key in ``plain_key``:
it still keys the chunk ids and the chunker, but protects nothing, as the data itself is
in the clear. The chunker sizes are fixed here when the store is created, because other
sizes would cut other boundaries and defeat deduplication.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from banks.chunks.chunker import ChunkerParams
from banks.chunks.errors import ChunkStoreConfigError
from banks.chunks.master_key import MASTER_KEY_SIZE, ScryptParams

CONFIG_VERSION = 1
Encryption = Literal["aes-256-gcm", "none"]


class StoreConfig(msgspec.Struct, frozen=True, kw_only=True):
    """The stored configuration of one chunk store."""

    v: int = CONFIG_VERSION
    store_id: str
    created_at: float
    encryption: Encryption
    chunker: ChunkerParams
    kdf: ScryptParams | None = None
    wrapped_key: bytes | None = None
    plain_key: bytes | None = None

    def __repr__(self) -> str:  # the default repr would print the key material
        return f"StoreConfig(store_id={self.store_id!r}, encryption={self.encryption!r})"


class _VersionOnly(msgspec.Struct):
    v: int


_encoder = msgspec.json.Encoder()


def encode_config(config: StoreConfig) -> bytes:
    """The stored JSON form."""
    return _encoder.encode(config)


def decode_config(data: bytes, bank: str) -> StoreConfig:
    """Read and check ``/chunks/config``.

    Raises:
        ChunkStoreConfigError: naming the bank, if it is malformed, of an unknown version,
            or inconsistent (an encrypted store without a wrapped key, and so on).
    """
    try:
        version = msgspec.json.decode(data, type=_VersionOnly).v
        if version != CONFIG_VERSION:
            raise ChunkStoreConfigError(
                f"bank {bank}", f"config format v{version} is not supported"
            )
        config = msgspec.json.decode(data, type=StoreConfig)
    except msgspec.DecodeError as error:
        raise ChunkStoreConfigError(f"bank {bank}", f"malformed config: {error}") from error
    problem = config.chunker.problem() or _key_problem(config)
    if problem is not None:
        raise ChunkStoreConfigError(f"bank {bank}", problem)
    return config


def _key_problem(config: StoreConfig) -> str | None:
    if config.encryption == "none":
        if config.plain_key is None or len(config.plain_key) != MASTER_KEY_SIZE:
            return "an unencrypted store without a valid plain_key"
        return None
    if config.kdf is None or config.wrapped_key is None or config.plain_key is not None:
        return "an encrypted store needs kdf and wrapped_key, and no plain_key"
    return config.kdf.problem()
