"""Opening a chunk store: read ``/chunks/config`` and unwrap its key, or create both.

Creation runs under a bank lease, and re-reads the config once it holds it, so two
processes opening an empty bank at once end up with one store and one key, not two
stores of which the second overwrites the first's key (and orphans its chunks).
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid

import structlog

from banks.base import Bank
from banks.chunks.errors import ChunkStoreConfigError, KeyRequired, NoChunkStore
from banks.chunks.layout import CONFIG_KEY, CREATE_LEASE_KEY
from banks.chunks.master_key import (
    ChunkKeys,
    ScryptParams,
    derive_keys,
    new_master_key,
    unwrap_master_key,
    wrap_master_key,
)
from banks.chunks.settings import ChunkStoreSettings
from banks.chunks.store_config import StoreConfig, decode_config, encode_config
from banks.errors import LeaseHeld, ObjectNotFound

log = structlog.get_logger(__name__)

CREATE_LEASE_TTL = 60.0
# how long a second creator waits for the first to finish, polling
CREATE_WAIT = 60.0
CREATE_POLL = 0.2


async def open_store(
    bank: Bank, settings: ChunkStoreSettings, *, create: bool
) -> tuple[StoreConfig, ChunkKeys]:
    """The store's config and keys; with ``create``, make the store if there is none.

    Raises:
        NoChunkStore: no store and not ``create``.
        ChunkStoreConfigError: a malformed config, or the store is unencrypted while the
            settings ask for encryption.
        KeyRequired: the store is (or would be) encrypted and no secret is configured.
        WrongKey: the secret does not open the store's key.
    """
    config = await _read_config(bank)
    if config is None:
        if not create:
            raise NoChunkStore(bank.name, CONFIG_KEY, settings.encryption)
        config = await _create_once(bank, settings)
    return config, await _unlock(bank, config, settings)


async def _read_config(bank: Bank) -> StoreConfig | None:
    try:
        data = await bank.get(CONFIG_KEY)
    except ObjectNotFound:
        return None
    return decode_config(data, bank.name)


async def _unlock(bank: Bank, config: StoreConfig, settings: ChunkStoreSettings) -> ChunkKeys:
    if config.encryption == "none":
        if settings.encryption != "none":
            # fail closed: the user asked for encryption and would not get it
            raise ChunkStoreConfigError(
                f"bank {bank.name}",
                f"the store is not encrypted, but the options ask for {settings.encryption!r}"
                " (set 'encryption = none' to use it as it is)",
            )
        assert config.plain_key is not None  # decode_config checked it
        return derive_keys(config.plain_key, encrypted=False)
    assert config.kdf is not None and config.wrapped_key is not None
    secret = await asyncio.to_thread(settings.secret)
    if secret is None:
        raise KeyRequired(bank.name)
    master = await asyncio.to_thread(
        unwrap_master_key, config.wrapped_key, secret, config.kdf, bank.name
    )
    return derive_keys(master, encrypted=True)


async def _create_once(bank: Bank, settings: ChunkStoreSettings) -> StoreConfig:
    owner = f"chunk-store-create-{uuid.uuid4()}"
    deadline = time.monotonic() + CREATE_WAIT
    while True:
        try:
            await bank.acquire_lease(CREATE_LEASE_KEY, owner, CREATE_LEASE_TTL)
            break
        except LeaseHeld:
            # another process is creating the store: use what it writes
            config = await _read_config(bank)
            if config is not None:
                return config
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(CREATE_POLL)
    try:
        config = await _read_config(bank)
        if config is None:
            config = await _new_config(bank, settings)
            await bank.put(CONFIG_KEY, encode_config(config))
            log.info(
                "chunk_store_created",
                bank=bank.name,
                store_id=config.store_id,
                encryption=config.encryption,
                avg_chunk=config.chunker.avg_size,
            )
        return config
    finally:
        await bank.release_lease(CREATE_LEASE_KEY, owner)


async def _new_config(bank: Bank, settings: ChunkStoreSettings) -> StoreConfig:
    master = new_master_key()
    store_id, now = str(uuid.uuid4()), time.time()
    if settings.encryption == "none":
        return StoreConfig(
            store_id=store_id,
            created_at=now,
            encryption="none",
            chunker=settings.chunker,
            plain_key=master,
        )
    secret = await asyncio.to_thread(settings.secret)
    if secret is None:
        raise KeyRequired(bank.name)
    params = ScryptParams(salt=os.urandom(16))
    wrapped = await asyncio.to_thread(wrap_master_key, master, secret, params)
    return StoreConfig(
        store_id=store_id,
        created_at=now,
        encryption="aes-256-gcm",
        chunker=settings.chunker,
        kdf=params,
        wrapped_key=wrapped,
    )
