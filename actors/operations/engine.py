"""The engine: turns requests into running operations on an actor host.

It discovers resources and builds the graph (protect) or reads it from the checkpoint
(restore, delete, verify), checks that every resource type has a plugin and that every
parameter matches its plugin's schema, and only then sends the one Start message. After
that nobody orchestrates: the actors unlock each other.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from actors.errors import OperationNotFound, OperationUnavailable, RequestInvalid
from actors.operations.deadlines import absolute_deadline
from actors.operations.operation_setup import (
    OPERATION_OF,
    OperationRequest,
    journal_writer,
    operation_graph,
    request_context,
    spec_of,
)
from actors.operations.parameters import validate_parameters
from actors.operations.provider_access import ProviderAccess
from actors.operations.verify import ResourceVerifier, verify_parameters
from actors.operations.waiting import RecordReader, wait_for_end
from actors.runtime.held_lease import hold_lease
from actors.runtime.host import ActorHost
from actors.runtime.operation_actor import CANCELLED_REASON
from actors.runtime.operation_end import entry_of
from actors.runtime.operation_run import OperationRun
from actors.transport.base import EventSubscription, Transport
from actors.transport.memory import MemoryTransport
from actors.wire.events import OperationFinished
from actors.wire.messages import OPERATION_NODE, Cancel, Start
from actors.wire.requests import (
    CancelRequest,
    DeleteRequest,
    EngineRequest,
    Parameters,
    ProtectRequest,
    RestoreRequest,
    VerifyRequest,
)
from banks.base import Bank
from banks.errors import InvalidKey, LeaseHeld
from plugins.access import UNRESTRICTED, PathGrant, ProjectGrant, merge_forbidden
from plugins.base import OperationType, ProtectionPlugin
from plugins.checkpoint.checkpoint import (
    Checkpoint,
    CheckpointIndex,
    CheckpointStatus,
    ResourceStatus,
)
from plugins.checkpoint.graph import ResourceGraph
from plugins.checkpoint.journal import Journal
from plugins.checkpoint.operation_deadline import write_deadline
from plugins.checkpoint.operation_record import OperationRecord, read_operation_record
from plugins.checkpoint.operation_spec import (
    OperationSpec,
    read_spec,
    read_spec_graph,
    submit_lease_key,
    write_spec,
)
from plugins.checkpoint.store import CheckpointStore
from plugins.context import CURRENT_REQUEST, RequestContext
from plugins.errors import CheckpointNotFound
from plugins.provider import Provider, ProviderSet, load_providers
from plugins.registry import PluginRegistry

log = structlog.get_logger(__name__)

# Renewed every third of it while a request is admitted (discovery of a large project may
# take minutes) and released once the spec is stored: a worker that dies admitting one
# holds its copies back for at most this long (they are retried meanwhile).
SUBMIT_LEASE_TTL = 30.0


@dataclass(frozen=True, slots=True)
class Admission:
    """What became of a submitted request: the operation it names, and, when it started
    nothing because that operation exists, ``duplicate`` saying how (``exists``,
    ``running on this worker``)."""

    operation_id: str
    duplicate: str | None = None


class Engine(ProviderAccess):
    """Submits operations to an actor host and answers questions about checkpoints."""

    def __init__(self, providers: ProviderSet, host: ActorHost,
                 registry: PluginRegistry | None = None) -> None:
        super().__init__(providers, registry)
        self.host = host
        self._set_up: dict[int, ProtectionPlugin] = {}
        self._operation_banks: dict[str, Bank] = {}
        self._verifiers: dict[int, ResourceVerifier] = {}
        host.loader = self.load_operation

    @classmethod
    @asynccontextmanager
    async def embedded(cls, providers_dir: Path | str | None = None, *,
                       registry: PluginRegistry | None = None,
                       transport: Transport | None = None,
                       **host_options: Any) -> AsyncIterator[Engine]:
        """An engine, its host and the in-memory transport in this process."""
        registry = registry if registry is not None else PluginRegistry()
        providers = await load_providers(Path(providers_dir) if providers_dir else None, registry)
        host = ActorHost(transport or MemoryTransport(), **host_options)
        engine = cls(providers, host, registry)
        await host.start()
        try:
            yield engine
        finally:
            await engine.close()

    async def close(self) -> None:
        """Close the host, the plugins and the banks."""
        await self.host.close()
        for plugin in self._set_up.values():
            try:
                await plugin.close()
            except Exception as error:  # one plugin's close must not keep the banks open
                log.warning("plugin_close_failed", plugin=type(plugin).__name__,
                            error=str(error))
        self._set_up.clear()
        for bank in self._banks.values():
            await bank.close()

    # -- operations -------------------------------------------------------------------

    def subscribe(self, operation_id: str | None = None) -> EventSubscription:
        """Progress events of one operation (or all) from now on."""
        return self.host.transport.subscribe(operation_id)

    async def submit(self, request: EngineRequest, *,
                     graph: ResourceGraph | None = None, user_id: str | None = None,
                     paths: PathGrant = UNRESTRICTED,
                     project: ProjectGrant | None = None,
                     trust_id: str | None = None) -> str:
        """Validate ``request`` and start its operation; return the operation id.

        The operation id is the request's ``request_id``: a request submitted again (a
        client retrying, the same message delivered twice) finds the stored spec and
        starts nothing new (:meth:`admit` says so).

        Raises:
            RequestInvalid, ResourceTypeNotSupported, ResourceNotFound, ResourceGraphLoop,
            InvalidParameters, CheckpointNotFound, InvalidCheckpointState: before anything runs.
            OperationNotFound: a cancel names no operation a bank of ours knows.
            OperationUnavailable: another delivery of the request is being submitted
                (retryable: try again later).
            Forbidden: a plugin refused a resource or a path ``paths`` does not grant (the
                bank's own storage is never granted), before anything is written.

        ``user_id`` is who asked (recorded in the operation's spec); ``paths`` where the
        request may read and write on this host (embedded: anywhere but the bank);
        ``project`` the cloud project a Keystone token established (then a restore, delete
        or verify of another project's checkpoint is refused unless it grants that).
        """
        admitted = await self.admit(request, graph=graph, user_id=user_id, paths=paths,
                                    project=project, trust_id=trust_id)
        return admitted.operation_id

    async def admit(self, request: EngineRequest, *,
                    graph: ResourceGraph | None = None, user_id: str | None = None,
                    paths: PathGrant = UNRESTRICTED, project: ProjectGrant | None = None,
                    trust_id: str | None = None) -> Admission:
        """:meth:`submit`, saying whether the request started an operation or was a
        duplicate of one (and why). Raises what :meth:`submit` raises."""
        if isinstance(request, CancelRequest):
            await self._check_cancellable(request.operation_id)
            await self.cancel(request.operation_id)
            return Admission(request.operation_id)
        provider = self.provider(request.provider_id)
        store = await self.store(provider)
        operation_id = request.request_id
        if self.host.hosts(operation_id):
            log.info("request_duplicate", operation_id=operation_id)
            await self._start_again(store.bank, operation_id)
            return Admission(operation_id, duplicate="running on this worker")
        lease = submit_lease_key(operation_id)
        # one owner per attempt: two copies of a request on the same worker must exclude
        # each other too (a lease admits its own owner again)
        attempt = f"{self.host.worker_id}:{uuid.uuid4().hex[:8]}"
        try:
            release = await hold_lease(store.bank, lease, attempt, SUBMIT_LEASE_TTL)
        except LeaseHeld:
            # not a duplicate to drop: the attempt holding the lease may fail (a bank error
            # after it took the lease, and its release failed too), and this copy would then
            # be the only one left. Retried later: by then it exists, or this copy submits it.
            log.info("request_being_submitted", operation_id=operation_id)
            raise OperationUnavailable(
                f"operation {operation_id!r} is being submitted by another delivery of its "
                f"request") from None
        try:
            if await read_spec(store.bank, operation_id) is not None:
                log.info("request_duplicate", operation_id=operation_id)
                await self._start_again(store.bank, operation_id)
                return Admission(operation_id, duplicate="exists")
            context = request_context(request, store, user_id=user_id, paths=paths,
                                       project=project, trust_id=trust_id)
            acting = CURRENT_REQUEST.set(context)  # discovery acts with the request's authority
            try:
                run, spec_graph = await self._prepare(request, provider, store, graph, context)
            finally:
                CURRENT_REQUEST.reset(acting)
            run.deadline = absolute_deadline(run.operation_type, request.deadline, provider,
                                             now=run.started_at)
            await write_spec(store.bank, spec_of(run, self.host.worker_id, request),
                             spec_graph)
            await write_deadline(store.bank, entry_of(run))
        finally:
            await release()
        await self._set_up_plugins(run.plugins)
        self._operation_banks[operation_id] = store.bank
        self.host.register(run)
        log.info("operation_submitted", operation_id=operation_id,
                 operation=run.operation_type, provider_id=provider.id,
                 checkpoint_id=run.checkpoint_id, resources=len(run.graph))
        await self.host.transport.send(Start(operation_id=operation_id, to=OPERATION_NODE))
        return Admission(operation_id)

    async def check_protect(self, request: ProtectRequest, *, user_id: str | None = None,
                            paths: PathGrant = UNRESTRICTED,
                            project: ProjectGrant | None = None,
                            trust_id: str | None = None) -> ResourceGraph:
        """Check ``request`` exactly as :meth:`admit` would before starting it (every
        resource resolves, every parameter fits its plugin's schema, every plugin's
        ``authorize`` passes), writing nothing; return the graph it would protect.

        Raises:
            What :meth:`submit` raises before anything runs.
        """
        provider = self.provider(request.provider_id)
        store = await self.store(provider)
        context = request_context(request, store, user_id=user_id, paths=paths,
                                   project=project, trust_id=trust_id)
        acting = CURRENT_REQUEST.set(context)
        try:
            _, graph = await self._prepare(request, provider, store, None, context)
        finally:
            CURRENT_REQUEST.reset(acting)
        assert graph is not None  # a protect's spec graph
        return graph

    async def _start_again(self, bank: Bank, operation_id: str) -> None:
        """Send a duplicate's operation its ``Start`` again, unless it has ended.

        The first copy of the request stores the spec, then sends ``Start``; a broker link
        lost in between fails that send, and the request comes back as a duplicate of an
        operation that never started (and would wait for its deadline). ``Start`` is
        idempotent: an operation actor past ``created`` ignores it.
        """
        record = await read_operation_record(bank, operation_id)
        if record is None or record.status == "running":
            await self.host.transport.send(Start(operation_id=operation_id, to=OPERATION_NODE))

    async def _check_cancellable(self, operation_id: str) -> None:
        """A cancel must name an operation that exists and has not ended: a Cancel sent
        for any other id is a message no worker can place.

        Raises:
            OperationNotFound: no bank of ours knows the operation.
            RequestInvalid: it has already ended.
            OperationUnavailable: a bank could not be read, so we cannot tell (retryable).
        """
        if self.host.hosts(operation_id):
            return
        found = await self._find_spec(operation_id, strict=True)
        if found is None:
            raise OperationNotFound(operation_id)
        record = await read_operation_record(found[1], operation_id)
        if record is not None and record.status != "running":
            raise RequestInvalid(f"operation {operation_id!r} has already ended "
                                 f"({record.status}); there is nothing to cancel")

    async def _prepare(self, request: OperationRequest,
                       provider: Provider, store: CheckpointStore,
                       graph: ResourceGraph | None,
                       context: RequestContext) -> tuple[OperationRun, ResourceGraph | None]:
        """The run of a new operation, and the graph its spec must carry (protect only)."""
        checkpoint = None
        spec_graph = None
        plan_id = None
        if isinstance(request, ProtectRequest):
            operation_type: OperationType = "protect"
            if graph is None:
                graph = await self.build_graph(request.resources, provider=provider.id,
                                               context=context)
            spec_graph = graph
            checkpoint_id = request.checkpoint_id or str(uuid.uuid4())
            parameters = request.parameters
            plan_id = request.plan_id
        else:
            operation_type = OPERATION_OF[type(request)]
            expect = ({CheckpointStatus.AVAILABLE, CheckpointStatus.ERROR}
                      if operation_type == "delete" else {CheckpointStatus.AVAILABLE})
            checkpoint = await store.open(request.checkpoint_id,
                                          operation_id=request.request_id,
                                          writable=operation_type == "delete", expect=expect)
            if context.project is not None:  # a token established the project
                context.project.check_owner(checkpoint.id, checkpoint.index.project_id,
                                            operation_type)
            graph = operation_graph(operation_type, checkpoint.graph)
            checkpoint_id = request.checkpoint_id
            parameters = {}
            if isinstance(request, RestoreRequest):
                parameters = request.parameters
            elif isinstance(request, VerifyRequest):
                parameters = verify_parameters(request, graph)
        run = self._make_run(provider, store, operation_id=request.request_id,
                             operation_type=operation_type, checkpoint_id=checkpoint_id,
                             graph=graph, parameters=parameters, context=context,
                             checkpoint=checkpoint)
        run.plan_id = plan_id
        return run, spec_graph

    def _make_run(self, provider: Provider, store: CheckpointStore, *, operation_id: str,
                  operation_type: OperationType, checkpoint_id: str, graph: ResourceGraph,
                  parameters: Parameters, context: RequestContext,
                  checkpoint: Checkpoint | None,
                  started_at: float | None = None) -> OperationRun:
        plugins = [provider.plugin_for(resource.type) for resource in graph.nodes]
        if operation_type == "verify":
            plugins = [self._verifier(plugin) for plugin in plugins]
        validated = validate_parameters(operation_type, graph, plugins, parameters)
        for resource, plugin, values in zip(graph.nodes, plugins, validated, strict=True):
            plugin.authorize(operation_type, context, resource, values)
        return OperationRun(
            operation_id=operation_id, operation_type=operation_type, provider_id=provider.id,
            checkpoint_id=checkpoint_id, graph=graph, plugins=plugins, parameters=validated,
            store=store,
            journal=Journal(store.bank, operation_id, journal_writer(self.host.worker_id)),
            request=context, request_id=operation_id, checkpoint=checkpoint,
            raw_parameters=parameters,
            started_at=time.time() if started_at is None else started_at)

    def _verifier(self, plugin: ProtectionPlugin) -> ResourceVerifier:
        """The plugin wrapped for verify operations, once: its activity limit is shared."""
        found = self._verifiers.get(id(plugin))
        if found is None:
            found = self._verifiers[id(plugin)] = ResourceVerifier(plugin)
        return found

    async def _set_up_plugins(self, plugins: Sequence[ProtectionPlugin]) -> None:
        # a verify's wrapper needs the clients of the plugin it wraps
        unwrapped = [p.plugin if isinstance(p, ResourceVerifier) else p for p in plugins]
        for plugin in {id(p): p for p in unwrapped}.values():
            if id(plugin) not in self._set_up:  # once per plugin, closed with the engine
                await plugin.setup()
                self._set_up[id(plugin)] = plugin

    async def load_operation(self, operation_id: str) -> OperationRun | None:
        """Rebuild an operation submitted elsewhere from its bank, or None if no bank of
        ours knows it or it has ended. The host calls this on a message it cannot place.

        Raises:
            BankError, PluginError: if the operation is known but cannot be loaded.
        """
        found = await self._find_spec(operation_id)
        if found is None:
            return None
        spec, bank = found
        record = await read_operation_record(bank, operation_id)
        if record is not None and record.status != "running":
            return None
        provider = self.provider(spec.provider_id)
        store = CheckpointStore(bank)
        checkpoint: Checkpoint | None = None
        if spec.type == "protect":
            graph = await read_spec_graph(bank, operation_id)
            with contextlib.suppress(CheckpointNotFound):  # its pre has not run yet
                checkpoint = await store.open(spec.checkpoint_id, operation_id=operation_id,
                                              writable=True)
        else:
            checkpoint = await store.open(spec.checkpoint_id, operation_id=operation_id,
                                          writable=spec.type == "delete")
            graph = operation_graph(spec.type, checkpoint.graph)
        run = self._make_run(provider, store, operation_id=operation_id,
                             operation_type=spec.type, checkpoint_id=spec.checkpoint_id,
                             graph=graph, parameters=spec.parameters,
                             context=RequestContext(
                                 project_id=spec.project_id, user_id=spec.user_id,
                                 trust_id=spec.trust_id,
                                 paths=spec.paths or merge_forbidden(
                                     UNRESTRICTED, [bank.local_path or ""])),
                             checkpoint=checkpoint,
                             # the operation's real start, not this takeover's
                             started_at=record.started_at if record else spec.submitted_at)
        run.deadline = spec.deadline
        run.plan_id = spec.plan_id
        await self._set_up_plugins(run.plugins)
        self._operation_banks[operation_id] = bank
        return run

    async def _find_spec(self, operation_id: str, *,
                         strict: bool = False) -> tuple[OperationSpec, Bank] | None:
        """The operation's spec and its bank, or None.

        Raises:
            OperationUnavailable: (``strict`` only) a bank could not be opened, so the
                operation may be there.
        """
        unreachable: list[str] = []
        for provider in self.providers.values():
            try:
                bank = await self.bank(provider)
            except Exception as error:  # one unreachable bank must not hide the others
                log.warning("bank_unavailable", provider_id=provider.id, error=str(error))
                unreachable.append(f"{provider.id}: {error}")
                continue
            try:
                spec = await read_spec(bank, operation_id)
            except InvalidKey:  # an id no bank can hold names no operation: not retryable
                return None
            if spec is not None:
                return spec, bank
        if strict and unreachable:
            raise OperationUnavailable(f"operation {operation_id!r}: a bank is unreachable "
                                       f"({'; '.join(unreachable)})")
        return None

    async def run(self, request: EngineRequest, *, timeout: float | None = None,
                  graph: ResourceGraph | None = None) -> OperationFinished:
        """Submit ``request`` and wait for its end."""
        operation_id = await self.submit(request, graph=graph)
        return await self.wait(operation_id, timeout=timeout)

    async def wait(self, operation_id: str, timeout: float | None = None) -> OperationFinished:
        """Wait for an operation to end, on whichever worker its operation actor runs.

        Raises:
            TimeoutError: if it does not end within ``timeout`` seconds.
        """
        if not self.host.durable:
            return await self.host.wait(operation_id, timeout)
        async with asyncio.timeout(timeout):
            return await wait_for_end(operation_id, self.host.result(operation_id),
                                      self.subscribe(operation_id),
                                      self._record_reader(operation_id))

    def _record_reader(self, operation_id: str) -> RecordReader:
        async def read() -> OperationRecord | None:
            bank = self._operation_banks.get(operation_id)
            if bank is None:
                found = await self._find_spec(operation_id)
                if found is None:
                    return None
                bank = self._operation_banks[operation_id] = found[1]
            return await read_operation_record(bank, operation_id)
        return read

    async def cancel(self, operation_id: str, reason: str = CANCELLED_REASON) -> None:
        """Ask an operation to stop; its checkpoint ends ``error`` with ``reason`` (a user's
        cancel: ``cancelled``; the CLI's Ctrl-C: ``interrupted``)."""
        await self.host.transport.send(
            Cancel(operation_id=operation_id, to=OPERATION_NODE, reason=reason))

    # -- checkpoints ------------------------------------------------------------------

    async def list_checkpoints(self, *, provider: str | None = None, marker: str | None = None,
                               limit: int | None = None,
                               plan_id: str | None = None) -> list[CheckpointIndex]:
        """Checkpoints of a provider, newest first; with ``plan_id``, only those that
        plan's protects wrote."""
        chosen = self.provider(provider)
        store = await self.store(chosen)
        if plan_id is None:
            return await store.list(chosen.id, marker=marker, limit=limit)
        found = [index for index in await store.list(chosen.id, marker=marker)
                 if index.plan_id == plan_id]
        return found if limit is None else found[:limit]

    async def show_checkpoint(self, checkpoint_id: str, *, provider: str | None = None,
                              ) -> tuple[CheckpointIndex, ResourceGraph, list[ResourceStatus]]:
        """A checkpoint's index, graph and per-resource status.

        Raises:
            CheckpointNotFound: if there is no such checkpoint.
        """
        store = await self.store(self.provider(provider))
        index = await store.read_index(checkpoint_id)
        if index.status == CheckpointStatus.DELETED:  # only the index is kept, as a tombstone
            return index, ResourceGraph([], []), []
        graph = await store.read_graph(checkpoint_id)
        return index, graph, await store.read_resource_states(checkpoint_id)


__all__ = ["Admission", "DeleteRequest", "Engine", "ProtectRequest", "RestoreRequest",
           "VerifyRequest"]
