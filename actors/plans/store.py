"""Plans in a bank: one object per plan, a name index per tenant, and a lease per plan.

Layout::

    /plans/<id>.json                      the Plan (JSON, versioned), written whole
    /plan-names/<tenant>/<name>           the id of the tenant's plan of that name
    lease /plans/<id>                     held while one writer changes the plan
    lease /plan-names/<tenant>/<name>     held while a plan of that name is created

Every write is one ``put`` (atomic in every bank). Writers of the same plan (a request
changing it, schedulers recording a slot on several workers) take the plan's lease
first and re-read the plan under it, so no write is lost and a slot is decided once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from typing import Final

import msgspec
import structlog

from actors.errors import PlanNotFound
from actors.plans.access import tenant_of
from actors.plans.plan import PLAN_VERSION, Plan
from banks.base import Bank
from banks.errors import BankError, LeaseHeld, ObjectNotFound
from banks.keys import decode_segment, encode_segment
from plugins.errors import PluginError

log = structlog.get_logger(__name__)

PLANS_PREFIX: Final = "/plans/"
NAMES_PREFIX: Final = "/plan-names/"
SUFFIX: Final = ".json"
# a plan's lease covers reading it, deciding a slot (a protect's discovery included) and
# writing it back, renewed every third of this while held; a writer that dies holding it
# delays the plan by this much at most
PLAN_LEASE_TTL: Final = 6.0
LEASE_WAIT: Final = 20.0  # how long a request waits for a plan another writer holds

_decoder = msgspec.json.Decoder(Plan)


class PlanStoreError(PluginError):
    """A stored plan cannot be read."""


def plan_key(plan_id: str) -> str:
    """The bank key of a plan."""
    return f"{PLANS_PREFIX}{encode_segment(plan_id)}{SUFFIX}"


def name_key(tenant: str, name: str) -> str:
    """The bank key of a tenant's name index entry."""
    return f"{NAMES_PREFIX}{encode_segment(tenant)}/{encode_segment(name)}"


class PlanStore:
    """The plans kept in one bank."""

    def __init__(self, bank: Bank) -> None:
        self.bank = bank

    async def read(self, plan_id: str) -> Plan | None:
        """The plan, or None if this bank holds none with that id.

        Raises:
            PlanStoreError: if it is unreadable or of another version.
        """
        key = plan_key(plan_id)
        try:
            data = await self.bank.get(key)
        except ObjectNotFound:
            return None
        try:
            plan = _decoder.decode(data)
        except msgspec.DecodeError as error:
            raise PlanStoreError(f"plan {key!r} is unreadable: {error}") from error
        if plan.v != PLAN_VERSION:
            raise PlanStoreError(f"plan {key!r} has version {plan.v}; this worker reads "
                                 f"v{PLAN_VERSION}")
        return plan

    async def require(self, plan_id: str) -> Plan:
        """The plan.

        Raises:
            PlanNotFound: if there is none with that id.
        """
        plan = await self.read(plan_id)
        if plan is None:
            raise PlanNotFound(plan_id)
        return plan

    async def ids(self) -> list[str]:
        """The ids of every plan in the bank."""
        found = []
        async for key in self.bank.list_all(PLANS_PREFIX):
            if key.endswith(SUFFIX):
                found.append(_decode_id(key))
        return found

    async def list(self) -> list[Plan]:
        """Every readable plan in the bank (an unreadable one is logged and skipped)."""
        plans = []
        for plan_id in await self.ids():
            try:
                plan = await self.read(plan_id)
            except PlanStoreError as error:
                log.warning("plan_unreadable", plan_id=plan_id, error=str(error))
                continue
            if plan is not None:
                plans.append(plan)
        return plans

    async def id_by_name(self, tenant: str, name: str) -> str | None:
        """The id of the tenant's plan called ``name``, or None."""
        try:
            return (await self.bank.get(name_key(tenant, name))).decode()
        except ObjectNotFound:
            return None

    async def write(self, plan: Plan) -> None:
        """Store the plan whole (one atomic put). Call it holding the plan's lease."""
        await self.bank.put(plan_key(plan.id), msgspec.json.encode(plan))

    async def write_name(self, plan: Plan) -> None:
        """Point the plan's tenant and name at it."""
        await self.bank.put(name_key(tenant_of(plan.owner), plan.name), plan.id.encode())

    async def forget_name(self, plan: Plan) -> None:
        """Remove the name entry, if it still names this plan."""
        key = name_key(tenant_of(plan.owner), plan.name)
        with contextlib.suppress(ObjectNotFound):
            if (await self.bank.get(key)).decode() == plan.id:
                await self.bank.delete(key)

    async def delete(self, plan: Plan) -> None:
        """Remove the plan and its name entry."""
        await self.bank.delete(plan_key(plan.id))
        await self.forget_name(plan)

    @contextlib.asynccontextmanager
    async def locked(self, key: str, *, wait: float = LEASE_WAIT,
                     owner: str | None = None) -> AsyncIterator[str]:
        """Hold the lease ``key`` (a plan's id or a name key) while the block runs,
        waiting up to ``wait`` seconds for another holder.

        Raises:
            LeaseHeld: if it is still held by another after ``wait``.
        """
        owner = owner or uuid.uuid4().hex
        lease = lease_key(key)
        give_up = time.monotonic() + wait
        while True:
            try:
                await self.bank.acquire_lease(lease, owner, PLAN_LEASE_TTL)
                break
            except LeaseHeld:
                if time.monotonic() >= give_up:
                    raise
                await asyncio.sleep(0.1)
        renewing = asyncio.create_task(self._renew(lease, owner))
        try:
            yield owner
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
            await self.bank.release_lease(lease, owner)

    async def _renew(self, lease: str, owner: str) -> None:
        """Keep the lease while its holder works (a long discovery, a slow bank)."""
        while True:
            await asyncio.sleep(PLAN_LEASE_TTL / 3)
            try:
                await self.bank.renew_lease(lease, owner, PLAN_LEASE_TTL)
            except (LeaseHeld, BankError) as error:  # the holder goes on; say so
                log.warning("plan_lease_renewal_failed", lease=lease, error=str(error))


def lease_key(key: str) -> str:
    """The lease guarding a plan (by id) or a name (by its name key)."""
    return key if key.startswith("/") else f"{PLANS_PREFIX}{encode_segment(key)}"


def _decode_id(key: str) -> str:
    return decode_segment(key[len(PLANS_PREFIX):-len(SUFFIX)])
