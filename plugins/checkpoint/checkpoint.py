"""Checkpoints: the record of one protect run, and the handle plugins receive.

Layout in the bank::

    /checkpoints/<id>/index                 CheckpointIndex (JSON, versioned)
    /checkpoints/<id>/graph                 the resource graph (plugins.checkpoint.graph)
    /checkpoints/<id>/resources             per-resource status, written when sealed
    /checkpoints/<id>/resource-data/<key>/  one bank section per resource, for its plugin
                                            (<key>: the resource key, encoded; in a sealed
                                            bank a keyed hash of it, see resource_segment)
    /indices/by-provider/<provider>/<newest-first time>@<id>
    /leases/checkpoints/<id>                the lease of the worker protecting it

Status machine (an illegal edge raises InvalidCheckpointState)::

    protecting ──▶ available ──▶ deleting ──▶ deleted
         │                          ▲   │
         └────────▶ error ──────────┘   └──▶ error   (a delete that failed; may be retried)
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import msgspec

from banks.base import Bank
from banks.keys import encode_segment
from banks.sealed import SealedBank
from banks.section import BankSection
from plugins.checkpoint.graph import ResourceGraph
from plugins.resource import Resource

CHECKPOINT_FORMAT_VERSION = 1


class CheckpointStatus(StrEnum):
    """Where a checkpoint is in its life."""

    PROTECTING = "protecting"
    AVAILABLE = "available"
    ERROR = "error"
    DELETING = "deleting"
    DELETED = "deleted"


ALLOWED_TRANSITIONS: dict[CheckpointStatus, frozenset[CheckpointStatus]] = {
    # a protect run ends sealed or failed
    CheckpointStatus.PROTECTING: frozenset({CheckpointStatus.AVAILABLE, CheckpointStatus.ERROR}),
    # only a finished checkpoint may be deleted
    CheckpointStatus.AVAILABLE: frozenset({CheckpointStatus.DELETING}),
    # a failed protect may be deleted, to reclaim what it wrote
    CheckpointStatus.ERROR: frozenset({CheckpointStatus.DELETING}),
    # a delete ends with the data gone, or failed (and may be retried from error)
    CheckpointStatus.DELETING: frozenset({CheckpointStatus.DELETED, CheckpointStatus.ERROR}),
    CheckpointStatus.DELETED: frozenset(),
}


class CheckpointIndex(msgspec.Struct, kw_only=True):
    """The checkpoint's own record (``/checkpoints/<id>/index``)."""

    v: int = CHECKPOINT_FORMAT_VERSION
    id: str
    provider_id: str
    project_id: str | None = None
    status: CheckpointStatus
    created_at: float
    updated_at: float
    protect_operation_id: str
    owner: str
    resource_count: int = 0
    error: str | None = None
    error_resource: str | None = None
    extra: dict[str, Any] = msgspec.field(default_factory=dict)


class ResourceStatus(msgspec.Struct, kw_only=True):
    """What happened to one resource of the checkpoint, per activity."""

    type: str
    id: str
    name: str = ""
    status: str
    activities: dict[str, str] = msgspec.field(default_factory=dict)
    reason: str | None = None


def checkpoint_prefix(checkpoint_id: str) -> str:
    """The bank prefix of everything a checkpoint holds."""
    return f"/checkpoints/{encode_segment(checkpoint_id)}/"


def checkpoint_lease_key(checkpoint_id: str) -> str:
    """The bank key of the lease held while a checkpoint is being written."""
    return f"/leases/checkpoints/{encode_segment(checkpoint_id)}"


def resource_segment(bank: Bank, resource_key: str) -> str:
    """The key segment that stands for a resource (its ``type#id``) in ``bank``.

    In a sealed bank (an encrypted store) a keyed hash, so key names say nothing of the
    resource; otherwise the key itself, encoded (``encode_segment``), as before.

    Raises:
        SealingUnavailable: in a sealed bank whose keys are not loaded yet (a checkpoint
            is only made after its index or graph went through the bank, which loads them).
    """
    if isinstance(bank, SealedBank):
        return bank.keyed_name(resource_key)
    return encode_segment(resource_key)


def resource_section_prefix(bank: Bank, checkpoint_id: str, resource_key: str) -> str:
    """The bank prefix of one resource's section in a checkpoint."""
    return checkpoint_prefix(checkpoint_id) + "resource-data/" + resource_segment(
        bank, resource_key)


def restored_prefix(operation_id: str) -> str:
    """The bank prefix where a restore records original id -> new id."""
    return f"/operations/{encode_segment(operation_id)}/restored/"


class Checkpoint:
    """The checkpoint as an activity sees it.

    ``bank_section(resource)`` is the plugin's private area for that resource: writable
    during protect and delete, read-only during restore. During a restore,
    ``record_restored`` and ``restored_id`` carry original id -> new id between
    resources through the bank, so they work when actors run on different workers.
    """

    def __init__(self, bank: Bank, index: CheckpointIndex, graph: ResourceGraph, *,
                 operation_id: str, writable: bool) -> None:
        self.bank = bank
        self.index = index
        self.graph = graph
        self.operation_id = operation_id
        self.writable = writable

    @property
    def id(self) -> str:
        """The checkpoint id."""
        return self.index.id

    @property
    def provider_id(self) -> str:
        """The provider that wrote the checkpoint."""
        return self.index.provider_id

    @property
    def status(self) -> CheckpointStatus:
        """The status when the operation loaded the checkpoint."""
        return self.index.status

    def bank_section(self, resource: Resource) -> BankSection:
        """The plugin's bank section for ``resource``."""
        prefix = resource_section_prefix(self.bank, self.id, resource.key)
        return BankSection(self.bank, prefix, writable=self.writable)

    async def record_restored(self, resource: Resource, new_id: str) -> None:
        """Record that ``resource`` was restored as ``new_id`` (restore only)."""
        key = restored_prefix(self.operation_id) + resource_segment(self.bank, resource.key)
        await self.bank.put(key, new_id.encode())

    async def restored_ids(self) -> dict[str, str]:
        """Every resource this restore recorded so far, key -> new id, in graph order."""
        prefix = restored_prefix(self.operation_id)
        found: dict[str, str] = {}
        async for key in self.bank.list_all(prefix):
            found[key[len(prefix):]] = (await self.bank.get(key)).decode()
        # segments are keyed hashes in a sealed bank: match them through the graph
        segments = {node.key: resource_segment(self.bank, node.key) for node in self.graph.nodes}
        return {key: found[segment] for key, segment in segments.items() if segment in found}

    async def restored_id(self, resource: Resource) -> str | None:
        """The id ``resource`` was restored as in this restore, or None if not (yet)."""
        key = restored_prefix(self.operation_id) + resource_segment(self.bank, resource.key)
        keys = await self.bank.list(key, limit=1)
        if not keys or keys[0] != key:
            return None
        return (await self.bank.get(key)).decode()
