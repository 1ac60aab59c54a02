"""The chaos suite's cluster: a private broker node, worker processes each behind a TCP
proxy that can be cut, a filesystem bank on a small tmpfs that can be filled, and (where
Swift runs) a second provider on an object store behind a fault proxy."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import msgspec

from actors.transport.amqp import AmqpTransport
from actors.wire.requests import AnyRequest
from banks.base import Bank
from banks.filesystem.bank import FilesystemBank
from tests.chaos.broker_node import BrokerNode
from tests.chaos.object_store import S3_PROVIDER_ID, ObjectStore
from tests.chaos.plugin import ROOT_ENV
from tests.chaos.worker_process import WorkerProcess
from tests.cluster.tcp_proxy import TcpProxy

REPOSITORY = Path(__file__).resolve().parents[2]
SHARDS = 4
# Shorter than a broker restart (about ten seconds here; production leases are a minute), so
# that a protect the restart cuts off is also ended by the reaper, which runs its owed aborts:
# both ends of a broker fault get exercised. A SIGSTOP fault outlasts it.
LEASE_TTL = 5.0
PROVIDER_ID = "chaos-provider"
# the plugins of every provider of the suite, with their sections
PLUGINS = ("plugin = directory\nplugin = chaos-host\nplugin = chaos-disk\n"
           "[directory]\nencryption = none\n[chaos-host]\ntimeout = 3\n"
           "[chaos-disk]\ntimeout = 30\n")
BANK_TMPFS = "48m"


class ChaosCluster:
    """Workers, broker and bank of one chaos run."""

    def __init__(self, root: Path, node: BrokerNode, *, workers: int = 2,
                 object_store: ObjectStore | None = None) -> None:
        self.root = root
        self.node = node
        self.object_store = object_store if object_store and object_store.available else None
        self.size = workers
        self.namespace = f"chaos-{uuid.uuid4().hex[:8]}"
        self.bank_path = root / "bank"
        self.providers = root / "providers"
        self.workers: dict[str, WorkerProcess] = {}
        self.proxies: dict[str, TcpProxy] = {}
        self.stopped: set[str] = set()
        self.client: AmqpTransport | None = None
        self.tmpfs = False
        self._started = 0
        self._bank: FilesystemBank | None = None
        os.environ[ROOT_ENV] = str(root)  # the plugins' state, read by this process too

    async def start(self) -> None:
        """Bank, provider file, workers, client."""
        self.bank_path.mkdir(parents=True)
        mounted = await asyncio.to_thread(
            subprocess.run,
            ["mount", "-t", "tmpfs", "-o", f"size={BANK_TMPFS}", "tmpfs", str(self.bank_path)],
            capture_output=True, check=False)
        self.tmpfs = mounted.returncode == 0
        (self.root / "hosts").mkdir()
        self.providers.mkdir()
        (self.providers / "chaos.conf").write_text(
            f"[provider]\nname = Chaos\nid = {PROVIDER_ID}\ndescription = chaos suite\n"
            f"bank = filesystem\n{PLUGINS}\n[filesystem]\npath = {self.bank_path}\n")
        if self.object_store is not None:
            (self.providers / "chaos-s3.conf").write_text(self.object_store.provider_file(PLUGINS))
        for _ in range(self.size):
            await self.start_worker()
        self.client = await AmqpTransport.connect(self.node.url, namespace=self.namespace,
                                                  shards=SHARDS)

    async def renew_client(self) -> None:
        """A new client in place of one that may be stuck (a step of a trial hung)."""
        old, self.client = self.client, None
        if old is not None:
            with contextlib.suppress(Exception):  # a stuck client may not even close
                await asyncio.wait_for(old.close(), timeout=30)
        self.client = await AmqpTransport.connect(self.node.url, namespace=self.namespace,
                                                  shards=SHARDS)

    async def start_worker(self) -> str:
        """One more worker process, connected through a proxy of its own."""
        self._started += 1
        worker_id = f"w{self._started}"
        proxy = TcpProxy("127.0.0.1", self.node.port)
        await proxy.start()
        self.proxies[worker_id] = proxy
        worker = await WorkerProcess.spawn(
            [sys.executable, "-m", "tests.chaos.worker_main",
             "--amqp-url", f"amqp://guest:guest@127.0.0.1:{proxy.port}/",
             "--namespace", self.namespace, "--providers-dir", str(self.providers),
             "--worker-id", worker_id, "--shards", str(SHARDS), "--lease-ttl", str(LEASE_TTL)],
            cwd=REPOSITORY, log_path=self.root / f"{worker_id}.log",
            env={**os.environ, "PYTHONPATH": str(REPOSITORY), ROOT_ENV: str(self.root)})
        self.workers[worker_id] = worker
        await worker.started(timeout=60)
        return worker_id

    def crashed(self) -> list[str]:
        """Workers that exited without being killed by the suite."""
        return [w for w, p in self.workers.items() if p.exited]

    async def kill(self, worker_id: str) -> None:
        process = self.workers.pop(worker_id)
        process.send_signal(signal.SIGKILL)
        await process.wait(10)
        await self.proxies.pop(worker_id).close()

    def pause(self, worker_id: str) -> None:
        self.workers[worker_id].send_signal(signal.SIGSTOP)
        self.stopped.add(worker_id)

    def resume(self, worker_id: str) -> None:
        if worker_id in self.stopped and worker_id in self.workers:
            self.workers[worker_id].send_signal(signal.SIGCONT)
        self.stopped.discard(worker_id)

    def fill_bank(self) -> bool:
        """Fill the bank's tmpfs: every write fails until ``free_bank``. False if no tmpfs."""
        if not self.tmpfs:
            return False
        with contextlib.suppress(OSError), open(self.bank_path / "filler", "wb") as filler:
            block = b"\0" * (1 << 20)
            while True:
                filler.write(block)
                filler.flush()
        return True

    def bank_usage(self) -> float:
        """The share of the bank's tmpfs in use (0 without one: the disk is large)."""
        if not self.tmpfs:
            return 0.0
        usage = shutil.disk_usage(self.bank_path)
        return usage.used / usage.total

    def free_bank(self) -> None:
        (self.bank_path / "filler").unlink(missing_ok=True)

    async def submit(self, request: AnyRequest) -> None:
        assert self.client is not None
        await self.client.publish_request(msgspec.json.encode(request),
                                          request_id=request.request_id)

    @property
    def provider_ids(self) -> list[str]:
        return [PROVIDER_ID] + ([S3_PROVIDER_ID] if self.object_store is not None else [])

    async def bank(self, provider_id: str = PROVIDER_ID) -> Bank:
        """A provider's bank as the suite reads it (the object store past its proxy)."""
        if provider_id == S3_PROVIDER_ID:
            assert self.object_store is not None
            return self.object_store.bank
        if self._bank is None:
            self._bank = await FilesystemBank.open({"path": str(self.bank_path)})
        return self._bank

    async def close(self) -> None:
        for worker_id in list(self.stopped):
            self.resume(worker_id)
        for process in self.workers.values():
            process.send_signal(signal.SIGTERM)
        for worker_id, process in list(self.workers.items()):
            try:
                await process.wait(20)
            except TimeoutError:
                process.send_signal(signal.SIGKILL)
                await process.wait(10)
            await self.proxies.pop(worker_id).close()
        if self.client is not None:
            with contextlib.suppress(Exception):
                await self.client.close(delete=True)
        if self.tmpfs:
            await asyncio.to_thread(subprocess.run, ["umount", "-l", str(self.bank_path)],
                                    check=False, capture_output=True)
