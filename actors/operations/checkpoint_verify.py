"""Verifying a checkpoint: every object it refers to exists, every chunk is intact.

For each resource whose plugin keeps chunk lists, its manifest is read (a missing or
unreadable one is a problem of that resource; since manifest v4 the manifest is itself
kept in encrypted chunks, all read in full, and a bad one is named as a chunk of that
resource's manifest; a pointer copied from another checkpoint or resource, or an older
manifest version in an encrypted store, is a problem of that resource too, found by the
same read as a restore's: ``plugins.local.directory.manifest_trust``); every chunk id
the manifest names is checked against one listing of the chunk store, and a random
fraction ``sample`` of them is read in full: authenticated, decompressed and hashed
(``banks.chunks.verify_references``). A bad chunk is reported once for each resource
that refers to it, with the files it breaks.

``verify_checkpoint`` checks every resource in this process (``strongbox verify``);
``verify_resources`` is the check itself, which the ``verify`` operation's actors run for
one resource each (``actors.operations.verify``).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

import msgspec
import structlog

from actors.errors import StrongboxError
from actors.operations.checkpoint_chunks import (
    chunk_resources,
    open_chunk_store,
    opened_once,
    resource_chunks,
)
from banks.chunks import ChunkStore, verify_references
from plugins.checkpoint.checkpoint import Checkpoint, CheckpointStatus
from plugins.checkpoint.store import CheckpointStore
from plugins.chunk_keeper import ChunkKeeper
from plugins.errors import ChunkListChunkError, ChunkListError
from plugins.provider import Provider
from plugins.resource import Resource


class CheckpointSource(Protocol):
    """Where a checkpoint is found: the engine, which also runs verify operations with this
    module's check (a ``Protocol`` so that this module need not import the engine)."""

    def provider(self, id_or_name: str | None = None) -> Provider:
        """The provider of that id or name, else the default one."""

    async def store(self, provider: Provider) -> CheckpointStore:
        """The checkpoint store of the provider's bank."""

log = structlog.get_logger(__name__)

# files named per bad chunk: enough to know what breaks, not a listing of the tree
FILES_SHOWN = 3


class Problem(msgspec.Struct, frozen=True, kw_only=True):
    """One thing wrong in a checkpoint: a bad chunk of a resource, or its manifest."""

    checkpoint: str
    resource: str
    chunk: str | None  # None: the resource's manifest itself is at fault
    reason: str
    files: list[str] = []
    in_manifest: bool = False  # the chunk holds part of the resource's manifest


    def describe(self) -> str:
        """One line naming the checkpoint, the resource and the chunk."""
        where = f"checkpoint {self.checkpoint} resource {self.resource}"
        return f"{where}: {self.reason}" if self.chunk is None else f"{where} {self.detail()}"

    def detail(self) -> str:
        """What is wrong within the resource: the chunk, why, and the files it breaks."""
        if self.chunk is None:
            return self.reason
        if self.in_manifest:
            return f"manifest chunk {self.chunk}: {self.reason}"
        used_by = f" (used by {', '.join(map(repr, self.files))})" if self.files else ""
        return f"chunk {self.chunk}: {self.reason}{used_by}"


class Findings(msgspec.Struct, frozen=True, kw_only=True):
    """What checking some resources of a checkpoint found."""

    chunks: int  # distinct chunks they refer to
    problems: list[Problem]


class VerifyReport(msgspec.Struct, frozen=True, kw_only=True):
    """What a verification looked at and what it found."""

    checkpoint: str
    resources: int  # resources with chunk lists
    chunks: int  # distinct chunks they refer to
    sample: float
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        """True if nothing is wrong."""
        return not self.problems


class VerifyFailed(StrongboxError):
    """A verification found bad chunks or manifests."""

    def __init__(self, report: VerifyReport) -> None:
        self.report = report
        resources = len({p.resource for p in report.problems})
        super().__init__(
            f"checkpoint {report.checkpoint} failed verification: {len(report.problems)} "
            f"problem(s) in {resources} resource(s)"
        )


async def verify_checkpoint(
    engine: CheckpointSource,
    checkpoint_id: str,
    *,
    provider: str | None = None,
    sample: float = 1.0,
    seed: int | None = None,
) -> VerifyReport:
    """Check the checkpoint's manifests and chunks; return every problem found.

    Raises:
        ValueError: if ``sample`` is not in [0, 1].
        CheckpointNotFound, InvalidCheckpointState: no such checkpoint, or not available.
        ChunkStoreError: the chunk store cannot be opened (no store, a wrong key).
        BankError: the bank cannot be read (not a verdict on the data).
    """
    if not 0.0 <= sample <= 1.0:
        raise ValueError(f"--sample {sample} is not a fraction in [0, 1]")
    chosen = engine.provider(provider)
    store = await engine.store(chosen)
    checkpoint = await store.open(
        checkpoint_id,
        operation_id=f"verify-{uuid.uuid4()}",
        writable=False,
        expect={CheckpointStatus.AVAILABLE},
    )
    resources = chunk_resources(chosen, checkpoint)
    found = await verify_resources(checkpoint, resources,
                                   lambda: open_chunk_store(chosen, store.bank),
                                   sample=sample, seed=seed)
    report = VerifyReport(checkpoint=checkpoint.id, resources=len(resources),
                          chunks=found.chunks, sample=sample, problems=found.problems)
    log.info("checkpoint_verified", checkpoint_id=checkpoint.id, resources=report.resources,
             chunks=report.chunks, sample=sample, problems=len(report.problems))
    return report


async def verify_resources(
    checkpoint: Checkpoint,
    resources: Sequence[tuple[Resource, ChunkKeeper]],
    open_store: Callable[[], Awaitable[ChunkStore]],
    *,
    sample: float,
    seed: int | None = None,
) -> Findings:
    """Check the chunk lists of ``resources`` (each with its chunk plugin) and their chunks.

    ``open_store`` opens the bank's chunk store; it is called once at most, and only if a
    manifest is kept in chunks or names one.

    Raises:
        ValueError: if ``sample`` is not in [0, 1].
        ChunkStoreError: the chunk store cannot be opened (no store; a wrong key, naming
            the checkpoint and the resource whose manifest needed it).
        BankError: the bank cannot be read (not a verdict on the data).
    """
    problems: list[Problem] = []
    users: dict[str, dict[str, list[str]]] = {}  # chunk id -> resource key -> files
    manifest_chunks: set[str] = set()  # read in full with their manifests already
    open_once = opened_once(open_store)
    for resource, keeper in resources:
        try:
            found = await resource_chunks(keeper, checkpoint, resource, open_once)
        except ChunkListChunkError as error:
            problems.append(Problem(checkpoint=checkpoint.id, resource=resource.key,
                                    chunk=error.chunk_id, reason=error.reason,
                                    in_manifest=True))
            continue
        except ChunkListError as error:
            problems.append(Problem(checkpoint=checkpoint.id, resource=resource.key,
                                    chunk=None, reason=str(error)))
            continue
        manifest_chunks.update(found.manifest_chunks)
        for chunk_id, files in found.chunks.items():
            users.setdefault(chunk_id, {})[resource.key] = files
    if users:
        chunk_store = await open_once()
        for bad in await verify_references(chunk_store, users, sample=sample, seed=seed):
            for resource_key, files in sorted(users[bad.id].items()):
                problems.append(Problem(checkpoint=checkpoint.id, resource=resource_key,
                                        chunk=bad.id, reason=bad.reason,
                                        files=files[:FILES_SHOWN]))
    return Findings(chunks=len(manifest_chunks.union(users)), problems=problems)
