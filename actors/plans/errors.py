"""Errors of plans' schedules and retention policies.

    ValueError
    └── PlanInvalid          a plan's schedule or retention cannot be used as written
        ├── ScheduleError    names the field and the value: ``schedule.cron: '61 * * * *': ...``
        └── RetentionError   names the field and the value: ``retention.within: '3x': ...``

Both are ``ValueError`` so a caller validating user input catches them with what it
already catches for bad values.
"""

from __future__ import annotations


class PlanInvalid(ValueError):
    """A plan's schedule or retention policy that cannot be used as written."""


class ScheduleError(PlanInvalid):
    """A schedule that cannot be used; the message names the field and the bad value."""


class RetentionError(PlanInvalid):
    """A retention policy that cannot be used; the message names the field and the value."""
