"""Where the chunk store keeps its objects in a bank.

    /chunks/config               StoreConfig (JSON): format, mode, chunker sizes, wrapped key
    /chunks/data/<ab>/<id>       one chunk; <ab> are the id's first two hex digits
    lease (own namespace)        /chunks/config, held only while a store is being created

Chunks are shared by every checkpoint of the bank, so they live outside the checkpoint
sections; the two-digit fan-out keeps directories (filesystem) and listing pages small.
"""

from __future__ import annotations

import re

CONFIG_KEY = "/chunks/config"
CREATE_LEASE_KEY = "/chunks/config"
DATA_PREFIX = "/chunks/data/"
_ID = re.compile(r"[0-9a-f]{64}")


def is_chunk_id(text: str) -> bool:
    """True if ``text`` is a well-formed chunk id (64 lowercase hex digits)."""
    return _ID.fullmatch(text) is not None


def chunk_key(chunk_id: str) -> str:
    """The bank key of a chunk.

    Raises:
        ValueError: if ``chunk_id`` is not 64 lowercase hex digits (a key built from a
            crafted id could otherwise point anywhere in the bank).
    """
    if not is_chunk_id(chunk_id):
        raise ValueError(f"{chunk_id!r} is not a chunk id")
    return f"{DATA_PREFIX}{chunk_id[:2]}/{chunk_id}"


def id_of_key(key: str) -> str | None:
    """The chunk id a listed key holds, or None for anything else under the prefix."""
    name = key.rpartition("/")[2]
    if key.startswith(DATA_PREFIX) and is_chunk_id(name) and key == chunk_key(name):
        return name
    return None
