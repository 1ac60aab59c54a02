"""Slots across DST changes: a wall time the clocks skip runs once, at the change; one they
repeat runs once, the first time; each local day gets the slots one expects."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from actors.plans.schedule import Schedule, slots_between

SECOND = timedelta(seconds=1)


def local_day(schedule: Schedule, day: date) -> list[str]:
    """The day's slots as local ISO times (with their offsets)."""
    zone = ZoneInfo(schedule.timezone)
    midnight = datetime.combine(day, time(), zone)
    next_midnight = datetime.combine(day + timedelta(days=1), time(), zone)
    slots = slots_between(schedule, midnight - SECOND, next_midnight - SECOND)
    return [slot.astimezone(zone).isoformat(timespec="minutes") for slot in slots]


# (zone, spring-forward day, fall-back day, the wall hour skipped, the wall hour repeated)
ZONES = [
    ("Europe/Berlin", date(2026, 3, 29), date(2026, 10, 25), 2, 2),
    ("America/New_York", date(2026, 3, 8), date(2026, 11, 1), 2, 1),
    ("Australia/Sydney", date(2026, 10, 4), date(2026, 4, 5), 2, 2),
]


@pytest.mark.parametrize(("zone", "spring", "fall", "skipped", "repeated"), ZONES)
def test_a_daily_slot_in_the_skipped_hour_runs_once_at_the_change(
        zone: str, spring: date, fall: date, skipped: int, repeated: int) -> None:
    schedule = Schedule(cron=f"30 {skipped} * * *", timezone=zone)
    change = datetime.combine(spring, time(skipped + 1), ZoneInfo(zone))
    assert local_day(schedule, spring) == [change.isoformat(timespec="minutes")]
    # the days around it are ordinary
    for day in (spring - timedelta(days=1), spring + timedelta(days=1)):
        assert [slot[11:16] for slot in local_day(schedule, day)] == [f"0{skipped}:30"]


@pytest.mark.parametrize(("zone", "spring", "fall", "skipped", "repeated"), ZONES)
def test_a_daily_slot_in_the_repeated_hour_runs_once_the_first_time(
        zone: str, spring: date, fall: date, skipped: int, repeated: int) -> None:
    schedule = Schedule(cron=f"30 {repeated} * * *", timezone=zone)
    first = datetime.combine(fall, time(repeated, 30), ZoneInfo(zone))  # fold=0: the first
    assert local_day(schedule, fall) == [first.isoformat(timespec="minutes")]
    summer = datetime.combine(fall - timedelta(days=1), time(), ZoneInfo(zone)).utcoffset()
    assert first.utcoffset() == summer  # still summer time: the first of the two


@pytest.mark.parametrize(("zone", "spring", "fall", "skipped", "repeated"), ZONES)
@pytest.mark.parametrize("rule", [{"cron": "0 * * * *"},
                                  {"rrule": "FREQ=HOURLY;BYMINUTE=0;BYSECOND=0"}])
def test_an_hourly_rule_has_23_slots_on_the_short_day_and_24_on_the_long_one(
        zone: str, spring: date, fall: date, skipped: int, repeated: int,
        rule: dict[str, str]) -> None:
    schedule = Schedule(timezone=zone, **rule)
    short = local_day(schedule, spring)
    assert len(short) == 23
    assert [slot[11:13] for slot in short] == [
        f"{hour:02d}" for hour in range(24) if hour != skipped]
    long = local_day(schedule, fall)
    assert [slot[11:13] for slot in long] == [f"{hour:02d}" for hour in range(24)]
    assert len(set(long)) == 24  # the repeated hour ran once


def test_a_half_past_rule_runs_the_skipped_half_hour_at_the_change() -> None:
    schedule = Schedule(cron="30 * * * *", timezone="Europe/Berlin")
    day = local_day(schedule, date(2026, 3, 29))
    assert day[:4] == ["2026-03-29T00:30+01:00", "2026-03-29T01:30+01:00",
                       "2026-03-29T03:00+02:00", "2026-03-29T03:30+02:00"]
    assert len(day) == 24


def test_slots_are_returned_in_utc_and_ascending() -> None:
    schedule = Schedule(cron="*/20 * * * *", timezone="America/New_York")
    start = datetime(2026, 10, 31, 12, tzinfo=ZoneInfo("UTC"))
    slots = slots_between(schedule, start, start + timedelta(days=2))
    assert all(slot.utcoffset() == timedelta(0) for slot in slots)
    assert slots == sorted(set(slots))
    # 48 hours at 3 an hour, less the repeated hour's 3 (they run once)
    assert len(slots) == 48 * 3 - 3
