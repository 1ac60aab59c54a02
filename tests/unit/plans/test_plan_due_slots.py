"""Which slot runs at a tick and which were missed, against a clock passed in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from actors.plans.due import MAX_MISSED_KEPT, due_slots
from actors.plans.schedule import MAX_SLOTS, Schedule

HOURLY = Schedule(cron="0 * * * *")
CATCH_UP = Schedule(cron="0 * * * *", missed="once")
GRACE = timedelta(minutes=5)
# the last slot run before a 3-day outage, and the top of the hour it ends in
LAST = datetime(2026, 12, 3, 7, tzinfo=UTC)
HOUR = datetime(2026, 12, 6, 7, tzinfo=UTC)


def hours_between(first: datetime, last: datetime) -> list[datetime]:
    count = int((last - first) / timedelta(hours=1)) + 1
    return [first + timedelta(hours=n) for n in range(count)]


def test_after_a_3_day_outage_skip_runs_nothing_and_misses_all_72_slots() -> None:
    due = due_slots(HOURLY, LAST, HOUR + timedelta(minutes=20), grace=GRACE)
    assert due.run is None
    assert due.missed_count == 72
    assert due.missed == hours_between(LAST + timedelta(hours=1), HOUR)


def test_after_a_3_day_outage_once_runs_the_latest_slot_and_misses_the_rest() -> None:
    due = due_slots(CATCH_UP, LAST, HOUR + timedelta(minutes=20), grace=GRACE)
    assert due.run == HOUR
    assert due.missed_count == 71
    assert due.missed == hours_between(LAST + timedelta(hours=1), HOUR - timedelta(hours=1))


@pytest.mark.parametrize("schedule", [HOURLY, CATCH_UP])
def test_an_on_time_slot_runs_and_every_late_one_is_missed(schedule: Schedule) -> None:
    due = due_slots(schedule, LAST, HOUR + timedelta(minutes=2), grace=GRACE)
    assert due.run == HOUR
    assert due.missed_count == 71
    assert HOUR not in due.missed


def test_the_slot_just_run_is_not_due_again() -> None:
    due = due_slots(CATCH_UP, HOUR, HOUR + timedelta(minutes=30), grace=GRACE)
    assert (due.run, due.missed, due.missed_count) == (None, [], 0)


def test_a_slot_exactly_grace_old_is_on_time() -> None:
    assert due_slots(HOURLY, LAST, HOUR + GRACE, grace=GRACE).run == HOUR
    assert due_slots(HOURLY, LAST, HOUR + GRACE + timedelta(seconds=1),
                     grace=GRACE).run is None


def test_without_a_last_slot_only_the_latest_slot_counts_and_older_ones_are_history() -> None:
    on_time = due_slots(HOURLY, None, HOUR + timedelta(minutes=2), grace=GRACE)
    assert (on_time.run, on_time.missed, on_time.missed_count) == (HOUR, [], 0)
    late = due_slots(HOURLY, None, HOUR + timedelta(minutes=20), grace=GRACE)
    assert (late.run, late.missed, late.missed_count) == (None, [HOUR], 1)
    caught_up = due_slots(CATCH_UP, None, HOUR + timedelta(minutes=20), grace=GRACE)
    assert (caught_up.run, caught_up.missed, caught_up.missed_count) == (HOUR, [], 0)


def test_a_new_plan_with_a_start_has_nothing_due_before_its_first_slot() -> None:
    schedule = Schedule(cron="0 3 * * *", missed="once", start=HOUR)
    due = due_slots(schedule, None, HOUR + timedelta(hours=1), grace=GRACE)
    assert (due.run, due.missed_count) == (None, 0)


def test_with_a_grace_longer_than_the_interval_the_latest_on_time_slot_runs() -> None:
    every_minute = Schedule(cron="* * * * *")
    due = due_slots(every_minute, HOUR, HOUR + timedelta(minutes=10, seconds=30), grace=GRACE)
    assert due.run == HOUR + timedelta(minutes=10)
    assert due.missed_count == 9  # minutes 1-9: 4 late ones, 5 superseded on-time ones


def test_the_missed_list_keeps_only_the_newest_and_the_count_says_how_many() -> None:
    every_minute = Schedule(cron="* * * * *")
    due = due_slots(every_minute, HOUR - timedelta(days=1), HOUR + timedelta(seconds=30),
                    grace=GRACE)
    assert due.run == HOUR
    assert due.missed_count == 24 * 60 - 1
    assert len(due.missed) == MAX_MISSED_KEPT
    assert due.missed[-1] == HOUR - timedelta(minutes=1)
    assert due.missed == sorted(due.missed)
    assert due.counted_all


def test_a_long_outage_of_a_one_second_rule_is_bounded_and_says_the_count_is_partial() -> None:
    every_second = Schedule(rrule="FREQ=SECONDLY")
    due = due_slots(every_second, HOUR - timedelta(days=365), HOUR, grace=GRACE)
    assert due.run == HOUR
    assert not due.counted_all
    assert due.missed_count >= MAX_SLOTS - 1
    assert len(due.missed) == MAX_MISSED_KEPT
    assert due.missed[-1] == HOUR - timedelta(seconds=1)


def test_a_two_second_test_schedule_ticks_as_expected() -> None:
    every_two = Schedule(rrule="FREQ=SECONDLY;INTERVAL=2")
    first = due_slots(every_two, None, HOUR + timedelta(seconds=1), grace=timedelta(seconds=1))
    assert first.run == HOUR
    second = due_slots(every_two, first.run, HOUR + timedelta(seconds=2.5),
                       grace=timedelta(seconds=1))
    assert second.run == HOUR + timedelta(seconds=2)
