"""The policy's word on a plan's own requests: its owner's rights, checked at each use.

A scheduled slot's protect and a retention delete are judged as if the plan's owner had
published them: ``Authorizer.decide`` with the owner's broker user and the plan's
provider, so a right withdrawn from the owner stops the plan (its slots are skipped with
the refusal as their reason). Without a policy (single-user mode) the owner must be the
worker's own broker user, or none (a plan created embedded, by the local user).

A plan created with a Keystone token is judged on that token's identity and roles as
recorded then, and acts through the trust its creator gave: Keystone itself ends the
trust if the creator loses those roles, and the slot's protect then fails on its first
call to the cloud, naming Keystone's refusal.
"""

from __future__ import annotations

from actors.operations.engine import Engine
from actors.plans.authority import Authority, Grant
from actors.plans.plan import KeystoneOwner, Plan
from actors.service.authorization import Authorizer
from actors.service.keystone import TokenInfo
from actors.wire.requests import EngineRequest


def policy_authority(engine: Engine, authorizer: Authorizer) -> Authority:
    """An ``Authority`` that asks ``authorizer`` about the plan's owner.

    The callable raises Forbidden naming what the owner may not do.
    """

    def authorize(plan: Plan, request: EngineRequest) -> Grant:
        provider = engine.provider(plan.provider_id)
        keystone = plan.owner.keystone
        decision = authorizer.decide(request, plan.owner.user_id,
                                     provider=(provider.id, provider.name),
                                     token=None if keystone is None else recorded(keystone))
        return Grant(user_id=decision.user_id, paths=decision.paths, project=decision.project,
                     trust_id=None if keystone is None else keystone.trust_id)

    return authorize


def recorded(keystone: KeystoneOwner) -> TokenInfo:
    """The creator's token as the plan recorded it, for the policy's role rules."""
    return TokenInfo(user_id=keystone.user_id, user_name=keystone.user_name,
                     project_id=keystone.project_id, project_name=keystone.project_name,
                     roles=frozenset(keystone.roles), expires_at=float("inf"))
