"""The resource graph: depth-first discovery, shared nodes, loops, the stored format."""

from __future__ import annotations

import pytest

from plugins.checkpoint.graph import ResourceGraph, build_graph
from plugins.errors import CheckpointError, ResourceGraphLoop
from plugins.resource import Resource


def res(key: str) -> Resource:
    kind, _, ident = key.partition(":")
    return Resource(type=kind, id=ident, name=ident)


def fetcher(edges: dict[str, list[str]]):
    asked: list[str] = []

    async def dependents(parent: Resource) -> list[Resource]:
        asked.append(f"{parent.type}:{parent.id}")
        return [res(child) for child in edges.get(f"{parent.type}:{parent.id}", [])]

    return dependents, asked


async def test_a_resource_reached_from_two_parents_is_one_node_and_is_asked_once():
    dependents, asked = fetcher(
        {
            "project:p": ["server:a", "server:b", "volume:shared"],
            "server:a": ["volume:shared", "image:i"],
            "server:b": ["volume:shared"],
        }
    )
    graph = await build_graph([res("project:p")], dependents)
    keys = [node.key for node in graph.nodes]
    assert keys.count("volume#shared") == 1
    shared = graph.find("volume", "shared")
    assert sorted(graph.nodes[p].id for p in graph.parents[shared]) == ["a", "b", "p"]
    assert asked.count("volume:shared") == 1
    assert graph.roots == [0]


async def test_dependents_that_were_not_selected_are_included():
    dependents, _ = fetcher({"server:a": ["volume:v1", "volume:v2"]})
    graph = await build_graph([res("server:a")], dependents)
    assert {node.id for node in graph.nodes} == {"a", "v1", "v2"}


async def test_a_selected_resource_that_is_also_a_dependent_is_not_a_root():
    dependents, _ = fetcher({"server:a": ["volume:v1"]})
    graph = await build_graph([res("volume:v1"), res("server:a")], dependents)
    assert [graph.nodes[r].id for r in graph.roots] == ["a"]


async def test_a_loop_is_an_error_that_names_the_cycle():
    dependents, _ = fetcher({"a:1": ["b:2"], "b:2": ["c:3"], "c:3": ["a:1"]})
    with pytest.raises(ResourceGraphLoop) as caught:
        await build_graph([res("a:1")], dependents)
    assert caught.value.cycle == ["a#1", "b#2", "c#3", "a#1"]
    assert "a#1 -> b#2 -> c#3 -> a#1" in str(caught.value)


async def test_a_deep_chain_does_not_hit_the_recursion_limit():
    dependents, _ = fetcher({f"n:{i}": [f"n:{i + 1}"] for i in range(5000)})
    graph = await build_graph([res("n:0")], dependents)
    assert len(graph) == 5001


def test_the_stored_format_round_trips_and_is_versioned():
    graph = ResourceGraph([res("a:1"), res("b:2")], [[1], []])
    again = ResourceGraph.decode(graph.encode())
    assert again.nodes == graph.nodes
    assert again.children == [[1], []]
    assert again.parents == [[], [0]]
    with pytest.raises(CheckpointError, match="v9 is not supported"):
        ResourceGraph.decode(graph.encode().replace(b'"v":1', b'"v":9'))


def test_a_stored_graph_with_a_cycle_or_a_dangling_child_is_refused():
    cyclic = b'{"v":1,"nodes":[{"type":"a","id":"1"},{"type":"b","id":"2"}],"children":[[1],[0]]}'
    with pytest.raises(ResourceGraphLoop):
        ResourceGraph.decode(cyclic)
    dangling = b'{"v":1,"nodes":[{"type":"a","id":"1"}],"children":[[7]]}'
    with pytest.raises(CheckpointError, match="unknown child 7"):
        ResourceGraph.decode(dangling)
