"""Chaos trials: a protect, a restore and a delete of a quiesced host's directories, one of
them hit by a fault drawn at random, and the checks every trial must pass.

Faults: ``kill`` (SIGKILL a worker), ``stop`` (SIGSTOP a worker past the lease), ``broker``
(restart the broker node), ``cut`` (cut a worker's broker connection), ``bank_full``
(the bank's filesystem full until the operation ends), ``hang`` (the host's pre hangs past
its timeout), ``raise`` (the disk's pre raises after the host was quiesced).

After each trial: the operation ended within its bound (never hung); a succeeded protect
restores byte-identical; a failed operation names its cause and no host stays quiesced;
no checkpoint is left ``protecting``; every ``available`` checkpoint verifies; nothing is
left in the queues.
"""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from actors.operations.checkpoint_verify import verify_checkpoint
from actors.operations.engine import Engine
from actors.wire.events import OperationFinished, RequestRejected
from actors.wire.requests import (
    AnyRequest,
    DeleteRequest,
    ProtectRequest,
    ResourceRef,
    RestoreRequest,
)
from plugins.checkpoint.checkpoint import CheckpointStatus
from plugins.checkpoint.operation_record import read_operation_record
from plugins.checkpoint.store import CheckpointStore
from tests.chaos.cluster import LEASE_TTL, PROVIDER_ID, ChaosCluster
from tests.chaos.plugin import DIRECTORIES, DISK, HOST, chaos_registry, quiesce_marker
from tests.helpers.directory_trees import snapshot

FAULTS = ("kill", "stop", "broker", "cut", "bank_full", "hang", "raise")
PROTECT_ONLY = {"hang", "raise", "bank_full"}  # faults of protect activities or bank writes
BOUND = 120.0  # seconds an operation may take, fault and recovery included
DISK_DELAY = 1.5  # keeps a protect in flight while its fault lands
REAPER_BOUND = LEASE_TTL * 4 + 5  # the lease lapses, then a reaper round notices


@dataclass
class Report:
    faults: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    hung: int = 0
    mismatches: int = 0
    failures: list[str] = field(default_factory=list)
    recovery: list[float] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    by_fault: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)  # why each failed operation failed

    def table(self) -> str:
        lines = ["fault        trials", "-------------------"]
        lines += [f"{kind:<12} {self.faults[kind]:>6}" for kind in FAULTS]
        lines += ["", "operation outcome          count", "-------------------------------"]
        lines += [f"{name:<26} {count:>5}" for name, count in sorted(self.outcomes.items())]
        lines += ["", "fault: operation outcome (the faulted operation) count",
                  "------------------------------------------------------"]
        lines += [f"{name:<40} {count:>5}" for name, count in sorted(self.by_fault.items())
                  if not name.startswith("none")]
        median = statistics.median(self.recovery) if self.recovery else 0.0
        worst = max(self.recovery, default=0.0)
        lines += ["", f"hung operations            {self.hung:>5}",
                  f"data mismatches            {self.mismatches:>5}",
                  f"failed checks              {len(self.failures):>5}",
                  f"fault to recovery (s)      median {median:.1f}, worst {worst:.1f}"]
        if self.skipped:
            lines.append(f"faults not available here: {dict(self.skipped)}")
        return "\n".join(lines)


