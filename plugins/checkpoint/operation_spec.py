"""What an operation is, stored before it starts, so any worker can take it over.

``/operations/<id>/spec`` holds the request as the engine accepted it (type, provider,
checkpoint, project, raw parameters); for a protect, ``/operations/<id>/graph`` holds the
resource graph discovered at submit time (the checkpoint's own copy is written by the
operation actor's pre, which may run on another worker). A worker that receives a
message for an operation it does not hold rebuilds it from these two objects, the
checkpoint and the journal.
"""

from __future__ import annotations

import time
from typing import Any

import msgspec

from banks.base import Bank
from banks.errors import ObjectNotFound
from banks.keys import encode_segment
from plugins.access import PathGrant
from plugins.checkpoint.graph import ResourceGraph
from plugins.errors import PluginError
from plugins.phases import OperationType

SPEC_VERSION = 1


class OperationSpecError(PluginError):
    """An operation's stored spec cannot be read."""


class OperationSpec(msgspec.Struct, kw_only=True, frozen=True):
    """The accepted request of one operation."""

    v: int = SPEC_VERSION
    id: str
    type: OperationType
    provider_id: str
    checkpoint_id: str
    project_id: str | None = None
    user_id: str | None = None  # who asked: the broker user, or the local one (embedded)
    paths: PathGrant | None = None  # where it may read and write (None: spec before grants)
    trust_id: str | None = None  # the requester's Keystone trust (not a secret on its own)
    request_id: str | None = None
    parameters: dict[str, dict[str, Any]] = msgspec.field(default_factory=dict)
    submitted_at: float = msgspec.field(default_factory=time.time)
    submitted_by: str = ""
    # when it must have ended (time.time() seconds): absolute, so that a worker taking it
    # over arms the same deadline; None only in specs from before deadlines
    deadline: float | None = None
    plan_id: str | None = None  # the plan a protect runs for (actors.plans)


def _prefix(operation_id: str) -> str:
    return f"/operations/{encode_segment(operation_id)}/"


def submit_lease_key(operation_id: str) -> str:
    """The lease two workers race for when the same request reaches both."""
    return _prefix(operation_id) + "submit"


async def write_spec(bank: Bank, spec: OperationSpec, graph: ResourceGraph | None) -> None:
    """Store the spec (and a protect's graph, first, so a spec always has its graph)."""
    if graph is not None:
        await bank.put(_prefix(spec.id) + "graph", graph.encode())
    await bank.put(_prefix(spec.id) + "spec", msgspec.json.encode(spec))


async def read_spec(bank: Bank, operation_id: str) -> OperationSpec | None:
    """The operation's spec, or None if this bank has never seen the operation.

    Raises:
        OperationSpecError: if the stored spec is unreadable or of another version.
    """
    key = _prefix(operation_id) + "spec"
    try:
        data = await bank.get(key)
    except ObjectNotFound:
        return None
    try:
        spec = msgspec.json.decode(data, type=OperationSpec)
    except msgspec.DecodeError as error:
        raise OperationSpecError(f"operation spec {key!r} is unreadable: {error}") from error
    if spec.v != SPEC_VERSION:
        raise OperationSpecError(f"operation spec {key!r} has version {spec.v}; "
                                 f"this worker reads v{SPEC_VERSION}")
    return spec


async def read_spec_graph(bank: Bank, operation_id: str) -> ResourceGraph:
    """The graph a protect was submitted with.

    Raises:
        OperationSpecError: if it is missing or unreadable.
    """
    key = _prefix(operation_id) + "graph"
    try:
        return ResourceGraph.decode(await bank.get(key))
    except ObjectNotFound:
        raise OperationSpecError(f"operation graph {key!r} is missing") from None
