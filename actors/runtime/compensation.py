"""Compensation: undoing a finished pre when its operation stops.

A plugin that quiesces a resource in its pre resumes it in its post. When the operation
fails or is cancelled, that post never runs, so every resource whose pre finished and
whose post did not gets ``activity_<op>_abort`` instead:

- it runs once the operation stopped the actor (the ``Cancel`` broadcast), after the
  activity that was running there has unwound;
- children before parents: an actor that needs an abort waits for ``ChildAbortDone``
  from every child; a child sends it once its own abort is over (finished, failed or
  timed out) or at once when it needs none (its pre never finished, or its post did);
- under the plugin's ``abort_timeout`` (default: its ``timeout``), in any activity shape;
- journaled as ``<op>_abort`` (``done`` or ``failed``) like any activity, so an actor
  rebuilt from the journal on another worker runs the abort still owed, and only that;
- its failure is logged, published (``ActivityFailed``), journaled and carried in the
  ``Stopped`` reply for the operation record; it never replaces the operation's first
  failure, and the other aborts still run;
- the actor replies ``Stopped`` only after its abort, so the operation ends only after
  every abort is over.

An abort runs at least once: a worker dying mid-abort means it runs again where the actor
is rebuilt. Plugins make it idempotent.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

import structlog

from actors.runtime.outbox import Outbox
from actors.runtime.recovery import ABORT_ACTIVITY, JournalSnapshot
from actors.runtime.state import ActorState
from actors.wire.events import ActivityFailed, ActivityFinished, ActivityStarted
from actors.wire.failure import FailureInfo
from actors.wire.messages import OPERATION_NODE, ChildAbortDone, Stopped
from plugins.base import Activity
from plugins.context import ActivityContext

if TYPE_CHECKING:
    from actors.runtime.host_services import HostServices
    from actors.runtime.operation_run import OperationRun

log = structlog.get_logger(__name__)


def abort_name(operation_type: str) -> str:
    """The journal and event name of an operation's abort activity (``protect_abort``)."""
    return ABORT_ACTIVITY.format(operation_type)


def needs_abort(done_phases: Collection[str]) -> bool:
    """Whether a stopped resource owes an abort: its pre finished and its post did not."""
    return "pre" in done_phases and "post" not in done_phases


def abort_settled(snapshot: JournalSnapshot, node: int) -> bool:
    """Whether the journal shows that ``node`` will never run (another) abort: it ran one,
    its post finished, or it stopped before its pre finished.

    A node that stopped is journaled (failed, cancelled, skipped) before its
    ``ChildAbortDone`` is sent, so a parent rebuilt from this snapshot waits only for
    children whose message is still to come.
    """
    history = snapshot.history(node)
    if history.abort_state is not None or snapshot.phase_done(node, "post"):
        return True
    return history.final_state is not None and not snapshot.phase_done(node, "pre")


def journaled_abort_failure(snapshot: JournalSnapshot, node: int) -> FailureInfo | None:
    """The failure of ``node``'s abort as its journal entry tells it, if it failed."""
    history = snapshot.history(node)
    if history.abort_state != "failed":
        return None
    return FailureInfo(type="AbortFailed", message=history.abort_reason or "abort failed")


