"""What a directory checkpoint refers to and what the chunk store holds, read from the bank;
and a bit flipped in one stored chunk."""

from __future__ import annotations

from pathlib import Path

from actors.engine import Engine
from banks.base import Bank
from banks.chunks.layout import DATA_PREFIX, chunk_key
from banks.keys import encode_segment
from plugins.local.directory_manifest import decode_manifest

DIRECTORY = "Strongbox::Directory"


async def file_chunks(bank: Bank, checkpoint_id: str, root: Path) -> dict[str, list[str]]:
    """Each file of ``root`` in the checkpoint -> the ids of its chunks, in order."""
    key = (f"/checkpoints/{encode_segment(checkpoint_id)}/resource-data/"
           f"{encode_segment(f'{DIRECTORY}#{root}')}/manifest")
    manifest = decode_manifest(await bank.get(key), "test")
    return {entry.path: [ref.id for ref in entry.chunks or ()] for entry in manifest.entries
            if entry.kind == "file"}


async def chunk_ids(engine: Engine, checkpoint_id: str, root: Path) -> set[str]:
    """The chunk ids the manifest of ``root`` in the checkpoint names."""
    files = await file_chunks(await engine.bank(engine.provider()), checkpoint_id, root)
    return {chunk for chunks in files.values() for chunk in chunks}


async def stored_chunks(engine: Engine) -> set[str]:
    """The ids of every chunk in the default provider's bank."""
    bank = await engine.bank(engine.provider())
    return {key.rpartition("/")[2] async for key in bank.list_all(DATA_PREFIX)}


async def flip_a_bit(bank: Bank, chunk_id: str) -> None:
    """Flip the last bit of a stored chunk, as a failing disk would."""
    stored = bytearray(await bank.get(chunk_key(chunk_id)))
    stored[-1] ^= 0x01
    await bank.put(chunk_key(chunk_id), bytes(stored))
