"""The operation actor: the virtual parent of every root.

    created ──Start──▶ opening ──▶ running ──all roots' post──▶ sealing ──▶ succeeded
                         │            │                            │
                         │            └─Failed / Cancel─▶ stopping ┴─all Stopped─▶ failed
                         └──────────────(open failed)─────────────────────────────▶ failed

Its pre opens the checkpoint (protect: creates it and takes its lease; delete: marks it
``deleting``) and releases the roots; its post seals the checkpoint (protect:
``available``; delete: data purged, ``deleted``). On the first failure it stops every
actor, waits until each has replied, and ends the checkpoint in ``error`` naming the
first failing resource. A cancel takes the same road with the reason ``cancelled``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from enum import StrEnum
from typing import TYPE_CHECKING

import structlog

from actors.events import OperationFinished, OperationStarted
from actors.failure import FailureInfo
from actors.messages import (
    OPERATION_NODE,
    Cancel,
    ChildPostDone,
    Failed,
    Message,
    ParentPreDone,
    Start,
    Stopped,
)
from actors.outbox import Outbox
from actors.resource_status import summarize
from plugins.checkpoint import CheckpointStatus, checkpoint_lease_key
from plugins.operation_record import OperationRecord, write_operation_record

if TYPE_CHECKING:
    from actors.actor_host import ActorHost
    from actors.operation_run import OperationRun

log = structlog.get_logger(__name__)

CANCELLED_REASON = "cancelled"


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

    def __init__(self, host: ActorHost, run: OperationRun) -> None:
        self.host = host
        self.run = run
        self.state = OperationState.CREATED
        self._roots_done: set[int] = set()
        self._stopped: set[int] = set()
        self._error: FailureInfo | None = None
        self._error_resource: str | None = None
        self._cancel_requested = False
        self._lease_task: asyncio.Task[None] | None = None
        self._task: asyncio.Task[None] | None = None

    async def handle(self, message: Message) -> None:
        """Apply one message to the operation."""
        outbox = Outbox()
        match message:
            case Start():
                if self.state is OperationState.CREATED:
                    self.state = OperationState.OPENING
                    self._task = asyncio.create_task(self._open())
            case ChildPostDone(sender=sender):
                self._roots_done.add(sender)
                if self.state is OperationState.RUNNING and self._all_roots_done():
                    self._begin_seal()
            case Failed(sender=sender, failure=failure):
                if self._error is None:
                    self._error = failure
                    self._error_resource = self.run.graph.nodes[sender].key
                self._begin_stop(outbox)
            case Cancel():
                self._cancel_requested = True
                if self._error is None:
                    self._error = FailureInfo(type="OperationCancelled", message=CANCELLED_REASON)
                self._begin_stop(outbox)
            case Stopped(sender=sender):
                self._stopped.add(sender)
                if self.state is OperationState.STOPPING and self._all_stopped():
                    self.state = OperationState.SEALING
                    self._task = asyncio.create_task(self._finish_failed())
            case _:
                log.warning("unexpected_message", kind=type(message).__name__)
        await outbox.flush(self.host.transport)

    def _all_roots_done(self) -> bool:
        return len(self._roots_done) >= len(self.run.graph.roots)

    def _all_stopped(self) -> bool:
        return len(self._stopped) >= len(self.run.graph)

    # -- pre --------------------------------------------------------------------------

    async def _open(self) -> None:
        run = self.run
        try:
            if run.operation_type == "protect":
                run.checkpoint = await run.store.create(
                    checkpoint_id=run.checkpoint_id, provider_id=run.provider_id,
                    project_id=run.request.project_id, graph=run.graph,
                    operation_id=run.operation_id, owner=self.host.worker_id)
                await self.host.bank_of(run).acquire_lease(
                    checkpoint_lease_key(run.checkpoint_id), self.host.worker_id,
                    self.host.lease_ttl)
                self._lease_task = asyncio.create_task(self._renew_lease())
            elif run.operation_type == "delete":
                await run.store.transition(run.checkpoint_id, CheckpointStatus.DELETING)
        except Exception as error:
            self._error = FailureInfo.from_exception(error)
            log.error("operation_open_failed", operation_id=run.operation_id,
                      error=self._error.summary())
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
        if self._cancel_requested:
            self._begin_stop(outbox)
        elif not run.graph.roots:
            self._begin_seal()
        else:
            outbox.messages.extend(
                ParentPreDone(operation_id=run.operation_id, to=root, sender=OPERATION_NODE)
                for root in run.graph.roots)
        await outbox.flush(self.host.transport)

    async def _renew_lease(self) -> None:
        key = checkpoint_lease_key(self.run.checkpoint_id)
        bank = self.host.bank_of(self.run)
        while True:
            await asyncio.sleep(self.host.lease_ttl / 3)
            try:
                await bank.renew_lease(key, self.host.worker_id, self.host.lease_ttl)
            except Exception as error:  # keep trying: a lapse is visible, not fatal
                log.warning("lease_renew_failed", checkpoint_id=self.run.checkpoint_id,
                            error=str(error))

    # -- post -------------------------------------------------------------------------

    def _begin_seal(self) -> None:
        self.state = OperationState.SEALING
        self._task = asyncio.create_task(self._seal())

    async def _seal(self) -> None:
        run = self.run
        try:
            await run.journal.close()
            if run.operation_type == "protect":
                states = await summarize(run)
                await run.store.write_resource_states(run.checkpoint_id, states)
                await run.store.transition(run.checkpoint_id, CheckpointStatus.AVAILABLE)
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
        reason = CANCELLED_REASON if self._cancel_requested else "stopped after a failure"
        log.info("operation_stopping", operation_id=self.run.operation_id, reason=reason)
        outbox.messages.extend(
            Cancel(operation_id=self.run.operation_id, to=node, reason=reason)
            for node in range(len(self.run.graph)))
        if not self.run.graph.nodes:
            self._task = asyncio.create_task(self._finish_failed())

    async def _finish_failed(self) -> None:
        run = self.run
        error = self._error.summary() if self._error else "unknown failure"
        if self._cancel_requested:
            error = CANCELLED_REASON
        try:
            await run.journal.close()
            if run.operation_type == "protect" and run.checkpoint is not None:
                await run.store.write_resource_states(run.checkpoint_id, await summarize(run))
                await run.store.transition(run.checkpoint_id, CheckpointStatus.ERROR,
                                           error=error, error_resource=self._error_resource)
            elif run.operation_type == "delete":
                with contextlib.suppress(Exception):  # may never have become deleting
                    await run.store.transition(run.checkpoint_id, CheckpointStatus.ERROR,
                                               error=error, error_resource=self._error_resource)
        except Exception as seal_error:
            log.error("operation_error_seal_failed", operation_id=run.operation_id,
                      error=str(seal_error))
        await self._release_lease()
        self.state = OperationState.CANCELLED if self._cancel_requested else OperationState.FAILED
        await self._announce(self.state.value, error)

    async def _release_lease(self) -> None:
        if self._lease_task is not None:
            self._lease_task.cancel()
            self._lease_task = None
            with contextlib.suppress(Exception):
                await self.host.bank_of(self.run).release_lease(
                    checkpoint_lease_key(self.run.checkpoint_id), self.host.worker_id)

    def _record(self, status: str, error: str | None = None) -> OperationRecord:
        run = self.run
        return OperationRecord(
            id=run.operation_id, type=run.operation_type, provider_id=run.provider_id,
            checkpoint_id=run.checkpoint_id, status=status, started_at=run.started_at,
            finished_at=None if status == "running" else time.time(),
            resource_count=len(run.graph), error=error,
            error_resource=self._error_resource if error else None,
            request_id=run.request_id, worker=self.host.worker_id)

    async def _announce(self, status: str, error: str | None = None) -> None:
        run = self.run
        try:
            await write_operation_record(run.store.bank, self._record(status, error))
        except Exception as record_error:
            log.warning("operation_record_failed", operation_id=run.operation_id,
                        error=str(record_error))
        event = OperationFinished(
            operation_id=run.operation_id, operation_type=run.operation_type,
            checkpoint_id=run.checkpoint_id, status=status, error=error,
            error_resource=self._error_resource if error else None,
            resource_count=len(run.graph), duration=time.time() - run.started_at)
        log.info("operation_finished", operation_id=run.operation_id, status=status,
                 error=error, error_resource=event.error_resource)
        await self.host.transport.publish(event)
        self.host.finished(run.operation_id, event)