class AbortingActor:
    """The abort side of ``ResourceActor`` (its base; the attributes are the actor's).

    The slots the abort side assigns are declared here, the actor's others in the actor.
    """

    __slots__ = ("_abort_failure", "_children_aborted", "_done_at", "_done_phases", "_task",
                 "state")

    host: HostServices
    run: OperationRun
    node: int
    state: ActorState
    _task: asyncio.Task[None] | None
    _done_at: float
    _done_phases: set[str]
    _children_aborted: set[int]
    _abort_failure: FailureInfo | None

    def _enter(self, target: ActorState) -> None:
        raise NotImplementedError

    def _event_fields(self, activity: str) -> dict[str, Any]:
        raise NotImplementedError

    async def _flush(self, outbox: Outbox) -> None:
        raise NotImplementedError

    # -- the actor stopped ------------------------------------------------------------

    def _settle_stop(self, outbox: Outbox) -> None:
        """The actor stopped (failed, cancelled or skipped after the stop broadcast, or
        done): abort its pre if it owes that, else say at once that it is over."""
        if needs_abort(self._done_phases):
            self._enter(ActorState.WAITING_ABORTS)
            if self._all_children_aborted():
                self._start_abort(outbox)
        else:
            self._report_stopped(outbox)

    def _child_aborted(self, sender: int, outbox: Outbox) -> None:
        self._children_aborted.add(sender)
        if self.state is ActorState.WAITING_ABORTS and self._all_children_aborted():
            self._start_abort(outbox)

    def _all_children_aborted(self) -> bool:
        return len(self._children_aborted) >= len(self.run.graph.children[self.node])

    def _report_stopped(self, outbox: Outbox) -> None:
        """Tell the parents our abort is over (or none was owed), and the operation that
        we stopped. Sent again on a repeated Cancel: receivers keep sets of senders."""
        operation_id = self.run.operation_id
        for parent in self.run.graph.parents[self.node]:
            outbox.send(ChildAbortDone(operation_id=operation_id, to=parent, sender=self.node))
        outbox.send(Stopped(operation_id=operation_id, to=OPERATION_NODE, sender=self.node,
                            state=self.state.value, abort_failure=self._abort_failure))

    # -- the abort --------------------------------------------------------------------

    def _start_abort(self, outbox: Outbox) -> None:
        self._enter(ActorState.ABORTING)
        run = self.run
        name = abort_name(run.operation_type)
        activity = run.plugins[self.node].abort_activity(run.operation_type)
        if activity is None:  # a no-op, but it still waited for the children's aborts
            self._done_at = time.time()
            run.journal.append(self.node, name, "done")
            self._finish_abort(None, outbox)
            return
        outbox.event(ActivityStarted(**self._event_fields(name)))
        self._task = asyncio.create_task(
            self._run_abort(activity), name=f"{run.operation_id}:{self.node}:abort")

    async def _run_abort(self, activity: Activity) -> None:
        # a CancelledError here is the host letting go of the actor (shutdown, or its
        # mailbox moved): nothing is journaled, so whoever rebuilds it runs the abort again
        failure = await run_abort(self.host, self.run, self.node, activity,
                                  self._event_fields(abort_name(self.run.operation_type)))
        self._done_at = time.time()
        outbox = Outbox()
        self._finish_abort(failure, outbox)
        await self._flush(outbox)

    def _finish_abort(self, failure: FailureInfo | None, outbox: Outbox) -> None:
        name = abort_name(self.run.operation_type)
        self._abort_failure = failure
        if failure is None:
            self._enter(ActorState.ABORTED)
            outbox.event(ActivityFinished(**self._event_fields(name), at=self._done_at))
        else:
            self._enter(ActorState.ABORT_FAILED)
            outbox.event(ActivityFailed(**self._event_fields(name), failure=failure))
        self._report_stopped(outbox)

    # -- rebuilt from the journal -----------------------------------------------------

    def _recover_abort(self, snapshot: JournalSnapshot) -> bool:
        """Take what the journal says of our abort and our children's; return whether our
        abort is already over (the actor then only reports, it runs nothing)."""
        graph, node = self.run.graph, self.node
        self._children_aborted = {c for c in graph.children[node] if abort_settled(snapshot, c)}
        history = snapshot.history(node)
        if history.abort_state is None:
            return False
        self._abort_failure = journaled_abort_failure(snapshot, node)
        self.state = (ActorState.ABORTED if self._abort_failure is None
                      else ActorState.ABORT_FAILED)
        return True


async def run_abort(host: HostServices, run: OperationRun, node: int, activity: Activity,
                    fields: dict[str, Any]) -> FailureInfo | None:
    """Run one abort activity to its end under the plugin's abort timeout and journal it;
    return its failure (raised, timed out, or not journaled), or None."""
    resource = run.graph.nodes[node]
    plugin = run.plugins[node]
    name = abort_name(run.operation_type)
    progress = host.progress_reporter(fields)
    context = ActivityContext(operation_id=run.operation_id,
                              operation_type=run.operation_type, activity=name,
                              request=run.request, progress=progress)
    log.info("abort_started", operation_id=run.operation_id, resource=resource.key,
             activity=name, worker=host.worker_id)
    try:
        if run.checkpoint is None:  # opened by the operation actor on another worker
            run.checkpoint = await run.store.open(
                run.checkpoint_id, operation_id=run.operation_id,
                writable=run.operation_type != "restore")
        async with host.plugin_slots(plugin), host.activity_slots:
            await host.runner.run(
                activity, (run.checkpoint, context, resource, run.parameters[node]),
                timeout=plugin.abort_timeout, poll_interval=plugin.poll_interval,
                label=f"{name} of {resource.key}")
        progress.finish()
        await run.journal.record(node, name, "done")
    except Exception as error:
        failure = FailureInfo.from_exception(error)
        log.error("abort_failed", operation_id=run.operation_id, resource=resource.key,
                  activity=name, error=failure.summary(), traceback=failure.traceback)
        run.journal.append(node, name, "failed", failure.summary())
        return failure
    log.info("abort_finished", operation_id=run.operation_id, resource=resource.key,
             activity=name)
    return None
