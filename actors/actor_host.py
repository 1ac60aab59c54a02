"""The actor host: routes each mailbox message to its actor within this process."""

from __future__ import annotations

import asyncio
import uuid
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import structlog

from actors.activity_runner import ActivityRunner
from actors.events import OperationFinished
from actors.messages import OPERATION_NODE, Message
from actors.operation_actor import OperationActor
from actors.operation_run import OperationRun
from actors.progress import ProgressReporter
from actors.resource_actor import ResourceActor
from actors.transport import Transport
from banks.base import Bank

log = structlog.get_logger(__name__)

RESULTS_KEPT = 10_000


class _HostedOperation:
    __slots__ = ("actors", "operation", "run")

    def __init__(self, host: ActorHost, run: OperationRun) -> None:
        self.run = run
        self.operation = OperationActor(host, run)
        # actors are created on their first message: 100k idle actors cost nothing
        self.actors: list[ResourceActor | None] = [None] * len(run.graph)


class ActorHost:
    """Holds the actors of the operations this worker drives.

    Options:
        max_running_activities: activities running at once on this worker (a bound on
            threads, sockets and memory; no-op activities do not count).
        threads: size of the pool that runs plain-function and generator activities.
        lease_ttl: seconds a checkpoint lease lives without renewal.
        progress_interval: minimum seconds between two progress events of an activity.
    """

    def __init__(self, transport: Transport, *, worker_id: str | None = None,
                 max_running_activities: int = 64, threads: int = 16,
                 lease_ttl: float = 60.0, progress_interval: float = 0.5) -> None:
        self.transport = transport
        self.worker_id = worker_id or f"worker-{uuid.uuid4().hex[:12]}"
        self.activity_slots = asyncio.Semaphore(max_running_activities)
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="activity")
        self.runner = ActivityRunner(self._executor)
        self.lease_ttl = lease_ttl
        self.progress_interval = progress_interval
        self._hosted: dict[str, _HostedOperation] = {}
        # outcomes of recent operations, for wait(); bounded so a long-lived worker does
        # not keep one per operation forever
        self._results: OrderedDict[str, asyncio.Future[OperationFinished]] = OrderedDict()

    async def start(self) -> None:
        """Begin consuming mailbox messages."""
        await self.transport.consume(self.deliver)

    def register(self, run: OperationRun) -> None:
        """Make this host drive ``run``'s actors."""
        self._hosted[run.operation_id] = _HostedOperation(self, run)
        self._result_future(run.operation_id)

    async def deliver(self, message: Message) -> None:
        """Hand ``message`` to its actor."""
        hosted = self._hosted.get(message.operation_id)
        if hosted is None:
            log.debug("message_for_unknown_operation", operation_id=message.operation_id,
                      kind=type(message).__name__)
            return
        if message.to == OPERATION_NODE:
            await hosted.operation.handle(message)
            return
        actor = hosted.actors[message.to]
        if actor is None:
            actor = hosted.actors[message.to] = ResourceActor(self, hosted.run, message.to)
        await actor.handle(message)

    def bank_of(self, run: OperationRun) -> Bank:
        """The bank an operation writes to."""
        return run.store.bank

    def progress_reporter(self, fields: dict[str, Any]) -> ProgressReporter:
        """A progress callback for one activity."""
        return ProgressReporter(self.transport, fields, self.progress_interval)

    def finished(self, operation_id: str, event: OperationFinished) -> None:
        """Called by an operation actor when its operation ended."""
        self._hosted.pop(operation_id, None)
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

    async def wait(self, operation_id: str, timeout: float | None = None) -> OperationFinished:
        """Wait until the operation ends; return its OperationFinished event.

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
        """Stop consuming and release the thread pool."""
        await self.transport.close()
        self._executor.shutdown(wait=False, cancel_futures=True)
