"""The harness's checks fail when what they check is wrong, naming the resource."""

from __future__ import annotations

import pytest

from actors.testing.harness import HarnessFailure, _check_journal
from actors.testing.orderings import OrderingViolation, check_seed_orderings
from actors.wire.events import ActivityFinished, ActivityStarted, Event
from plugins.checkpoint.graph import ResourceGraph
from plugins.checkpoint.journal import JournalEntry
from tests.fakes import node

PARENT_CHILD = ResourceGraph([node(0), node(1)], [[1], []])


def ran(index: int, phase: str, *, started: bool = True) -> list[Event]:
    fields = {"operation_id": "op", "node": index, "resource_type": "Test::Node",
              "resource_id": str(index), "activity": f"protect_{phase}", "state": "x"}
    finished = ActivityFinished(**fields)
    return [ActivityStarted(**fields), finished] if started else [finished]


def in_order(*steps: tuple[int, str]) -> list[Event]:
    return [event for index, phase in steps for event in ran(index, phase)]


def test_events_in_the_seed_order_pass() -> None:
    check_seed_orderings(PARENT_CHILD, in_order(
        (0, "pre"), (0, "parallel"), (1, "pre"), (1, "parallel"), (1, "post"), (0, "post")),
        "protect")


def test_a_child_pre_before_its_parent_pre_is_named() -> None:
    events = in_order((1, "pre"), (0, "pre"), (0, "parallel"), (1, "parallel"), (1, "post"),
                      (0, "post"))
    with pytest.raises(OrderingViolation, match="pre of Test::Node#1 started before the pre "
                                                "of its parent Test::Node#0 finished"):
        check_seed_orderings(PARENT_CHILD, events, "protect")


def test_a_parent_post_before_its_child_post_is_named() -> None:
    events = in_order((0, "pre"), (0, "parallel"), (1, "pre"), (1, "parallel"), (0, "post"),
                      (1, "post"))
    with pytest.raises(OrderingViolation, match="post of Test::Node#0 started before the "
                                                "post of its child Test::Node#1 finished"):
        check_seed_orderings(PARENT_CHILD, events, "protect")


def test_a_parallel_before_its_own_pre_and_a_post_before_its_parallel_are_named() -> None:
    one = ResourceGraph([node(0)], [[]])
    with pytest.raises(OrderingViolation, match="parallel of Test::Node#0 started before its"):
        check_seed_orderings(one, in_order((0, "parallel"), (0, "pre"), (0, "post")), "protect")
    with pytest.raises(OrderingViolation, match="post of Test::Node#0 started before its par"):
        check_seed_orderings(one, in_order((0, "pre"), (0, "post"), (0, "parallel")), "protect")


def test_an_activity_started_twice_or_never_finished_is_named() -> None:
    one = ResourceGraph([node(0)], [[]])
    twice = in_order((0, "pre"), (0, "pre"), (0, "parallel"), (0, "post"))
    with pytest.raises(OrderingViolation, match="pre of Test::Node#0 started 2 times"):
        check_seed_orderings(one, twice, "protect")
    with pytest.raises(OrderingViolation, match="post of Test::Node#0 never finished"):
        check_seed_orderings(one, in_order((0, "pre"), (0, "parallel")), "protect")


def test_a_journal_missing_an_activity_or_with_a_failed_one_is_named() -> None:
    one = ResourceGraph([node(0)], [[]])
    done = [JournalEntry(0, f"protect_{p}", "done", 0.0) for p in ("pre", "parallel", "post")]
    _check_journal(one, done, "protect")
    with pytest.raises(HarnessFailure, match="protect_post of Test::Node#0 done 0 times"):
        _check_journal(one, done[:2], "protect")
    failed = [*done[:2], JournalEntry(0, "protect_post", "failed", 0.0, "boom")]
    with pytest.raises(HarnessFailure, match="protect_post of Test::Node#0 failed: boom"):
        _check_journal(one, failed, "protect")
