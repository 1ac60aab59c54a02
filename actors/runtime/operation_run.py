"""Everything the actors of one operation share: graph, plugins, parameters, checkpoint."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import msgspec

from plugins.base import OperationType, ProtectionPlugin
from plugins.checkpoint.checkpoint import Checkpoint
from plugins.checkpoint.graph import ResourceGraph
from plugins.checkpoint.journal import Journal
from plugins.checkpoint.store import CheckpointStore
from plugins.context import RequestContext


@dataclass(slots=True)
class OperationRun:
    """One operation as a worker holds it.

    ``plugins[i]`` and ``parameters[i]`` belong to graph node ``i``. ``checkpoint`` is set
    before Start for restore and delete, and by the operation actor's pre for protect.
    """

    operation_id: str
    operation_type: OperationType
    provider_id: str
    checkpoint_id: str
    graph: ResourceGraph
    plugins: list[ProtectionPlugin]
    parameters: list[msgspec.Struct]
    store: CheckpointStore
    journal: Journal
    request: RequestContext
    request_id: str | None = None
    checkpoint: Checkpoint | None = None
    started_at: float = field(default_factory=time.time)
    # as the request gave them: what the stored spec keeps, for a worker taking over
    raw_parameters: dict[str, dict[str, Any]] = field(default_factory=dict)
    # when it must have ended (time.time() seconds), from its spec; None: no deadline
    deadline: float | None = None
    # the plan a protect runs for: recorded in its checkpoint's index
    plan_id: str | None = None
