"""The plans an engine's providers hold: create, change, find, delete, run once.

Every change is checked as the matching protect request would be before anything is
stored (``Engine.check_protect``: every resource resolves, every parameter fits its
plugin's schema, every plugin's path check passes for the requester), and the schedule
and retention policy with their own validators; a plan that fails any of it is not
stored. Requests from the queue reach here through the worker's request intake, which
has checked the policy first (``actors.service.authorization``); the tenant checks are
here (``actors.plans.access``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

import msgspec
import structlog

from actors.errors import PlanNotFound, RequestInvalid
from actors.operations.engine import Engine
from actors.plans.access import Requester, check_access, may_access, tenant_of
from actors.plans.plan import Plan, PlanHistory, RunRecord, retention_of, schedule_of, utc_now
from actors.plans.schedule import Schedule, next_slots
from actors.plans.store import PlanStore, name_key
from actors.wire.requests import (
    PlanCreateRequest,
    PlanDeleteRequest,
    PlanUpdateRequest,
    ProtectRequest,
)
from plugins.provider import Provider

log = structlog.get_logger(__name__)

Clock = Callable[[], datetime]


def first_slot(schedule: Schedule | None, since: datetime) -> datetime | None:
    """The first slot of ``schedule`` after ``since``, or None."""
    if schedule is None:
        return None
    found = next_slots(schedule, since, 1)
    return found[0] if found else None


class PlanBook:
    """The plans of every provider of one engine."""

    def __init__(self, engine: Engine, *, clock: Clock = utc_now) -> None:
        self.engine = engine
        self.clock = clock

    async def stores(self) -> list[tuple[Provider, PlanStore]]:
        """Each provider with the plan store of its bank; a bank shared by several
        providers appears once (with the first of them)."""
        found: list[tuple[Provider, PlanStore]] = []
        seen: set[int] = set()
        for provider in self.engine.providers.values():
            bank = await self.engine.bank(provider)
            if id(bank) not in seen:
                seen.add(id(bank))
                found.append((provider, PlanStore(bank)))
        return found

    async def store_for(self, provider: Provider) -> PlanStore:
        """The plan store of a provider's bank."""
        return PlanStore(await self.engine.bank(provider))

    async def list(self, requester: Requester) -> list[Plan]:
        """Every plan ``requester`` may see, by name."""
        plans: dict[str, Plan] = {}
        for _, store in await self.stores():
            for plan in await store.list():
                if may_access(plan, requester):
                    plans.setdefault(plan.id, plan)
        return sorted(plans.values(), key=lambda p: (p.name, p.id))

    async def find(self, ref: str, requester: Requester, *, action: str = "show",
                   provider_id: str | None = None) -> tuple[Plan, PlanStore]:
        """The plan named ``ref`` (its id, or its name in the requester's tenant).

        Raises:
            PlanNotFound: if there is none the requester may see by that name or id.
            Forbidden: if ``ref`` is the id of another identity's plan.
            RequestInvalid: if an embedded command's name matches plans of several tenants.
        """
        stores = await self.stores()
        if provider_id is not None:
            chosen = self.engine.provider(provider_id)
            stores = [(chosen, await self.store_for(chosen))]
        for _, store in stores:
            plan = await store.read(ref)
            if plan is not None:
                check_access(plan, requester, action)
                return plan, store
        matches: list[tuple[Plan, PlanStore]] = []
        for _, store in stores:
            if requester.local:
                matches.extend((p, store) for p in await store.list() if p.name == ref)
                continue
            plan_id = await store.id_by_name(tenant_of(requester.owner), ref)
            plan = await store.read(plan_id) if plan_id else None
            if plan is not None and plan.name == ref and may_access(plan, requester):
                matches.append((plan, store))
        if not matches:
            raise PlanNotFound(ref)
        if len({plan.id for plan, _ in matches}) > 1:
            owners = ", ".join(f"{p.id} ({p.owner.label})" for p, _ in matches)
            raise RequestInvalid(f"plan name {ref!r} is used by several owners ({owners}); "
                                 f"name the plan by its id")
        return matches[0]

    async def create(self, request: PlanCreateRequest, requester: Requester) -> Plan:
        """Check and store a new plan.

        Raises:
            RequestInvalid: a bad schedule or retention policy, or a name in use.
            ResourceTypeNotSupported, ResourceNotFound, InvalidParameters, Forbidden: as
                for a protect of the plan's resources.
        """
        schedule = schedule_of(request.schedule)
        retention = retention_of(request.retention)
        provider = self.engine.provider(request.provider_id)
        now = self.clock()
        plan = Plan(id=str(uuid.uuid4()), name=request.name, provider_id=provider.id,
                    resources=list(request.resources), parameters=request.parameters,
                    schedule=schedule, retention=retention, deadline=request.deadline,
                    owner=requester.owner, created_at=now, updated_at=now, schedule_since=now,
                    history=PlanHistory(next_slot=first_slot(schedule, now)))
        await self._check_protect(plan, requester)
        store = await self.store_for(provider)
        tenant = tenant_of(plan.owner)
        async with store.locked(name_key(tenant, plan.name)):
            await self._check_name_free(tenant, plan.name, None)
            await store.write(plan)
            await store.write_name(plan)
        log.info("plan_created", plan_id=plan.id, name=plan.name, provider_id=provider.id,
                 user_id=plan.owner.user_id, schedule=bool(schedule),
                 retention=bool(retention))
        return plan

    async def update(self, request: PlanUpdateRequest, requester: Requester) -> Plan:
        """Change the fields ``request`` gives, checked as a creation is.

        Raises:
            PlanNotFound, Forbidden: as :meth:`find`; what :meth:`create` raises.
        """
        found, store = await self.find(request.plan, requester, action="update",
                                       provider_id=request.provider_id)
        async with store.locked(found.id):
            plan = await store.require(found.id)
            check_access(plan, requester, "update")
            changes = _changes(request)
            now = self.clock()
            if "schedule" in changes:
                schedule = changes["schedule"]
                assert schedule is None or isinstance(schedule, Schedule)
                changes["schedule_since"] = now
                changes["history"] = msgspec.structs.replace(
                    plan.history, next_slot=first_slot(schedule, now))
            updated = msgspec.structs.replace(plan, updated_at=now, **changes)
            if {"resources", "parameters"} & changes.keys():
                await self._check_protect(updated, requester)
            if updated.name != plan.name:
                tenant = tenant_of(plan.owner)
                async with store.locked(name_key(tenant, updated.name)):
                    await self._check_name_free(tenant, updated.name, plan.id)
                    await store.write(updated)
                    await store.write_name(updated)
                    await store.forget_name(plan)
            else:
                await store.write(updated)
        log.info("plan_updated", plan_id=plan.id, name=updated.name, fields=sorted(changes))
        return updated

    async def delete(self, request: PlanDeleteRequest, requester: Requester) -> Plan:
        """Remove a plan; its checkpoints stay.

        Raises:
            PlanNotFound, Forbidden: as :meth:`find`.
        """
        found, store = await self.find(request.plan, requester, action="delete",
                                       provider_id=request.provider_id)
        async with store.locked(found.id):
            plan = await store.require(found.id)
            check_access(plan, requester, "delete")
            await store.delete(plan)
        log.info("plan_deleted", plan_id=plan.id, name=plan.name)
        return plan

    async def run_request(self, ref: str, requester: Requester, *, request_id: str,
                          provider_id: str | None = None) -> tuple[Plan, ProtectRequest]:
        """The protect that runs plan ``ref`` once now, as operation ``request_id``.

        Raises:
            PlanNotFound, Forbidden: as :meth:`find`.
        """
        plan, _ = await self.find(ref, requester, action="run", provider_id=provider_id)
        return plan, plan.protect_request(request_id)

    async def record_run(self, plan: Plan, operation_id: str) -> None:
        """Note an on-demand run as the plan's latest (the scheduler follows its end)."""
        store = await self.store_for(self.engine.provider(plan.provider_id))
        async with store.locked(plan.id):
            current = await store.read(plan.id)
            if current is None:
                return  # deleted meanwhile: the run goes on, unrecorded
            run = RunRecord(operation_id=operation_id, at=self.clock())
            await store.write(msgspec.structs.replace(
                current, history=msgspec.structs.replace(current.history, last_run=run)))

    async def _check_protect(self, plan: Plan, requester: Requester) -> None:
        # a plan made with a Keystone token discovers through its trust, as its slots will
        keystone = plan.owner.keystone
        await self.engine.check_protect(plan.protect_request(str(uuid.uuid4())),
                                        user_id=requester.user_id, paths=requester.paths,
                                        trust_id=keystone.trust_id if keystone else None)

    async def _check_name_free(self, tenant: str, name: str, plan_id: str | None) -> None:
        for _, store in await self.stores():
            existing = await store.id_by_name(tenant, name)
            if existing is not None and existing != plan_id and \
                    await store.read(existing) is not None:
                raise RequestInvalid(f"field 'name': a plan named {name!r} already exists "
                                     f"({existing})")


def _changes(request: PlanUpdateRequest) -> dict[str, object]:
    """The plan fields an update request sets, converted and checked."""
    changes: dict[str, object] = {}
    for field in ("name", "resources", "parameters", "deadline"):
        value = getattr(request, field)
        if value is not msgspec.UNSET:
            changes[field] = list(value) if field == "resources" else value
    if request.schedule is not msgspec.UNSET:
        changes["schedule"] = schedule_of(request.schedule)
    if request.retention is not msgspec.UNSET:
        changes["retention"] = retention_of(request.retention)
    if not changes:
        raise RequestInvalid("plan_update request changes nothing: give at least one of "
                             "name, resources, parameters, schedule, retention, deadline")
    return changes
