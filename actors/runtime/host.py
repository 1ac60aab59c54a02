"""The actor host: routes each mailbox message to its actor within this process.

A host holds the actors of the operations whose mailboxes this worker receives. An
operation submitted elsewhere, or whose mailboxes moved here when a worker died, is
loaded on its first message (``loader``: spec, graph and checkpoint from the bank) and
its actors are rebuilt from the journal (``actors.runtime.recovery``).

Every operation held here has its deadline watched (``actors.runtime.deadline_watch``); a
message the transport gives up on fails its operation (``undeliverable``). Whatever is
lost, no operation stays running: past its deadline it is cancelled, and a lease period
later this worker lets go of it and the reaper ends it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import structlog

from actors.errors import OperationUnavailable
from actors.runtime.activity_runner import ActivityRunner
from actors.runtime.deadline_watch import DeadlineWatch
from actors.runtime.held_lease import renewal_pause
from actors.runtime.operation_actor import OperationActor
from actors.runtime.operation_end import DEADLINE_EXCEEDED, end_operation, entry_of, lease_owner
from actors.runtime.operation_run import OperationRun
from actors.runtime.outbox import Outbox
from actors.runtime.progress import ProgressReporter
from actors.runtime.recovery import JournalSnapshot, take_snapshot
from actors.runtime.resource_actor import ResourceActor
from actors.runtime.state import FINAL_STATES
from actors.transport.base import ActorFilter, Settlement, Transport
from actors.wire.events import OperationFinished
from actors.wire.failure import FailureInfo
from actors.wire.messages import OPERATION_NODE, Cancel, Failed, Message
from banks import metrics
from banks.base import Bank
from plugins.base import ProtectionPlugin
from plugins.checkpoint.checkpoint import checkpoint_lease_key

log = structlog.get_logger(__name__)

RESULTS_KEPT = 10_000
FORGOTTEN_KEPT = 10_000

OperationLoader = Callable[[str], Awaitable[OperationRun | None]]


class _HostedOperation:
    __slots__ = ("actors", "known_since", "last_message", "lock", "operation",
                 "operation_checked", "run", "snapshot")

    def __init__(self, host: ActorHost, run: OperationRun,
                 snapshot: JournalSnapshot | None) -> None:
        self.run = run
        self.operation = OperationActor(host, run)
        # actors are created on their first message: 100k idle actors cost nothing
        self.actors: list[ResourceActor | None] = [None] * len(run.graph)
        self.known_since = time.monotonic()
        self.last_message = self.known_since
        self.snapshot = snapshot
        self.operation_checked = False
        self.lock = asyncio.Lock()

    def live(self) -> bool:
        """Whether this worker carries some unfinished part of the operation."""
        if self.operation.live:
            return True
        return any(a is not None and a.state not in FINAL_STATES for a in self.actors)


class _NoLimit(contextlib.AbstractAsyncContextManager[None]):
    async def __aexit__(self, *exc_info: object) -> None:
        return None


_NO_LIMIT = _NoLimit()


class ActorHost:
    """Holds the actors of the operations this worker drives.

    Options:
        max_running_activities: activities running at once on this worker (a bound on
            threads, sockets and memory; no-op activities do not count).
        threads: size of the pool that runs plain-function and generator activities.
        lease_ttl: seconds a checkpoint lease lives without renewal.
        progress_interval: minimum seconds between two progress events of an activity.
        gc_wait: seconds a protect waits for a garbage collection of its bank to end
            before it fails (it must not write chunks while one runs).
    """

    def __init__(self, transport: Transport, *, worker_id: str | None = None,
                 max_running_activities: int = 64, threads: int = 16,
                 lease_ttl: float = 60.0, progress_interval: float = 0.5,
                 gc_wait: float = 600.0) -> None:
        self.transport = transport
        self.worker_id = worker_id or f"worker-{uuid.uuid4().hex[:12]}"
        self.activity_slots = asyncio.Semaphore(max_running_activities)
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="activity")
        self.runner = ActivityRunner(self._executor)
        self.lease_ttl = lease_ttl
        self.progress_interval = progress_interval
        self.gc_wait = gc_wait
        self.loader: OperationLoader | None = None
        self._hosted: dict[str, _HostedOperation] = {}
        self._loading: dict[str, asyncio.Future[_HostedOperation | None]] = {}
        self._forgotten: OrderedDict[str, None] = OrderedDict()
        self._plugin_slots: dict[int, asyncio.Semaphore] = {}
        self._upkeep: asyncio.Task[None] | None = None
        self.deadlines = DeadlineWatch(self._deadline_passed)
        self._sending: set[asyncio.Task[None]] = set()
        # outcomes of recent operations, for wait(); bounded so a long-lived worker does
        # not keep one per operation forever
        self._results: OrderedDict[str, asyncio.Future[OperationFinished]] = OrderedDict()
        metrics.count_in(self)  # strongbox_actors_alive, strongbox_operations_hosted

    def live_actors(self) -> int:
        """Resource and operation actors held here that have not reached a final state."""
        return sum(
            hosted.operation.live
            + sum(a is not None and a.state not in FINAL_STATES for a in hosted.actors)
            for hosted in list(self._hosted.values()))

    def hosted_operations(self) -> int:
        """Operations this host holds actors of."""
        return len(self._hosted)

    def hosted_operation_ids(self) -> list[str]:
        """The ids of the operations this host holds actors of."""
        return list(self._hosted)

    @property
    def durable(self) -> bool:
        """Whether the transport redelivers unsettled messages to another worker."""
        return self.transport.durable

    async def start(self) -> None:
        """Begin consuming mailbox messages and renewing the leases of live operations."""
        self._upkeep = asyncio.create_task(self._keep_leases(), name="lease-upkeep")
        self.transport.on_reset(self.reset)
        self.transport.on_undeliverable(self.undeliverable)
        await self.transport.consume(self.deliver)

    def reset(self, which: ActorFilter | None = None) -> None:
        """Drop local actor state: this worker lost the mailboxes of these actors (all of
        them when ``which`` is None). Their unsettled messages go to whichever worker holds
        each shard now (possibly this one again, which then rebuilds them from the journal)."""
        if which is None:
            for hosted in self._hosted.values():
                hosted.operation.abandon()
                for actor in hosted.actors:
                    if actor is not None:
                        actor.abandon()
            log.warning("actor_state_reset", worker=self.worker_id,
                        operations=len(self._hosted))
            self._hosted.clear()
            self.deadlines.disarm_all()
            return
        # a shard handed on while quiescent: its actors have nothing running
        for operation_id, hosted in self._hosted.items():
            for node, actor in enumerate(hosted.actors):
                if actor is not None and which(operation_id, node):
                    hosted.actors[node] = None
            if which(operation_id, OPERATION_NODE):
                hosted.operation = OperationActor(self, hosted.run)
                hosted.operation_checked = False

    def register(self, run: OperationRun) -> None:
        """Make this host drive ``run``'s actors (an operation submitted here)."""
        self._hosted[run.operation_id] = _HostedOperation(self, run, None)
        self.deadlines.arm(run.operation_id, run.deadline)
        self._result_future(run.operation_id)

    def hosts(self, operation_id: str) -> bool:
        """Whether this worker holds the operation now."""
        return operation_id in self._hosted

    async def deliver(self, message: Message) -> Settlement:
        """Hand ``message`` to its actor, loading or rebuilding it first if need be."""
        hosted = self._hosted.get(message.operation_id)
        if hosted is None:
            hosted = await self._load(message.operation_id)
            if hosted is None:
                log.debug("message_for_unknown_operation", operation_id=message.operation_id,
                          kind=type(message).__name__)
                return None
        hosted.last_message = time.monotonic()
        metrics.MESSAGES_HANDLED.inc(type(message).__name__)
        if message.to == OPERATION_NODE:
            if not hosted.operation_checked:
                # checked only once the snapshot is read: a read the bank refused fails
                # this delivery, and its redelivery must try the recovery again, not
                # drive an actor that never saw the journal
                snapshot = await self._snapshot_for(hosted, message)
                hosted.operation_checked = True
                if snapshot is not None:
                    outbox = Outbox()
                    hosted.operation.recover(snapshot, outbox)
                    await hosted.operation.dispatch(outbox)
            return await hosted.operation.handle(message)
        if not 0 <= message.to < len(hosted.actors):
            log.warning("message_for_unknown_node", operation_id=message.operation_id,
                        node=message.to, nodes=len(hosted.actors))
            return None
        actor = hosted.actors[message.to]
        if actor is None:
            snapshot = await self._snapshot_for(hosted, message)  # before the actor exists,
            # for the same reason as the operation's: a failed read leaves no actor behind
            actor = hosted.actors[message.to] = ResourceActor(self, hosted.run, message.to)
            if snapshot is not None:
                outbox = Outbox()
                actor.recover(snapshot, outbox)
                recovered = await actor.dispatch(outbox)
                handled = await actor.handle(message)
                return _both(recovered, handled)
        return await actor.handle(message)

    # -- loading and recovery ---------------------------------------------------------

    async def _load(self, operation_id: str) -> _HostedOperation | None:
        if self.loader is None or operation_id in self._forgotten:
            return None
        pending = self._loading.get(operation_id)
        if pending is not None:  # another shard's message is loading it right now
            return await asyncio.shield(pending)
        future: asyncio.Future[_HostedOperation | None] = (
            asyncio.get_running_loop().create_future())
        self._loading[operation_id] = future
        hosted: _HostedOperation | None = None
        try:
            run = await self.loader(operation_id)
            if run is not None:
                snapshot = await take_snapshot(run.store.bank, operation_id, run.operation_type)
                hosted = self._hosted[operation_id] = _HostedOperation(self, run, snapshot)
                self.deadlines.arm(operation_id, run.deadline)
                self._result_future(operation_id)
                log.info("operation_loaded", operation_id=operation_id, worker=self.worker_id,
                         resources=len(run.graph))
            else:
                self._forget(operation_id)
        except Exception as error:  # unreadable spec, bank down: the message waits for later
            log.error("operation_load_failed", operation_id=operation_id, error=str(error))
            unavailable = OperationUnavailable(
                f"operation {operation_id!r} could not be loaded: {error}")
            future.set_exception(unavailable)
            future.exception()  # retrieved: a lone loader leaves no one else to read it
            raise unavailable from error
        finally:
            del self._loading[operation_id]
        future.set_result(hosted)
        return hosted

    async def _snapshot_for(self, hosted: _HostedOperation,
                            message: Message) -> JournalSnapshot | None:
        """The journal state to rebuild an actor from, or None for a fresh actor.

        An actor is fresh when this worker has received its mailbox since before the
        operation was known here: nobody else can have driven it. Otherwise the snapshot
        must have been read after its mailbox came here, so it holds everything the
        previous worker did.
        """
        activated = self.transport.activated_at(message.operation_id, message.to)
        if hosted.snapshot is None and activated < hosted.known_since:
            return None
        async with hosted.lock:
            if hosted.snapshot is None or hosted.snapshot.taken_at < activated:
                run = hosted.run
                hosted.snapshot = await take_snapshot(run.store.bank, run.operation_id,
                                                      run.operation_type)
            return hosted.snapshot

    def _forget(self, operation_id: str) -> None:
        self._forgotten[operation_id] = None
        while len(self._forgotten) > FORGOTTEN_KEPT:
            self._forgotten.popitem(last=False)

    # -- limits, progress, leases -----------------------------------------------------

    def plugin_slots(self, plugin: ProtectionPlugin) -> contextlib.AbstractAsyncContextManager[Any]:
        """The bound on the plugin's concurrent activities on this worker, if it sets one."""
        limit = plugin.max_concurrent_activities
        if limit is None:
            return _NO_LIMIT
        slots = self._plugin_slots.get(id(plugin))
        if slots is None:
            slots = self._plugin_slots[id(plugin)] = asyncio.Semaphore(limit)
        return slots

    def bank_of(self, run: OperationRun) -> Bank:
        """The bank an operation writes to."""
        return run.store.bank

    def progress_reporter(self, fields: dict[str, Any]) -> ProgressReporter:
        """A progress callback for one activity."""
        return ProgressReporter(self.transport, fields, self.progress_interval)

    async def _keep_leases(self) -> None:
        """Renew the checkpoint lease of every protect this worker carries a live part of
        (a third of the lease apart; soon again after a renewal the bank refused), and let
        go of operations whose local part is over, or that are still here a lease period
        past their deadline (the reaper ends those)."""
        renewed = True
        while True:
            await asyncio.sleep(renewal_pause(self.lease_ttl, renewed=renewed))
            for operation_id in self.deadlines.overdue(grace=self.lease_ttl):
                self.let_go(operation_id)
            now = time.monotonic()
            renewed = True
            for operation_id, hosted in list(self._hosted.items()):
                if hosted.live():
                    if hosted.run.operation_type == "protect":
                        renewed = await self._renew(hosted.run) and renewed
                elif now - hosted.last_message > self.lease_ttl:
                    # finished elsewhere (or all local actors are): a late message reloads it
                    self._hosted.pop(operation_id, None)
                    self.deadlines.disarm(operation_id)

    async def _renew(self, run: OperationRun) -> bool:
        """Renew the protect's checkpoint lease; False if the bank refused (it is tried
        again soon)."""
        try:
            await run.store.bank.renew_lease(checkpoint_lease_key(run.checkpoint_id),
                                             lease_owner(run.operation_id), self.lease_ttl)
        except Exception as error:  # keep trying: a lapse is visible, not fatal
            metrics.LEASE_RENEWALS.labels("failed").inc()
            log.warning("lease_renew_failed", checkpoint_id=run.checkpoint_id, error=str(error))
            return False
        metrics.LEASE_RENEWALS.labels("renewed").inc()
        return True

    # -- deadlines and messages given up -----------------------------------------------

    def _deadline_passed(self, operation_id: str) -> None:
        if operation_id in self._hosted:
            self._send_soon(Cancel(operation_id=operation_id, to=OPERATION_NODE,
                                   reason=DEADLINE_EXCEEDED))

    def let_go(self, operation_id: str) -> None:
        """Stop carrying an operation long past its deadline: its operation actor did not
        end it, so nothing will; stop running and renewing, and leave it to the reaper."""
        self.deadlines.disarm(operation_id)
        hosted = self._hosted.pop(operation_id, None)
        if hosted is None:
            return
        log.warning("operation_overdue_dropped", operation_id=operation_id,
                    worker=self.worker_id, deadline=hosted.run.deadline)
        hosted.operation.abandon()
        for actor in hosted.actors:
            if actor is not None:
                actor.abandon()
        self._forget(operation_id)

    def _send_soon(self, message: Message) -> None:
        async def send() -> None:
            try:
                await self.transport.send(message)
            except Exception as error:  # lost: the reaper ends the operation instead
                log.error("deadline_cancel_failed", operation_id=message.operation_id,
                          error=str(error))
        task = asyncio.create_task(send(), name="deadline-cancel")
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def undeliverable(self, message: Message, reason: str) -> None:
        """Fail the operation of a message the transport gave up on (and set aside).

        A resource's message: its operation actor is told the resource failed, and stops
        the operation as for any failure, naming the resource and the reason. The operation
        actor's own message: it cannot take it, so the operation is ended from here.
        """
        kind = type(message).__name__
        if message.to != OPERATION_NODE:
            await self.transport.send(Failed(
                operation_id=message.operation_id, to=OPERATION_NODE, sender=message.to,
                activity="deliver",
                failure=FailureInfo(type="MessageUndeliverable",
                                    message=f"{kind} message not delivered: {reason}")))
            return
        hosted = self._hosted.get(message.operation_id)
        if hosted is None:
            try:
                hosted = await self._load(message.operation_id)
            except OperationUnavailable:
                hosted = None
        if hosted is None:
            return  # ended already, or not ours to end: its deadline ends it
        run = hosted.run
        event = await end_operation(
            run.store.bank, self.transport, entry_of(run), status="failed",
            reason=f"MessageUndeliverable: {kind} message to the operation not delivered: "
                   f"{reason}", worker=self.worker_id)
        await self.transport.send_many([  # stop whatever still runs
            Cancel(operation_id=run.operation_id, to=node, reason="stopped after a failure")
            for node in range(len(run.graph))])
        hosted.operation.abandon()
        for actor in hosted.actors:
            if actor is not None:
                actor.abandon()
        if event is not None:
            self.finished(run.operation_id, event)

    # -- outcomes ---------------------------------------------------------------------

    def finished(self, operation_id: str, event: OperationFinished) -> None:
        """Called by an operation actor when its operation ended."""
        self._hosted.pop(operation_id, None)
        self.deadlines.disarm(operation_id)
        self._forget(operation_id)
        future = self._result_future(operation_id)
        if not future.done():
            future.set_result(event)

    def _result_future(self, operation_id: str) -> asyncio.Future[OperationFinished]:
        future = self._results.get(operation_id)
        if future is None:
            future = self._results[operation_id] = asyncio.get_running_loop().create_future()
            while len(self._results) > RESULTS_KEPT:
                oldest_id, oldest = next(iter(self._results.items()))
                if not oldest.done() and oldest_id in self._hosted:
                    break  # never drop a running operation's future
                self._results.popitem(last=False)
        return future

    def result(self, operation_id: str) -> asyncio.Future[OperationFinished]:
        """The future an operation's end (on this worker) resolves."""
        return self._result_future(operation_id)

    async def wait(self, operation_id: str, timeout: float | None = None) -> OperationFinished:
        """Wait until the operation ends on this worker; return its OperationFinished event.

        Raises:
            TimeoutError: if it does not end within ``timeout`` seconds.
        """
        async with asyncio.timeout(timeout):
            return await asyncio.shield(self._result_future(operation_id))

    def actor_states(self, operation_id: str) -> list[str | None]:
        """The state of each resource actor of a running operation (None: not created)."""
        hosted = self._hosted.get(operation_id)
        if hosted is None:
            return []
        return [a.state.value if a is not None else None for a in hosted.actors]

    async def close(self) -> None:
        """Stop consuming, stop renewing leases and release the thread pool."""
        self.deadlines.disarm_all()
        for task in list(self._sending):
            task.cancel()
        if self._upkeep is not None:
            self._upkeep.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._upkeep
        await self.transport.close()
        self._executor.shutdown(wait=False, cancel_futures=True)


def _both(first: Settlement, second: Settlement) -> Settlement:
    """One settlement that completes when both do."""
    if first is None:
        return second
    if second is None:
        return first
    return asyncio.ensure_future(_await_both(first, second))


async def _await_both(first: Awaitable[None], second: Awaitable[None]) -> None:
    await first
    await second
