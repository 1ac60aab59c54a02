"""A cluster of real worker processes on the real broker, for the multi-host tests."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

import msgspec

from actors.operations.waiting import finished_from_record
from actors.transport.amqp import AmqpTransport
from actors.wire.events import ActivityFinished, Event, OperationFinished
from actors.wire.requests import AnyRequest
from banks.base import Bank
from banks.filesystem.bank import FilesystemBank
from plugins.checkpoint.operation_record import read_operation_record
from plugins.checkpoint.store import CheckpointStore
from tests import broker
from tests.cluster.plugin import PLUGIN_NAME
from tests.helpers.sealed_banks import sealed_view

REPOSITORY = Path(__file__).resolve().parents[2]
PROVIDER_ID = "cluster-provider"


def write_cluster_provider(directory: Path, bank_path: Path,
                           plugin: str = PLUGIN_NAME) -> Path:
    """A provider whose bank is a filesystem directory every worker shares."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "cluster.conf").write_text(
        f"[provider]\nname = Cluster\nid = {PROVIDER_ID}\ndescription = cluster tests\n"
        f"bank = filesystem\nplugin = {plugin}\n\n[filesystem]\npath = {bank_path}\n")
    return directory


class Milestone:
    """Set once ``count`` activities of the operation have finished: "mid-operation" as
    an event to wait on, rather than a guess in seconds."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.finished = 0
        self.reached = asyncio.Event()

    def saw(self, event: Event) -> None:
        if isinstance(event, ActivityFinished):
            self.finished += 1
            if self.finished >= self.count:
                self.reached.set()

    async def wait(self, timeout: float = 60.0) -> None:
        async with asyncio.timeout(timeout):
            await self.reached.wait()


class Cluster:
    """Worker processes sharing one namespace and one bank, and a client transport."""

    def __init__(self, url: str, namespace: str, root: Path, *,
                 lease_ttl: float = 60.0, plugin: str = PLUGIN_NAME) -> None:
        self.url = url
        self.namespace = namespace
        self.root = root
        self.bank_path = root / "bank"
        self.providers = write_cluster_provider(root / "providers", self.bank_path, plugin)
        self.lease_ttl = lease_ttl
        self.workers: dict[str, subprocess.Popen[bytes]] = {}
        self.client: AmqpTransport | None = None
        self._started = 0
        self._logs: list[BinaryIO] = []
        self._bank: FilesystemBank | None = None
        # the passphrase of an encrypted chunk store the providers configure: the engine's
        # objects in the bank are then sealed, and this process reads them as a worker does
        self.passphrase: str | None = None
        self._sealed: Bank | None = None

    def start_worker(self, url: str | None = None, *, metrics_port: int | None = None) -> str:
        """Start one more worker process (serving /metrics, /healthz and /readyz on
        ``metrics_port`` if given); return its id."""
        self._started += 1
        worker_id = f"w{self._started}"
        log = open(self.root / f"{worker_id}.log", "wb")  # noqa: SIM115 - lives with the process
        self._logs.append(log)
        self.workers[worker_id] = subprocess.Popen(
            [sys.executable, "-m", "tests.cluster.worker_main", "--amqp-url", url or self.url,
             "--namespace", self.namespace, "--providers-dir", str(self.providers),
             "--worker-id", worker_id, "--shards", str(broker.TEST_SHARDS),
             "--lease-ttl", str(self.lease_ttl),
             *(["--metrics-port", str(metrics_port)] if metrics_port is not None else [])],
            cwd=REPOSITORY, stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(REPOSITORY)})
        return worker_id

    def kill(self, worker_id: str) -> None:
        """SIGKILL a worker: no goodbye to the broker, no cleanup."""
        process = self.workers.pop(worker_id)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def log_of(self, worker_id: str) -> str:
        return (self.root / f"{worker_id}.log").read_text(errors="replace")

    async def connect(self) -> AmqpTransport:
        self.client = await AmqpTransport.connect(self.url, namespace=self.namespace,
                                                  shards=broker.TEST_SHARDS)
        return self.client

    async def wait_ready(self, timeout: float = 60.0) -> None:
        """Until every worker logged that it started."""
        deadline = time.monotonic() + timeout
        for worker_id, process in self.workers.items():
            while "worker_started" not in self.log_of(worker_id):
                if process.poll() is not None:
                    raise AssertionError(f"{worker_id} exited: {self.log_of(worker_id)[-3000:]}")
                if time.monotonic() > deadline:
                    raise AssertionError(f"{worker_id} did not start in {timeout} s")
                await asyncio.sleep(0.1)

    async def wait_balanced(self, timeout: float = 30.0) -> None:
        """Until every worker has heard of all the others, and shards had time to move."""
        expected = f'"members": {len(self.workers)}'
        async with asyncio.timeout(timeout):
            while not all(expected in self.log_of(w) for w in self.workers):  # noqa: ASYNC110 - polling other processes' logs
                await asyncio.sleep(0.1)
        # non-owners step back from a shard within one balance tick once they heard
        await asyncio.sleep(1.0)

    async def submit(self, request: AnyRequest) -> None:
        assert self.client is not None
        await self.client.publish_request(msgspec.json.encode(request),
                                          request_id=request.request_id)

    async def run(self, request: AnyRequest, *, timeout: float = 120.0,
                  events: list[Event] | None = None,
                  milestone: Milestone | None = None) -> OperationFinished:
        """Publish a request and wait for its end (events, or the record in the bank)."""
        assert self.client is not None
        subscription = self.client.subscribe(request.request_id)
        await subscription.bound  # type: ignore[attr-defined]
        await self.submit(request)
        async with asyncio.timeout(timeout):
            collector = asyncio.create_task(_collect(subscription, events, milestone))
            try:
                while True:
                    done, _ = await asyncio.wait({collector}, timeout=1.0)
                    if done:
                        return collector.result()
                    ended = await self.ended(request.request_id)
                    if ended is not None:
                        return ended
            finally:
                collector.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await collector
                await subscription.close()

    async def bank(self) -> FilesystemBank:
        """The shared bank as this test process reads it, opened once."""
        if self._bank is None:
            self._bank = await FilesystemBank.open({"path": str(self.bank_path)})
        return self._bank

    async def readable_bank(self) -> Bank:
        """The shared bank, sealed with its store's keys if ``passphrase`` is set."""
        bank = await self.bank()
        if not self.passphrase:
            return bank
        if self._sealed is None:  # opened once: the key unwrap is slow on purpose
            self._sealed = await sealed_view(bank, self.passphrase)
        return self._sealed

    async def ended(self, operation_id: str) -> OperationFinished | None:
        record = await read_operation_record(await self.readable_bank(), operation_id)
        if record is None or record.status == "running":
            return None
        return finished_from_record(record)

    async def store(self) -> CheckpointStore:
        return CheckpointStore(await self.readable_bank())

    async def close(self) -> None:
        for process in self.workers.values():
            process.send_signal(signal.SIGTERM)
        for process in self.workers.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.workers.clear()
        for log in self._logs:
            log.close()
        if self.client is not None:
            await self.client.close()
        await broker.delete_namespace(self.url, self.namespace)


async def _collect(subscription, events: list[Event] | None,
                   milestone: Milestone | None) -> OperationFinished:
    async for event in subscription:
        if events is not None:
            events.append(event)
        if milestone is not None:
            milestone.saw(event)
        if isinstance(event, OperationFinished):
            return event
    raise AssertionError("event stream closed")


@contextlib.asynccontextmanager
async def cluster(url: str, root: Path, workers: int,
                  **options: float) -> AsyncIterator[Cluster]:
    """``workers`` worker processes on the real broker, ready; stopped afterwards."""
    running = Cluster(url, broker.new_namespace(), root, **options)
    try:
        for _ in range(workers):
            running.start_worker()
        await running.connect()
        await running.wait_ready()
        await running.wait_balanced()
        yield running
    finally:
        await running.close()
