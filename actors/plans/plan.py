"""A plan: resources protected on a schedule, thinned by a retention policy, and what
became of its slots so far.

A plan is stored in the bank of its provider (``actors.plans.store``); its ``history`` is
written by whichever worker decided its latest slot or saw its latest run end. The
request fields (``actors.wire.plan_fields``) are converted here into the plans'
``Schedule`` and ``RetentionPolicy`` and checked with their validators.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

import msgspec

from actors.errors import RequestInvalid
from actors.plans.retention import RetentionError, RetentionPolicy, validate_retention
from actors.plans.schedule import Schedule, ScheduleError, validate_schedule
from actors.wire.plan_fields import PlanRetention, PlanSchedule
from actors.wire.requests import Parameters, ProtectRequest, ResourceRef

PLAN_VERSION: Final = 1


class KeystoneOwner(msgspec.Struct, frozen=True, kw_only=True):
    """The Keystone identity of a plan created with a token (a provider whose requests need
    one), and the trust its slots act through: made from the creator's token for this
    worker fleet's service user, without expiry, deleted with the plan. Keystone ends the
    trust by itself if the creator loses the roles it delegates."""

    user_id: str
    user_name: str = ""
    project_id: str
    project_name: str = ""
    roles: list[str]
    trust_id: str


class PlanOwner(msgspec.Struct, frozen=True, kw_only=True):
    """Who created the plan: its scheduled protects act with this identity's rights,
    checked against the policy again at every slot. ``user_id`` None: the local user
    (a plan created without a broker)."""

    user_id: str | None = None
    project_id: str | None = None
    keystone: KeystoneOwner | None = None

    @property
    def label(self) -> str:
        """How listings name the owner."""
        who = self.user_id or "local user"
        if self.keystone is not None:
            who += f", keystone:{self.keystone.user_name or self.keystone.user_id}"
        return f"{who} ({self.project_id})" if self.project_id else who


class RunRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One protect the plan ran: its operation, when, for which slot, how it ended."""

    operation_id: str
    at: datetime
    slot: datetime | None = None  # None: run on demand (``protect --plan``)
    status: str = "running"  # running | succeeded | failed | cancelled
    finished_at: datetime | None = None
    error: str | None = None


class PlanHistory(msgspec.Struct, frozen=True, kw_only=True):
    """What became of the plan's slots and runs."""

    last_slot: datetime | None = None  # the latest slot decided (whatever its outcome)
    last_outcome: str | None = None  # scheduled | skipped | missed
    last_reason: str | None = None  # why the latest slot was skipped
    last_run: RunRecord | None = None
    last_success: RunRecord | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    next_slot: datetime | None = None
    scheduled: int = 0
    skipped: int = 0
    missed: int = 0
    retention_deleted: int = 0


class Plan(msgspec.Struct, frozen=True, kw_only=True):
    """A named set of resources protected on a schedule (``/plans/<id>.json``)."""

    v: int = PLAN_VERSION
    id: str
    name: str
    provider_id: str
    resources: list[ResourceRef]
    parameters: Parameters = msgspec.field(default_factory=dict)
    schedule: Schedule | None = None
    retention: RetentionPolicy | None = None
    deadline: float | None = None  # seconds each protect may run; None: the provider's
    owner: PlanOwner
    created_at: datetime
    updated_at: datetime
    # when the current schedule took effect: its slots count from here, never before
    schedule_since: datetime
    history: PlanHistory = msgspec.field(default_factory=PlanHistory)

    def protect_request(self, request_id: str) -> ProtectRequest:
        """The protect this plan runs, as operation ``request_id``."""
        return ProtectRequest(request_id=request_id, project_id=self.owner.project_id,
                              provider_id=self.provider_id, resources=list(self.resources),
                              parameters=self.parameters, deadline=self.deadline,
                              plan_id=self.id)


def utc_now() -> datetime:
    """The wall clock, in UTC (the scheduler's default clock)."""
    return datetime.now(UTC)


def schedule_of(fields: PlanSchedule | None) -> Schedule | None:
    """The request's schedule, checked.

    Raises:
        RequestInvalid: ``schedule.<field>: <what is wrong>``.
    """
    if fields is None:
        return None
    schedule = msgspec.convert(msgspec.to_builtins(fields), Schedule)
    try:
        validate_schedule(schedule)
    except ScheduleError as error:
        raise RequestInvalid(str(error)) from None  # it names the field: schedule.<field>
    return schedule


def retention_of(fields: PlanRetention | None) -> RetentionPolicy | None:
    """The request's retention policy, checked.

    Raises:
        RequestInvalid: ``retention[.<field>]: <what is wrong>``.
    """
    if fields is None:
        return None
    policy = msgspec.convert(msgspec.to_builtins(fields), RetentionPolicy)
    try:
        validate_retention(policy)
    except RetentionError as error:
        raise RequestInvalid(str(error)) from None  # it names the field: retention[.<field>]
    return policy


def plan_document(plan: Plan) -> dict[str, Any]:
    """The plan as plain data (``plans show --json``)."""
    doc: dict[str, Any] = msgspec.to_builtins(plan)
    doc["resources"] = [ref.key for ref in plan.resources]
    return doc
