"""Retention: which of a plan's checkpoints to keep, restic's ``forget`` rules.

A stand-in with the interface of the real module (issue 14, retention half): keep the
``last`` N, one per hour/day/week/month/year for the newest N such periods, and every
checkpoint ``within`` a duration (``1d``, ``2w``, ``3h``...) of the newest. A checkpoint in
use is always kept; only ``available`` checkpoints count towards the rules.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import msgspec


class RetentionError(ValueError):
    """A retention policy that cannot be used, naming the field at fault."""


class RetentionPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """How many checkpoints of each kind to keep; zero keeps none by that rule."""

    last: int = 0
    hourly: int = 0
    daily: int = 0
    weekly: int = 0
    monthly: int = 0
    yearly: int = 0
    within: str | None = None


class Candidate(msgspec.Struct, frozen=True):
    """A checkpoint as retention sees it."""

    checkpoint_id: str
    created_at: datetime
    status: str
    in_use: bool = False


class Decision(msgspec.Struct, frozen=True):
    """Keep or delete one checkpoint, and the rules that decided."""

    checkpoint_id: str
    created_at: datetime
    keep: bool
    reasons: list[str]


_DURATION = re.compile(r"^(\d+)([hdwmy])$")
_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1),
          "m": timedelta(days=30), "y": timedelta(days=365)}
_PERIODS: dict[str, Callable[[datetime], tuple[int, ...]]] = {
    "hourly": lambda t: (t.year, t.month, t.day, t.hour),
    "daily": lambda t: (t.year, t.month, t.day),
    "weekly": lambda t: tuple(t.isocalendar()[:2]),
    "monthly": lambda t: (t.year, t.month),
    "yearly": lambda t: (t.year,),
}


def _within(text: str) -> timedelta:
    found = _DURATION.match(text)
    if not found:
        raise RetentionError(f"within: {text!r} is not a duration like 3h, 7d, 2w, 6m, 1y")
    return int(found.group(1)) * _UNITS[found.group(2)]


def validate_retention(policy: RetentionPolicy) -> None:
    """Raise RetentionError naming the field unless the policy keeps something."""
    for name in ("last", "hourly", "daily", "weekly", "monthly", "yearly"):
        if getattr(policy, name) < 0:
            raise RetentionError(f"{name}: must not be negative")
    if policy.within is not None:
        _within(policy.within)
    counts = (policy.last, policy.hourly, policy.daily, policy.weekly, policy.monthly,
              policy.yearly)
    if not any(counts) and policy.within is None:
        raise RetentionError("the retention policy keeps nothing: set at least one of last, "
                             "hourly, daily, weekly, monthly, yearly, within")


def forget(policy: RetentionPolicy, candidates: Sequence[Candidate], *,
           timezone: str = "UTC") -> list[Decision]:
    """Each candidate kept or not, newest first, with the rules that kept it."""
    zone = ZoneInfo(timezone)
    ordered = sorted(candidates, key=lambda c: c.created_at, reverse=True)
    reasons: dict[str, list[str]] = {c.checkpoint_id: [] for c in ordered}
    counted = [c for c in ordered if c.status == "available"]
    for candidate in ordered:
        if candidate.in_use:
            reasons[candidate.checkpoint_id].append("in use")
        if candidate.status not in ("available", "error"):
            reasons[candidate.checkpoint_id].append(f"status {candidate.status}")
    for candidate in counted[:policy.last]:
        reasons[candidate.checkpoint_id].append("last")
    for name, period_of in _PERIODS.items():
        wanted = getattr(policy, name)
        seen: set[tuple[int, ...]] = set()
        for candidate in counted:
            if len(seen) >= wanted:
                break
            period = period_of(candidate.created_at.astimezone(zone))
            if period not in seen:
                seen.add(period)
                reasons[candidate.checkpoint_id].append(name)
    if policy.within is not None and counted:
        horizon = counted[0].created_at - _within(policy.within)
        for candidate in counted:
            if candidate.created_at >= horizon:
                reasons[candidate.checkpoint_id].append(f"within {policy.within}")
    return [Decision(c.checkpoint_id, c.created_at, bool(reasons[c.checkpoint_id]),
                     reasons[c.checkpoint_id]) for c in ordered]
