"""The aborts still owed by an operation that is ended from outside its actors.

An operation the reaper ends (its checkpoint lease lapsed, or it outlived its deadline by
a lease period) has no actors left to run compensation (``actors.runtime.compensation``):
their workers died, or let go of it. Its journal still says which resources were
quiesced: those whose pre finished, whose post did not, and whose abort has no entry. The
worker that ends the operation runs those aborts itself, as the actors would have:

- children before parents: a resource's abort starts when every child's is over (run,
  failed, timed out, or not owed); independent resources run side by side;
- each through ``compensation.run_abort``: under its plugin's ``abort_timeout``, journaled
  as ``<op>_abort`` (``done`` or ``failed``), published as ``ActivityStarted`` /
  ``ActivityFinished`` / ``ActivityFailed`` in the states ``aborting``, ``aborted``,
  ``abort_failed``;
- a failure is returned as a line for the operation's ``abort_failures``; it never becomes
  the operation's error, and the other aborts still run.

Like every abort it runs at least once: an abort that was running on a worker that died
has no entry, so it runs again here.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import structlog

from actors.runtime.compensation import abort_name, journaled_abort_failure, needs_abort, run_abort
from actors.runtime.recovery import JournalSnapshot, take_snapshot
from actors.runtime.state import ActorState
from actors.wire.events import ActivityFailed, ActivityFinished, ActivityStarted
from actors.wire.failure import FailureInfo
from plugins.base import PHASES

if TYPE_CHECKING:
    from actors.runtime.host_services import HostServices
    from actors.runtime.operation_run import OperationRun

log = structlog.get_logger(__name__)


def owes_abort(snapshot: JournalSnapshot, node: int) -> bool:
    """Whether ``node`` owes an abort that nobody ran: its pre finished, its post did not,
    and its journal has no abort entry."""
    done = {phase for phase in PHASES if snapshot.phase_done(node, phase)}
    return needs_abort(done) and snapshot.history(node).abort_state is None


async def run_owed_aborts(host: HostServices, run: OperationRun) -> list[str]:
    """Run every abort ``run``'s journal says is owed, children before parents, and wait
    for the journal to hold them; return the operation's abort failures as
    ``<type>#<id>: <error>`` lines (those journaled before included)."""
    snapshot = await take_snapshot(run.store.bank, run.operation_id, run.operation_type)
    graph = run.graph
    failures: dict[int, FailureInfo] = {}
    for node in range(len(graph)):
        journaled = journaled_abort_failure(snapshot, node)
        if journaled is not None:
            failures[node] = journaled
    over = [asyncio.Event() for _ in range(len(graph))]

    async def settle(node: int) -> None:
        try:
            for child in graph.children[node]:
                await over[child].wait()
            if owes_abort(snapshot, node):
                failure = await _abort(host, run, node)
                if failure is not None:
                    failures[node] = failure
        finally:
            over[node].set()

    owed = sum(owes_abort(snapshot, node) for node in range(len(graph)))
    if owed:
        log.warning("owed_aborts_started", operation_id=run.operation_id, aborts=owed,
                    worker=host.worker_id)
    async with asyncio.TaskGroup() as group:
        for node in range(len(graph)):
            group.create_task(settle(node), name=f"{run.operation_id}:{node}:owed-abort")
    await run.journal.sync()
    return [f"{graph.nodes[node].key}: {failure.summary()}"
            for node, failure in sorted(failures.items())]


async def _abort(host: HostServices, run: OperationRun, node: int) -> FailureInfo | None:
    name = abort_name(run.operation_type)
    activity = run.plugins[node].abort_activity(run.operation_type)
    if activity is None:  # a no-op: journaled, as the actor journals it
        run.journal.append(node, name, "done")
        return None
    await host.transport.publish(ActivityStarted(**_fields(host, run, node,
                                                           ActorState.ABORTING)))
    failure = await run_abort(host, run, node, activity,
                              _fields(host, run, node, ActorState.ABORTING))
    if failure is None:
        await host.transport.publish(ActivityFinished(**_fields(host, run, node,
                                                                ActorState.ABORTED)))
    else:
        await host.transport.publish(ActivityFailed(**_fields(host, run, node,
                                                              ActorState.ABORT_FAILED),
                                                    failure=failure))
    return failure


def _fields(host: HostServices, run: OperationRun, node: int,
            state: ActorState) -> dict[str, Any]:
    """An abort's event fields, as its resource actor would have published them."""
    resource = run.graph.nodes[node]
    return {"operation_id": run.operation_id, "node": node, "resource_type": resource.type,
            "resource_id": resource.id, "resource_name": resource.name,
            "activity": abort_name(run.operation_type), "state": state.value,
            "worker": host.worker_id}
