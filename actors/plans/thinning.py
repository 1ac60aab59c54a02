"""Retention in operation: after a plan's protect succeeds, delete what its policy lets go.

The plan's checkpoints are read from the bank (those whose index names the plan, not
deleted or being deleted), each marked in use when a running restore or verify reads it
(found through the running operations' deadline entries, ``/deadlines/``, which name
their checkpoint), and handed to ``forget``. Each checkpoint it does not keep is deleted
by a ``DeleteRequest`` whose id is ``retention_delete_request_id(plan, checkpoint)``: the
same on every worker, so two workers applying the same policy submit one delete.
"""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import structlog

from actors.operations.engine import Engine
from actors.plans.authority import Authority
from actors.plans.plan import Plan
from actors.plans.retention import Candidate, Decision, forget
from actors.plans.slot_ids import retention_delete_request_id
from actors.wire.requests import DeleteRequest
from plugins.checkpoint.checkpoint import CheckpointStatus
from plugins.checkpoint.operation_deadline import running_deadlines

log = structlog.get_logger(__name__)

GONE = (CheckpointStatus.DELETED, CheckpointStatus.DELETING)
READERS = ("restore", "verify")


class Thinning(msgspec.Struct, frozen=True, kw_only=True):
    """What one application of a retention policy decided and submitted."""

    decisions: list[Decision]
    deleted: list[str]  # checkpoints whose delete was submitted (or already had been)

    @property
    def kept(self) -> int:
        """How many checkpoints stay."""
        return sum(1 for decision in self.decisions if decision.keep)


async def plan_candidates(engine: Engine, plan: Plan) -> list[Candidate]:
    """The plan's checkpoints as retention sees them, newest first."""
    provider = engine.provider(plan.provider_id)
    store = await engine.store(provider)
    indices = [index for index in await store.list(provider.id)
               if index.plan_id == plan.id and index.status not in GONE]
    reading = {entry.checkpoint_id for entry in await running_deadlines(store.bank)
               if entry.type in READERS}
    return [Candidate(index.id, datetime.fromtimestamp(index.created_at, UTC),
                      str(index.status), index.id in reading) for index in indices]


async def decide(engine: Engine, plan: Plan) -> list[Decision]:
    """What the plan's retention policy keeps and lets go, and why (nothing submitted)."""
    if plan.retention is None:
        return []
    timezone = plan.schedule.timezone if plan.schedule else "UTC"
    return forget(plan.retention, await plan_candidates(engine, plan), timezone=timezone)


async def thin(engine: Engine, plan: Plan, authority: Authority) -> Thinning:
    """Apply the plan's retention policy: submit a delete for each checkpoint it lets go.

    Raises:
        Forbidden: if the plan's owner may no longer delete (nothing submitted).
        BankError, StrongboxError: if a delete cannot be submitted.
    """
    decisions = await decide(engine, plan)
    deleted: list[str] = []
    for decision in decisions:
        if decision.keep:
            continue
        request = DeleteRequest(
            request_id=retention_delete_request_id(plan.id, decision.checkpoint_id),
            checkpoint_id=decision.checkpoint_id, provider_id=plan.provider_id,
            project_id=plan.owner.project_id)
        grant = authority(plan, request)
        await engine.admit(request, user_id=grant.user_id, paths=grant.paths,
                           project=grant.project, trust_id=grant.trust_id)
        deleted.append(decision.checkpoint_id)
    if deleted:
        log.info("retention_applied", plan_id=plan.id, deleted=deleted,
                 kept=sum(1 for d in decisions if d.keep))
    return Thinning(decisions=decisions, deleted=deleted)
