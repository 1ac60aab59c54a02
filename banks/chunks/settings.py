"""The chunk store's options, read from a provider-file section and the environment.

Options (all optional)::

    encryption = aes-256-gcm | none      default aes-256-gcm; only for a new store
    passphrase = …                       or $STRONGBOX_PASSPHRASE
    key_file = /path/to/file             or $STRONGBOX_KEY_FILE; its bytes are the secret
    chunk_min_size / chunk_avg_size / chunk_max_size   bytes; default 256 KiB / 1 MiB / 4 MiB
    compression_level = 3                zstd level, 0 turns compression off (0 to 19)
    upload_concurrency = 4               chunks encoded and uploaded at once (1 to 64)
    read_ahead = 4                       chunks fetched ahead of a reader, and decoded at once
                                         into a restore's reused buffers (1 to 32)

The first of option ``passphrase``, option ``key_file``, ``$STRONGBOX_PASSPHRASE``,
``$STRONGBOX_KEY_FILE`` that is set is the secret. The chunker sizes and the encryption
mode apply when a store is created; an existing store keeps its own.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated

import msgspec

from banks.chunks.chunker import AVG_SIZE_BOUNDS, MAX_SIZE_BOUNDS, MIN_SIZE_BOUNDS, ChunkerParams
from banks.chunks.errors import ChunkStoreConfigError
from banks.chunks.store_config import Encryption
from banks.option_schema import OptionSchema, between

PASSPHRASE_ENV = "STRONGBOX_PASSPHRASE"
KEY_FILE_ENV = "STRONGBOX_KEY_FILE"
_MAX_KEY_FILE = 1 << 16
_ENCRYPTIONS: tuple[Encryption, ...] = ("aes-256-gcm", "none")


class ChunkStoreOptions(OptionSchema, frozen=True):
    """The schema of the options above, for the section of a plugin that keeps chunks.

    Left out, each takes the default above; ``min < avg < max`` is checked by
    :meth:`ChunkStoreSettings.from_options`, which reads the values.
    """

    encryption: Encryption | None = None
    passphrase: str | None = None
    key_file: str | None = None
    chunk_min_size: Annotated[int, between(MIN_SIZE_BOUNDS)] | None = None
    chunk_avg_size: Annotated[int, between(AVG_SIZE_BOUNDS)] | None = None
    chunk_max_size: Annotated[int, between(MAX_SIZE_BOUNDS)] | None = None
    compression_level: Annotated[int, msgspec.Meta(ge=0, le=19)] | None = None
    upload_concurrency: Annotated[int, msgspec.Meta(ge=1, le=64)] | None = None
    read_ahead: Annotated[int, msgspec.Meta(ge=1, le=32)] | None = None


@dataclass(frozen=True)
class ChunkStoreSettings:
    """How to open (or create) a chunk store. ``repr`` never shows the secret."""

    encryption: Encryption = "aes-256-gcm"
    chunker: ChunkerParams = field(default_factory=ChunkerParams)
    compression_level: int = 3
    upload_concurrency: int = 4
    read_ahead: int = 4
    # called in a worker thread at open: it may read a key file
    secret: Callable[[], bytes | None] = field(default=lambda: None, repr=False)

    @classmethod
    def from_options(cls, options: Mapping[str, str], where: str) -> ChunkStoreSettings:
        """Parse the options of the section ``where`` (used in error messages).

        Raises:
            ChunkStoreConfigError: naming the option at fault (never its value if secret).
        """
        encryption = options.get("encryption", "").strip() or "aes-256-gcm"
        if encryption not in _ENCRYPTIONS:
            raise ChunkStoreConfigError(
                where, f"option 'encryption' is {encryption!r}, not one of {list(_ENCRYPTIONS)}"
            )
        defaults = ChunkerParams()
        chunker = ChunkerParams(
            min_size=_integer(options, "chunk_min_size", defaults.min_size, where),
            avg_size=_integer(options, "chunk_avg_size", defaults.avg_size, where),
            max_size=_integer(options, "chunk_max_size", defaults.max_size, where),
        )
        problem = chunker.problem()
        if problem is not None:
            raise ChunkStoreConfigError(where, problem)
        return cls(
            encryption=encryption,
            chunker=chunker,
            compression_level=_integer(options, "compression_level", 3, where, (0, 19)),
            upload_concurrency=_integer(options, "upload_concurrency", 4, where, (1, 64)),
            read_ahead=_integer(options, "read_ahead", 4, where, (1, 32)),
            secret=_secret_source(options, where),
        )


def _integer(
    options: Mapping[str, str],
    name: str,
    default: int,
    where: str,
    bounds: tuple[int, int] | None = None,
) -> int:
    raw = options.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ChunkStoreConfigError(where, f"option {name!r} is {raw!r}, not an integer") from None
    if bounds is not None and not bounds[0] <= value <= bounds[1]:
        raise ChunkStoreConfigError(where, f"option {name!r} is {value}, not in {list(bounds)}")
    return value


def _secret_source(options: Mapping[str, str], where: str) -> Callable[[], bytes | None]:
    passphrase = options.get("passphrase") or None
    key_file = options.get("key_file", "").strip() or None

    def resolve() -> bytes | None:
        if passphrase is not None:
            return passphrase.encode()
        if key_file is not None:
            return _read_key_file(key_file, "option 'key_file'", where)
        from_env = os.environ.get(PASSPHRASE_ENV)
        if from_env:
            return from_env.encode()
        env_file = os.environ.get(KEY_FILE_ENV, "").strip()
        if env_file:
            return _read_key_file(env_file, f"${KEY_FILE_ENV}", where)
        return None

    return resolve


def _read_key_file(path: str, source: str, where: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            data = handle.read(_MAX_KEY_FILE + 1)
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise ChunkStoreConfigError(where, f"key file {path!r} ({source}): {reason}") from None
    if not data.strip():
        raise ChunkStoreConfigError(where, f"key file {path!r} ({source}) is empty")
    if len(data) > _MAX_KEY_FILE:
        raise ChunkStoreConfigError(where, f"key file {path!r} ({source}) is over 64 KiB")
    return data
