"""Creating, reading, listing and moving checkpoints through their status machine."""

from __future__ import annotations

import builtins
import time
from collections.abc import Iterable

import msgspec

from banks.base import Bank
from banks.errors import ObjectNotFound
from banks.keys import decode_segment, encode_segment
from plugins.checkpoint.checkpoint import (
    ALLOWED_TRANSITIONS,
    Checkpoint,
    CheckpointIndex,
    CheckpointStatus,
    ResourceStatus,
    checkpoint_prefix,
)
from plugins.checkpoint.graph import ResourceGraph
from plugins.errors import CheckpointError, CheckpointNotFound, InvalidCheckpointState

# where a checkpoint whose data a delete purged can be left: that delete failed after the
# purge (``error``) or was cut off before it ended (``deleting``)
PURGEABLE = frozenset({CheckpointStatus.ERROR, CheckpointStatus.DELETING})

_index_decoder = msgspec.json.Decoder(CheckpointIndex)
_resources_decoder = msgspec.json.Decoder(list[ResourceStatus])
# Listing keys sort newest first: milliseconds counted down from this horizon (year 2286).
_TIME_HORIZON_MS = 10**13


def _listing_name(index: CheckpointIndex) -> str:
    newest_first = _TIME_HORIZON_MS - int(index.created_at * 1000)
    return f"{newest_first:013d}@{encode_segment(index.id)}"


def _created_ms(listing_key: str) -> int:
    return _TIME_HORIZON_MS - int(listing_key.rsplit("/", 1)[1].split("@", 1)[0])


def _by_provider(provider_id: str | None) -> str:
    if provider_id is None:
        return "/indices/all/"
    return f"/indices/by-provider/{encode_segment(provider_id)}/"


