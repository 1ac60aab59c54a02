"""Retention: restic's forget rules over simulated years of checkpoints, checked against a
brute-force computation written differently, restic's documented examples, and the
protections."""

from __future__ import annotations

import random
from collections.abc import Callable, Hashable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from actors.plans.durations import parse_duration
from actors.plans.retention import Candidate, Decision, RetentionPolicy, forget

GFS = RetentionPolicy(last=7, daily=14, weekly=8, monthly=12, yearly=3)


def two_years_of_dailies() -> list[Candidate]:
    """730 days of checkpoints at 03:00 UTC, with a second one at 14:00 every 9th day and a
    late one at 23:30 (the next day in Berlin) every 31st, in a shuffled order."""
    first = datetime(2025, 1, 1, 3, tzinfo=UTC)
    candidates = []
    for day in range(730):
        morning = first + timedelta(days=day)
        candidates.append(Candidate(f"cp-{day}", morning, "available"))
        if day % 9 == 0:
            candidates.append(Candidate(f"cp-{day}-pm", morning + timedelta(hours=11),
                                        "available"))
        if day % 31 == 0:
            candidates.append(Candidate(f"cp-{day}-late", morning + timedelta(hours=20, minutes=30),
                                        "available"))
    random.Random(14).shuffle(candidates)
    return candidates


def brute_force_keep(policy: RetentionPolicy, candidates: list[Candidate],
                     zone: ZoneInfo) -> dict[str, set[str]]:
    """Checkpoint id -> names of the rules keeping it, computed per rule as sets: each
    period's newest checkpoint, then the periods with the newest such checkpoints."""
    def local(candidate: Candidate) -> datetime:
        return candidate.created_at.astimezone(zone)

    periods: dict[str, Callable[[datetime], Hashable]] = {
        "hourly": lambda t: (t.date(), t.hour, t.utcoffset()),
        "daily": lambda t: t.date(),
        "weekly": lambda t: t.isocalendar()[:2],
        "monthly": lambda t: (t.year, t.month),
        "yearly": lambda t: t.year,
    }
    kept: dict[str, set[str]] = {}
    by_time = sorted(candidates, key=lambda c: c.created_at)
    for candidate in by_time[max(0, len(by_time) - policy.last):] if policy.last else []:
        kept.setdefault(candidate.checkpoint_id, set()).add("last")
    for rule, period_of in periods.items():
        newest_of_period: dict[Hashable, Candidate] = {}
        for candidate in by_time:  # ascending: the last written is the newest
            newest_of_period[period_of(local(candidate))] = candidate
        winners = sorted(newest_of_period.values(), key=lambda c: c.created_at)
        count = getattr(policy, rule)
        for candidate in winners[max(0, len(winners) - count):] if count else []:
            kept.setdefault(candidate.checkpoint_id, set()).add(rule)
    if policy.within:
        newest = max(c.created_at for c in candidates).astimezone(zone)
        cutoff = newest - parse_duration(policy.within)
        for candidate in candidates:
            if candidate.created_at > cutoff:
                kept.setdefault(candidate.checkpoint_id, set()).add("within")
    return kept


def rules_of(decisions: list[Decision]) -> dict[str, set[str]]:
    protections = {"newest available"}
    return {d.checkpoint_id: {reason.split()[0] for reason in d.reasons
                              if reason not in protections}
            for d in decisions if d.keep}


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/New_York"])
@pytest.mark.parametrize("policy", [
    GFS,
    RetentionPolicy(daily=30),
    RetentionPolicy(hourly=48, weekly=4),
    RetentionPolicy(last=3, within="45d"),
    RetentionPolicy(within="1y2m", yearly=10),
    RetentionPolicy(monthly=100),
])
def test_two_years_of_dailies_keep_what_a_brute_force_computation_keeps(
        policy: RetentionPolicy, zone: str) -> None:
    candidates = two_years_of_dailies()
    decisions = forget(policy, candidates, timezone=zone)
    assert rules_of(decisions) == brute_force_keep(policy, candidates, ZoneInfo(zone))


