"""The seed's four orderings, checked on the events of one operation.

From the seed (``pluggable-protection-provider``), for every resource and every edge:

- a child's pre starts after each parent's pre finished;
- a resource's parallel starts after its own pre finished;
- its post starts after its own parallel finished;
- its post starts after each child's post finished.

Explicit raises, not ``assert``: the checks must hold under ``python -O`` too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from actors.wire.events import ActivityFinished, ActivityStarted, Event
from plugins.checkpoint.graph import ResourceGraph

PHASES = ("pre", "parallel", "post")


class OrderingViolation(AssertionError):
    """An activity ran out of the seed's order, twice, or never finished."""


def check_seed_orderings(graph: ResourceGraph, events: Sequence[Event], operation: str) -> None:
    """Raise OrderingViolation unless every activity ran once and in the seed's order.

    ``events`` must be in causal order (sort by ``at``). A no-op activity (one its plugin
    does not implement) publishes only its ``ActivityFinished``: it starts where it ends.
    """
    started, finished, starts = _positions(events, operation)

    def name(node: int) -> str:
        return graph.nodes[node].key

    for node in range(len(graph)):
        for phase in PHASES:
            if starts[(node, phase)] > 1:
                raise OrderingViolation(f"{operation}: {phase} of {name(node)} started "
                                        f"{starts[(node, phase)]} times")
            if (node, phase) not in finished:
                raise OrderingViolation(f"{operation}: {phase} of {name(node)} never finished")
            started.setdefault((node, phase), finished[(node, phase)])
    for node in range(len(graph)):
        if finished[(node, "pre")] > started[(node, "parallel")]:
            raise OrderingViolation(f"{operation}: parallel of {name(node)} started before "
                                    "its pre finished")
        if finished[(node, "parallel")] > started[(node, "post")]:
            raise OrderingViolation(f"{operation}: post of {name(node)} started before "
                                    "its parallel finished")
        for child in graph.children[node]:
            if finished[(node, "pre")] > started[(child, "pre")]:
                raise OrderingViolation(f"{operation}: pre of {name(child)} started before "
                                        f"the pre of its parent {name(node)} finished")
            if finished[(child, "post")] > started[(node, "post")]:
                raise OrderingViolation(f"{operation}: post of {name(node)} started before "
                                        f"the post of its child {name(child)} finished")


def _positions(events: Sequence[Event], operation: str) -> tuple[
        dict[tuple[int, str], int], dict[tuple[int, str], int], Counter[tuple[int, str]]]:
    """Where each (node, phase) last started and finished, and how often it started."""
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
    return started, finished, starts
