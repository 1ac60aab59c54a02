"""Schedules: when a plan's slots fall (cron or RRULE, in a time zone), which are due.

A stand-in with the interface of the real module (issue 14, schedule half): croniter for
cron expressions, ``dateutil.rrule`` for RRULEs. Every time it returns is UTC.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
from croniter import croniter
from dateutil.rrule import rrulestr

# Slot request ids: uuid5 in a namespace of our own, so the same (plan, slot) gives the
# same id on every worker.
_SLOT_NAMESPACE: Final = uuid.UUID("6f1d0c9e-5b1a-4f57-9d55-3b1b8e0c2a41")
_MAX_SCAN: Final = 100_000


class ScheduleError(ValueError):
    """A schedule that cannot be used, naming the field at fault."""


class Schedule(msgspec.Struct, frozen=True, kw_only=True):
    """When a plan runs: ``cron`` or ``rrule`` (exactly one), read in ``timezone``."""

    cron: str | None = None
    rrule: str | None = None
    timezone: str = "UTC"
    start: datetime | None = None
    end: datetime | None = None
    missed: Literal["skip", "once"] = "skip"


class DueSlots(msgspec.Struct, frozen=True):
    """The slot to run now (if any) and those that passed unrun."""

    run: datetime | None
    missed: list[datetime]
    missed_count: int


def _zone(schedule: Schedule) -> ZoneInfo:
    try:
        return ZoneInfo(schedule.timezone)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ScheduleError(f"timezone: unknown time zone {schedule.timezone!r}") from error


def _aware(moment: datetime, zone: ZoneInfo) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def validate_schedule(schedule: Schedule) -> None:
    """Raise ScheduleError naming the field unless the schedule can be used."""
    if (schedule.cron is None) == (schedule.rrule is None):
        raise ScheduleError("a schedule needs exactly one of cron and rrule")
    zone = _zone(schedule)
    if schedule.cron is not None and not croniter.is_valid(schedule.cron):
        raise ScheduleError(f"cron: {schedule.cron!r} is not a cron expression")
    if schedule.rrule is not None:
        try:
            rrulestr(schedule.rrule, dtstart=datetime.now(zone))
        except (ValueError, TypeError) as error:
            raise ScheduleError(f"rrule: {schedule.rrule!r} is not an RRULE: {error}") from None
    if schedule.start and schedule.end and \
            _aware(schedule.end, zone) <= _aware(schedule.start, zone):
        raise ScheduleError("end: the schedule ends before it starts")


def _following(schedule: Schedule, after: datetime) -> datetime | None:
    zone = _zone(schedule)
    after = after.astimezone(zone)
    if schedule.start is not None:
        start = _aware(schedule.start, zone)
        if after < start:
            after = start - timedelta(microseconds=1)
    found: datetime | None
    if schedule.cron is not None:
        found = croniter(schedule.cron, after).get_next(datetime)
        if found <= after:
            found = None
    else:
        assert schedule.rrule is not None
        # anchored at the start, else at midnight of the day (a SECONDLY rule walked
        # from a distant anchor would take millions of steps)
        dtstart = _aware(schedule.start, zone) if schedule.start else after.replace(
            hour=0, minute=0, second=0, microsecond=0)
        rule = rrulestr(schedule.rrule, dtstart=dtstart)
        found = rule.after(after, inc=False)
    if found is None:
        return None
    if schedule.end is not None and found > _aware(schedule.end, zone):
        return None
    return found.astimezone(UTC)


def next_slots(schedule: Schedule, after: datetime, count: int) -> list[datetime]:
    """The next ``count`` slots strictly after ``after``, in UTC."""
    slots: list[datetime] = []
    moment = after
    while len(slots) < count:
        found = _following(schedule, moment)
        if found is None:
            break
        slots.append(found)
        moment = found
    return slots


def slots_between(schedule: Schedule, after: datetime, until: datetime) -> list[datetime]:
    """Every slot in ``(after, until]``, in UTC."""
    slots: list[datetime] = []
    moment = after
    while len(slots) < _MAX_SCAN:
        found = _following(schedule, moment)
        if found is None or found > until:
            break
        slots.append(found)
        moment = found
    return slots


def due_slots(schedule: Schedule, last_slot: datetime | None, now: datetime, *,
              grace: timedelta) -> DueSlots:
    """What is due at ``now`` after ``last_slot``: the latest slot if it is at most
    ``grace`` old (or, with ``missed="once"``, even if older), the others missed."""
    after = last_slot if last_slot is not None else now - grace
    slots = slots_between(schedule, after, now)
    if not slots:
        return DueSlots(None, [], 0)
    latest = slots[-1]
    if now - latest <= grace or schedule.missed == "once":
        return DueSlots(latest, slots[:-1], len(slots) - 1)
    return DueSlots(None, slots, len(slots))


def slot_request_id(plan_id: str, slot: datetime) -> str:
    """The request (and operation) id of a plan's slot: the same on every worker."""
    stamp = slot.astimezone(UTC).isoformat()
    return str(uuid.uuid5(_SLOT_NAMESPACE, f"slot:{plan_id}:{stamp}"))


def retention_delete_request_id(plan_id: str, checkpoint_id: str) -> str:
    """The request id of the delete retention asks for: the same on every worker."""
    return str(uuid.uuid5(_SLOT_NAMESPACE, f"forget:{plan_id}:{checkpoint_id}"))
