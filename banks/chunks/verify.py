"""Checking that the chunks a set of checkpoints refers to are there and intact.

Every referenced id is checked for existence against one listing of the store (cheap);
a random ``sample`` fraction of them is read in full: fetched, authenticated, decoded
and hashed (as restic's ``check --read-data-subset`` and kopia's
``--verify-files-percent`` do), since reading everything back is what a bank bills most.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterable

import msgspec
import structlog

from banks.chunks.errors import ChunkNotFound, CorruptChunk
from banks.chunks.layout import is_chunk_id
from banks.chunks.store import ChunkStore

log = structlog.get_logger(__name__)


class BadChunk(msgspec.Struct, frozen=True):
    """A referenced chunk that failed verification, and why."""

    id: str
    reason: str


async def verify_references(
    store: ChunkStore,
    chunk_ids: Iterable[str],
    *,
    sample: float = 1.0,
    concurrency: int = 4,
    seed: int | None = None,
) -> list[BadChunk]:
    """Return the referenced chunks that are missing, malformed or (if read) corrupt.

    ``sample`` is the fraction of the (distinct, present) ids read in full, 0 to 1;
    ``seed`` makes the choice repeatable. The result is sorted by id.

    Raises:
        ValueError: if ``sample`` is not in [0, 1].
        BankError: if the bank cannot be listed or read (not a verdict on a chunk).
    """
    if not 0.0 <= sample <= 1.0:
        raise ValueError(f"sample {sample} is not a fraction in [0, 1]")
    wanted = set(chunk_ids)
    bad = [BadChunk(i, "not a chunk id") for i in wanted if not is_chunk_id(i)]
    wanted -= {b.id for b in bad}
    stored = {chunk_id async for chunk_id in store.list_chunks()}
    bad += [BadChunk(i, "missing from the bank") for i in wanted - stored]
    present = sorted(wanted & stored)
    chosen = random.Random(seed).sample(present, round(len(present) * sample))
    upcoming = iter(chosen)

    async def reader() -> None:
        # a few workers sharing one iterator: a million ids cost a few tasks, not a million
        for chunk_id in upcoming:
            try:
                await store.verify_chunk(chunk_id)
            except ChunkNotFound:
                bad.append(BadChunk(chunk_id, "missing from the bank"))
            except CorruptChunk as error:
                bad.append(BadChunk(chunk_id, error.reason))

    async with asyncio.TaskGroup() as group:
        for _ in range(max(1, concurrency)):
            group.create_task(reader())
    log.info(
        "chunk_references_verified",
        bank=store.bank.name,
        referenced=len(wanted) + sum(1 for b in bad if b.reason == "not a chunk id"),
        read=len(chosen),
        bad=len(bad),
    )
    return sorted(bad, key=lambda b: b.id)
