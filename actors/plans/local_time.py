"""From a local wall time to the one instant a slot runs at, across DST changes.

Rules (cron and RRULE) are evaluated in the schedule's local wall time, so "02:30 every
day" stays 02:30 in summer and in winter. Twice a year a wall time is not one instant:

- **It does not exist** (spring forward: in Europe/Berlin 02:00-02:59 on the last Sunday
  of March). The slot runs once, at the first instant after the gap: the instant of the
  change (03:00 CEST). This is what croniter does with an aware start, and what Vixie
  cron does ("runs immediately after the change"). Several wall times in one gap (an
  hourly rule's 02:00, a 02:15 and 02:45) all land on that instant and run once.
- **It occurs twice** (fall back: 02:00-02:59 on the last Sunday of October in Berlin).
  The slot runs once, at the first occurrence (``fold=0``, still summer time); the
  repeated hour does not run the rule again.

So on a spring-forward day an hourly rule has 23 slots, and 24 on a fall-back day (the
repeated hour runs once). A rule that should tick in elapsed time regardless of DST
(every hour, every 15 minutes, exactly) is written with ``timezone = "UTC"``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

_SECOND = timedelta(seconds=1)


def to_instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant a slot at naive local ``wall`` time runs at (see the module doc)."""
    first = wall.replace(tzinfo=zone, fold=0)
    instant = first.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == wall.replace(fold=0):
        return instant  # exists: the only occurrence, or the first of two (fold=0)
    return _end_of_gap(wall, zone)


def _end_of_gap(wall: datetime, zone: ZoneInfo) -> datetime:
    """The instant the clocks jumped over ``wall``: the first valid instant after it.

    In a gap, fold=1 reads ``wall`` with the offset after the change (an instant before
    the change) and fold=0 with the offset before it (an instant after the change); the
    change lies between. zoneinfo does not publish its transitions, so bisect to the
    second (a gap is at most a few hours: a dozen steps)."""
    late = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    early = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if early > late:
        early, late = late, early
    after_offset = late.astimezone(zone).utcoffset()
    while late - early > _SECOND:
        middle = early + (late - early) / 2
        if middle.astimezone(zone).utcoffset() == after_offset:
            late = middle
        else:
            early = middle
    return late.replace(microsecond=0)
