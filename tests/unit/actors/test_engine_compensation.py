"""Compensation: a stopped operation aborts every resource whose pre finished and whose
post did not, children before parents, as transcripts of events."""

from __future__ import annotations

from collections import Counter

from actors.cli.progress import failure_reason
from actors.wire.events import ActivityFailed, ActivityFinished, ActivityStarted
from actors.wire.requests import ProtectRequest
from plugins.checkpoint.graph import ResourceGraph
from plugins.checkpoint.operation_record import read_operation_record
from tests.fakes import node
from tests.ordering import check_compensation


def tree() -> ResourceGraph:
    # root -> mid -> (leaf-a, leaf-b); root -> sibling
    return ResourceGraph(
        [node("root"), node("mid"), node("leaf-a"), node("leaf-b"), node("sibling")],
        [[1, 4], [2, 3], [], [], []],
    )


def aborted(plugin) -> Counter[str]:
    return Counter(key.split("#")[1] for key, activity in plugin.calls
                   if activity == "protect_abort")


async def run(engine, parameters, graph, timeout=20):
    subscription = engine.subscribe()
    result = await engine.run(ProtectRequest(resources=[], parameters=parameters),
                              graph=graph, timeout=timeout)
    await subscription.close()
    return result, [e async for e in subscription]


async def submit_and_cancel_after(engine, parameters, graph, resource_id, activity):
    """Cancel the operation once ``resource_id`` finished ``activity`` (and the child
    ``hang_at`` keeps the operation running until then)."""
    subscription = engine.subscribe()
    operation = await engine.submit(ProtectRequest(resources=[], parameters=parameters),
                                    graph=graph)
    events = []
    async for event in subscription:
        events.append(event)
        if (isinstance(event, ActivityFinished) and event.resource_id == resource_id
                and event.activity == activity):
            break
    await engine.cancel(operation)
    result = await engine.wait(operation, timeout=10)
    await subscription.close()
    return result, events + [e async for e in subscription]


async def test_a_failing_leaf_gets_every_quiesced_resource_aborted_children_before_parents(
    engine_for,
):
    async with engine_for("quiescing") as engine:
        parameters = {
            "Test::Node#leaf-b": {"fail_at": "protect_parallel", "delay": 0.05},
            "Test::Node#leaf-a": {"hang_at": "protect_parallel"},
            "Test::Node#sibling": {"hang_at": "protect_parallel"},
        }
        result, events = await run(engine, parameters, tree())
        plugin = engine.provider().plugins["quiescing"]
        assert result.status == "failed"
        assert result.error_resource == "Test::Node#leaf-b"
        assert "leaf-b failed in protect_parallel on purpose" in result.error
        assert result.abort_failures == []
        owed = check_compensation(tree(), events, "protect")
        assert owed == {0, 1, 2, 3, 4}  # every pre finished, no post ran
        assert aborted(plugin) == Counter({"root": 1, "mid": 1, "leaf-a": 1, "leaf-b": 1,
                                           "sibling": 1})
        assert plugin.quiesced == set()
        order = [e.resource_id for e in events
                 if isinstance(e, ActivityStarted) and e.activity == "protect_abort"]
        assert order.index("leaf-a") < order.index("mid") < order.index("root")
        assert order.index("leaf-b") < order.index("mid")
        assert order.index("sibling") < order.index("root")


async def test_a_resource_whose_pre_never_finished_is_not_aborted(engine_for):
    async with engine_for("quiescing") as engine:
        parameters = {"Test::Node#mid": {"fail_at": "protect_pre"}}
        result, events = await run(engine, parameters, tree())
        plugin = engine.provider().plugins["quiescing"]
        assert result.status == "failed"
        assert result.error_resource == "Test::Node#mid"
        owed = check_compensation(tree(), events, "protect")
        # mid failed in its pre and its leaves never started theirs
        assert 0 in owed and owed <= {0, 4}
        assert "mid" not in aborted(plugin) and "leaf-a" not in aborted(plugin)
        assert ("Test::Node#leaf-a", "protect_pre") not in plugin.calls
        assert plugin.quiesced == set()


async def test_a_user_cancel_mid_operation_aborts_what_finished_its_pre(engine_for):
    async with engine_for("quiescing") as engine:
        parameters = {"Test::Node#leaf-b": {"hang_at": "protect_parallel"}}
        result, events = await submit_and_cancel_after(engine, parameters, tree(),
                                                       "leaf-b", "protect_pre")
        plugin = engine.provider().plugins["quiescing"]
        assert result.status == "cancelled"
        owed = check_compensation(tree(), events, "protect")
        assert {0, 1, 3} <= owed  # root, mid and leaf-b were quiesced and never resumed
        assert plugin.quiesced == set()
        index, _, states = await engine.show_checkpoint(result.checkpoint_id)
        assert index.error == "cancelled"
        by_id = {s.id: s for s in states}
        assert by_id["leaf-b"].activities["protect_abort"] == "done"
        assert by_id["leaf-b"].status == "cancelled"


