"""Bad schedules and retention policies are refused with a message naming field and value."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from actors.plans.due import due_slots
from actors.plans.retention import (
    Candidate,
    RetentionError,
    RetentionPolicy,
    forget,
    parse_duration,
    validate_retention,
)
from actors.plans.schedule import (
    Schedule,
    ScheduleError,
    next_slots,
    slots_between,
    validate_schedule,
)

NOW = datetime(2026, 12, 6, 7, tzinfo=UTC)


def schedule_refusal(schedule: Schedule) -> str:
    with pytest.raises(ScheduleError) as raised:
        validate_schedule(schedule, now=NOW)
    return str(raised.value)


@pytest.mark.parametrize(("cron", "words"), [
    ("61 * * * *", ["schedule.cron", "'61 * * * *'", "minute", "out of range"]),
    ("0 25 * * *", ["schedule.cron", "hour field '25'"]),
    ("0 0 32 * *", ["day of month field '32'"]),
    ("0 0 * 13 *", ["month field '13'"]),
    ("0 0 * * 8", ["day of week field '8'"]),
    ("every day", ["schedule.cron", "'every day'", "5 fields expected", "got 2"]),
    ("0 0 * * * *", ["5 fields expected", "got 6"]),
    ("*/0 * * * *", ["minute field '*/0'"]),
])
def test_an_invalid_cron_names_the_field_and_value(cron: str, words: list[str]) -> None:
    message = schedule_refusal(Schedule(cron=cron))
    assert all(word in message for word in words), message


@pytest.mark.parametrize(("rule", "words"), [
    ("FREQ=FORTNIGHTLY", ["schedule.rrule", "FORTNIGHTLY"]),
    ("BYHOUR=3", ["schedule.rrule", "FREQ is required"]),
    ("FREQ=DAILY;BYHOUR=24", ["schedule.rrule", "hour"]),
    ("DTSTART:20260101T000000\nRRULE:FREQ=DAILY", ["schedule.rrule", "DTSTART"]),
    ("FREQ=DAILY;UNTIL=20270101T000000Z", ["schedule.rrule", "UNTIL", "schedule.end"]),
])
def test_an_invalid_rrule_names_the_field_and_value(rule: str, words: list[str]) -> None:
    message = schedule_refusal(Schedule(rrule=rule))
    assert all(word in message for word in words), message


def test_neither_or_both_rules_are_refused() -> None:
    assert "neither" in schedule_refusal(Schedule())
    assert "both" in schedule_refusal(Schedule(cron="* * * * *", rrule="FREQ=DAILY"))


def test_an_unknown_time_zone_is_refused() -> None:
    for zone in ("Mars/Olympus_Mons", "../etc/passwd", ""):
        message = schedule_refusal(Schedule(cron="0 3 * * *", timezone=zone))
        assert "schedule.timezone" in message and repr(zone) in message


def test_naive_times_are_refused_wherever_they_come_in() -> None:
    naive = datetime(2026, 12, 6, 7)
    assert "schedule.start" in schedule_refusal(Schedule(cron="0 3 * * *", start=naive))
    assert "schedule.end" in schedule_refusal(Schedule(cron="0 3 * * *", end=naive))
    with pytest.raises(ScheduleError, match="after"):
        next_slots(Schedule(cron="0 3 * * *"), naive, 1)
    with pytest.raises(ScheduleError, match="until"):
        slots_between(Schedule(cron="0 3 * * *"), NOW, naive)
    with pytest.raises(ScheduleError, match="last_slot"):
        due_slots(Schedule(cron="0 3 * * *"), naive, NOW, grace=timedelta(minutes=5))


def test_an_end_before_the_start_is_refused() -> None:
    message = schedule_refusal(Schedule(cron="0 3 * * *", start=NOW,
                                        end=NOW - timedelta(days=1)))
    assert "schedule.end" in message and "before schedule.start" in message


def test_a_rule_with_no_slot_to_come_is_refused() -> None:
    assert "no slot after" in schedule_refusal(Schedule(cron="0 0 30 2 *"))
    assert "no slot after" in schedule_refusal(Schedule(cron="0 3 * * *",
                                                        end=NOW - timedelta(days=1)))
    count_spent = Schedule(rrule="FREQ=DAILY;COUNT=2", start=NOW - timedelta(days=10))
    assert "no slot after" in schedule_refusal(count_spent)


def test_a_valid_schedule_passes_including_a_two_second_one() -> None:
    validate_schedule(Schedule(cron="30 2 * * *", timezone="Europe/Berlin"), now=NOW)
    validate_schedule(Schedule(rrule="FREQ=SECONDLY;INTERVAL=2"), now=NOW)
    validate_schedule(Schedule(cron="@daily"), now=NOW)


def test_slots_between_refuses_a_span_with_too_many_slots() -> None:
    with pytest.raises(ScheduleError, match="more than 10000 slots"):
        slots_between(Schedule(rrule="FREQ=SECONDLY"), NOW, NOW + timedelta(days=365))


def retention_refusal(policy: RetentionPolicy) -> str:
    with pytest.raises(RetentionError) as raised:
        validate_retention(policy)
    return str(raised.value)


def test_a_policy_that_keeps_nothing_is_refused() -> None:
    message = retention_refusal(RetentionPolicy())
    assert message.startswith("retention: keeps nothing; set at least one of last, hourly")
    assert "within" in message


@pytest.mark.parametrize("field", ["last", "hourly", "daily", "weekly", "monthly", "yearly"])
def test_a_negative_count_is_refused_naming_it(field: str) -> None:
    policy = RetentionPolicy(**{field: -1}, last=1) if field != "last" else RetentionPolicy(
        last=-1, daily=1)
    assert f"retention.{field}: -1" in retention_refusal(policy)
    with pytest.raises(RetentionError, match=rf"retention\.{field}"):
        forget(policy, [])


@pytest.mark.parametrize("text", ["", "30", "d", "3x", "1d2d", "1.5d", "-3d", "30 d", "0d",
                                  "0y0m", "30D", "1234567d"])
def test_a_bad_duration_is_refused_naming_it(text: str) -> None:
    message = retention_refusal(RetentionPolicy(within=text))
    assert message.startswith(f"retention.within: {text!r}"), message
    with pytest.raises(RetentionError):
        parse_duration(text)


def test_durations_read_as_restic_reads_them_plus_weeks() -> None:
    newest = datetime(2026, 3, 31, 12, tzinfo=UTC)
    assert newest - parse_duration("30d") == datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert newest - parse_duration("2w") == datetime(2026, 3, 17, 12, tzinfo=UTC)
    assert newest - parse_duration("1m") == datetime(2026, 2, 28, 12, tzinfo=UTC)
    assert newest - parse_duration("1y6m") == datetime(2024, 9, 30, 12, tzinfo=UTC)
    assert newest - parse_duration("12h") == datetime(2026, 3, 31, tzinfo=UTC)
    assert newest - parse_duration("1y2m3d4h") == datetime(2025, 1, 28, 8, tzinfo=UTC)


def test_forget_refuses_an_unknown_zone_and_a_naive_time() -> None:
    policy = RetentionPolicy(last=1)
    with pytest.raises(RetentionError, match=r"retention\.timezone: 'Nowhere/Town'"):
        forget(policy, [], timezone="Nowhere/Town")
    with pytest.raises(RetentionError, match="'cp-1': created_at"):
        forget(policy, [Candidate("cp-1", datetime(2026, 1, 1), "available")])
