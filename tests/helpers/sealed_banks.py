"""A bank opened outside the engine, seen as the engine sees it: sealed with its store's keys.

Tests that read or plant objects in an encrypted store's bank by hand need the same
keys and keyed section names the engine uses (``actors/operations/bank_sealing.py``).
"""

from __future__ import annotations

from banks.base import Bank
from banks.chunks import ChunkStore, ChunkStoreSettings
from banks.sealed import SealedBank
from plugins.checkpoint.sealing_layout import CHECKPOINT_SEALING


async def sealed_view(bank: Bank, passphrase: str) -> SealedBank:
    """``bank`` sealed with the keys of its (encrypted) chunk store, keys loaded."""
    bank = unsealed(bank)
    settings = ChunkStoreSettings.from_options({"passphrase": passphrase}, "test")
    store = await ChunkStore.open(bank, settings, create=False)
    root = store.sealing_root
    assert root is not None, "the bank's chunk store is not encrypted"

    async def open_root(create: bool) -> bytes:
        return root

    sealed = SealedBank(bank, CHECKPOINT_SEALING, open_root)
    await sealed.ready(create=False)
    return sealed


def unsealed(bank: Bank) -> Bank:
    """The bank under the engine's sealing, if any."""
    return bank.inner if isinstance(bank, SealedBank) else bank
