"""The small pieces the engine sets an operation up with: who it acts for, the graph it
runs, the name its journal is written under, and the spec that lets any worker load it."""

from __future__ import annotations

import uuid

from actors.operations.verify import verification_graph
from actors.runtime.operation_run import OperationRun
from actors.wire.requests import (
    DeleteRequest,
    EngineRequest,
    ProtectRequest,
    RestoreRequest,
    VerifyRequest,
)
from plugins.access import PathGrant, ProjectGrant, merge_forbidden
from plugins.base import OperationType
from plugins.checkpoint.graph import ResourceGraph
from plugins.checkpoint.operation_spec import OperationSpec
from plugins.checkpoint.store import CheckpointStore
from plugins.context import RequestContext


def request_context(request: EngineRequest, store: CheckpointStore, *, user_id: str | None,
                     paths: PathGrant, project: ProjectGrant | None,
                     trust_id: str | None) -> RequestContext:
    """Who the operation acts for, its paths never including the bank's own storage."""
    return RequestContext(
        project_id=project.project_id if project else request.project_id,
        user_id=user_id, project=project, trust_id=trust_id,
        paths=merge_forbidden(paths, [store.bank.local_path or ""]))


def journal_writer(worker_id: str) -> str:
    """A journal writer name of its own for each loading of an operation: a worker that
    loads an operation again (after losing the broker) must not overwrite the segments it
    wrote before, which are numbered per writer from 1."""
    return f"{worker_id}.{uuid.uuid4().hex[:8]}"


OperationRequest = ProtectRequest | RestoreRequest | DeleteRequest | VerifyRequest
OPERATION_OF: dict[type[OperationRequest], OperationType] = {
    ProtectRequest: "protect", RestoreRequest: "restore", DeleteRequest: "delete",
    VerifyRequest: "verify"}


def operation_graph(operation: OperationType, stored: ResourceGraph) -> ResourceGraph:
    """The graph an operation on a stored checkpoint runs: a verify drops the edges."""
    return verification_graph(stored) if operation == "verify" else stored


def spec_of(run: OperationRun, worker: str, request: OperationRequest) -> OperationSpec:
    return OperationSpec(
        id=run.operation_id, type=run.operation_type, provider_id=run.provider_id,
        checkpoint_id=run.checkpoint_id, project_id=run.request.project_id,
        request_id=request.request_id, parameters=run.raw_parameters, submitted_by=worker,
        user_id=run.request.user_id, paths=run.request.paths, trust_id=run.request.trust_id,
        deadline=run.deadline, plan_id=run.plan_id)


__all__ = ["OPERATION_OF", "OperationRequest", "journal_writer", "operation_graph",
           "request_context", "spec_of"]
