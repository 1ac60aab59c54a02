"""Activity shapes, failures and timeouts, as transcripts of events."""

from __future__ import annotations

import asyncio

from actors.wire.events import (
    ActivityFailed,
    ActivityFinished,
    ActivityProgress,
    ActivityStarted,
    ResourceStopped,
)
from actors.wire.messages import Cancel, ParentPreDone
from actors.wire.requests import DeleteRequest, ProtectRequest
from plugins.checkpoint.graph import ResourceGraph
from tests.fakes import node


def transcript(events) -> list[str]:
    lines = []
    for event in events:
        if isinstance(event, ActivityStarted):
            lines.append(f"{event.resource_id} {event.activity} started")
        elif isinstance(event, ActivityFinished):
            lines.append(f"{event.resource_id} {event.activity} finished")
        elif isinstance(event, ActivityFailed):
            lines.append(f"{event.resource_id} {event.activity} failed")
        elif isinstance(event, ResourceStopped):
            lines.append(f"{event.resource_id} {event.state}")
    return lines


async def run(engine, request, graph=None, timeout=20):
    subscription = engine.subscribe()
    result = await engine.run(request, graph=graph, timeout=timeout)
    await subscription.close()
    return result, [e async for e in subscription]


def family() -> ResourceGraph:
    # parent -> child, parent -> sibling
    return ResourceGraph([node("parent"), node("child"), node("sibling")], [[1, 2], [], []])


async def test_plain_coroutine_generator_and_async_generator_activities_all_complete(engine_for):
    async with engine_for("shapes", sections="[shapes]\npoll_interval = 0.001\n") as engine:
        graph = ResourceGraph([node("only")], [[]])
        result, events = await run(engine, ProtectRequest(resources=[]), graph)
        assert result.status == "succeeded", result.error
        plugin = engine.provider().plugins["shapes"]
        assert plugin.polls["protect_parallel"] == 5
        # plain functions and generator steps run in worker threads, not on the loop
        assert plugin.threads["protect_pre"].startswith("activity")
        assert plugin.threads["protect_parallel"].startswith("activity")
        progress = [e for e in events if isinstance(e, ActivityProgress)]
        assert progress[-1].bytes_done == progress[-1].bytes_total == 100
        deleted, _ = await run(engine, DeleteRequest(checkpoint_id=result.checkpoint_id))
        assert deleted.status == "succeeded", deleted.error
        assert plugin.polls["delete_parallel"] == 5


async def test_a_failing_child_means_its_parents_post_never_runs_and_the_checkpoint_names_it(
    engine_for,
):
    async with engine_for("recording") as engine:
        parameters = {"Test::Node#child": {"fail_at": "protect_parallel"}}
        result, events = await run(
            engine, ProtectRequest(resources=[], parameters=parameters), family()
        )
        lines = transcript(events)
        assert result.status == "failed"
        assert result.error_resource == "Test::Node#child"
        assert "child failed in protect_parallel on purpose" in result.error
        assert "child protect_parallel failed" in lines
        assert "parent protect_post started" not in lines
        assert "parent skipped" in lines
        plugin = engine.provider().plugins["recording"]
        assert ("Test::Node#parent", "protect_post") not in plugin.calls
        index, _, states = await engine.show_checkpoint(result.checkpoint_id)
        assert index.status == "error"
        assert index.error_resource == "Test::Node#child"
        by_id = {s.id: s for s in states}
        assert by_id["child"].status == "error"
        assert "on purpose" in by_id["child"].reason
        assert by_id["parent"].activities["protect_pre"] == "done"


async def test_a_failure_cancels_activities_still_running_elsewhere(engine_for):
    async with engine_for("recording") as engine:
        parameters = {
            "Test::Node#child": {"fail_at": "protect_parallel", "delay": 0.05},
            "Test::Node#sibling": {"hang_at": "protect_parallel"},
        }
        result, events = await run(
            engine, ProtectRequest(resources=[], parameters=parameters), family()
        )
        assert result.status == "failed"
        assert "sibling cancelled" in transcript(events)


async def test_a_hanging_activity_hits_its_plugin_timeout(engine_for):
    async with engine_for("recording", sections="[recording]\ntimeout = 0.2\n") as engine:
        parameters = {"Test::Node#sibling": {"hang_at": "protect_pre"}}
        result, _ = await run(engine, ProtectRequest(resources=[], parameters=parameters), family())
        assert result.status == "failed"
        assert result.error_resource == "Test::Node#sibling"
        assert "ActivityTimeout" in result.error
        assert "ran past its timeout of 0.2 s" in result.error


