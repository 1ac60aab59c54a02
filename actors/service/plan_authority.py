"""The policy's word on a plan's own requests: its owner's rights, checked at each use.

A scheduled slot's protect and a retention delete are judged as if the plan's owner had
published them: ``Authorizer.decide`` with the owner's broker user and the plan's
provider, so a right withdrawn from the owner stops the plan (its slots are skipped with
the refusal as their reason). Without a policy (single-user mode) the owner must be the
worker's own broker user, or none (a plan created embedded, by the local user).
"""

from __future__ import annotations

from actors.operations.engine import Engine
from actors.plans.authority import Authority, Grant
from actors.plans.plan import Plan
from actors.service.authorization import Authorizer
from actors.wire.requests import EngineRequest


def policy_authority(engine: Engine, authorizer: Authorizer) -> Authority:
    """An ``Authority`` that asks ``authorizer`` about the plan's owner.

    The callable raises Forbidden naming what the owner may not do.
    """

    def authorize(plan: Plan, request: EngineRequest) -> Grant:
        provider = engine.provider(plan.provider_id)
        decision = authorizer.decide(request, plan.owner.user_id,
                                     provider=(provider.id, provider.name))
        return Grant(user_id=decision.user_id, paths=decision.paths, project=decision.project)

    return authorize
