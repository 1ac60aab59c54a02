"""A schedule's rule, cron or RRULE, as a stream of local wall times.

Both rules run on naive local wall times (the schedule's time zone is applied after, in
``local_time``): croniter on a naive start counts calendar fields and never meets a DST
change, and an RRULE's DTSTART is a naive wall time too.

An RRULE's DTSTART is the schedule's ``start`` (as a local wall time) or, without one,
``RRULE_EPOCH`` (2000-01-01 00:00 local); never a ``DTSTART`` in the string, so every
worker reads the same rule the same way. DTSTART fixes what the rule leaves out (a
``FREQ=DAILY`` with no ``BYHOUR`` runs at DTSTART's hour) and where ``INTERVAL`` counts
from. dateutil walks a rule from DTSTART, one period at a time; so unless the rule has a
``COUNT`` (at most ``MAX_COUNT``) the walk starts instead at a whole number of intervals
after DTSTART, a period before the time asked about, which yields the same slots without
walking every second since 2000. (A monthly or yearly rule whose DTSTART falls on a 29th,
30th or 31st is walked from DTSTART: a move by months could not keep that day.)
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Final, Protocol

from croniter import CroniterBadDateError, CroniterError, croniter
from dateutil.relativedelta import relativedelta
from dateutil.rrule import rrule, rrulestr

from actors.plans.errors import ScheduleError

RRULE_EPOCH: Final = datetime(2000, 1, 1)
# The largest COUNT: a counted rule is walked from its DTSTART every time.
MAX_COUNT: Final = 10_000
CRON_FIELDS: Final = ("minute", "hour", "day of month", "month", "day of week")
# croniter's messages start with the expression in brackets; ours names it already.
_BRACKETED: Final = re.compile(r"^\[[^\]]*\]\s*")
# One period of the frequencies whose walk may start later by a timedelta (months and
# years: by a relativedelta).
_PERIODS: Final = {
    "SECONDLY": timedelta(seconds=1), "MINUTELY": timedelta(minutes=1),
    "HOURLY": timedelta(hours=1), "DAILY": timedelta(days=1), "WEEKLY": timedelta(weeks=1)}


class WallRule(Protocol):
    """Local wall times a rule matches."""

    def after(self, wall: datetime) -> Iterator[datetime]:
        """Naive wall times strictly after naive ``wall``, ascending, possibly endless."""
        ...


class CronRule:
    """A 5-field crontab line (minute hour day-of-month month day-of-week), or an ``@daily``
    style alias, as croniter reads it: names, ranges, steps, ``L``; when both day fields
    are restricted a day matching either runs (Vixie cron's rule)."""

    def __init__(self, expression: str) -> None:
        """Raises:
            ScheduleError: not 5 fields, or a field croniter refuses (named)."""
        self.expression = expression
        fields = expression.split()
        if not expression.startswith("@") and len(fields) != len(CRON_FIELDS):
            raise ScheduleError(f"schedule.cron: {expression!r}: {len(CRON_FIELDS)} fields "
                                f"expected ({' '.join(CRON_FIELDS)}), got {len(fields)}")
        try:
            croniter(expression, RRULE_EPOCH)
        except CroniterError as e:
            reason = _BRACKETED.sub("", str(e))  # croniter repeats the expression in brackets
            raise ScheduleError(f"schedule.cron: {expression!r}: "
                                f"{_bad_field(fields)}{reason}") from e

    def after(self, wall: datetime) -> Iterator[datetime]:
        """Naive wall times strictly after ``wall``; ends if none is left (``0 0 30 2 *``)."""
        matches = croniter(self.expression, wall.replace(tzinfo=None, fold=0))
        while True:
            try:
                yield matches.get_next(datetime)
            except CroniterBadDateError:
                return


def _bad_field(fields: list[str]) -> str:
    """``minute field '61' `` for the first field croniter refuses on its own, else ''."""
    for index, (name, value) in enumerate(zip(CRON_FIELDS, fields, strict=False)):
        alone = ["*"] * len(CRON_FIELDS)
        alone[index] = value
        try:
            croniter(" ".join(alone), RRULE_EPOCH)
        except CroniterError:
            return f"{name} field {value!r} "
    return ""


class RecurrenceRule:
    """An RFC 5545 RRULE (``FREQ=...;BYDAY=...``, optionally prefixed ``RRULE:``), read by
    dateutil with DTSTART ``dtstart`` (naive local wall time)."""

    def __init__(self, text: str, dtstart: datetime) -> None:
        """Raises:
            ScheduleError: a DTSTART or other line in the string, or a rule dateutil refuses."""
        self.text = text
        body = text.strip()
        if body.upper().startswith("RRULE:"):
            body = body[len("RRULE:"):]
        if "\n" in body or ":" in body or "DTSTART" in body.upper():
            raise ScheduleError(f"schedule.rrule: {text!r}: one RRULE only; DTSTART comes "
                                f"from schedule.start, not the rule")
        parts = dict(part.partition("=")[::2] for part in body.upper().split(";") if part)
        try:
            rule = rrulestr(body, dtstart=dtstart.replace(tzinfo=None, fold=0))
        except (ValueError, TypeError) as e:  # TypeError: no FREQ at all
            reason = "FREQ is required" if "FREQ" not in parts else str(e)
            if parts.get("UNTIL", "").endswith("Z"):
                reason = "UNTIL is a local wall time here (no 'Z'); or bound it with schedule.end"
            raise ScheduleError(f"schedule.rrule: {text!r}: {reason}") from e
        assert isinstance(rule, rrule)  # one RRULE, no set: checked above
        if int(parts.get("COUNT") or 0) > MAX_COUNT:
            raise ScheduleError(f"schedule.rrule: {text!r}: COUNT is at most {MAX_COUNT}; "
                                f"bound a longer schedule with schedule.end")
        self._rule = rule
        self._dtstart = dtstart.replace(tzinfo=None, fold=0)
        self._freq = parts["FREQ"]
        self._interval = int(parts.get("INTERVAL") or 1)
        self._counted = "COUNT" in parts

    def after(self, wall: datetime) -> Iterator[datetime]:
        """Naive wall times strictly after ``wall``; ends with the rule (COUNT, UNTIL)."""
        wall = wall.replace(tzinfo=None, fold=0)
        start = self._walk_start(wall)
        rule = self._rule if start is None else self._rule.replace(dtstart=start)
        return rule.xafter(wall)

    def _walk_start(self, wall: datetime) -> datetime | None:
        """A DTSTART a whole number of intervals after the rule's, a period before ``wall``:
        it keeps the phase and what DTSTART fills in (time of day, weekday, day of month,
        month), so the slots after ``wall`` are the same. None: walk from DTSTART (a
        COUNT counts from it; a day 29-31 would not survive a move by months)."""
        if self._counted or wall <= self._dtstart:
            return None
        if self._freq in _PERIODS:
            step = _PERIODS[self._freq] * self._interval
            periods = (wall - self._dtstart) // step - 1
            return self._dtstart + periods * step if periods > 0 else None
        if self._freq in ("MONTHLY", "YEARLY") and self._dtstart.day <= 28:
            months = self._interval * (12 if self._freq == "YEARLY" else 1)
            elapsed = (wall.year - self._dtstart.year) * 12 + wall.month - self._dtstart.month
            periods = elapsed // months - 1
            if periods > 0:
                return self._dtstart + relativedelta(months=periods * months)
        return None
