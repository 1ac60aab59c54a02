"""Schedules, policies and decisions travel as JSON (the bank, the CLI) and come back equal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest

from actors import plans
from actors.plans import (
    Candidate,
    Decision,
    DueSlots,
    RetentionPolicy,
    Schedule,
    due_slots,
    forget,
)


def round_trip(value: Any, kind: Any) -> Any:
    return msgspec.json.decode(msgspec.json.encode(value), type=kind)


def test_a_schedule_and_a_policy_round_trip_through_json() -> None:
    schedule = Schedule(rrule="FREQ=DAILY;BYHOUR=3", timezone="Europe/Berlin",
                        start=datetime(2026, 12, 1, tzinfo=UTC), missed="once")
    assert round_trip(schedule, Schedule) == schedule
    policy = RetentionPolicy(last=7, daily=14, within="30d")
    assert round_trip(policy, RetentionPolicy) == policy


def test_a_missed_value_other_than_skip_or_once_is_refused_when_decoded() -> None:
    with pytest.raises(msgspec.ValidationError, match="missed"):
        msgspec.json.decode(b'{"cron": "0 3 * * *", "missed": "all"}', type=Schedule)


def test_decisions_and_due_slots_encode_as_json() -> None:
    now = datetime(2026, 12, 6, 3, 1, tzinfo=UTC)
    due = due_slots(Schedule(cron="0 3 * * *"), None, now, grace=timedelta(minutes=5))
    assert round_trip(due, DueSlots) == due
    decisions = forget(RetentionPolicy(last=1), [Candidate("cp-1", now, "available")])
    assert round_trip(decisions, list[Decision]) == decisions


def test_the_package_hands_on_the_whole_api() -> None:
    assert set(plans.__all__) >= {
        "Schedule", "ScheduleError", "validate_schedule", "next_slots", "slots_between",
        "DueSlots", "due_slots", "slot_request_id", "retention_delete_request_id",
        "RetentionPolicy", "RetentionError", "validate_retention", "parse_duration",
        "Candidate", "Decision", "forget"}
    assert all(hasattr(plans, name) for name in plans.__all__)