def test_the_gfs_policy_over_two_years_keeps_the_expected_set() -> None:
    decisions = forget(GFS, two_years_of_dailies())
    kept = [d for d in decisions if d.keep]
    # day 729 (2026-12-31) has a 14:00 extra, and so has day 720 (every 9th day)
    assert [d.checkpoint_id for d in decisions[:8]] == [
        "cp-729-pm", "cp-729", "cp-728", "cp-727", "cp-726", "cp-725", "cp-724", "cp-723"]
    assert [d.keep for d in decisions[:8]] == [True] * 7 + [True]  # cp-723 is a daily
    assert decisions[0].reasons == ["last 7", "daily 2026-12-31", "weekly 2026-W53",
                                    "monthly 2026-12", "yearly 2026", "newest available"]
    assert decisions[1].reasons == ["last 7"]  # the day's earlier one: not the day's newest
    # last 7 (Dec 26-31) + 14 daily (back to Dec 18: 8 more) + 8 weekly (W51-W53 end
    # inside the dailies: the Sundays of W46-W50 are 5 more) + 12 monthly (Jan-Nov: 11
    # more) + yearly 3 (2025's last day; there is no third year)
    assert len(kept) == 7 + 8 + 5 + 11 + 1
    deleted = [d for d in decisions if not d.keep]
    assert all(d.reasons == ["no rule keeps it"] for d in deleted)
    assert len(deleted) == len(decisions) - len(kept)


def test_restic_example_weekly_sundays_with_keep_daily_4_keeps_the_last_four() -> None:
    sundays = [datetime(2019, 9, 1, 11, tzinfo=UTC) + timedelta(weeks=n) for n in range(12)]
    candidates = [Candidate(f"s{n}", when, "available") for n, when in enumerate(sundays)]
    decisions = forget(RetentionPolicy(daily=4), candidates)
    assert [d.created_at.date().isoformat() for d in decisions if d.keep] == [
        "2019-11-17", "2019-11-10", "2019-11-03", "2019-10-27"]
    assert sum(not d.keep for d in decisions) == 8


def test_restic_example_a_century_of_dailies_with_7_5_12_75() -> None:
    first = datetime(1927, 1, 1, 12, tzinfo=UTC)
    candidates = [Candidate(f"d{n}", first + timedelta(days=n), "available")
                  for n in range(36525)]
    decisions = forget(RetentionPolicy(daily=7, weekly=5, monthly=12, yearly=75), candidates)
    kept = [d for d in decisions if d.keep]
    counted = {rule: sum(any(r.startswith(rule) for r in d.reasons) for d in kept)
               for rule in ("daily", "weekly", "monthly", "yearly")}
    assert counted == {"daily": 7, "weekly": 5, "monthly": 12, "yearly": 75}
    # restic: "7 daily, 4 more weekly (the dailies include 1), 12 or 11 monthly, 75 or 74
    # yearly". Ending on Thursday 2026-12-31 the dailies (Dec 25-31) hold two week ends
    # (W53's Dec 31 and W52's Sunday Dec 27), so 3 more weekly; Dec 31 is also December's
    # and 2026's, so 11 more monthly and 74 more yearly
    assert len(kept) == 7 + 3 + 11 + 74


def test_within_keeps_everything_newer_than_the_newest_minus_the_duration() -> None:
    first = datetime(2026, 1, 1, 3, tzinfo=UTC)
    candidates = [Candidate(f"d{n}", first + timedelta(days=n), "available") for n in range(90)]
    newest = candidates[-1].created_at  # 2026-03-31 03:00
    thirty = forget(RetentionPolicy(within="30d"), candidates)
    assert [d.created_at for d in thirty if d.keep] == [
        newest - timedelta(days=n) for n in range(30)]  # the one exactly 30d old goes
    month = forget(RetentionPolicy(within="1m"), candidates)
    assert min(d.created_at for d in month if d.keep) == datetime(2026, 3, 1, 3, tzinfo=UTC)
    assert all(d.reasons[0] == "within 1m" for d in month if d.keep)


