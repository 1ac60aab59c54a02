"""The operation actor: the virtual parent of every root.

    created ──Start──▶ opening ──▶ running ──all roots' post──▶ sealing ──▶ succeeded
                         │            │                            │
                         │            └─Failed / Cancel─▶ stopping ┴─all Stopped─▶ failed
                         └──────────────(open failed)─────────────────────────────▶ failed

Its pre opens the checkpoint (protect: takes its lease, waits while a garbage collection
of the bank runs, then creates it; delete: marks it ``deleting``) and releases the roots;
its post seals the checkpoint (protect: ``available``; delete: data purged, ``deleted``).
On the first failure it stops every actor, waits until each has replied, and ends the
checkpoint in ``error`` naming the first failing resource. A cancel takes the same road
with the reason ``cancelled``, and so does the operation's deadline passing, with the reason
``deadline exceeded`` (the host sends that ``Cancel``: ``ActorHost``); the CLI cancels with
``interrupted`` (Ctrl-C) or ``output closed`` (its output pipe broke).

A restore's pre first lets each plugin check the restore of all its resources
(``ProtectionPlugin.check_restore``: a directory root's clashes, say) before any resource
is released, so a restore refused for one resource writes nothing for the others; its end
(``OperationFinished.restored``) says where each restored resource went.

A verify changes no checkpoint and takes no lease; a resource that fails it stops no
other (``FAILURES_STOP_NOTHING``): the operation seals once every resource is checked or
failed, and ends ``failed`` naming each bad one (``actors.runtime.verification_outcome``).

The checkpoint lease is owned by the operation, not by a worker: every worker that holds
live actors of the operation renews it (``ActorHost``), so the lease lapses only when no
worker carries the operation on, and a worker that takes over simply goes on renewing.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from enum import StrEnum
from typing import TYPE_CHECKING

import structlog

from actors.errors import OperationCancelled
from actors.runtime.operation_end import DEADLINE_EXCEEDED, lease_owner
from actors.runtime.outbox import Outbox
from actors.runtime.recovery import CANCEL_REQUESTED, FAILURES_STOP_NOTHING, OPENED, JournalSnapshot
from actors.runtime.resource_status import summarize
from actors.runtime.restore_check import check_restore
from actors.runtime.verification_outcome import verification_outcome
from actors.transport.base import Settlement
from actors.wire.events import OperationFinished, OperationStarted
from actors.wire.failure import FailureInfo
from actors.wire.messages import (
    OPERATION_NODE,
    Cancel,
    ChildPostDone,
    Failed,
    Message,
    ParentPreDone,
    Start,
    Stopped,
)
from banks import metrics
from banks.chunks.collection_lease import wait_while_collecting
from plugins.checkpoint.checkpoint import CheckpointStatus, checkpoint_lease_key
from plugins.checkpoint.operation_deadline import remove_deadline
from plugins.checkpoint.operation_record import OperationRecord, write_operation_record
from plugins.errors import CheckpointError, CheckpointNotFound

if TYPE_CHECKING:
    from actors.runtime.host_services import HostServices
    from actors.runtime.operation_run import OperationRun
    from plugins.checkpoint.checkpoint import Checkpoint

log = structlog.get_logger(__name__)

CANCELLED_REASON = "cancelled"
STOPPED_REASON = "stopped after a failure"


class OperationState(StrEnum):
    """Where the operation actor is."""

    CREATED = "created"
    OPENING = "opening"
    RUNNING = "running"
    SEALING = "sealing"
    STOPPING = "stopping"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class OperationActor:
    """Opens, releases, seals or stops one operation."""

    def __init__(self, host: HostServices, run: OperationRun) -> None:
        self.host = host
        self.run = run
        self.state = OperationState.CREATED
        self._roots_done: set[int] = set()
        self._stopped: set[int] = set()
        self._error: FailureInfo | None = None
        self._error_resource: str | None = None
        # resources that failed without stopping the operation (a verify's bad ones)
        self._failures: dict[int, FailureInfo] = {}
        # aborts that failed while it stopped (never the operation's error: that stays first)
        self._abort_failures: dict[int, FailureInfo] = {}
        self._cancel_requested = False
        self._cancel_reason = CANCELLED_REASON  # or DEADLINE_EXCEEDED
        self._holds_lease = False
        self._task: asyncio.Task[None] | None = None

    @property
    def live(self) -> bool:
        """Whether this worker is driving the operation (opened it or took it over)."""
        return self.state not in (OperationState.CREATED, OperationState.SUCCEEDED,
                                  OperationState.FAILED, OperationState.CANCELLED)

    def abandon(self) -> None:
        """Cancel what is running (open, seal), as for a resource actor's ``abandon``."""
        if self._task is not None and not self._task.done():
            self._task.cancel()

    async def handle(self, message: Message) -> Settlement:
        """Apply one message to the operation."""
        outbox = Outbox()
        match message:
            case Start():
                if self.state is OperationState.CREATED:
                    self.state = OperationState.OPENING
                    self._task = asyncio.create_task(self._open())
            case ChildPostDone(sender=sender):
                self._root_finished(sender)
            case Failed(sender=sender, failure=failure) if self._failures_stop_nothing:
                self._failures[sender] = failure
                self._root_finished(sender)  # its graph has no edges: every node is a root
            case Failed(sender=sender, failure=failure):
                if self._error is None:
                    self._error = failure
                    self._error_resource = self.run.graph.nodes[sender].key
                self._begin_stop(outbox)
            case Cancel(reason=reason):
                if not self._cancel_requested:
                    self._cancel_requested = True
                    self._cancel_reason = reason or CANCELLED_REASON
                    self.run.journal.append(OPERATION_NODE, CANCEL_REQUESTED, "cancelled",
                                            self._cancel_reason)
                if self._error is None:
                    self._error = _cancel_failure(self._cancel_reason)
                self._begin_stop(outbox)
            case Stopped(sender=sender, abort_failure=abort_failure):
                self._actor_stopped(sender, abort_failure)
            case _:
                log.warning("unexpected_message", kind=type(message).__name__)
        return await self.dispatch(outbox)

    def _actor_stopped(self, node: int, abort_failure: FailureInfo | None) -> None:
        """A resource stopped, its abort (if it owed one) over: the last one ends us."""
        self._stopped.add(node)
        if abort_failure is not None:
            self._abort_failures[node] = abort_failure
        if self.state is OperationState.STOPPING and self._all_stopped():
            self.state = OperationState.SEALING
            self._task = asyncio.create_task(self._finish_failed())

    @property
    def _failures_stop_nothing(self) -> bool:
        return self.run.operation_type in FAILURES_STOP_NOTHING

    def _root_finished(self, root: int) -> None:
        self._roots_done.add(root)
        if self.state is OperationState.RUNNING and self._all_roots_done():
            self._begin_seal()

    async def dispatch(self, outbox: Outbox) -> Settlement:
        """Send what a state change produced; on a durable transport, return what must
        finish before the triggering message is acked."""
        if not self.host.durable:
            await outbox.flush(self.host.transport)
            return None
        return asyncio.ensure_future(self._settled(outbox))

    async def _settled(self, outbox: Outbox) -> None:
        await self._flush(outbox)
        while (task := self._task) is not None and not task.done():
            await asyncio.wait({task})
        await self.run.journal.sync()

    async def _flush(self, outbox: Outbox) -> None:
        if self.host.durable and outbox.messages:
            await self.run.journal.sync()  # a cancel is stored before it is broadcast
        await outbox.flush(self.host.transport)

    # -- recovery ---------------------------------------------------------------------

    def recover(self, snapshot: JournalSnapshot, outbox: Outbox) -> None:
        """Take the state the journal records, on a worker the operation moved to."""
        if not snapshot.opened:
            return  # the Start is still to come (or is being redelivered)
        graph = self.run.graph
        self._holds_lease = self.run.operation_type == "protect"
        self.state = OperationState.RUNNING
        self._roots_done = {r for r in graph.roots if snapshot.phase_done(r, "post")}
        self._stopped = {node for node, history in snapshot.nodes.items()
                         if history.final_state is not None}
        if self._failures_stop_nothing:
            self._failures = {
                node: FailureInfo(type="ActivityFailed", message=history.reason or "failed")
                for node, history in snapshot.nodes.items() if history.final_state == "failed"}
            self._roots_done |= self._failures.keys()
        if snapshot.cancel_reason is not None:
            self._cancel_requested = True
            self._cancel_reason = snapshot.cancel_reason
            self._error = _cancel_failure(self._cancel_reason)
        elif snapshot.first_failure is not None:
            node, reason = snapshot.first_failure
            self._error = FailureInfo(type="ActivityFailed", message=reason)
            self._error_resource = graph.nodes[node].key
        log.info("operation_taken_over", operation_id=self.run.operation_id,
                 worker=self.host.worker_id, roots_done=len(self._roots_done),
                 stopping=snapshot.stopping)
        if self._error is not None:
            # ask every actor again: replies consumed by the dead worker are lost
            self._stopped.clear()
            self._begin_stop(outbox)
        elif self._all_roots_done():
            self._begin_seal()
        else:  # the roots may never have heard that the operation opened
            outbox.messages.extend(
                ParentPreDone(operation_id=self.run.operation_id, to=root,
                              sender=OPERATION_NODE)
                for root in graph.roots if root not in self._roots_done)

    def _all_roots_done(self) -> bool:
        return len(self._roots_done) >= len(self.run.graph.roots)

    def _all_stopped(self) -> bool:
        return len(self._stopped) >= len(self.run.graph)

    # -- pre --------------------------------------------------------------------------

    async def _open(self) -> None:
        run = self.run
        try:
            if run.operation_type == "protect":
                await self.host.bank_of(run).acquire_lease(
                    checkpoint_lease_key(run.checkpoint_id), lease_owner(run.operation_id),
                    self.host.lease_ttl)
                self._holds_lease = True
                # no chunk may be written while a collection runs; it sees our lease
                await wait_while_collecting(self.host.bank_of(run), timeout=self.host.gc_wait,
                                            waiter=f"protect {run.operation_id}",
                                            give_up=lambda: self._cancel_requested)
                if self._cancel_requested:
                    raise OperationCancelled(self._cancel_reason)  # before writing anything
                run.checkpoint = await self._create_or_reopen()
            elif run.operation_type == "delete":
                await run.store.transition(run.checkpoint_id, CheckpointStatus.DELETING)
            elif run.operation_type == "restore":
                await check_restore(run)
            await run.journal.record(OPERATION_NODE, OPENED, "done")
        except Exception as error:
            self._error = FailureInfo.from_exception(error)
            named = getattr(error, "resource_key", None)  # a check_restore's refusal
            self._error_resource = named if isinstance(named, str) else None
            log.error("operation_open_failed", operation_id=run.operation_id,
                      error=self._error.summary(), resource=self._error_resource)
            self.state = OperationState.SEALING
            await self._finish_failed()
            return
        try:
            await write_operation_record(run.store.bank, self._record("running"))
        except Exception as error:  # the record is for watchers; the operation goes on
            log.warning("operation_record_failed", operation_id=run.operation_id, error=str(error))
        outbox = Outbox()
        outbox.event(OperationStarted(
            operation_id=run.operation_id, operation_type=run.operation_type,
            provider_id=run.provider_id, checkpoint_id=run.checkpoint_id,
            resource_count=len(run.graph), request_id=run.request_id))
        self.state = OperationState.RUNNING
        metrics.OPERATIONS_STARTED.labels(run.operation_type).inc()
        if self._cancel_requested:
            self._begin_stop(outbox)
        elif not run.graph.roots:
            self._begin_seal()
        else:
            outbox.messages.extend(
                ParentPreDone(operation_id=run.operation_id, to=root, sender=OPERATION_NODE)
                for root in run.graph.roots)
        await self._flush(outbox)

    async def _create_or_reopen(self) -> Checkpoint:
        """The protect's checkpoint: created, or reopened when the worker that created it
        died before the operation was released (the Start came back to us)."""
        run = self.run
        try:
            found = await run.store.open(run.checkpoint_id, operation_id=run.operation_id,
                                         writable=True, expect={CheckpointStatus.PROTECTING})
        except CheckpointNotFound:
            return await run.store.create(
                checkpoint_id=run.checkpoint_id, provider_id=run.provider_id,
                project_id=run.request.project_id, graph=run.graph,
                operation_id=run.operation_id, owner=self.host.worker_id,
                plan_id=run.plan_id)
        if found.index.protect_operation_id != run.operation_id:
            raise CheckpointError(f"checkpoint {run.checkpoint_id!r} is being written by "
                                  f"operation {found.index.protect_operation_id!r}")
        return found

    # -- post -------------------------------------------------------------------------

    def _begin_seal(self) -> None:
        self.state = OperationState.SEALING
        self._task = asyncio.create_task(self._seal())

    async def _seal(self) -> None:
        run = self.run
        if self._failures:  # every resource checked, some failed: no checkpoint to seal
            self._error, self._error_resource = verification_outcome(run.graph, self._failures)
            await self._finish_failed()
            return
        try:
            await run.journal.close()
            if run.operation_type == "protect":
                states = await summarize(run)
                await run.store.write_resource_states(run.checkpoint_id, states)
                await run.store.transition(run.checkpoint_id, CheckpointStatus.AVAILABLE,
                                           only_from=CheckpointStatus.PROTECTING)
            elif run.operation_type == "delete":
                await run.store.purge_data(run.checkpoint_id)
                await run.store.transition(run.checkpoint_id, CheckpointStatus.DELETED)
        except Exception as error:
            self._error = FailureInfo.from_exception(error)
            log.error("operation_seal_failed", operation_id=run.operation_id,
                      error=self._error.summary())
            await self._finish_failed()
            return
        await self._release_lease()
        self.state = OperationState.SUCCEEDED
        await self._announce("succeeded")

    # -- failure ----------------------------------------------------------------------

    def _begin_stop(self, outbox: Outbox) -> None:
        if self.state is not OperationState.RUNNING:
            return  # opening (handled once open), or already stopping or sealing
        self.state = OperationState.STOPPING
        reason = self._cancel_reason if self._cancel_requested else STOPPED_REASON
        log.info("operation_stopping", operation_id=self.run.operation_id, reason=reason)
        outbox.messages.extend(
            Cancel(operation_id=self.run.operation_id, to=node, reason=reason)
            for node in range(len(self.run.graph)))
        if not self.run.graph.nodes:
            self._task = asyncio.create_task(self._finish_failed())

    async def _finish_failed(self) -> None:
        run = self.run
        error = self._error.summary() if self._error else "unknown failure"
        # a cancel names the end only when it came first: a resource that failed before a
        # cancel (or a deadline) arrived during the stop stays the operation's error
        cancelled = self._cancel_requested and (
            self._error is None or self._error.type in ("OperationCancelled",
                                                         "DeadlineExceeded"))
        if cancelled:
            error = self._cancel_reason
        try:
            await run.journal.close()
            if run.operation_type == "protect" and run.checkpoint is not None:
                await run.store.write_resource_states(run.checkpoint_id, await summarize(run))
                await run.store.transition(run.checkpoint_id, CheckpointStatus.ERROR,
                                           error=error, error_resource=self._error_resource,
                                           only_from=CheckpointStatus.PROTECTING)
            elif run.operation_type == "delete":
                with contextlib.suppress(Exception):  # may never have become deleting
                    await run.store.transition(run.checkpoint_id, CheckpointStatus.ERROR,
                                               error=error, error_resource=self._error_resource,
                                               only_from=CheckpointStatus.DELETING)
        except Exception as seal_error:
            log.error("operation_error_seal_failed", operation_id=run.operation_id,
                      error=str(seal_error))
        await self._release_lease()
        self.state = OperationState.CANCELLED if cancelled else OperationState.FAILED
        await self._announce(self.state.value, error)

    async def _release_lease(self) -> None:
        if self._holds_lease:
            self._holds_lease = False
            with contextlib.suppress(Exception):
                await self.host.bank_of(self.run).release_lease(
                    checkpoint_lease_key(self.run.checkpoint_id),
                    lease_owner(self.run.operation_id))

    def _record(self, status: str, error: str | None = None,
                restored: dict[str, str] | None = None) -> OperationRecord:
        run = self.run
        return OperationRecord(
            id=run.operation_id, type=run.operation_type, provider_id=run.provider_id,
            checkpoint_id=run.checkpoint_id, status=status, started_at=run.started_at,
            finished_at=None if status == "running" else time.time(),
            resource_count=len(run.graph), error=error,
            error_resource=self._error_resource if error else None,
            request_id=run.request_id, worker=self.host.worker_id,
            abort_failures=self._abort_failure_lines(), restored=restored)

    def _abort_failure_lines(self) -> list[str]:
        nodes = self.run.graph.nodes
        return [f"{nodes[node].key}: {failure.summary()}"
                for node, failure in sorted(self._abort_failures.items())]

    async def _restored(self) -> dict[str, str] | None:
        """Where a restore put each resource it restored (None for other operations)."""
        run = self.run
        if run.operation_type != "restore" or run.checkpoint is None:
            return None
        try:
            return await run.checkpoint.restored_ids()
        except Exception as error:  # only the report lacks it; the restore is done
            log.warning("restored_ids_unreadable", operation_id=run.operation_id,
                        error=str(error))
            return None

    async def _announce(self, status: str, error: str | None = None) -> None:
        run = self.run
        restored = await self._restored()
        try:
            await write_operation_record(run.store.bank, self._record(status, error, restored))
        except Exception as record_error:
            log.warning("operation_record_failed", operation_id=run.operation_id,
                        error=str(record_error))
        try:  # it ended: nobody need end it by its deadline
            await remove_deadline(run.store.bank, run.operation_id)
        except Exception as remove_error:  # the reaper removes it once it sees the record
            log.warning("deadline_entry_remove_failed", operation_id=run.operation_id,
                        error=str(remove_error))
        event = OperationFinished(
            operation_id=run.operation_id, operation_type=run.operation_type,
            checkpoint_id=run.checkpoint_id, status=status, error=error,
            error_resource=self._error_resource if error else None,
            resource_count=len(run.graph), duration=time.time() - run.started_at,
            abort_failures=self._abort_failure_lines(), restored=restored)
        log.info("operation_finished", operation_id=run.operation_id, status=status,
                 error=error, error_resource=event.error_resource,
                 abort_failures=len(event.abort_failures))
        metrics.OPERATIONS_FINISHED.labels(run.operation_type, status).inc()
        metrics.OPERATION_DURATION.labels(run.operation_type, status).observe(
            max(event.duration, 0.0))
        await self.host.transport.publish(event)
        self.host.finished(run.operation_id, event)


def _cancel_failure(reason: str) -> FailureInfo:
    """The failure a cancel stands for: the user's, or the deadline's."""
    kind = "DeadlineExceeded" if reason == DEADLINE_EXCEEDED else "OperationCancelled"
    return FailureInfo(type=kind, message=reason)