async def test_a_resource_whose_post_ran_is_not_aborted(engine_for):
    async with engine_for("quiescing") as engine:
        parameters = {"Test::Node#leaf-b": {"hang_at": "protect_parallel"}}
        result, events = await submit_and_cancel_after(engine, parameters, tree(),
                                                       "leaf-a", "protect_post")
        plugin = engine.provider().plugins["quiescing"]
        assert result.status == "cancelled"
        owed = check_compensation(tree(), events, "protect")
        assert 2 not in owed
        assert "leaf-a" not in aborted(plugin)
        assert ("Test::Node#leaf-a", "protect_post") in plugin.calls
        assert {"root", "mid", "leaf-b"} <= set(aborted(plugin))
        assert plugin.quiesced == set()


async def test_an_abort_that_raises_is_recorded_the_others_still_run_and_the_error_stays_first(
    engine_for,
):
    async with engine_for("quiescing") as engine:
        parameters = {
            "Test::Node#leaf-b": {"fail_at": "protect_parallel", "delay": 0.05},
            "Test::Node#leaf-a": {"fail_at": "protect_abort", "hang_at": "protect_parallel"},
            "Test::Node#sibling": {"hang_at": "protect_parallel"},
        }
        result, events = await run(engine, parameters, tree())
        plugin = engine.provider().plugins["quiescing"]
        assert result.status == "failed"
        assert result.error_resource == "Test::Node#leaf-b"
        assert "leaf-b failed in protect_parallel on purpose" in result.error
        assert len(result.abort_failures) == 1
        assert result.abort_failures[0].startswith("Test::Node#leaf-a: RuntimeError: ")
        assert "failed in protect_abort on purpose" in result.abort_failures[0]
        # what the CLI prints: the first failure, then what may still be quiesced
        line = failure_reason(result)
        assert line.startswith("protect failed at Test::Node#leaf-b: RuntimeError")
        assert "; aborts failed: Test::Node#leaf-a: RuntimeError" in line
        check_compensation(tree(), events, "protect")
        failed = [e for e in events if isinstance(e, ActivityFailed)]
        assert {(e.resource_id, e.activity, e.state) for e in failed} == {
            ("leaf-b", "protect_parallel", "failed"),
            ("leaf-a", "protect_abort", "abort_failed"),
        }
        # its parent's abort still ran, after it
        assert plugin.quiesced == {"Test::Node#leaf-a"}
        store = await engine.store(engine.provider())
        record = await read_operation_record(store.bank, result.operation_id)
        assert record is not None and record.abort_failures == result.abort_failures
        assert record.error == result.error
        index, _, states = await engine.show_checkpoint(result.checkpoint_id)
        assert index.error_resource == "Test::Node#leaf-b"
        by_id = {s.id: s for s in states}
        assert by_id["leaf-a"].activities["protect_abort"] == "failed"
        assert by_id["leaf-a"].reason.startswith("abort failed: RuntimeError")
        assert "on purpose" in by_id["leaf-b"].reason


async def test_an_abort_that_hangs_past_its_abort_timeout_is_cut_off_and_the_operation_ends(
    engine_for,
):
    sections = "[quiescing]\nabort_timeout = 0.2\n"
    async with engine_for("quiescing", sections=sections) as engine:
        parameters = {
            "Test::Node#leaf-b": {"fail_at": "protect_parallel", "hang_at": "protect_abort"},
            "Test::Node#leaf-a": {"hang_at": "protect_parallel"},
        }
        result, events = await run(engine, parameters, tree())
        plugin = engine.provider().plugins["quiescing"]
        assert result.status == "failed"
        assert result.error_resource == "Test::Node#leaf-b"
        assert "on purpose" in result.error
        assert len(result.abort_failures) == 1
        assert "ActivityTimeout" in result.abort_failures[0]
        assert "protect_abort of Test::Node#leaf-b ran past its timeout of 0.2 s" in (
            result.abort_failures[0])
        check_compensation(tree(), events, "protect")
        assert plugin.quiesced == {"Test::Node#leaf-b"}  # cut off before it resumed


async def test_a_generator_abort_polls_in_worker_threads_until_it_returns(engine_for):
    sections = "[polling-abort]\npoll_interval = 0.001\n"
    async with engine_for("polling-abort", sections=sections) as engine:
        parameters = {"Test::Node#leaf-b": {"fail_at": "protect_parallel"}}
        graph = ResourceGraph([node("mid"), node("leaf-b")], [[1], []])
        result, events = await run(engine, parameters, graph)
        plugin = engine.provider().plugins["polling-abort"]
        assert result.status == "failed"
        assert check_compensation(graph, events, "protect") == {0, 1}
        assert plugin.polls == {"Test::Node#mid": 3, "Test::Node#leaf-b": 3}
        assert all(name.startswith("activity") for name in plugin.threads)
        assert plugin.quiesced == set()


async def test_a_plugin_without_an_abort_still_stops_and_names_the_first_failure(engine_for):
    async with engine_for("recording") as engine:
        parameters = {"Test::Node#leaf-b": {"fail_at": "protect_parallel"}}
        result, events = await run(engine, parameters, tree())
        assert result.status == "failed"
        assert result.error_resource == "Test::Node#leaf-b"
        assert result.abort_failures == []
        # no-op aborts: finished events only, still children before parents
        check_compensation(tree(), events, "protect")
