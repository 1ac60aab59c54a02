"""Per-resource outcome of an operation, folded from its journal."""

from __future__ import annotations

from typing import TYPE_CHECKING

from plugins.base import PHASES
from plugins.checkpoint.checkpoint import ResourceStatus
from plugins.checkpoint.journal import read_journal

if TYPE_CHECKING:
    from actors.runtime.operation_run import OperationRun

_FINISHED = {"protect": "available", "restore": "restored", "delete": "deleted"}


async def summarize(run: OperationRun) -> list[ResourceStatus]:
    """One ResourceStatus per graph node: each activity's last state and the reason."""
    activities: list[dict[str, str]] = [{} for _ in run.graph.nodes]
    reasons: list[str | None] = [None] * len(run.graph)
    abort = f"{run.operation_type}_abort"
    for entry in await read_journal(run.store.bank, run.operation_id):
        if 0 <= entry.node < len(activities):
            activities[entry.node][entry.activity] = entry.state
            if entry.reason and entry.state == "failed":
                if entry.activity != abort:
                    reasons[entry.node] = entry.reason
                elif reasons[entry.node] is None:  # the resource's own failure goes first
                    reasons[entry.node] = f"abort failed: {entry.reason}"
    names = [f"{run.operation_type}_{phase}" for phase in PHASES]
    states: list[ResourceStatus] = []
    for node, resource in enumerate(run.graph.nodes):
        # its status is what its pre, parallel and post reached; the abort is listed beside
        done = {name: state for name, state in activities[node].items() if name != abort}
        if "failed" in done.values():
            status = "error"
        elif all(done.get(name) == "done" for name in names):
            status = _FINISHED[run.operation_type]
        elif "cancelled" in done.values():
            status = "cancelled"
        else:
            status = "skipped" if done else "not_started"
        states.append(ResourceStatus(type=resource.type, id=resource.id, name=resource.name,
                                     status=status, activities=activities[node],
                                     reason=reasons[node]))
    return states
