"""The resource actor: one per resource per operation.

It follows the seed's ordering and nothing else:

- its pre starts when every parent finished its pre (roots: when the operation opened);
- its parallel starts when its own pre finished;
- its post starts when its own parallel finished *and* every child finished its post;
- when its post finished it tells its parents (roots tell the operation).

It learns all of this from messages only. See ``actors.runtime.state`` for the states.
State changes happen synchronously between awaits; the messages and events a change
produces are collected in an ``Outbox`` and sent afterwards, so a message handled while
an activity's completion is being sent always sees a consistent state.

On a durable transport (RabbitMQ) a message is only sent once the journal entry that
justifies it is stored, and ``handle`` returns a settlement that completes when the
activity it started has finished and been journaled: only then is the triggering message
acked. An actor whose mailbox moved here from a dead worker is rebuilt from the journal
(``recover``) and re-runs the activity that had not finished.

When the operation stops it, an actor whose pre finished and whose post did not runs its
plugin's abort, after its children's (``actors.runtime.compensation``), and only then
replies ``Stopped``.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

import structlog

from actors.runtime.activity_metrics import measured_activity
from actors.runtime.compensation import AbortingActor
from actors.runtime.outbox import Outbox
from actors.runtime.state import FINAL_STATES, RUNNING_STATES, ActorState, check_transition
from actors.transport.base import Settlement
from actors.wire.events import (
    ActivityFailed,
    ActivityFinished,
    ActivityStarted,
    ResourceStopped,
)
from actors.wire.failure import FailureInfo
from actors.wire.messages import (
    OPERATION_NODE,
    Cancel,
    ChildAbortDone,
    ChildPostDone,
    Failed,
    Message,
    ParentPreDone,
)
from plugins.base import Activity, Phase
from plugins.context import CURRENT_REQUEST, ActivityContext

if TYPE_CHECKING:
    from actors.runtime.host_services import HostServices
    from actors.runtime.operation_run import OperationRun
    from actors.runtime.recovery import JournalSnapshot, NodeHistory

log = structlog.get_logger(__name__)

_NEXT_PHASE: dict[Phase, Phase | None] = {"pre": "parallel", "parallel": "post", "post": None}
_PHASE_STATE: dict[Phase, ActorState] = {
    "pre": ActorState.PRE,
    "parallel": ActorState.PARALLEL,
    "post": ActorState.POST,
}
_PHASE_OF_STATE: dict[ActorState, Phase] = {state: phase for phase, state in _PHASE_STATE.items()}


class ResourceActor(AbortingActor):
    """Drives one resource through pre, parallel and post (and its abort, on a stop)."""

    __slots__ = (
        "_children_done",
        "_context",
        "_parents_done",
        "_stop_reason",
        "host",
        "node",
        "parallel_finished",
        "run",
    )

    def __init__(self, host: HostServices, run: OperationRun, node: int) -> None:
        self.host = host
        self.run = run
        self.node = node
        self.state = ActorState.WAITING
        self.parallel_finished = False
        self._parents_done: set[int] = set()
        self._children_done: set[int] = set()
        self._task: asyncio.Task[None] | None = None
        self._context: ActivityContext | None = None
        self._stop_reason: str | None = None
        self._done_at = 0.0
        self._done_phases: set[str] = set()  # phases whose activity is journaled done
        self._children_aborted: set[int] = set()
        self._abort_failure: FailureInfo | None = None

    # -- messages ---------------------------------------------------------------------

    async def handle(self, message: Message) -> Settlement:
        """Apply one message; duplicates (redeliveries) change nothing."""
        outbox = Outbox()
        match message:
            case ParentPreDone(sender=sender):
                self._parents_done.add(sender)
                if self.state is ActorState.WAITING and self._all_parents_done():
                    self._start_phase("pre", outbox)
            case ChildPostDone(sender=sender):
                self._children_done.add(sender)
                if self.state is ActorState.WAITING_CHILDREN and self._all_children_done():
                    self._start_phase("post", outbox)
            case Cancel(reason=reason):
                self._stop(reason, outbox)
            case ChildAbortDone(sender=sender):
                self._child_aborted(sender, outbox)
            case _:
                log.warning("unexpected_message", kind=type(message).__name__, node=self.node)
        return await self.dispatch(outbox)

    async def dispatch(self, outbox: Outbox) -> Settlement:
        """Send what a state change produced; on a durable transport, return what must
        finish before the triggering message is acked."""
        if not self.host.durable:
            await outbox.flush(self.host.transport)
            return None
        sending: asyncio.Task[None] | None = None
        if outbox.messages or outbox.events:
            sending = asyncio.create_task(self._flush(outbox))
        if sending is None and not self._busy():
            return None
        return asyncio.ensure_future(self._settled(sending))

    async def _flush(self, outbox: Outbox) -> None:
        if self.host.durable and outbox.messages:
            try:  # the entries that justify these messages go first (see module docstring)
                await self.run.journal.sync()
            except Exception as error:  # the bank is failing: sending still lets it end
                log.error("journal_sync_failed", operation_id=self.run.operation_id,
                          node=self.node, error=str(error))
        await outbox.flush(self.host.transport)

    def _busy(self) -> bool:
        return self._task is not None and not self._task.done()

    async def _settled(self, sending: asyncio.Task[None] | None) -> None:
        if sending is not None:
            await sending
        while (task := self._task) is not None and not task.done():
            await asyncio.wait({task})  # the next phase's task replaces it as this one ends
        await self.run.journal.sync()

    # -- recovery ---------------------------------------------------------------------

    def recover(self, snapshot: JournalSnapshot, outbox: Outbox) -> None:
        """Take the state the journal records, then go on from there.

        Called once, on a fresh actor, before its first message: the activity that was
        running when its previous worker died has no ``done`` entry and runs again.
        """
        graph, node = self.run.graph, self.node
        parents = graph.parents[node]
        if parents:
            self._parents_done = {p for p in parents if snapshot.phase_done(p, "pre")}
        elif snapshot.opened:
            self._parents_done = {OPERATION_NODE}
        self._children_done = {c for c in graph.children[node] if snapshot.phase_done(c, "post")}
        history = snapshot.history(node)
        pre_done = snapshot.phase_done(node, "pre")
        self._done_phases = {p for p in _NEXT_PHASE if snapshot.phase_done(node, p)}
        self._resend_completions(snapshot, outbox)
        abort_over = self._recover_abort(snapshot)
        if history.final_state is not None or abort_over:
            self._recover_stopped(history, abort_over, outbox)
            return
        if snapshot.phase_done(node, "post"):
            self.state = ActorState.DONE
        elif snapshot.phase_done(node, "parallel") or (pre_done and snapshot.stopping):
            self.state = ActorState.WAITING_CHILDREN
            self.parallel_finished = snapshot.phase_done(node, "parallel")
        elif pre_done:
            self.state = ActorState.PRE  # its parallel was interrupted: run it again
        if snapshot.stopping:
            # the stop broadcast may have been consumed by the worker that died
            self._stop(snapshot.cancel_reason or "stopped after a failure", outbox)
        elif self.state is ActorState.PRE:
            self._start_phase("parallel", outbox)
        elif self.state is ActorState.WAITING and self._all_parents_done():
            self._start_phase("pre", outbox)
        elif self.state is ActorState.WAITING_CHILDREN and self._all_children_done():
            self._start_phase("post", outbox)

    def _recover_stopped(self, history: NodeHistory, abort_over: bool, outbox: Outbox) -> None:
        """The journal says we stopped: report it, after the abort we still owe, if any."""
        if history.final_state is not None and not abort_over:
            self.state = ActorState(history.final_state)
        self._stop_reason = history.reason or history.final_state or "stopped"
        if history.final_state == ActorState.FAILED:
            outbox.send(Failed(
                operation_id=self.run.operation_id, to=OPERATION_NODE, sender=self.node,
                activity=self._activity_name("pre"),
                failure=FailureInfo(type="ActivityFailed", message=self._stop_reason)))
        if abort_over:
            self._report_stopped(outbox)
        else:
            self._settle_stop(outbox)  # runs the abort it still owes, if any

    def abandon(self) -> None:
        """Cancel the running activity without a word to anyone: this worker lost the
        actor's mailbox, and whoever holds it now rebuilds the actor from the journal."""
        if self._task is not None and not self._task.done():
            self._task.cancel()

    def _resend_completions(self, snapshot: JournalSnapshot, outbox: Outbox) -> None:
        """The worker that journaled our progress may have died before sending what
        follows from it: send it again (receivers keep sets of senders, so duplicates are
        harmless)."""
        graph, node = self.run.graph, self.node
        if snapshot.phase_done(node, "pre"):
            for child in graph.children[node]:
                outbox.send(ParentPreDone(operation_id=self.run.operation_id, to=child,
                                          sender=node))
        if snapshot.phase_done(node, "post"):
            for parent in graph.parents[node] or [OPERATION_NODE]:
                outbox.send(ChildPostDone(operation_id=self.run.operation_id, to=parent,
                                          sender=node))

    def _all_parents_done(self) -> bool:
        parents = self.run.graph.parents[self.node]
        return len(self._parents_done) >= (len(parents) or 1)

    def _all_children_done(self) -> bool:
        return len(self._children_done) >= len(self.run.graph.children[self.node])

    # -- transitions ------------------------------------------------------------------

    def _enter(self, target: ActorState) -> None:
        check_transition(self.state, target, self.run.graph.nodes[self.node].key)
        self.state = target

    def _event_fields(self, activity: str) -> dict[str, Any]:
        resource = self.run.graph.nodes[self.node]
        return {
            "operation_id": self.run.operation_id,
            "node": self.node,
            "resource_type": resource.type,
            "resource_id": resource.id,
            "resource_name": resource.name,
            "activity": activity,
            "state": self.state.value,
            "worker": self.host.worker_id,
        }

    def _activity_name(self, phase: Phase) -> str:
        return f"{self.run.operation_type}_{phase}"

    def _start_phase(self, phase: Phase, outbox: Outbox) -> None:
        """Enter ``phase``; run its activity, or finish it at once when it is a no-op."""
        self._enter(_PHASE_STATE[phase])
        name = self._activity_name(phase)
        activity = self.run.plugins[self.node].activity(self.run.operation_type, phase)
        if activity is None:
            # stamped before the journal entry: an actor rebuilt from that entry elsewhere
            # starts later than this event says the activity finished
            self._done_at = time.time()
            self.run.journal.append(self.node, name, "done")
            self._done_phases.add(phase)
            self._finish_phase(phase, outbox)
            return
        outbox.event(ActivityStarted(**self._event_fields(name)))
        self._task = asyncio.create_task(
            self._run_activity(phase, activity), name=f"{self.run.operation_id}:{self.node}:{phase}"
        )

    def _finished(self, phase: Phase) -> ActivityFinished:
        return ActivityFinished(**self._event_fields(self._activity_name(phase)), at=self._done_at)

    def _finish_phase(self, phase: Phase, outbox: Outbox) -> None:
        graph = self.run.graph
        if phase == "pre":
            for child in graph.children[self.node]:
                outbox.send(
                    ParentPreDone(operation_id=self.run.operation_id, to=child, sender=self.node)
                )
            outbox.event(self._finished(phase))
            self._start_phase("parallel", outbox)
        elif phase == "parallel":
            self.parallel_finished = True
            if self._all_children_done():
                outbox.event(self._finished(phase))
                self._start_phase("post", outbox)
            else:
                self._enter(ActorState.WAITING_CHILDREN)
                outbox.event(self._finished(phase))
        else:
            self._enter(ActorState.DONE)
            outbox.event(self._finished(phase))
            parents = graph.parents[self.node] or [OPERATION_NODE]
            for parent in parents:
                outbox.send(
                    ChildPostDone(operation_id=self.run.operation_id, to=parent, sender=self.node)
                )

    # -- activities -------------------------------------------------------------------

    async def _run_activity(self, phase: Phase, activity: Activity) -> None:
        run = self.run
        resource = run.graph.nodes[self.node]
        plugin = run.plugins[self.node]
        name = self._activity_name(phase)
        progress = self.host.progress_reporter(self._event_fields(name))
        context = ActivityContext(
            operation_id=run.operation_id,
            operation_type=run.operation_type,
            activity=name,
            request=run.request,
            progress=progress,
        )
        self._context = context
        outbox = Outbox()
        try:
            if self._stop_reason is not None:
                raise asyncio.CancelledError  # stopped before it began
            if run.checkpoint is None:  # opened by the operation actor on another worker
                run.checkpoint = await run.store.open(
                    run.checkpoint_id, operation_id=run.operation_id,
                    writable=run.operation_type != "restore")
            # the plugin's own limit first: waiting for it must not hold a worker slot
            async with self.host.plugin_slots(plugin), self.host.activity_slots:
                CURRENT_REQUEST.set(run.request)  # this task's context: its own activity
                with measured_activity(plugin, name, progress, run.operation_type):
                    await self.host.runner.run(
                        activity,
                        (run.checkpoint, context, resource, run.parameters[self.node]),
                        timeout=plugin.timeout,
                        poll_interval=plugin.poll_interval,
                        label=f"{name} of {resource.key}",
                    )
            progress.finish()
            # the plugin's activity returned (a pre quiesced): owed an abort from now on,
            # even if a stop cancels us while the entry is being written
            self._done_phases.add(phase)
            self._done_at = time.time()
            await run.journal.record(self.node, name, "done")
        except asyncio.CancelledError:
            if self._stop_reason is None:
                raise  # the host is shutting down, not a stop of this operation
            self._enter(ActorState.CANCELLED)
            if phase in self._done_phases:  # it returned; only its entry was still in flight
                outbox.event(self._finished(phase))
            run.journal.append(self.node, name, "cancelled", self._stop_reason)
            outbox.event(ResourceStopped(**self._event_fields(name), reason=self._stop_reason))
            self._settle_stop(outbox)
        except Exception as error:
            self._fail(phase, error, outbox)
        else:
            if self._stop_reason is not None:
                # finished just as the stop arrived: it is recorded done, but we go no further
                self._enter(ActorState.CANCELLED)
                outbox.event(self._finished(phase))
                outbox.event(ResourceStopped(**self._event_fields(name), reason=self._stop_reason))
                self._settle_stop(outbox)
            else:
                self._finish_phase(phase, outbox)
        finally:
            self._context = None
        await self._flush(outbox)

    def _fail(self, phase: Phase, error: Exception, outbox: Outbox) -> None:
        failure = FailureInfo.from_exception(error)
        resource = self.run.graph.nodes[self.node]
        log.error(
            "activity_failed",
            operation_id=self.run.operation_id,
            resource=resource.key,
            activity=self._activity_name(phase),
            error=failure.summary(),
            traceback=failure.traceback,
        )
        self._enter(ActorState.FAILED)
        name = self._activity_name(phase)
        outbox.event(ActivityFailed(**self._event_fields(name), failure=failure))
        outbox.send(
            Failed(
                operation_id=self.run.operation_id,
                to=OPERATION_NODE,
                sender=self.node,
                activity=name,
                failure=failure,
            )
        )
        self.run.journal.append(self.node, name, "failed", failure.summary())
        if self._stop_reason is not None:
            self._settle_stop(outbox)

    # -- stopping ---------------------------------------------------------------------

    def _stop(self, reason: str, outbox: Outbox) -> None:
        if self._stop_reason is not None:
            if self.state in FINAL_STATES:
                # a repeated Cancel: the operation actor may have been rebuilt elsewhere
                # and be counting replies afresh (an abort under way replies when over)
                self._report_stopped(outbox)
            return
        self._stop_reason = reason
        if self.state in FINAL_STATES:
            self._settle_stop(outbox)  # done, or failed before the stop: maybe its abort
        elif self.state in RUNNING_STATES and self._task is not None and not self._task.done():
            self._task.cancel()
            if self._context is not None:
                self._context.cancelled.set()  # the task settles the stop when it has unwound
            else:
                # its task has not taken its first step (the activity never began): it dies
                # without running a line, so nobody else would settle the stop
                name = self._activity_name(_PHASE_OF_STATE[self.state])
                self._enter(ActorState.CANCELLED)
                self.run.journal.append(self.node, name, "cancelled", reason)
                outbox.event(ResourceStopped(**self._event_fields(name), reason=reason))
                self._settle_stop(outbox)
        else:
            self._enter(ActorState.SKIPPED)
            self.run.journal.append(self.node, self._activity_name("post"), "skipped", reason)
            outbox.event(
                ResourceStopped(**self._event_fields(self._activity_name("post")), reason=reason)
            )
            self._settle_stop(outbox)