class Trials:
    """Runs trials on one cluster; each trial uses a host of its own."""

    def __init__(self, cluster: ChaosCluster, seed: int) -> None:
        self.cluster = cluster
        self.random = random.Random(seed)
        self.report = Report()
        self.count = 0
        self.fault = ""

    async def run(self, trials: int) -> Report:
        for _ in range(trials):
            await self.trial()
        return self.report

    async def trial(self) -> None:
        self.count += 1
        fault = self.random.choice(FAULTS)
        if fault == "bank_full" and not self.cluster.tmpfs:
            self.report.skipped[fault] += 1
            fault = "kill"
        self.report.faults[fault] += 1
        self.fault = fault
        host = f"h{self.count}"
        self._make_host(host)
        faulted_step = "protect" if fault in PROTECT_ONLY else self.random.choice(
            ("protect", "restore", "delete"))
        if fault in ("hang", "raise"):
            key = "hang_pre" if fault == "hang" else "raise_pre"
            (self.cluster.root / "faults.json").write_text(json.dumps({key: [host]}))
        try:
            await self._steps(host, fault, faulted_step)
        finally:
            (self.cluster.root / "faults.json").unlink(missing_ok=True)
        await self._check_cluster(host)

    def _make_host(self, host: str) -> None:
        base = self.cluster.root / "hosts" / host
        for name in DIRECTORIES:
            directory = base / name
            (directory / "sub").mkdir(parents=True)
            for index in range(self.random.randint(3, 12)):
                size = self.random.choice((0, 10, 4096, 70_000, 300_000))
                (directory / ("sub" if index % 3 else "") / f"f{index}").write_bytes(
                    self.random.randbytes(size))

    async def _steps(self, host: str, fault: str, faulted_step: str) -> None:
        protect = ProtectRequest(resources=[ResourceRef(HOST, host)],
                                 parameters={DISK: {"delay": DISK_DELAY}})
        ended = await self._operation(protect, fault if faulted_step == "protect" else None)
        if ended is None or ended.status != "succeeded":
            return
        checkpoint = ended.checkpoint_id
        target = self.cluster.root / "restored" / host
        restore = RestoreRequest(checkpoint_id=checkpoint, parameters={
            f"Strongbox::Directory#{self.cluster.root / 'hosts' / host / name}": {
                "target": str(target / name)} for name in DIRECTORIES})
        restored = await self._operation(restore, fault if faulted_step == "restore" else None)
        if restored is not None and restored.status == "succeeded":
            for name in DIRECTORIES:
                if snapshot(target / name) != snapshot(self.cluster.root / "hosts" / host / name):
                    self.report.mismatches += 1
                    self.report.failures.append(f"trial {self.count}: {name} differs")
        shutil.rmtree(target, ignore_errors=True)
        await self._operation(DeleteRequest(checkpoint_id=checkpoint),
                              fault if faulted_step == "delete" else None)

    async def _operation(self, request: AnyRequest, fault: str | None) -> Any:
        """Run one request, injecting ``fault`` while it runs; its end, or None if hung."""
        cluster = self.cluster
        kind = type(request).__name__.removesuffix("Request").lower()
        subscription = cluster.client.subscribe(request.request_id)  # type: ignore[union-attr]
        await subscription.bound  # type: ignore[attr-defined]
        await cluster.submit(request)
        injected_at = None
        recover = None
        if fault is not None and fault not in ("hang", "raise"):
            await asyncio.sleep(self.random.uniform(0.2, 1.2))  # a moment mid-operation
            injected_at = time.monotonic()
            recover = await self._inject(fault)
        elif fault is not None:
            injected_at = time.monotonic()
        try:
            ended = await self._wait_end(request.request_id, subscription)
        finally:
            if recover is not None:
                await recover()
            await subscription.close()
        if ended is None:
            self.report.hung += 1
            self.report.failures.append(f"trial {self.count}: {kind} hung ({fault})")
            return None
        if injected_at is not None:
            self.report.recovery.append(time.monotonic() - injected_at)
        status = "rejected" if isinstance(ended, RequestRejected) else ended.status
        self.report.outcomes[f"{kind} {status}"] += 1
        self.report.by_fault[f"{fault or 'none'}: {kind} {status}"] += 1
        if status != "succeeded":
            reason = ended.reason if isinstance(ended, RequestRejected) else ended.error
            if not reason:
                self.report.failures.append(f"trial {self.count}: {kind} {status} names no cause")
            self.report.errors.append(f"trial {self.count} ({fault}): {kind} {status}: "
                                      f"{(reason or '')[:200]}")
        return ended

    async def _inject(self, fault: str) -> Any:
        """Apply ``fault``; return what undoes it once the operation ended (or None)."""
        cluster = self.cluster
        victim = self.random.choice(sorted(cluster.workers))
        if fault == "kill":
            await cluster.kill(victim)
            await cluster.start_worker()
            return None
        if fault == "stop":
            cluster.pause(victim)
            await asyncio.sleep(LEASE_TTL * 1.3)  # past the lease
            cluster.resume(victim)
            return None
        if fault == "broker":
            await asyncio.to_thread(cluster.node.restart, 1.0)
            return None
        if fault == "cut":
            cluster.proxies[victim].cut()
            return None
        if fault == "bank_full":
            await asyncio.to_thread(cluster.fill_bank)

            async def free() -> None:
                cluster.free_bank()
            return free
        raise ValueError(f"unknown fault {fault!r}")

    async def _wait_end(self, request_id: str, subscription: Any) -> Any:
        """The operation's end: its record, its OperationFinished or its refusal."""
        bank = await self.cluster.bank()
        events: asyncio.Queue[Any] = asyncio.Queue()

        async def collect() -> None:
            async for event in subscription:
                if isinstance(event, OperationFinished | RequestRejected):
                    events.put_nowait(event)

        collector = asyncio.create_task(collect())
        deadline = time.monotonic() + BOUND
        try:
            while time.monotonic() < deadline:
                try:
                    return await asyncio.wait_for(events.get(), timeout=1.0)
                except TimeoutError:
                    pass
                record = await _record(bank, request_id)
                if record is not None and record.status != "running":
                    return _Ended(record.status, record.checkpoint_id, record.error)
            return None
        finally:
            collector.cancel()
            await asyncio.gather(collector, return_exceptions=True)

    async def _check_cluster(self, host: str) -> None:
        """After a trial: nothing quiesced, protecting, unverifiable or queued."""
        cluster = self.cluster
        if quiesce_marker(host).exists():
            self.report.failures.append(f"trial {self.count} ({self.fault}): host {host} left "
                                        f"quiesced")
        if cluster.crashed():
            self.report.failures.append(f"trial {self.count}: workers exited: "
                                        f"{cluster.crashed()}")
            for worker_id in cluster.crashed():
                cluster.workers.pop(worker_id)
                await cluster.proxies.pop(worker_id).close()
            while len(cluster.workers) < cluster.size:
                await cluster.start_worker()
        store = CheckpointStore(await cluster.bank())
        # a protect whose seal could not be written (a full bank) is ended by the reaper
        # once its lease lapses: give it those lease periods, no more
        deadline = time.monotonic() + REAPER_BOUND
        while time.monotonic() < deadline and any(  # noqa: ASYNC110 - another process writes it
                index.status == CheckpointStatus.PROTECTING
                for index in await store.list(PROVIDER_ID)):
            await asyncio.sleep(0.5)
        for index in await store.list(PROVIDER_ID):
            if index.status == CheckpointStatus.PROTECTING:
                self.report.failures.append(f"trial {self.count}: checkpoint {index.id} "
                                            f"left protecting")
            elif index.status == CheckpointStatus.AVAILABLE:
                async with Engine.embedded(cluster.providers, registry=chaos_registry()) as e:
                    report = await verify_checkpoint(e, index.id)
                if not report.ok:
                    self.report.failures.append(f"trial {self.count}: checkpoint {index.id} "
                                                f"fails verify: {report.problems[:2]}")
        left: dict[str, int] = {}
        for _ in range(50):  # acks of the last deliveries may trail the end by a moment
            depths = await cluster.queue_depths()
            left = {name: count for name, count in depths.items() if count}
            if not left:
                break
            await asyncio.sleep(0.1)
        if left:
            self.report.failures.append(f"trial {self.count}: queues not empty: {left}")


@dataclass
class _Ended:
    status: str
    checkpoint_id: str | None
    error: str | None


async def _record(bank: Any, operation_id: str) -> Any:
    try:
        return await read_operation_record(bank, operation_id)
    except Exception:  # a full bank, a torn read: ask again next second
        return None


def run_dir(base: Path) -> Path:
    path = base / f"chaos-{int(time.time())}"
    path.mkdir(parents=True)
    return path
