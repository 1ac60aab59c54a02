"""The seed's ordering rules (``actors.testing.orderings``, shared with plugin packages' tests)
and the critical path of a graph."""

from __future__ import annotations

from actors.testing.orderings import check_seed_orderings
from plugins.checkpoint.graph import ResourceGraph

__all__ = ["check_seed_orderings", "critical_path", "topological"]


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
