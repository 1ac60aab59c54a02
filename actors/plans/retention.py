"""Which checkpoints a plan keeps: restic's ``forget`` policy, counted the way restic does.

Checkpoints are sorted newest first. Each rule keeps some, independently; a checkpoint
any rule keeps is kept (the rules are ORed), and ``Decision.reasons`` names every rule
that kept it:

- ``last N``: the N newest.
- ``hourly N``, ``daily N``, ``weekly N``, ``monthly N``, ``yearly N``: for the N most
  recent hours (days, ISO weeks, months, years) that have a checkpoint, the newest
  checkpoint of each. Periods are calendar ones in the policy's time zone, not counted
  back from now; periods without a checkpoint do not count.
- ``within D``: every checkpoint newer than the newest checkpoint's time minus D (as
  restic's ``--keep-within``: measured from the newest checkpoint, not from now, so a
  plan that stopped running does not lose its last checkpoints to time passing).

Only ``available`` checkpoints count toward the rules and only they may be deleted. A
checkpoint in any other status (``error``, ``protecting``, ``deleting``...) is kept with
reason ``not available (<status>)``: a failed checkpoint is cleaned up by deleting it (or
by bank gc), an unfinished one is still being written, and neither is retention's.

Never deleted, whatever the rules say: the newest available checkpoint (``newest
available``); a checkpoint a restore or verify is reading (``in use``); and, if the rules
would delete every available checkpoint, all of them (``policy would delete every
checkpoint``).

Unlike restic 0.17, a rule that finds fewer periods than it asks for does not also keep
the oldest checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from actors.plans.durations import parse_duration
from actors.plans.errors import RetentionError

__all__ = ["Candidate", "Decision", "RetentionError", "RetentionPolicy", "forget",
           "parse_duration", "validate_retention"]

AVAILABLE: Final = "available"
# Each calendar rule's period, as the label its reason shows ("daily 2026-12-05").
_PERIODS: Final[dict[str, Callable[[datetime], str]]] = {
    "hourly": lambda local: local.strftime("%Y-%m-%dT%H:00%z"),  # the offset tells a
    "daily": lambda local: local.strftime("%Y-%m-%d"),           # repeated hour apart
    "weekly": lambda local: "{}-W{:02d}".format(*local.isocalendar()[:2]),
    "monthly": lambda local: local.strftime("%Y-%m"),
    "yearly": lambda local: local.strftime("%Y"),
}


class RetentionPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """Which checkpoints to keep (module doc). All zero and no ``within`` keeps nothing and
    is refused by ``validate_retention``."""

    last: int = 0
    hourly: int = 0
    daily: int = 0
    weekly: int = 0
    monthly: int = 0
    yearly: int = 0
    within: str | None = None
    """A duration (``durations``): ``"30d"``, ``"2w"``, ``"1y6m"``, ``"12h"``."""


class Candidate(msgspec.Struct, frozen=True):
    """A checkpoint of the plan, as retention sees it."""

    checkpoint_id: str
    created_at: datetime
    """Aware."""
    status: str
    """``available``, ``error``, ``protecting``, ``deleting``..."""
    in_use: bool = False
    """A restore or verify is reading it."""


class Decision(msgspec.Struct, frozen=True):
    """Keep or delete one checkpoint, and why."""

    checkpoint_id: str
    created_at: datetime
    keep: bool
    reasons: list[str]
    """Every rule and protection that kept it (``["last 3", "daily 2026-12-05"]``); for a
    deleted one ``["no rule keeps it"]``."""


def validate_retention(policy: RetentionPolicy) -> None:
    """Raises:
        RetentionError: a negative count, a bad ``within``, or a policy that keeps nothing.
    """
    _check_values(policy)
    counts = _counts(policy)
    if not any(counts.values()) and policy.within is None:
        raise RetentionError(f"retention: keeps nothing; set at least one of "
                             f"{', '.join(counts)}, within")


def forget(policy: RetentionPolicy, candidates: Sequence[Candidate], *,
           timezone: str = "UTC") -> list[Decision]:
    """Keep or delete each candidate (module doc), newest first.

    A policy that keeps nothing deletes nothing (``policy would delete every checkpoint``).

    Raises:
        RetentionError: a negative count, a bad ``within`` or ``timezone``, a naive
            ``created_at``.
    """
    _check_values(policy)  # not validate_retention: a policy keeping nothing is safe here
    zone = _zone(timezone)
    for candidate in candidates:
        if candidate.created_at.utcoffset() is None:
            raise RetentionError(f"candidate {candidate.checkpoint_id!r}: created_at "
                                 f"{candidate.created_at.isoformat()} is naive")
    # in UTC: two times with the same ZoneInfo compare as wall times, wrong in a repeated hour
    ordered = sorted(candidates, key=lambda candidate: candidate.created_at.astimezone(UTC),
                     reverse=True)
    available = [candidate for candidate in ordered if candidate.status == AVAILABLE]
    kept = _kept_by_rules(policy, available, zone)
    everything = not kept and bool(available)
    decisions = []
    for candidate in ordered:
        reasons = list(kept.get(candidate.checkpoint_id, ()))
        if candidate.status != AVAILABLE:
            reasons.append(f"not available ({candidate.status})")
        elif everything:
            reasons.append("policy would delete every checkpoint")
        if available and candidate is available[0]:
            reasons.append("newest available")
        if candidate.in_use:
            reasons.append("in use")
        decisions.append(Decision(checkpoint_id=candidate.checkpoint_id,
                                  created_at=candidate.created_at, keep=bool(reasons),
                                  reasons=reasons or ["no rule keeps it"]))
    return decisions


def _kept_by_rules(policy: RetentionPolicy, available: list[Candidate],
                   zone: ZoneInfo) -> dict[str, list[str]]:
    """Checkpoint id -> the rules that keep it, for ``available`` sorted newest first."""
    kept: dict[str, list[str]] = {}
    for candidate in available[:policy.last]:
        kept.setdefault(candidate.checkpoint_id, []).append(f"last {policy.last}")
    for rule, label in _PERIODS.items():
        left = _counts(policy)[rule]
        previous: str | None = None
        for candidate in available:
            if left <= 0:
                break
            period = label(candidate.created_at.astimezone(zone))
            if period != previous:  # newest first: the first of a period is its newest
                kept.setdefault(candidate.checkpoint_id, []).append(f"{rule} {period}")
                previous = period
                left -= 1
    if policy.within is not None and available:
        local_cutoff = available[0].created_at.astimezone(zone) - parse_duration(policy.within)
        cutoff = local_cutoff.astimezone(UTC)  # calendar arithmetic in the zone, compared in UTC
        for candidate in available:
            if candidate.created_at.astimezone(UTC) <= cutoff:
                break
            kept.setdefault(candidate.checkpoint_id, []).append(f"within {policy.within}")
    return kept


def _check_values(policy: RetentionPolicy) -> None:
    """RetentionError for a negative count or a bad ``within``."""
    for name, count in _counts(policy).items():
        if count < 0:
            raise RetentionError(f"retention.{name}: {count}: a count is 0 or more")
    if policy.within is not None:
        parse_duration(policy.within)


def _counts(policy: RetentionPolicy) -> dict[str, int]:
    return {"last": policy.last, "hourly": policy.hourly, "daily": policy.daily,
            "weekly": policy.weekly, "monthly": policy.monthly, "yearly": policy.yearly}


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise RetentionError(f"retention.timezone: {name!r}: not a known IANA time "
                             f"zone") from e
