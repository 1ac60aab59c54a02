"""``strongbox worker``: one member of a cluster sharing operations over RabbitMQ.

A worker needs only the broker URL and the provider files (which name the bank). It
consumes every actor shard (the broker makes each shard active on one worker at a time),
carries out requests from the request queue, renews the leases of the operations it
carries, and ends abandoned ones. SIGTERM or SIGINT stops it cleanly: unsettled
deliveries go back to the broker for the other workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
from pathlib import Path

import msgspec
import structlog

from actors.errors import RequestInvalid
from actors.operations.engine import Engine
from actors.service.reaper import reap_forever
from actors.service.request_intake import MAX_REQUEST_BYTES, RequestIntake
from actors.transport.amqp import AmqpTransport
from actors.transport.topology import DEFAULT_NAMESPACE, DEFAULT_SHARDS, redact_url
from plugins.registry import PluginRegistry

log = structlog.get_logger(__name__)

AMQP_URL_ENV = "STRONGBOX_AMQP_URL"


class WorkerOptions(msgspec.Struct, kw_only=True):
    """How a worker joins the cluster and how much it takes on."""

    amqp_url: str
    namespace: str = DEFAULT_NAMESPACE
    shards: int = DEFAULT_SHARDS
    providers_dir: str | None = None
    # host and process: readable in events, unique on one host
    worker_id: str = msgspec.field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")
    max_running_activities: int = 64
    prefetch: int = 64
    request_concurrency: int = 4
    max_request_bytes: int = MAX_REQUEST_BYTES
    lease_ttl: float = 60.0


def broker_url(explicit: str | None) -> str:
    """The broker URL from the option, else ``STRONGBOX_AMQP_URL``.

    Raises:
        RequestInvalid: if neither is set.
    """
    url = explicit or os.environ.get(AMQP_URL_ENV)
    if not url:
        raise RequestInvalid(f"no broker URL: pass --amqp-url or set {AMQP_URL_ENV}")
    return url


async def run_worker(options: WorkerOptions, *, registry: PluginRegistry | None = None,
                     stop: asyncio.Event | None = None,
                     ready: asyncio.Event | None = None) -> None:
    """Serve until ``stop`` is set (or SIGTERM/SIGINT when ``stop`` is None)."""
    stop = stop if stop is not None else _stop_on_signals()
    transport = await AmqpTransport.connect(
        options.amqp_url, namespace=options.namespace, shards=options.shards,
        prefetch=options.prefetch, worker_id=options.worker_id)
    async with Engine.embedded(
            Path(options.providers_dir) if options.providers_dir else None,
            registry=registry, transport=transport, worker_id=options.worker_id,
            max_running_activities=options.max_running_activities,
            lease_ttl=options.lease_ttl) as engine:
        await transport.consume_requests(
            RequestIntake(engine, max_bytes=options.max_request_bytes),
            concurrency=options.request_concurrency)
        reaper = asyncio.create_task(reap_forever(engine, lease_ttl=options.lease_ttl))
        log.info("worker_started", worker=options.worker_id,
                 broker=redact_url(options.amqp_url), namespace=options.namespace,
                 shards=options.shards, providers=list(engine.providers))
        if ready is not None:
            ready.set()
        try:
            await stop.wait()
        finally:
            reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reaper
            log.info("worker_stopping", worker=options.worker_id)


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    return stop
