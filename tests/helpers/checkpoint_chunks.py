"""What a directory checkpoint refers to and what the chunk store holds, read from the bank."""

from __future__ import annotations

from pathlib import Path

from actors.engine import Engine
from banks.chunks.layout import DATA_PREFIX
from banks.keys import encode_segment
from plugins.local.directory_manifest import decode_manifest

DIRECTORY = "Strongbox::Directory"


async def chunk_ids(engine: Engine, checkpoint_id: str, root: Path) -> set[str]:
    """The chunk ids the manifest of ``root`` in the checkpoint names."""
    bank = await engine.bank(engine.provider())
    key = (f"/checkpoints/{encode_segment(checkpoint_id)}/resource-data/"
           f"{encode_segment(f'{DIRECTORY}#{root}')}/manifest")
    manifest = decode_manifest(await bank.get(key), "test")
    return {ref.id for entry in manifest.entries for ref in entry.chunks or ()}


async def stored_chunks(engine: Engine) -> set[str]:
    """The ids of every chunk in the default provider's bank."""
    bank = await engine.bank(engine.provider())
    return {key.rpartition("/")[2] async for key in bank.list_all(DATA_PREFIX)}
