"""Plan requests from the queue: the policy's checks, then the plan book.

- ``plan_create`` needs the ``plan`` right and the ``protect`` right on the plan's provider
  (its slots will protect as the creator), and ``delete`` too when it has a retention
  policy; the protect checks (resources, parameters, paths) run with the creator's grant.
- ``plan_update`` and ``plan_delete`` need ``plan``, and touch only the requester's own
  plans (``actors.plans.access``); ``plan_run`` needs ``protect``, and starts the plan's
  protect as operation ``request_id``.

Providers whose requests need a Keystone token are refused: a scheduled slot has no token
to act with (docs/plans.md, "Not yet").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

import msgspec

from actors.plans.access import Requester
from actors.plans.book import PlanBook
from actors.plans.plan import Plan
from actors.service.authorization import Authorizer, Decision
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
                 changed: Callable[[], None] | None = None) -> None:
        self.engine = engine
        self.authorizer = authorizer
        self.book = PlanBook(engine)
        self.changed = changed

    async def carry_out(self, request: PlanRequest, user_id: str | None) -> PlanOutcome:
        """Check and carry out one plan request.

        Raises:
            Forbidden: the policy or the plan's owner refuses it.
            RequestInvalid, PlanNotFound, ResourceNotFound, ...: naming what is wrong.
        """
        if isinstance(request, PlanCreateRequest):
            outcome = await self._create(request, user_id)
        else:
            # the right first (no provider yet), then the plan, then its provider
            first = self.authorizer.decide(request, user_id, provider=None)
            plan, _ = await self.book.find(request.plan, _requester(first, request),
                                           action=_ACTION[type(request)],
                                           provider_id=request.provider_id)
            provider = self._provider(plan.provider_id)
            decision = self.authorizer.decide(request, user_id, provider=provider)
            requester = _requester(decision, request)
            if isinstance(request, PlanRunRequest):
                plan, protect = await self.book.run_request(
                    plan.id, requester, request_id=request.request_id)
                admission = await self.engine.admit(protect, user_id=decision.user_id,
                                                    paths=decision.paths)
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
                outcome = PlanOutcome(plan=deleted, action="deleted", decision=decision)
        if self.changed is not None:
            self.changed()
        return outcome

    async def _create(self, request: PlanCreateRequest, user_id: str | None) -> PlanOutcome:
        provider = self._provider(request.provider_id)
        self.authorizer.decide(request, user_id, provider=provider)
        decision = self.authorizer.decide_operation("protect", request, user_id,
                                                    provider=provider)
        if request.retention is not None:
            self.authorizer.decide_operation("delete", request, user_id, provider=provider)
        plan = await self.book.create(request, _requester(decision, request))
        return PlanOutcome(plan=plan, action="created", decision=decision)

    def _provider(self, provider_id: str | None) -> tuple[str, str]:
        provider = self.engine.provider(provider_id)  # ProviderNotFound: rejected
        if self.authorizer.needs_token((provider.id, provider.name)):
            raise Forbidden(f"plans on provider {provider.name!r}: its requests need a "
                            f"Keystone token, which a scheduled slot does not have; plans "
                            f"on such providers are not supported yet")
        return provider.id, provider.name


_ACTION: dict[type[PlanRequest], str] = {
    PlanUpdateRequest: "update", PlanDeleteRequest: "delete", PlanRunRequest: "run",
    PlanCreateRequest: "create"}


def _requester(decision: Decision, request: PlanRequest) -> Requester:
    return Requester(user_id=decision.user_id, project_id=request.project_id,
                     paths=decision.paths)
