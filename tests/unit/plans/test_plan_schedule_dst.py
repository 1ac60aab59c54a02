"""Slots across DST changes: a wall time the clocks skip runs once, at the change; one they
repeat runs once, the first time; each local day gets the slots one expects."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.plans.schedule import Schedule, slots_between

SECOND = timedelta(seconds=1)


def local_day(schedule: Schedule, day: date) -> list[str]:
    """The day's slots as local ISO times (with their offsets)."""
    zone = ZoneInfo(schedule.timezone)
    midnight = datetime.combine(day, time(), zone)
    next_midnight = datetime.combine(day + timedelta(days=1), time(), zone)
    slots = slots_between(schedule, midnight - SECOND, next_midnight - SECOND)
    return [slot.astimezone(zone).isoformat(timespec="minutes") for slot in slots]


class Zone(NamedTuple):
    name: str
    spring: date  # the day the clocks go forward
    fall: date  # the day they go back
    skipped: int  # the wall hour that does not exist on ``spring``
    repeated: int  # the wall hour that happens twice on ``fall``


ZONES = [
    Zone("Europe/Berlin", date(2026, 3, 29), date(2026, 10, 25), skipped=2, repeated=2),
    Zone("America/New_York", date(2026, 3, 8), date(2026, 11, 1), skipped=2, repeated=1),
    # the southern hemisphere: forward in October, back in April
    Zone("Australia/Sydney", date(2026, 10, 4), date(2026, 4, 5), skipped=2, repeated=2),
]


@pytest.mark.parametrize("zone", ZONES, ids=lambda zone: zone.name)
def test_a_daily_slot_in_the_skipped_hour_runs_once_at_the_change(zone: Zone) -> None:
    schedule = Schedule(cron=f"30 {zone.skipped} * * *", timezone=zone.name)
    change = datetime.combine(zone.spring, time(zone.skipped + 1), ZoneInfo(zone.name))
    assert local_day(schedule, zone.spring) == [change.isoformat(timespec="minutes")]
    # the days around it are ordinary
    for day in (zone.spring - timedelta(days=1), zone.spring + timedelta(days=1)):
        assert [slot[11:16] for slot in local_day(schedule, day)] == [f"0{zone.skipped}:30"]


@pytest.mark.parametrize("zone", ZONES, ids=lambda zone: zone.name)
def test_a_daily_slot_in_the_repeated_hour_runs_once_the_first_time(zone: Zone) -> None:
    schedule = Schedule(cron=f"30 {zone.repeated} * * *", timezone=zone.name)
    first = datetime.combine(zone.fall, time(zone.repeated, 30), ZoneInfo(zone.name))  # fold=0
    assert local_day(schedule, zone.fall) == [first.isoformat(timespec="minutes")]
    summer = datetime.combine(zone.fall - timedelta(days=1), time(),
                              ZoneInfo(zone.name)).utcoffset()
    assert first.utcoffset() == summer  # still summer time: the first of the two


@pytest.mark.parametrize("zone", ZONES, ids=lambda zone: zone.name)
@pytest.mark.parametrize("rule", [{"cron": "0 * * * *"},
                                  {"rrule": "FREQ=HOURLY;BYMINUTE=0;BYSECOND=0"}])
def test_an_hourly_rule_has_23_slots_on_the_short_day_and_24_on_the_long_one(
        zone: Zone, rule: dict[str, str]) -> None:
    schedule = Schedule(timezone=zone.name, **rule)
    short = local_day(schedule, zone.spring)
    assert len(short) == 23
    assert [slot[11:13] for slot in short] == [
        f"{hour:02d}" for hour in range(24) if hour != zone.skipped]
    long = local_day(schedule, zone.fall)
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


@settings(max_examples=30, deadline=None)
@given(zone=st.sampled_from(["Europe/Berlin", "America/New_York", "Australia/Sydney",
                             "Australia/Lord_Howe", "America/Santiago", "Europe/London"]),
       hour=st.integers(0, 23), minute=st.sampled_from([0, 15, 30, 59]))
def test_a_daily_rule_runs_exactly_once_on_every_local_day_of_a_year(
        zone: str, hour: int, minute: int) -> None:
    schedule = Schedule(cron=f"{minute} {hour} * * *", timezone=zone)
    local = ZoneInfo(zone)
    first = datetime(2026, 1, 1, tzinfo=local)
    slots = slots_between(schedule, first - SECOND, datetime(2027, 1, 1, tzinfo=local) - SECOND)
    days = [slot.astimezone(local).date() for slot in slots]
    assert days == [date(2026, 1, 1) + timedelta(days=n) for n in range(365)]
    # on the wall time asked for, except at a spring-forward change, just after the gap
    moved = [slot for slot in slots if slot.astimezone(local).time() != time(hour, minute)]
    assert len(moved) <= 1