class CheckpointStore:
    """Checkpoints kept in one bank."""

    def __init__(self, bank: Bank) -> None:
        self.bank = bank

    async def create(self, *, checkpoint_id: str, provider_id: str, project_id: str | None,
                     graph: ResourceGraph, operation_id: str, owner: str,
                     extra: dict[str, object] | None = None,
                     plan_id: str | None = None) -> Checkpoint:
        """Write a new checkpoint in ``protecting``: its graph first, then its index.

        Raises:
            CheckpointError: if a checkpoint with this id already exists.
        """
        prefix = checkpoint_prefix(checkpoint_id)
        if await self.bank.list(prefix + "index", limit=1):
            raise CheckpointError(f"checkpoint {checkpoint_id!r} already exists")
        now = time.time()
        index = CheckpointIndex(
            id=checkpoint_id, provider_id=provider_id, project_id=project_id,
            status=CheckpointStatus.PROTECTING, created_at=now, updated_at=now,
            protect_operation_id=operation_id, owner=owner, resource_count=len(graph),
            extra=dict(extra or {}), plan_id=plan_id,
        )
        await self.bank.put(prefix + "graph", graph.encode())
        await self._write_index(index)
        listing = _listing_name(index)
        await self.bank.put(_by_provider(provider_id) + listing, checkpoint_id.encode())
        await self.bank.put(_by_provider(None) + listing, checkpoint_id.encode())
        return Checkpoint(self.bank, index, graph, operation_id=operation_id, writable=True)

    async def read_index(self, checkpoint_id: str) -> CheckpointIndex:
        """The checkpoint's index.

        Raises:
            CheckpointNotFound: if there is no such checkpoint.
            CheckpointError: if its index is unreadable.
        """
        try:
            data = await self.bank.get(checkpoint_prefix(checkpoint_id) + "index")
        except ObjectNotFound:
            raise CheckpointNotFound(checkpoint_id) from None
        try:
            return _index_decoder.decode(data)
        except msgspec.DecodeError as error:
            raise CheckpointError(
                f"checkpoint {checkpoint_id!r} index is corrupt: {error}") from error

    async def read_graph(self, checkpoint_id: str) -> ResourceGraph:
        """The resource graph stored in the checkpoint.

        Raises:
            CheckpointNotFound: if the checkpoint has no graph.
        """
        try:
            data = await self.bank.get(checkpoint_prefix(checkpoint_id) + "graph")
        except ObjectNotFound:
            raise CheckpointNotFound(checkpoint_id) from None
        return ResourceGraph.decode(data)

    async def open(self, checkpoint_id: str, *, operation_id: str, writable: bool,
                   expect: Iterable[CheckpointStatus] | None = None) -> Checkpoint:
        """Load a checkpoint for an operation, checking its status first.

        Raises:
            CheckpointNotFound: if there is no such checkpoint.
            InvalidCheckpointState: if its status is not one of ``expect``.
        """
        index = await self.read_index(checkpoint_id)
        if expect is not None:
            allowed = set(expect)
            if index.status not in allowed:
                wanted = " or ".join(sorted(s.value for s in allowed))
                raise InvalidCheckpointState(checkpoint_id, index.status, f"it must be {wanted}")
        try:
            graph = await self.read_graph(checkpoint_id)
        except CheckpointNotFound:
            if index.status not in PURGEABLE:
                raise
            # A delete purged the data (graph first among it) and then failed or was cut
            # off before the index said ``deleted``: nothing of the checkpoint is left to
            # act on. Opened with no resources, a delete finishes the job and a garbage
            # collection counts no chunk for it; refused, both failed on it forever.
            graph = ResourceGraph([], [])
        return Checkpoint(self.bank, index, graph, operation_id=operation_id, writable=writable)

    async def transition(self, checkpoint_id: str, to: CheckpointStatus, *,
                         error: str | None = None,
                         error_resource: str | None = None,
                         only_from: CheckpointStatus | None = None) -> CheckpointIndex:
        """Move the checkpoint to ``to`` along an allowed edge; idempotent when already there.

        ``only_from``: the status the caller's own operation left it in. A protect ends its
        checkpoint only from ``protecting``: a worker that was stopped past its lease and
        comes back must not turn a checkpoint that another operation has since taken over
        (a delete made it ``deleting``) into ``error``, stranding that delete half-way.

        Raises:
            InvalidCheckpointState: if the edge is not in ALLOWED_TRANSITIONS, or the
                checkpoint is not ``only_from``.
        """
        index = await self.read_index(checkpoint_id)
        if index.status == to:
            return index
        if only_from is not None and index.status != only_from:
            raise InvalidCheckpointState(
                checkpoint_id, index.status,
                f"it is no longer {only_from}: another operation has taken it over")
        if to not in ALLOWED_TRANSITIONS[index.status]:
            raise InvalidCheckpointState(checkpoint_id, index.status, f"it cannot become {to}")
        index.status = to
        index.updated_at = time.time()
        if to == CheckpointStatus.ERROR:
            index.error = error
            index.error_resource = error_resource
        elif to != CheckpointStatus.DELETED:
            index.error = index.error_resource = None
        await self._write_index(index)
        if to == CheckpointStatus.DELETED:
            listing = _listing_name(index)
            await self.bank.delete(_by_provider(index.provider_id) + listing)
            await self.bank.delete(_by_provider(None) + listing)
        return index

    async def list(self, provider_id: str | None = None, *, marker: str | None = None,
                   limit: int | None = None,
                   status: CheckpointStatus | None = None,
                   since: float | None = None,
                   until: float | None = None) -> list[CheckpointIndex]:
        """Checkpoints newest first, after the checkpoint id ``marker``, at most ``limit``,
        created within ``[since, until]`` (Unix times) when given.

        Raises:
            CheckpointNotFound: if ``marker`` names no checkpoint.
        """
        prefix = _by_provider(provider_id)
        after = prefix + _listing_name(await self.read_index(marker)) if marker else None
        if until is not None:  # the listing is newest first: start at ``until``
            start = prefix + f"{_TIME_HORIZON_MS - int(until * 1000):013d}"
            after = max(after, start) if after else start
        found: list[CheckpointIndex] = []
        while limit is None or len(found) < limit:
            keys = await self.bank.list(prefix, marker=after, limit=100)
            for key in keys:
                if since is not None and _created_ms(key) < since * 1000:
                    return found  # everything after this one is older still
                checkpoint_id = decode_segment(key.rsplit("@", 1)[1])
                try:
                    index = await self.read_index(checkpoint_id)
                except CheckpointNotFound:
                    continue  # a listing entry left by an interrupted create or delete
                if status is None or index.status == status:
                    found.append(index)
                    if limit is not None and len(found) >= limit:
                        break
            if len(keys) < 100:
                break
            after = keys[-1]
        return found

    async def write_resource_states(self, checkpoint_id: str,
                                    states: builtins.list[ResourceStatus]) -> None:
        """Store the per-resource outcome of the protect run."""
        await self.bank.put(checkpoint_prefix(checkpoint_id) + "resources",
                            msgspec.json.encode(states))

    async def read_resource_states(self, checkpoint_id: str) -> builtins.list[ResourceStatus]:
        """The per-resource outcome written when the checkpoint was sealed (empty before)."""
        try:
            data = await self.bank.get(checkpoint_prefix(checkpoint_id) + "resources")
        except ObjectNotFound:
            return []
        return _resources_decoder.decode(data)

    async def purge_data(self, checkpoint_id: str) -> int:
        """Remove everything the checkpoint holds except its index (kept as a tombstone)."""
        prefix = checkpoint_prefix(checkpoint_id)
        removed = 0
        async for key in self.bank.list_all(prefix):
            if key != prefix + "index":
                await self.bank.delete(key)
                removed += 1
        return removed

    async def _write_index(self, index: CheckpointIndex) -> None:
        await self.bank.put(checkpoint_prefix(index.id) + "index", msgspec.json.encode(index))
