"""Sealing a provider's bank when its chunk store is encrypted.

A bank becomes encrypted with its chunk store: the store's options (``encryption``,
``passphrase``/``key_file``) are those of the provider's plugin that keeps chunks, and
its keys are in ``/chunks/config``, wrapped under the passphrase. When those options
ask for encryption, the engine hands out the bank wrapped in a ``SealedBank`` whose keys
come from that store, so every object the engine and the plugins write is sealed too
(``plugins/checkpoint/sealing_layout.py`` says which). Whether to seal is decided by the
operator's options, never by the bank: whoever can write the bank can delete its config.

The keys are loaded through the plugin's own store cache, so the store is opened (its
key unwrapped, a slow scrypt) once per bank and process for both uses.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from banks.base import Bank
from banks.chunks import ChunkStore, ChunkStoreConfigError, ChunkStoreSettings
from banks.sealed import SealedBank
from plugins.checkpoint.sealing_layout import CHECKPOINT_SEALING
from plugins.provider import Provider


@runtime_checkable
class ChunkStoreOpener(Protocol):
    """A protection plugin that opens the bank's chunk store with its own options (the
    directory plugin; any plugin keeping chunks has this method)."""

    async def chunk_store(self, bank: Bank, *, create: bool) -> ChunkStore: ...


def store_keeper(provider: Provider) -> tuple[ChunkStoreOpener, ChunkStoreSettings] | None:
    """The first of the provider's plugins that keeps a chunk store, with the store
    options of its provider-file section, or None.

    Raises:
        ChunkStoreConfigError: if that plugin's store options are invalid (its own
            set-up refuses them first).
    """
    for name, plugin in provider.plugins.items():
        if isinstance(plugin, ChunkStoreOpener):
            settings = ChunkStoreSettings.from_options(plugin.config, f"options of [{name}]")
            return plugin, settings
    return None


def seal_bank(provider: Provider, bank: Bank) -> Bank:
    """``bank`` sealed with its chunk store's keys if the provider's store options ask
    for encryption; ``bank`` itself otherwise (no store keeper, or ``encryption = none``).

    Raises:
        ChunkStoreConfigError: if the keeper's store options are invalid.
    """
    found = store_keeper(provider)
    if found is None or found[1].encryption == "none":
        return bank
    keeper = found[0]

    async def open_root(create: bool) -> bytes:
        store = await keeper.chunk_store(sealed, create=create)
        if store.sealing_root is None:  # opening refuses this already; fail closed anyway
            raise ChunkStoreConfigError(
                f"bank {bank.name}", "the options ask for encryption, the store has none"
            )
        return store.sealing_root

    sealed = SealedBank(bank, CHECKPOINT_SEALING, open_root)
    return sealed
