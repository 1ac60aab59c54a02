"""``strongbox worker``: one member of a cluster sharing operations over RabbitMQ.

A worker needs only the broker URL and the provider files (which name the bank). It
consumes every actor shard (the broker makes each shard active on one worker at a time),
carries out requests from the request queue, runs every plan's schedule with the other
workers (``actors.plans.scheduler``), renews the leases of the operations it carries, and
ends abandoned ones. SIGTERM or SIGINT stops it cleanly: unsettled deliveries go back to
the broker for the other workers.

Without a broker URL the worker is *embedded*: one process, the in-memory transport, no
request queue; it runs the plans of its providers' banks on their schedules
(``run_embedded_worker``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import msgspec
import structlog

from actors.errors import RequestInvalid
from actors.operations.engine import Engine
from actors.plans.authority import local_authority
from actors.plans.scheduler import DEFAULT_GC_INTERVAL, DEFAULT_GRACE, PlanScheduler
from actors.service.authorization import Authorizer
from actors.service.keystone import KeystoneValidator
from actors.service.plan_authority import policy_authority
from actors.service.plan_intake import PlanRequests
from actors.service.policy import Policy, read_policy
from actors.service.readiness import ReadinessProbe
from actors.service.reaper import reap_forever
from actors.service.request_intake import MAX_REQUEST_BYTES, RequestIntake
from actors.service.status_server import StatusServer
from actors.transport.amqp import AmqpTransport
from actors.transport.topology import (
    DEFAULT_NAMESPACE,
    DEFAULT_SHARDS,
    MAX_QUEUED_REQUESTS,
    redact_url,
)
from plugins.registry import PluginRegistry

log = structlog.get_logger(__name__)

AMQP_URL_ENV = "STRONGBOX_AMQP_URL"
AMQP_URL_FILE_ENV = "STRONGBOX_AMQP_URL_FILE"
POLICY_ENV = "STRONGBOX_POLICY"


class WorkerOptions(msgspec.Struct, kw_only=True):
    """How a worker joins the cluster and how much it takes on."""

    amqp_url: str | None  # None: embedded (no broker, the in-memory transport)
    namespace: str = DEFAULT_NAMESPACE
    shards: int = DEFAULT_SHARDS
    providers_dir: str | None = None
    # host and process: readable in events, unique on one host
    worker_id: str = msgspec.field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")
    max_running_activities: int = 64
    prefetch: int = 64
    request_concurrency: int = 4
    # the request queue's bound: every worker of a namespace must declare the same
    max_queued_requests: int = MAX_QUEUED_REQUESTS
    max_request_bytes: int = MAX_REQUEST_BYTES
    lease_ttl: float = 60.0
    policy: str | None = None  # the policy file; None: the single-user mode
    # /metrics, /healthz and /readyz (actors.service.status_server); None: not served
    metrics_port: int | None = None
    metrics_address: str = "127.0.0.1"
    # plans: how late a slot may start, and how often retention's deletes may be followed
    # by a garbage collection of their bank
    plan_grace: float = DEFAULT_GRACE.total_seconds()
    plan_gc_interval: float = DEFAULT_GC_INTERVAL


def broker_url(explicit: str | None, *, url_file: str | None = None) -> str:
    """The broker URL: the option, else the file ``url_file`` (or $STRONGBOX_AMQP_URL_FILE),
    else $STRONGBOX_AMQP_URL.

    A URL with a password on the command line is visible to every user of the host (``ps``);
    it still works, with a warning naming the safer ways.

    Raises:
        RequestInvalid: if none is set, or the file cannot be read.
    """
    if explicit:
        if urlsplit(explicit).password:
            log.warning("password_on_command_line", option="--amqp-url",
                        hint=f"any user of this host can read it; set {AMQP_URL_ENV} or "
                             f"put the URL in a file named by --amqp-url-file")
        return explicit
    url_file = url_file or os.environ.get(AMQP_URL_FILE_ENV)
    if url_file:
        try:
            from_file = Path(url_file).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as error:
            raise RequestInvalid(f"cannot read the broker URL from {url_file}: "
                                 f"{getattr(error, 'strerror', None) or error}") from None
        if not from_file:
            raise RequestInvalid(f"the broker URL file {url_file} is empty")
        return from_file
    url = os.environ.get(AMQP_URL_ENV)
    if not url:
        raise RequestInvalid(f"no broker URL: set {AMQP_URL_ENV}, pass --amqp-url-file FILE "
                             f"or --amqp-url")
    return url


def load_policy(path: str | None) -> Policy | None:
    """The policy file named by ``path`` (or $STRONGBOX_POLICY); None when neither is set.

    Raises:
        PolicyError: naming the file, the line and the fault.
    """
    path = path or os.environ.get(POLICY_ENV) or None
    return read_policy(path) if path else None


async def run_worker(options: WorkerOptions, *, registry: PluginRegistry | None = None,
                     stop: asyncio.Event | None = None,
                     ready: asyncio.Event | None = None) -> None:
    """Serve until ``stop`` is set (or SIGTERM/SIGINT when ``stop`` is None)."""
    stop = stop if stop is not None else _stop_on_signals()
    if options.amqp_url is None:
        await run_embedded_worker(options, registry=registry, stop=stop, ready=ready)
        return
    policy = load_policy(options.policy)  # a bad file stops the worker before it serves
    transport = await AmqpTransport.connect(
        options.amqp_url, namespace=options.namespace, shards=options.shards,
        prefetch=options.prefetch, worker_id=options.worker_id,
        max_queued_requests=options.max_queued_requests)
    async with Engine.embedded(
            Path(options.providers_dir) if options.providers_dir else None,
            registry=registry, transport=transport, worker_id=options.worker_id,
            max_running_activities=options.max_running_activities,
            lease_ttl=options.lease_ttl) as engine:
        authorizer = Authorizer(policy, own_user=transport.user)
        if policy is None:
            log.warning("worker_single_user", broker_user=transport.user,
                        detail="no policy file: serving only requests from this worker's own "
                               "broker user (or with no user_id), restores kept out of the "
                               f"system trees and the bank; set {POLICY_ENV} or --policy")
        else:
            log.info("worker_policy", policy=policy.path, identities=sorted(policy.rules))
        keystone = None
        if policy is not None and policy.keystone is not None:
            keystone = KeystoneValidator.from_cloud(policy.keystone.cloud)
            log.info("worker_keystone", cloud=policy.keystone.cloud,
                     providers=sorted(policy.keystone.providers))
        scheduler = _scheduler(engine, options, authorizer)
        await transport.consume_requests(
            RequestIntake(engine, max_bytes=options.max_request_bytes, authorizer=authorizer,
                          keystone=keystone,
                          plans=PlanRequests(engine, authorizer, changed=scheduler.poke,
                                             keystone=keystone)),
            concurrency=options.request_concurrency)
        status = None
        if options.metrics_port is not None:
            status = StatusServer(ReadinessProbe(engine), host=options.metrics_address,
                                  port=options.metrics_port)
            try:
                await status.start()
            except OSError as error:
                raise RequestInvalid(f"--metrics-port: cannot listen on "
                                     f"{options.metrics_address}:{options.metrics_port}: "
                                     f"{error.strerror or error}") from None
        reaper = asyncio.create_task(reap_forever(engine, lease_ttl=options.lease_ttl))
        scheduling = asyncio.create_task(scheduler.run(stop))
        log.info("worker_started", worker=options.worker_id,
                 broker=redact_url(options.amqp_url), namespace=options.namespace,
                 shards=options.shards, providers=list(engine.providers),
                 metrics=f"{status.host}:{status.port}" if status else None)
        if ready is not None:
            ready.set()
        try:
            await stop.wait()
        finally:
            for task in (reaper, scheduling):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if status is not None:
                await status.close()
            log.info("worker_stopping", worker=options.worker_id)


async def run_embedded_worker(options: WorkerOptions, *,
                              registry: PluginRegistry | None = None,
                              stop: asyncio.Event | None = None,
                              ready: asyncio.Event | None = None) -> None:
    """Run the plans of the providers' banks in this process until ``stop`` is set: the
    in-memory transport, no request queue, acting as the local user (as every embedded
    command does)."""
    stop = stop if stop is not None else _stop_on_signals()
    async with Engine.embedded(
            Path(options.providers_dir) if options.providers_dir else None,
            registry=registry, worker_id=options.worker_id,
            max_running_activities=options.max_running_activities,
            lease_ttl=options.lease_ttl) as engine:
        scheduler = _scheduler(engine, options, None)
        reaper = asyncio.create_task(reap_forever(engine, lease_ttl=options.lease_ttl))
        log.info("worker_started", worker=options.worker_id, broker=None, embedded=True,
                 providers=list(engine.providers))
        if ready is not None:
            ready.set()
        try:
            await scheduler.run(stop)
        finally:
            reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reaper
            log.info("worker_stopping", worker=options.worker_id)
            # nobody else will carry them: end them cleanly (checkpoints ``error``), so a
            # plan's next run is not held back by a run that looks alive
            await _stop_operations(engine)


STOPPED_REASON = "worker stopped"
STOP_GRACE = 10.0


async def _stop_operations(engine: Engine) -> None:
    running = engine.host.hosted_operation_ids()
    for operation_id in running:
        await engine.cancel(operation_id, STOPPED_REASON)
    for operation_id in running:
        with contextlib.suppress(Exception):  # stopping: say nothing of one that will not
            await engine.wait(operation_id, timeout=STOP_GRACE)


def _scheduler(engine: Engine, options: WorkerOptions,
               authorizer: Authorizer | None) -> PlanScheduler:
    """The worker's plan scheduler; with a broker, plans act as their owners under the
    worker's policy."""
    authority = local_authority if authorizer is None else policy_authority(engine, authorizer)
    return PlanScheduler(engine, authority=authority,
                         grace=timedelta(seconds=options.plan_grace),
                         gc_interval=options.plan_gc_interval)


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    return stop