def test_within_is_measured_from_the_newest_checkpoint_not_from_now() -> None:
    old = [Candidate(f"d{n}", datetime(2020, 1, 1 + n, tzinfo=UTC), "available")
           for n in range(10)]
    assert all(d.keep for d in forget(RetentionPolicy(within="2w"), old))


def test_rules_combine_and_each_reason_is_listed() -> None:
    first = datetime(2026, 11, 1, 3, tzinfo=UTC)
    candidates = [Candidate(f"d{n}", first + timedelta(days=n), "available") for n in range(35)]
    decisions = forget(RetentionPolicy(last=3, daily=2, monthly=2, within="4d"), candidates)
    by_id = {d.checkpoint_id: d for d in decisions}
    assert by_id["d34"].reasons == ["last 3", "daily 2026-12-05", "monthly 2026-12",
                                    "within 4d", "newest available"]
    assert by_id["d33"].reasons == ["last 3", "daily 2026-12-04", "within 4d"]
    assert by_id["d32"].reasons == ["last 3", "within 4d"]
    assert by_id["d31"].reasons == ["within 4d"]
    assert by_id["d29"].reasons == ["monthly 2026-11"]
    assert [d.checkpoint_id for d in decisions if d.keep] == ["d34", "d33", "d32", "d31",
                                                               "d29"]


def test_hourly_buckets_tell_the_two_repeated_hours_apart() -> None:
    zone = ZoneInfo("Europe/Berlin")
    # 02:10 and 02:40 in both the summer and the winter 02:00 hour of 2026-10-25
    times = [datetime(2026, 10, 25, 0, 10, tzinfo=UTC), datetime(2026, 10, 25, 0, 40, tzinfo=UTC),
             datetime(2026, 10, 25, 1, 10, tzinfo=UTC), datetime(2026, 10, 25, 1, 40, tzinfo=UTC)]
    assert {t.astimezone(zone).hour for t in times} == {2}
    candidates = [Candidate(f"h{n}", t, "available") for n, t in enumerate(times)]
    decisions = forget(RetentionPolicy(hourly=2), candidates, timezone="Europe/Berlin")
    assert [(d.checkpoint_id, d.reasons[0]) for d in decisions if d.keep] == [
        ("h3", "hourly 2026-10-25T02:00+0100"), ("h1", "hourly 2026-10-25T02:00+0200")]


def test_days_are_counted_in_the_policys_time_zone() -> None:
    late = Candidate("late", datetime(2026, 12, 5, 23, 30, tzinfo=UTC), "available")
    early = Candidate("early", datetime(2026, 12, 5, 8, tzinfo=UTC), "available")
    in_utc = forget(RetentionPolicy(daily=2), [late, early])
    in_berlin = forget(RetentionPolicy(daily=2), [late, early], timezone="Europe/Berlin")
    assert [d.keep for d in in_utc] == [True, False]  # one UTC day
    assert [d.keep for d in in_berlin] == [True, True]  # 00:30 on the 6th in Berlin


NOW = datetime(2026, 12, 6, 3, tzinfo=UTC)


def day(n: int, status: str = "available", *, in_use: bool = False) -> Candidate:
    return Candidate(f"d{n}", NOW - timedelta(days=n), status, in_use=in_use)


def test_checkpoints_not_available_are_kept_and_do_not_count() -> None:
    candidates = [day(0, "protecting"), day(1, "error"), day(2), day(3), day(4), day(5, "deleting")]
    decisions = forget(RetentionPolicy(last=2), candidates)
    assert [(d.checkpoint_id, d.keep, d.reasons) for d in decisions] == [
        ("d0", True, ["not available (protecting)"]),
        ("d1", True, ["not available (error)"]),
        ("d2", True, ["last 2", "newest available"]),
        ("d3", True, ["last 2"]),
        ("d4", False, ["no rule keeps it"]),
        ("d5", True, ["not available (deleting)"]),
    ]


