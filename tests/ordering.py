"""The seed's ordering rules (``actors.testing.orderings``, shared with plugin packages' tests)
and the critical path of a graph."""

from __future__ import annotations

from collections import Counter

from actors.testing.orderings import check_seed_orderings
from actors.wire.events import ActivityFailed, ActivityFinished, ActivityStarted, Event
from plugins.checkpoint.graph import ResourceGraph

__all__ = ["check_seed_orderings", "critical_path", "topological"]


def check_compensation(graph: ResourceGraph, events: list[Event], operation: str) -> set[int]:
    """Assert the aborts of a stopped operation on a transcript; return the aborted nodes.

    - exactly the resources whose pre finished and whose post did not are aborted, once;
    - a parent's abort starts after each aborted child's abort ended (finished or failed).

    A no-op abort publishes only its ``ActivityFinished``: it starts where it ends.
    """
    abort = f"{operation}_abort"
    finished: dict[tuple[int, str], int] = {}
    abort_started: dict[int, int] = {}
    abort_ended: dict[int, int] = {}
    ends: Counter[int] = Counter()
    for position, event in enumerate(events):
        if isinstance(event, ActivityStarted) and event.activity == abort:
            assert event.node not in abort_started, f"node {event.node}: abort started twice"
            abort_started[event.node] = position
        elif isinstance(event, ActivityFinished | ActivityFailed) and event.activity == abort:
            abort_ended[event.node] = position
            ends[event.node] += 1
        elif isinstance(event, ActivityFinished):
            finished[(event.node, event.activity.removeprefix(f"{operation}_"))] = position
    owed = {n for n in range(len(graph)) if (n, "pre") in finished and (n, "post") not in finished}
    assert set(abort_ended) == owed, f"aborted {sorted(abort_ended)}, owed {sorted(owed)}"
    assert set(ends.values()) <= {1}, f"aborts ended more than once: {ends}"
    for node in owed:
        started = abort_started.get(node, abort_ended[node])
        assert all(finished[(node, p)] < started for p in ("pre",)), f"node {node}: pre/abort"
        for child in graph.children[node]:
            if child in owed:
                assert abort_ended[child] < started, f"edge {node}->{child}: abort"
    return owed


def critical_path(graph: ResourceGraph, duration: float) -> float:
    """The shortest possible run time when every activity takes ``duration``."""
    order = topological(graph)
    pre_end = [0.0] * len(graph)
    for node in order:
        parents = graph.parents[node]
        pre_end[node] = max((pre_end[p] for p in parents), default=0.0) + duration
    post_end = [0.0] * len(graph)
    for node in reversed(order):
        ready = max([pre_end[node] + duration] + [post_end[c] for c in graph.children[node]])
        post_end[node] = ready + duration
    return max(post_end, default=0.0)


def topological(graph: ResourceGraph) -> list[int]:
    """Parents before children."""
    pending = [len(p) for p in graph.parents]
    ready = [n for n, count in enumerate(pending) if count == 0]
    order: list[int] = []
    while ready:
        node = ready.pop()
        order.append(node)
        for child in graph.children[node]:
            pending[child] -= 1
            if pending[child] == 0:
                ready.append(child)
    return order
