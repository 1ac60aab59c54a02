"""What a plan request says of a schedule and a retention policy, as JSON.

The wire is the bottom layer, below ``actors.plans``, so it cannot name the plans'
``Schedule`` and ``RetentionPolicy``; these two carry the same fields with the same
defaults, and ``actors.plans.plan`` converts them (a unit test keeps the two in step).
What the fields mean, and their checks, are the plans' (``validate_schedule``,
``validate_retention``), done where the request is carried out.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Final, Literal

import msgspec

MAX_EXPRESSION_LENGTH: Final = 1024
MAX_KEEP: Final = 1_000_000

Expression = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_EXPRESSION_LENGTH)]
TimeZone = Annotated[str, msgspec.Meta(
    pattern=r"^[A-Za-z0-9_+/-]{1,64}$", description="an IANA time zone: UTC, Europe/Paris")]
Keep = Annotated[int, msgspec.Meta(ge=0, le=MAX_KEEP)]
Duration = Annotated[str, msgspec.Meta(
    pattern=r"^[0-9]{1,6}[a-z]{1,2}$", description="a duration: 36h, 7d, 2w, 6m, 1y")]


class PlanSchedule(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """When a plan runs: exactly one of ``cron`` and ``rrule``, read in ``timezone``."""

    cron: Expression | None = None
    rrule: Expression | None = None
    timezone: TimeZone = "UTC"
    start: datetime | None = None
    end: datetime | None = None
    missed: Literal["skip", "once"] = "skip"


class PlanRetention(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Which of a plan's checkpoints to keep (restic's ``forget`` rules)."""

    last: Keep = 0
    hourly: Keep = 0
    daily: Keep = 0
    weekly: Keep = 0
    monthly: Keep = 0
    yearly: Keep = 0
    within: Duration | None = None
