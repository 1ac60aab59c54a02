"""What a directory checkpoint refers to and what the chunk store holds, read from the bank;
and a bit flipped in one stored chunk."""

from __future__ import annotations

from pathlib import Path

from actors.operations.checkpoint_chunks import open_chunk_store
from actors.operations.engine import Engine
from banks.base import Bank
from banks.chunks import ChunkStore, ChunkStoreSettings
from banks.chunks.layout import DATA_PREFIX, chunk_key
from banks.section import BankSection
from plugins.checkpoint.checkpoint import resource_section_prefix
from plugins.local.directory.manifest_chunks import StoredManifest, read_manifest
from tests.helpers.sealed_banks import sealed_view

DIRECTORY = "Strongbox::Directory"


async def stored_manifest(
    bank: Bank, store: ChunkStore, checkpoint_id: str, root: Path
) -> StoredManifest:
    """The manifest of ``root`` in the checkpoint, read through ``store``."""
    # in a sealed bank (encrypted store) the section's name is a keyed hash
    prefix = resource_section_prefix(bank, checkpoint_id, f"{DIRECTORY}#{root}")
    section = BankSection(bank, prefix, writable=False)

    async def opened() -> ChunkStore:
        return store

    return await read_manifest(section, opened, resource_key=f"{DIRECTORY}#{root}",
                               checkpoint_id=checkpoint_id)


async def file_chunks(
    bank: Bank, checkpoint_id: str, root: Path, passphrase: str
) -> dict[str, list[str]]:
    """Each file of ``root`` in the checkpoint -> the ids of its chunks, in order."""
    settings = ChunkStoreSettings.from_options({"passphrase": passphrase}, "test")
    store = await ChunkStore.open(bank, settings, create=False)
    sealed = await sealed_view(bank, passphrase)
    manifest = (await stored_manifest(sealed, store, checkpoint_id, root)).manifest
    return {entry.path: [ref.id for ref in entry.chunks or ()] for entry in manifest.entries
            if entry.kind == "file"}


async def chunk_ids(engine: Engine, checkpoint_id: str, root: Path) -> set[str]:
    """Every chunk id the checkpoint of ``root`` refers to: its files' and its manifest's."""
    bank = await engine.bank(engine.provider())
    store = await open_chunk_store(engine.provider(), bank)
    found = await stored_manifest(bank, store, checkpoint_id, root)
    files = {ref.id for entry in found.manifest.entries for ref in entry.chunks or ()}
    return files | set(found.chunks)


async def stored_chunks(engine: Engine) -> set[str]:
    """The ids of every chunk in the default provider's bank."""
    bank = await engine.bank(engine.provider())
    return {key.rpartition("/")[2] async for key in bank.list_all(DATA_PREFIX)}


async def flip_a_bit(bank: Bank, chunk_id: str) -> None:
    """Flip the last bit of a stored chunk, as a failing disk would."""
    stored = bytearray(await bank.get(chunk_key(chunk_id)))
    stored[-1] ^= 0x01
    await bank.put(chunk_key(chunk_id), bytes(stored))
