"""When a plan runs: a cron expression or an RRULE in a time zone, between two instants.

A **slot** is one instant the schedule says a run is due, always returned aware, in UTC.
Rules are read in the schedule's local wall time (``local_time`` says what a DST change
does: a wall time the clocks skip runs once at the change, one they repeat runs once, the
first time). ``start`` and ``end`` bound the slots (both included); an RRULE's DTSTART is
``start`` (see ``rules``). Which slots run after an outage is ``due``'s concern.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from actors.plans.errors import ScheduleError
from actors.plans.local_time import to_instant
from actors.plans.rules import RRULE_EPOCH, CronRule, RecurrenceRule, WallRule

__all__ = ["MAX_SLOTS", "MIN_INTERVAL", "Schedule", "ScheduleError", "next_slots",
           "slots_between", "validate_schedule"]

# The shortest gap between two slots a rule may have. RRULE counts in whole seconds, so
# this refuses nothing today; it is the one place to raise if sub-minute plans should go.
MIN_INTERVAL: Final = timedelta(seconds=1)
# The most slots one call computes: a 1-second rule over a year is 31 million of them.
MAX_SLOTS: Final = 10_000
# How many slots validation looks at for gaps shorter than MIN_INTERVAL.
_GAPS_CHECKED: Final = 100


class Schedule(msgspec.Struct, frozen=True, kw_only=True):
    """When a plan runs. Exactly one of ``cron`` and ``rrule``."""

    cron: str | None = None
    """A 5-field crontab line (``"30 2 * * *"``) or an alias (``"@daily"``), read by croniter."""
    rrule: str | None = None
    """An RFC 5545 RRULE (``"FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1;BYHOUR=22;
    BYMINUTE=0"``), optionally prefixed ``RRULE:``; its DTSTART is ``start``, never the string."""
    timezone: str = "UTC"
    """An IANA time zone; the rule's times are wall times there."""
    start: datetime | None = None
    """Aware; no slot before it."""
    end: datetime | None = None
    """Aware; no slot after it."""
    missed: Literal["skip", "once"] = "skip"
    """What late slots do (``due.due_slots``): all skipped, or the latest runs once."""


def validate_schedule(schedule: Schedule, *, now: datetime | None = None) -> None:
    """Check everything a schedule's slots depend on; ``now`` (default: the clock) is when
    the schedule must still have a slot to come.

    Raises:
        ScheduleError: neither or both of cron and rrule; a cron or RRULE the parsers
            refuse; an unknown time zone; a naive start or end; end before start; no slot
            after ``now``; two slots closer than ``MIN_INTERVAL``.
    """
    _rule(schedule)  # the rule, the zone, the bounds
    if schedule.start is not None and schedule.end is not None \
            and schedule.end < schedule.start:
        raise ScheduleError(f"schedule.end: {schedule.end.isoformat()} is before "
                            f"schedule.start {schedule.start.isoformat()}")
    moment = now if now is not None else datetime.now(UTC)
    _check_aware("now", moment)
    upcoming = next_slots(schedule, moment, _GAPS_CHECKED)
    if not upcoming:
        raise ScheduleError(f"schedule.{_rule_field(schedule)}: {_rule_text(schedule)!r}: "
                            f"no slot after {moment.astimezone(UTC).isoformat()}"
                            f"{' (schedule.end)' if schedule.end is not None else ''}")
    for earlier, later in itertools.pairwise(upcoming):
        if later - earlier < MIN_INTERVAL:
            raise ScheduleError(f"schedule.{_rule_field(schedule)}: {_rule_text(schedule)!r}: "
                                f"slots {later - earlier} apart; at least {MIN_INTERVAL}")


def next_slots(schedule: Schedule, after: datetime, count: int) -> list[datetime]:
    """The next ``count`` slots strictly after ``after`` (at most ``MAX_SLOTS``), in UTC.

    Raises:
        ScheduleError: the schedule is invalid, or ``after`` is naive.
    """
    _check_aware("after", after)
    slots: list[datetime] = []
    for slot in iter_slots(schedule, after):
        if len(slots) >= min(count, MAX_SLOTS):
            break
        slots.append(slot)
    return slots


def slots_between(schedule: Schedule, after: datetime, until: datetime) -> list[datetime]:
    """The slots in (``after``, ``until``], in UTC.

    Raises:
        ScheduleError: the schedule is invalid, a bound is naive, or there are more than
            ``MAX_SLOTS`` (ask for a shorter span).
    """
    _check_aware("after", after)
    _check_aware("until", until)
    slots: list[datetime] = []
    for slot in iter_slots(schedule, after):
        if slot > until:
            break
        if len(slots) == MAX_SLOTS:
            raise ScheduleError(f"schedule.{_rule_field(schedule)}: {_rule_text(schedule)!r}: "
                                f"more than {MAX_SLOTS} slots between {after.isoformat()} "
                                f"and {until.isoformat()}")
        slots.append(slot)
    return slots


def iter_slots(schedule: Schedule, after: datetime) -> Iterator[datetime]:
    """Every slot strictly after aware ``after``, ascending, in UTC; endless unless the
    rule or ``end`` ends it. The caller bounds the walk.

    Raises:
        ScheduleError: the schedule is invalid.
    """
    rule, zone = _rule(schedule)
    lower = after.astimezone(UTC)
    if schedule.start is not None and schedule.start.astimezone(UTC) > lower:
        lower = schedule.start.astimezone(UTC) - timedelta(microseconds=1)  # start included
    # ``lower``'s wall time drops its fold: a wall time of the repeated hour maps to its
    # first occurrence, at or before ``lower``, and the check below drops it
    wall = lower.astimezone(zone).replace(tzinfo=None, fold=0)
    previous: datetime | None = None
    for local in rule.after(wall):
        slot = to_instant(local, zone)
        if slot <= lower or slot == previous:  # at most a few, around a DST change
            continue
        if schedule.end is not None and slot > schedule.end:
            return
        previous = slot
        yield slot


def _rule(schedule: Schedule) -> tuple[WallRule, ZoneInfo]:
    """The schedule's rule and zone, or ScheduleError naming the field at fault."""
    if (schedule.cron is None) == (schedule.rrule is None):
        raise ScheduleError("schedule: exactly one of cron and rrule is needed, got "
                            + ("both" if schedule.cron is not None else "neither"))
    _check_aware("schedule.start", schedule.start)
    _check_aware("schedule.end", schedule.end)
    zone = _zone(schedule.timezone)
    if schedule.cron is not None:
        return CronRule(schedule.cron), zone
    assert schedule.rrule is not None  # one of the two, checked above
    dtstart = (schedule.start.astimezone(zone).replace(tzinfo=None)
               if schedule.start is not None else RRULE_EPOCH)
    return RecurrenceRule(schedule.rrule, dtstart), zone


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as e:  # ValueError: a path-like key
        raise ScheduleError(f"schedule.timezone: {name!r}: not a known IANA time zone "
                            f"(e.g. 'Europe/Berlin', 'UTC')") from e


def _check_aware(field: str, moment: datetime | None) -> None:
    if moment is not None and moment.utcoffset() is None:
        raise ScheduleError(f"{field}: {moment.isoformat()}: naive; give a time zone "
                            f"(e.g. {moment.isoformat()}+00:00)")


def _rule_field(schedule: Schedule) -> str:
    return "cron" if schedule.cron is not None else "rrule"


def _rule_text(schedule: Schedule) -> str:
    return schedule.cron if schedule.cron is not None else str(schedule.rrule)