def test_a_checkpoint_in_use_is_never_deleted() -> None:
    decisions = forget(RetentionPolicy(last=1), [day(0), day(1), day(2, in_use=True)])
    assert [(d.keep, d.reasons) for d in decisions] == [
        (True, ["last 1", "newest available"]), (False, ["no rule keeps it"]),
        (True, ["in use"])]


def test_a_policy_that_would_delete_every_checkpoint_keeps_them_all() -> None:
    decisions = forget(RetentionPolicy(), [day(0), day(1), day(2, "error")])
    assert [(d.keep, d.reasons) for d in decisions] == [
        (True, ["policy would delete every checkpoint", "newest available"]),
        (True, ["policy would delete every checkpoint"]),
        (True, ["not available (error)"])]


def test_no_candidates_and_no_available_candidates_are_fine() -> None:
    assert forget(RetentionPolicy(last=1), []) == []
    decisions = forget(RetentionPolicy(last=1), [day(0, "error")])
    assert [(d.keep, d.reasons) for d in decisions] == [(True, ["not available (error)"])]


def test_the_output_is_newest_first_whatever_the_input_order() -> None:
    candidates = [day(3), day(0), day(2), day(1)]
    assert [d.checkpoint_id for d in forget(RetentionPolicy(last=1), candidates)] == [
        "d0", "d1", "d2", "d3"]


def test_times_in_different_zones_are_ordered_by_instant() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    # 02:30 CEST (00:30 UTC) is before 02:10 CET (01:10 UTC) on 2026-10-25
    summer = Candidate("summer", datetime(2026, 10, 25, 2, 30, tzinfo=berlin), "available")
    winter = Candidate("winter", datetime(2026, 10, 25, 2, 10, fold=1, tzinfo=berlin),
                       "available")
    assert [d.checkpoint_id for d in forget(RetentionPolicy(last=1), [summer, winter])] == [
        "winter", "summer"]


def test_the_worked_example_of_docs_plans_md() -> None:
    berlin = ZoneInfo("Europe/Berlin")

    def at(day: int, hour: int, month: int = 12) -> datetime:
        return datetime(2026, month, day, hour, tzinfo=berlin)

    candidates = [
        Candidate("cp-a", at(6, 4), "protecting"), Candidate("cp-b", at(5, 16), "available"),
        Candidate("cp-c", at(5, 4), "available"), Candidate("cp-d", at(4, 4), "available"),
        Candidate("cp-e", at(3, 4), "error"), Candidate("cp-f", at(2, 4), "available"),
        Candidate("cp-g", at(29, 4, 11), "available"),
        Candidate("cp-h", at(28, 4, 11), "available"),
        Candidate("cp-i", at(22, 4, 11), "available"),
        Candidate("cp-j", at(15, 4, 11), "available", in_use=True),
        Candidate("cp-k", at(31, 4, 10), "available"),
        Candidate("cp-l", at(24, 5, 10), "available"),
    ]
    decisions = forget(RetentionPolicy(last=2, daily=3, weekly=2, monthly=2), candidates,
                       timezone="Europe/Berlin")
    assert [(d.checkpoint_id, ", ".join(d.reasons)) for d in decisions] == [
        ("cp-a", "not available (protecting)"),
        ("cp-b", "last 2, daily 2026-12-05, weekly 2026-W49, monthly 2026-12, newest available"),
        ("cp-c", "last 2"),
        ("cp-d", "daily 2026-12-04"),
        ("cp-e", "not available (error)"),
        ("cp-f", "daily 2026-12-02"),
        ("cp-g", "weekly 2026-W48, monthly 2026-11"),
        ("cp-h", "no rule keeps it"),
        ("cp-i", "no rule keeps it"),
        ("cp-j", "in use"),
        ("cp-k", "no rule keeps it"),
        ("cp-l", "no rule keeps it"),
    ]
    assert [d.checkpoint_id for d in decisions if not d.keep] == ["cp-h", "cp-i", "cp-k",
                                                                  "cp-l"]
