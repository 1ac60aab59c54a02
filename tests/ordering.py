"""The seed's ordering rules, checked on a transcript of events."""

from __future__ import annotations

from collections import Counter

from actors.wire.events import ActivityFinished, ActivityStarted, Event
from plugins.checkpoint.graph import ResourceGraph


def check_seed_orderings(graph: ResourceGraph, events: list[Event], operation: str) -> None:
    """Assert the four orderings on every edge and resource, and one run per activity.

    A no-op activity (one its plugin does not implement) publishes only its
    ``ActivityFinished``: it starts where it finishes.

    - a child's pre starts after each parent's pre finished;
    - a resource's parallel starts after its own pre finished;
    - its post starts after its own parallel finished;
    - its post starts after each child's post finished.
    """
    started: dict[tuple[int, str], int] = {}
    finished: dict[tuple[int, str], int] = {}
    starts: Counter[tuple[int, str]] = Counter()
    for position, event in enumerate(events):
        if isinstance(event, ActivityStarted):
            phase = event.activity.removeprefix(f"{operation}_")
            started[(event.node, phase)] = position
            starts[(event.node, phase)] += 1
        elif isinstance(event, ActivityFinished):
            finished[(event.node, event.activity.removeprefix(f"{operation}_"))] = position
    for node in range(len(graph)):
        for phase in ("pre", "parallel", "post"):
            assert starts[(node, phase)] <= 1, (
                f"node {node} {phase} started {starts[(node, phase)]}x"
            )
            assert (node, phase) in finished, f"node {node} {phase} never finished"
            started.setdefault((node, phase), finished[(node, phase)])
    for node in range(len(graph)):
        assert finished[(node, "pre")] < started[(node, "parallel")], f"node {node}: pre/parallel"
        assert finished[(node, "parallel")] < started[(node, "post")], f"node {node}: parallel/post"
        for child in graph.children[node]:
            assert finished[(node, "pre")] < started[(child, "pre")], f"edge {node}->{child}: pre"
            assert finished[(child, "post")] < started[(node, "post")], (
                f"edge {node}->{child}: post"
            )


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
