"""Property: over random DAGs and random failure points, every resource whose pre finished
and whose post did not is aborted exactly once, children before parents (embedded)."""

from __future__ import annotations

import asyncio
from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actors.operations.engine import Engine
from actors.wire.requests import ProtectRequest
from plugins.checkpoint.graph import ResourceGraph
from tests.conftest import write_provider
from tests.fakes import node
from tests.ordering import check_compensation


@st.composite
def failing_dags(draw: st.DrawFn) -> tuple[ResourceGraph, dict[str, dict[str, object]], int]:
    count = draw(st.integers(min_value=1, max_value=40))
    children: list[list[int]] = [[] for _ in range(count)]
    for child in range(1, count):
        # edges only from lower to higher index: acyclic by construction
        for parent in draw(st.sets(st.integers(0, child - 1), max_size=3)):
            children[parent].append(child)
    graph = ResourceGraph([node(i) for i in range(count)], children)
    parameters: dict[str, dict[str, object]] = {}
    for resource in graph.nodes:
        delay = draw(st.sampled_from([0.0, 0.0, 0.001, 0.003]))
        if delay:
            parameters[resource.key] = {"delay": delay}
    failing = draw(st.integers(0, count - 1))
    activity = draw(st.sampled_from(["protect_pre", "protect_parallel", "protect_post"]))
    parameters.setdefault(graph.nodes[failing].key, {})["fail_at"] = activity
    return graph, parameters, failing


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=failing_dags())
def test_on_random_dags_every_resource_with_pre_done_and_post_not_is_aborted_exactly_once(
    case, tmp_path_factory, registry
):
    graph, parameters, failing = case
    providers = write_provider(tmp_path_factory.mktemp("providers"), "quiescing")

    async def scenario() -> None:
        async with Engine.embedded(providers, registry=registry) as engine:
            subscription = engine.subscribe()
            result = await engine.run(ProtectRequest(resources=[], parameters=parameters),
                                      graph=graph, timeout=60)
            await subscription.close()
            events = [event async for event in subscription]
            assert result.status == "failed"
            assert result.error_resource == graph.nodes[failing].key
            assert result.abort_failures == []
            owed = check_compensation(graph, events, "protect")
            plugin = engine.provider().plugins["quiescing"]
            aborts = Counter(key for key, activity in plugin.calls if activity == "protect_abort")
            assert aborts == Counter({graph.nodes[n].key: 1 for n in owed})
            assert plugin.quiesced == set()

    asyncio.run(scenario())
