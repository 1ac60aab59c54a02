"""Properties of forget over random histories: what it never deletes, and that a policy
asking for more keeps at least as much."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from actors.plans.retention import Candidate, RetentionPolicy, forget

START = datetime(2025, 1, 1, tzinfo=UTC)
STATUSES = ["available", "available", "available", "error", "protecting"]

histories = st.lists(
    st.builds(lambda minutes, status, in_use: (minutes, status, in_use),
              st.integers(0, 2 * 365 * 24 * 60), st.sampled_from(STATUSES),
              st.sampled_from([False] * 9 + [True])),  # one in ten is being read
    max_size=60).map(lambda rows: [
        Candidate(f"cp-{n}", START + timedelta(minutes=minutes), status, in_use=in_use)
        for n, (minutes, status, in_use) in enumerate(rows)])
counts = st.integers(0, 8)
policies = st.builds(
    RetentionPolicy, last=counts, hourly=counts, daily=counts, weekly=counts, monthly=counts,
    yearly=counts, within=st.none() | st.integers(1, 400).map(lambda days: f"{days}d"))


def kept(policy: RetentionPolicy, candidates: list[Candidate], zone: str = "UTC") -> set[str]:
    return {d.checkpoint_id for d in forget(policy, candidates, timezone=zone) if d.keep}


@settings(max_examples=150, deadline=None)
@given(policy=policies, candidates=histories,
       zone=st.sampled_from(["UTC", "Europe/Berlin", "Australia/Sydney"]))
def test_forget_never_deletes_the_newest_available_one_in_use_or_one_not_available(
        policy: RetentionPolicy, candidates: list[Candidate], zone: str) -> None:
    decisions = forget(policy, candidates, timezone=zone)
    assert sorted(d.checkpoint_id for d in decisions) == sorted(
        c.checkpoint_id for c in candidates)
    assert [d.created_at for d in decisions] == sorted(
        (d.created_at for d in decisions), reverse=True)
    keep = {d.checkpoint_id for d in decisions if d.keep}
    available = [c for c in candidates if c.status == "available"]
    if available:
        newest = max(available, key=lambda c: c.created_at)
        assert newest.checkpoint_id in keep
        assert any(c.checkpoint_id in keep for c in available)
    assert {c.checkpoint_id for c in candidates if c.in_use or c.status != "available"} <= keep


@settings(max_examples=150, deadline=None)
@given(policy=policies, extra=policies, candidates=histories)
def test_a_policy_that_asks_for_more_keeps_at_least_as_much(
        policy: RetentionPolicy, extra: RetentionPolicy, candidates: list[Candidate]) -> None:
    def days(within: str | None) -> int:
        return int(within[:-1]) if within else 0

    more = RetentionPolicy(
        last=policy.last + extra.last, hourly=policy.hourly + extra.hourly,
        daily=policy.daily + extra.daily, weekly=policy.weekly + extra.weekly,
        monthly=policy.monthly + extra.monthly, yearly=policy.yearly + extra.yearly,
        within=f"{days(policy.within) + days(extra.within)}d"
        if policy.within or extra.within else None)
    if policy == RetentionPolicy():
        return  # keeping nothing keeps everything (the safety net): not a smaller policy
    assert kept(policy, candidates) <= kept(more, candidates)