async def test_a_polling_generator_that_times_out_is_closed_so_it_cleans_up(engine_for):
    sections = "[polling]\ntimeout = 0.2\npoll_interval = 0.01\n"
    async with engine_for("polling", sections=sections) as engine:
        result, _ = await run(
            engine, ProtectRequest(resources=[]), ResourceGraph([node("poller")], [[]])
        )
        assert result.status == "failed"
        assert "ActivityTimeout" in result.error
        plugin = engine.provider().plugins["polling"]
        assert await asyncio.to_thread(plugin.cleaned_up.wait, 5)


async def test_a_blocking_plain_function_does_not_block_the_event_loop(engine_for):
    async with engine_for("blocking") as engine:
        parameters = {"Test::Node": {"delay": 0.3}}
        operation = await engine.submit(
            ProtectRequest(resources=[], parameters=parameters),
            graph=ResourceGraph([node("slow")], [[]]),
        )
        waiter = asyncio.create_task(engine.wait(operation, timeout=10))
        ticks = 0
        while not waiter.done():
            await asyncio.sleep(0.01)  # the loop keeps turning while the activity blocks
            ticks += 1
        result = waiter.result()
        # a blocked loop would see no tick until the activity's 0.3 s were over
        assert ticks >= 3
        assert result.status == "succeeded", result.error


async def test_a_cancel_stops_every_actor_and_the_checkpoint_ends_cancelled(engine_for):
    async with engine_for("recording") as engine:
        parameters = {"Test::Node#child": {"hang_at": "protect_parallel"}}
        subscription = engine.subscribe()
        operation = await engine.submit(
            ProtectRequest(resources=[], parameters=parameters), graph=family()
        )
        async for event in subscription:
            if (
                isinstance(event, ActivityStarted)
                and event.resource_id == "child"
                and event.activity == "protect_parallel"
            ):
                break
        await engine.cancel(operation)
        result = await engine.wait(operation, timeout=10)
        await subscription.close()
        assert result.status == "cancelled"
        index, _, _ = await engine.show_checkpoint(result.checkpoint_id)
        assert index.status == "error"
        assert index.error == "cancelled"


async def test_a_cancel_arriving_before_a_new_activity_took_its_first_step_still_stops_it(
    engine_for,
):
    # the parent's pre hangs; the child is handed a ParentPreDone and, before its pre's
    # task has run at all (nothing between the two deliveries yields), a Cancel: a task
    # cancelled so early never enters its coroutine, so the actor must reply for it
    graph = ResourceGraph([node("parent"), node("child")], [[1], []])
    async with engine_for("recording") as engine:
        parameters = {"Test::Node#parent": {"hang_at": "protect_pre"}}
        subscription = engine.subscribe()
        operation = await engine.submit(
            ProtectRequest(resources=[], parameters=parameters), graph=graph
        )
        async for event in subscription:
            if isinstance(event, ActivityStarted) and event.resource_id == "parent":
                break
        await subscription.close()
        await engine.host.deliver(ParentPreDone(operation_id=operation, to=1, sender=0))
        await engine.host.deliver(Cancel(operation_id=operation, to=1, reason="interrupted"))
        assert engine.host.actor_states(operation)[1] == "cancelled"
        await engine.cancel(operation, "interrupted")
        result = await engine.wait(operation, timeout=10)
        assert (result.status, result.error) == ("cancelled", "interrupted")
        plugin = engine.provider().plugins["recording"]
        assert ("Test::Node#child", "protect_pre") not in plugin.calls  # it never ran


async def test_a_cancel_with_a_reason_ends_the_checkpoint_with_that_reason(engine_for):
    async with engine_for("recording") as engine:
        parameters = {"Test::Node#child": {"hang_at": "protect_parallel"}}
        subscription = engine.subscribe()
        operation = await engine.submit(
            ProtectRequest(resources=[], parameters=parameters), graph=family()
        )
        async for event in subscription:
            if isinstance(event, ActivityStarted) and event.activity == "protect_parallel":
                break
        await engine.cancel(operation, "interrupted")
        result = await engine.wait(operation, timeout=10)
        await subscription.close()
        stops = [e async for e in subscription if isinstance(e, ResourceStopped)]
        assert (result.status, result.error) == ("cancelled", "interrupted")
        assert stops and {e.reason for e in stops} == {"interrupted"}
        index, _, _ = await engine.show_checkpoint(result.checkpoint_id)
        assert (index.status, index.error) == ("error", "interrupted")


async def test_parameters_that_fail_the_schema_are_refused_before_anything_runs(engine_for):
    async with engine_for("recording") as engine:
        bad = {"Test::Node#child": {"delay": "soon"}}
        try:
            await engine.submit(ProtectRequest(resources=[], parameters=bad), graph=family())
        except Exception as error:
            assert "protect of Test::Node#child" in str(error)
            assert "delay" in str(error)
        else:
            raise AssertionError("invalid parameters were accepted")
        assert engine.provider().plugins["recording"].calls == []
        assert await engine.list_checkpoints() == []
