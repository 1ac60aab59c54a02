"""Plan requests from the queue: the policy's checks, then the plan book.

- ``plan_create`` needs the ``plan`` right and the ``protect`` right on the plan's provider
  (its slots will protect as the creator), and ``delete`` too when it has a retention
  policy; the protect checks (resources, parameters, paths) run with the creator's grant.
- ``plan_update`` and ``plan_delete`` need ``plan``, and touch only the requester's own
  plans (``actors.plans.access``); ``plan_run`` needs ``protect``, and starts the plan's
  protect as operation ``request_id``.

On a provider whose requests need a Keystone token (the OpenStack ones), every plan request
carries its user's token as any request does. ``plan_create`` then asks Keystone for a
trust from that user to this worker's service user, without expiry, on the token's project
and roles, and records it in the plan: the plan's slots and retention act through it, as
Karbor's did; ``plan_delete`` deletes it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

import msgspec

from actors.plans.access import Requester, check_access
from actors.plans.book import PlanBook
from actors.plans.plan import KeystoneOwner, Plan
from actors.service.authorization import Authorizer, Decision
from actors.service.keystone import KeystoneValidator, TokenInfo
from actors.wire.requests import (
    PlanCreateRequest,
    PlanDeleteRequest,
    PlanRequest,
    PlanRunRequest,
    PlanUpdateRequest,
)
from plugins.errors import Forbidden

if TYPE_CHECKING:
    from actors.operations.engine import Admission, Engine


class PlanOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """What a plan request did: the plan, the action, and for a run its admission."""

    plan: Plan
    action: Literal["created", "updated", "deleted", "run"]
    decision: Decision
    admission: Admission | None = None


class PlanRequests:
    """Carries out plan requests for one worker; ``changed`` is told of every change
    (the worker's scheduler looks at the plans again at once)."""

    def __init__(self, engine: Engine, authorizer: Authorizer, *,
                 changed: Callable[[], None] | None = None,
                 keystone: KeystoneValidator | None = None) -> None:
        self.engine = engine
        self.authorizer = authorizer
        self.book = PlanBook(engine)
        self.changed = changed
        self.keystone = keystone

    async def carry_out(self, request: PlanRequest, user_id: str | None, *,
                        auth_token: str | None = None) -> PlanOutcome:
        """Check and carry out one plan request; ``auth_token``: its Keystone token.

        Raises:
            Forbidden: the policy or the plan's owner refuses it.
            RequestInvalid, PlanNotFound, ResourceNotFound, ...: naming what is wrong.
        """
        if isinstance(request, PlanCreateRequest):
            outcome = await self._create(request, user_id, auth_token)
        else:
            # the right first (no provider yet), then the plan, then its provider
            first = self.authorizer.decide(request, user_id, provider=None)
            plan, _ = await self.book.find(request.plan, _requester(first, request),
                                           action=_ACTION[type(request)],
                                           provider_id=request.provider_id)
            provider = self._provider(plan.provider_id)
            token = await self._token(provider, auth_token)
            decision = self.authorizer.decide(request, user_id, provider=provider,
                                              token=token)
            requester = _requester(decision, request)
            check_access(plan, requester, _ACTION[type(request)])  # the token's project too
            if isinstance(request, PlanRunRequest):
                plan, protect = await self.book.run_request(
                    plan.id, requester, request_id=request.request_id)
                keystone = plan.owner.keystone
                admission = await self.engine.admit(
                    protect, user_id=decision.user_id, paths=decision.paths,
                    project=decision.project,
                    trust_id=None if keystone is None else keystone.trust_id)
                if admission.duplicate is None:
                    await self.book.record_run(plan, admission.operation_id)
                outcome = PlanOutcome(plan=plan, action="run", decision=decision,
                                      admission=admission)
            elif isinstance(request, PlanUpdateRequest):
                if isinstance(request.retention, msgspec.Struct):
                    self.authorizer.decide_operation("delete", request, user_id,
                                                     provider=provider)
                updated = await self.book.update(request, requester)
                outcome = PlanOutcome(plan=updated, action="updated", decision=decision)
            else:
                deleted = await self.book.delete(request, requester)
                if deleted.owner.keystone is not None and self.keystone is not None:
                    await self.keystone.delete_trust(deleted.owner.keystone.trust_id)
                outcome = PlanOutcome(plan=deleted, action="deleted", decision=decision)
        if self.changed is not None:
            self.changed()
        return outcome

    async def _create(self, request: PlanCreateRequest, user_id: str | None,
                      auth_token: str | None) -> PlanOutcome:
        provider = self._provider(request.provider_id)
        token = await self._token(provider, auth_token)
        self.authorizer.decide(request, user_id, provider=provider, token=token)
        decision = self.authorizer.decide_operation("protect", request, user_id,
                                                    provider=provider, token=token)
        if request.retention is not None:
            self.authorizer.decide_operation("delete", request, user_id, provider=provider,
                                             token=token)
        requester = _requester(decision, request)
        if token is None or auth_token is None or self.keystone is None:
            plan = await self.book.create(request, requester)
            return PlanOutcome(plan=plan, action="created", decision=decision)
        trust_id = await self.keystone.create_trust(auth_token, token, lifetime=None)
        owner = KeystoneOwner(user_id=token.user_id, user_name=token.user_name,
                              project_id=token.project_id, project_name=token.project_name,
                              roles=sorted(token.roles), trust_id=trust_id)
        project = decision.project.project_id if decision.project else token.project_id
        try:
            plan = await self.book.create(request, msgspec.structs.replace(
                requester, keystone=owner, project_id=project))
        except BaseException:
            await self.keystone.delete_trust(trust_id)  # no plan holds it
            raise
        return PlanOutcome(plan=plan, action="created", decision=decision)

    def _provider(self, provider_id: str | None) -> tuple[str, str]:
        provider = self.engine.provider(provider_id)  # ProviderNotFound: rejected
        return provider.id, provider.name

    async def _token(self, provider: tuple[str, str], auth_token: str | None) -> TokenInfo | None:
        """What Keystone says of the request's token, where the provider needs one (a
        missing token is refused by the policy's decision, naming the header)."""
        if not self.authorizer.needs_token(provider) or not auth_token:
            return None
        if self.keystone is None:
            raise Forbidden("this worker has no Keystone validator")
        return await self.keystone.validate(auth_token)


_ACTION: dict[type[PlanRequest], str] = {
    PlanUpdateRequest: "update", PlanDeleteRequest: "delete", PlanRunRequest: "run",
    PlanCreateRequest: "create"}


def _requester(decision: Decision, request: PlanRequest) -> Requester:
    return Requester(user_id=decision.user_id, project_id=request.project_id,
                     paths=decision.paths, project=decision.project)
