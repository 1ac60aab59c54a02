"""Slots over the calendar: month ends, leap days, BYSETPOS, bounds, DTSTART from start."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from dateutil.relativedelta import relativedelta
from dateutil.rrule import rrulestr
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.plans.schedule import Schedule, ScheduleError, next_slots, slots_between

BERLIN = ZoneInfo("Europe/Berlin")
YEAR_2026 = (datetime(2025, 12, 31, 12, tzinfo=UTC), datetime(2026, 12, 31, 12, tzinfo=UTC))


def test_cron_on_the_31st_hits_only_the_months_that_have_one() -> None:
    slots = slots_between(Schedule(cron="0 0 31 * *"), *YEAR_2026)
    assert [slot.month for slot in slots] == [1, 3, 5, 7, 8, 10, 12]


def test_rrule_bymonthday_minus_one_hits_every_last_day_including_february() -> None:
    schedule = Schedule(rrule="FREQ=MONTHLY;BYMONTHDAY=-1;BYHOUR=0;BYMINUTE=0")
    slots = slots_between(schedule, *YEAR_2026)
    assert [(slot.month, slot.day) for slot in slots] == [
        (month, calendar.monthrange(2026, month)[1]) for month in range(1, 13)]
    leap = next_slots(schedule, datetime(2028, 2, 1, tzinfo=UTC), 1)
    assert leap == [datetime(2028, 2, 29, tzinfo=UTC)]


def test_a_yearly_rule_on_february_29_hits_only_leap_years() -> None:
    after = datetime(2026, 12, 6, tzinfo=UTC)
    expected = [datetime(year, 2, 29, tzinfo=UTC) for year in (2028, 2032, 2036)]
    assert next_slots(Schedule(rrule="FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29"), after, 3) == expected
    assert next_slots(Schedule(cron="0 0 29 2 *"), after, 3) == expected


def last_weekday(year: int, month: int) -> int:
    day = calendar.monthrange(year, month)[1]
    while calendar.weekday(year, month, day) >= 5:
        day -= 1
    return day


def test_the_last_weekday_of_each_month_at_22_local_with_byday_and_bysetpos() -> None:
    schedule = Schedule(
        rrule="RRULE:FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1;BYHOUR=22;BYMINUTE=0",
        timezone="Europe/Berlin")
    slots = next_slots(schedule, datetime(2026, 12, 6, tzinfo=UTC), 14)
    months = [(2026, 12)] + [(2027, month) for month in range(1, 13)] + [(2028, 1)]
    assert [slot.astimezone(BERLIN) for slot in slots] == [
        datetime(year, month, last_weekday(year, month), 22, tzinfo=BERLIN)
        for year, month in months]
    # 22:00 local is 21:00 UTC in winter and 20:00 in summer
    assert {slot.hour for slot in slots} == {20, 21}


def test_next_slots_gives_the_next_five_for_plans_next() -> None:
    schedule = Schedule(cron="30 2 * * *", timezone="Europe/Berlin")
    slots = next_slots(schedule, datetime(2026, 12, 6, 10, tzinfo=UTC), 5)
    assert [slot.isoformat() for slot in slots] == [
        f"2026-12-{day:02d}T01:30:00+00:00" for day in range(7, 12)]


def test_next_slots_is_strictly_after() -> None:
    schedule = Schedule(cron="0 3 * * *")
    on_a_slot = datetime(2026, 12, 6, 3, tzinfo=UTC)
    assert next_slots(schedule, on_a_slot, 1) == [on_a_slot + timedelta(days=1)]


def test_no_slot_before_start_or_after_end_and_both_are_included() -> None:
    schedule = Schedule(cron="0 3 * * *", start=datetime(2026, 12, 3, 3, tzinfo=UTC),
                        end=datetime(2026, 12, 5, 4, 0, tzinfo=BERLIN))  # 03:00 UTC
    slots = slots_between(schedule, datetime(2026, 11, 1, tzinfo=UTC),
                          datetime(2027, 1, 1, tzinfo=UTC))
    assert [slot.day for slot in slots] == [3, 4, 5]
    assert next_slots(schedule, datetime(2026, 12, 5, 3, tzinfo=UTC), 5) == []
    assert next_slots(schedule, datetime(2020, 1, 1, tzinfo=UTC), 5) == slots


def test_an_rrule_counts_from_start_as_its_dtstart() -> None:
    start = datetime(2026, 12, 1, 10, 15, tzinfo=BERLIN)
    schedule = Schedule(rrule="FREQ=DAILY;INTERVAL=2", timezone="Europe/Berlin", start=start)
    slots = next_slots(schedule, datetime(2026, 11, 1, tzinfo=UTC), 3)
    assert [slot.astimezone(BERLIN) for slot in slots] == [
        start, start + timedelta(days=2), start + timedelta(days=4)]
    # without a start, the rule counts from 2000-01-01 00:00 local: midnight, even days
    plain = next_slots(Schedule(rrule="FREQ=DAILY;INTERVAL=2"), datetime(2026, 12, 6,
                                                                         tzinfo=UTC), 1)
    assert plain[0].hour == 0
    assert (plain[0] - datetime(2000, 1, 1, tzinfo=UTC)).days % 2 == 0


def test_a_seconds_rule_far_from_its_start_is_quick_and_keeps_its_phase() -> None:
    start = datetime(2020, 1, 1, 0, 0, 1, tzinfo=UTC)
    schedule = Schedule(rrule="FREQ=SECONDLY;INTERVAL=7", start=start)
    slots = next_slots(schedule, datetime(2026, 12, 6, 8, tzinfo=UTC), 50)
    assert len(slots) == 50
    assert all((slot - start).total_seconds() % 7 == 0 for slot in slots)
    assert slots[0] - datetime(2026, 12, 6, 8, tzinfo=UTC) <= timedelta(seconds=7)


def test_an_rrule_count_ends_the_schedule() -> None:
    start = datetime(2026, 12, 1, tzinfo=UTC)
    schedule = Schedule(rrule="FREQ=HOURLY;COUNT=3", start=start)
    assert len(next_slots(schedule, start - timedelta(days=1), 10)) == 3


PERIODS = {"SECONDLY": relativedelta(seconds=1), "MINUTELY": relativedelta(minutes=1),
           "HOURLY": relativedelta(hours=1), "DAILY": relativedelta(days=1),
           "WEEKLY": relativedelta(weeks=1), "MONTHLY": relativedelta(months=1),
           "YEARLY": relativedelta(years=1)}


@settings(max_examples=80, deadline=None)
@given(freq=st.sampled_from(sorted(PERIODS)), interval=st.integers(1, 5),
       start_seconds=st.integers(0, 60 * 86400), periods=st.integers(0, 300),
       by=st.sampled_from(["", ";BYDAY=MO,WE", ";BYHOUR=3,15", ";BYSETPOS=1;BYDAY=TU,FR",
                           ";BYMONTHDAY=-1", ";BYMONTHDAY=1,15;BYHOUR=6",
                           ";BYWEEKNO=1,52;BYDAY=MO", ";BYYEARDAY=1,-1", ";BYDAY=-1FR"]))
def test_walking_from_near_the_asked_time_gives_what_walking_from_dtstart_gives(
        freq: str, interval: int, start_seconds: int, periods: int, by: str) -> None:
    if "BYSETPOS" in by and freq not in ("WEEKLY", "MONTHLY", "YEARLY"):
        by = ""  # a set position within a second or an hour selects nothing useful
    if by in (";BYWEEKNO=1,52;BYDAY=MO", ";BYYEARDAY=1,-1", ";BYDAY=-1FR") \
            and freq not in ("MONTHLY", "YEARLY"):
        by = ""  # rare dates, walked a second at a time: slow in the reference, not ours
    rule = f"FREQ={freq};INTERVAL={interval}{by}"
    # starts from Jan 1 to Mar 1: days 29-31 included, which a walk by months cannot keep
    start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=start_seconds)
    after = start + PERIODS[freq] * (interval * periods) + timedelta(seconds=start_seconds % 7)
    try:
        reference = rrulestr(rule, dtstart=start.replace(tzinfo=None))
    except ValueError:  # e.g. INTERVAL=2 hours from an even hour, BYHOUR odd: never
        with pytest.raises(ScheduleError, match="empty set"):
            next_slots(Schedule(rrule=rule, start=start), after, 5)
        return
    ours = next_slots(Schedule(rrule=rule, start=start), after, 5)
    expected = [slot.replace(tzinfo=UTC) for _, slot in
                zip(range(5), reference.xafter(after.replace(tzinfo=None)), strict=False)]
    assert ours == expected


def test_a_monthly_rule_from_2000_is_walked_from_near_now() -> None:
    # every quarter hour of the 1st (DTSTART's day), written as a monthly rule: 96 slots a
    # month since 2000 if walked from DTSTART; a month or two when walked from near now
    rule = "FREQ=MONTHLY;BYHOUR=" + ",".join(map(str, range(24))) + ";BYMINUTE=0,15,30,45"
    slots = next_slots(Schedule(rrule=rule), datetime(2026, 12, 1, 7, 1, tzinfo=UTC), 3)
    assert [slot.isoformat()[8:16] for slot in slots] == ["01T07:15", "01T07:30", "01T07:45"]


def test_an_rrule_count_is_bounded() -> None:
    with pytest.raises(ScheduleError, match="COUNT is at most 10000"):
        next_slots(Schedule(rrule="FREQ=SECONDLY;COUNT=1000000"),
                   datetime(2026, 12, 6, tzinfo=UTC), 1)
