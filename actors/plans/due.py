"""Which slot runs now, and which slots were missed, after a pause or an outage.

The scheduler asks ``due_slots(schedule, last_slot, now, grace=...)`` on every tick;
``last_slot`` is the latest slot it has already run (or decided to miss). The slots
considered are those in (``last_slot``, ``now``]; with no ``last_slot`` (a new plan, or
one that never ran) only the latest slot at or before ``now`` is considered: what came
before it is history, not missed. (A new plan's ``start`` should be its creation time,
or its first tick may catch up on a slot from before it existed.)

- A slot no older than ``grace`` is **on time**. The latest on-time slot runs; older
  on-time slots (with a grace longer than the rule's interval) are missed.
- An older slot is **late**. With ``missed = "skip"`` every late slot is missed. With
  ``missed = "once"`` the latest late slot runs, once, as a catch-up, unless an on-time
  slot runs (a fresh run covers the outage), and every other late slot is missed.

So a 3-day outage of an hourly plan runs nothing until the next slot (``skip``) or one
catch-up now (``once``); never 72 protections in a row.

``missed`` holds the newest ``MAX_MISSED_KEPT`` missed slots, oldest first, and
``missed_count`` counts them all; past ``MAX_SLOTS`` slots in the span (a 1-second rule
after a long outage) the count stops being exact and ``counted_all`` is False.
"""

from __future__ import annotations

import itertools
from collections import deque
from datetime import UTC, datetime, timedelta
from typing import Final

import msgspec

from actors.plans.errors import ScheduleError
from actors.plans.schedule import MAX_SLOTS, Schedule, iter_slots

__all__ = ["MAX_MISSED_KEPT", "DueSlots", "due_slots"]

# How many missed slots ``DueSlots.missed`` lists (the newest); enough for a report.
MAX_MISSED_KEPT: Final = 100
# Spans looked back over, widening, for the latest slots before ``now`` when there is no
# ``last_slot`` or the walk from it is too long: a minute first (a 1-second rule), four
# years and a day for a Feb 29 rule, 30 years at most.
_LOOKBACKS: Final = tuple(timedelta(days=days) for days in (
    1 / 1440, 1 / 24, 1, 7, 32, 367, 4 * 366 + 1, 30 * 366))


class DueSlots(msgspec.Struct, frozen=True):
    """What a scheduler tick should do: run ``run`` (if any) and record the missed slots."""

    run: datetime | None
    """The slot to run now, in UTC; None: nothing is due."""
    missed: list[datetime]
    """The newest ``MAX_MISSED_KEPT`` slots that passed and will not run, oldest first."""
    missed_count: int
    """How many slots were missed in all (a lower bound when ``counted_all`` is False)."""
    counted_all: bool = True
    """False when the span held more than ``MAX_SLOTS`` slots and the count stopped."""


def due_slots(schedule: Schedule, last_slot: datetime | None, now: datetime, *,
              grace: timedelta) -> DueSlots:
    """The slot to run at ``now`` and the slots missed since ``last_slot`` (module doc).

    Raises:
        ScheduleError: the schedule is invalid, or ``last_slot`` or ``now`` is naive.
    """
    for field, moment in (("last_slot", last_slot), ("now", now)):
        if moment is not None and moment.utcoffset() is None:
            raise ScheduleError(f"{field}: {moment.isoformat()}: naive; give a time zone")
    now = now.astimezone(UTC)
    if last_slot is None:
        latest, _, _ = _latest(schedule, None, now, 1)
        recent, count, counted_all = latest, len(latest), True
    else:
        recent, count, counted_all = _latest(schedule, last_slot.astimezone(UTC), now,
                                             MAX_MISSED_KEPT + 1)
    on_time = [slot for slot in recent if now - slot <= grace]
    late = [slot for slot in recent if now - slot > grace]
    run: datetime | None = None
    if on_time:
        run = on_time[-1]
    elif late and schedule.missed == "once":
        run = late[-1]
    missed = [slot for slot in recent if slot != run][-MAX_MISSED_KEPT:]
    return DueSlots(run=run, missed=missed, missed_count=count - (run is not None),
                    counted_all=counted_all)


def _latest(schedule: Schedule, after: datetime | None, now: datetime,
            keep: int) -> tuple[list[datetime], int, bool]:
    """The newest ``keep`` slots in (``after``, ``now``], how many there are, and whether
    that count is exact. ``after`` None: no lower bound but the schedule's own."""
    if after is not None:
        span = itertools.takewhile(lambda slot: slot <= now, iter_slots(schedule, after))
        walked = list(itertools.islice(span, MAX_SLOTS + 1))  # bounded: a few hundred kB
        if len(walked) <= MAX_SLOTS:
            return walked[-keep:], len(walked), True
        found, _, _ = _latest(schedule, None, now, keep)
        return [slot for slot in found if slot > after], len(walked), False  # at least
    for lookback in _LOOKBACKS:
        window: deque[datetime] = deque(maxlen=keep)
        for slot in iter_slots(schedule, now - lookback):
            if slot > now:
                break
            window.append(slot)
        if len(window) == keep:
            return list(window), keep, False
    return list(window), len(window), False
