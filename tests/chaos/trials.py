"""Chaos trials: a protect, a restore and a delete of a quiesced host's directories, one of
them hit by a fault drawn at random (``tests.chaos.faults``), and the checks every trial
must pass.

After each trial: the operation ended within its deadline (never hung); a succeeded protect
restores byte-identical; a failed operation names its cause and no host stays quiesced;
no checkpoint is left ``protecting``; every ``available`` checkpoint verifies
(``tests.chaos.checks``); the suite's retention deletes the failed checkpoints
(``tests.chaos.retention``); nothing is left in the queues but the dead letters of the
requests the suite saw refused, which it takes (``tests.chaos.queue_check``). Every step
runs under a bound of its own (``tests.chaos.steps``): one that does not finish in it
counts as hung, names the step, and the trial goes on to its checks with a new client.
"""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from actors.runtime.operation_end import DEADLINE_EXCEEDED
from actors.transport.base import EventSubscription
from actors.wire.events import OperationFinished, RequestRejected
from actors.wire.requests import (
    AnyRequest,
    DeleteRequest,
    ProtectRequest,
    ResourceRef,
    RestoreRequest,
)
from tests.chaos.checks import (
    REAPER_BOUND,
    collect_garbage,
    read_record,
    unprotected,
    unverified,
)
from tests.chaos.cluster import LEASE_TTL, PROVIDER_ID, SHARDS, ChaosCluster
from tests.chaos.faults import ARMED, FAULTS, PROTECT_ONLY, Undo, inject
from tests.chaos.object_store import S3_PROVIDER_ID
from tests.chaos.plugin import DIRECTORIES, DISK, HOST, quiesce_marker
from tests.chaos.queue_check import ExpectedDeadLetters, unexpected_in_queues
from tests.chaos.report import Report
from tests.chaos.retention import apply_retention
from tests.chaos.steps import DEADLINE, MARGIN, StepHung, bounded, wait_bound
from tests.helpers.directory_trees import snapshot

DISK_DELAY = 1.5  # keeps a protect in flight while its fault lands
GC_AT = 0.5  # the share of the bank's tmpfs in use past which a trial's checks collect


class Trials:
    """Runs trials on one cluster; each trial uses a host of its own."""

    def __init__(self, cluster: ChaosCluster, seed: int,
                 faults: tuple[str, ...] = FAULTS) -> None:
        self.cluster = cluster
        self.faults = faults
        self.random = random.Random(seed)
        self.report = Report()
        self.count = 0
        self.fault = ""
        self.provider = PROVIDER_ID  # the current trial's
        self.dead_letters = ExpectedDeadLetters()  # of the requests the suite saw refused

    async def run(self, trials: int) -> Report:
        for _ in range(trials):
            await self.trial()
        self.report.dead_letters_taken = self.dead_letters.count
        return self.report

    async def trial(self) -> None:
        self.count += 1
        fault = self.random.choice(self.faults)
        if ((fault == "bank_full" and not self.cluster.tmpfs)
                or (fault == "bank_503" and self.cluster.object_store is None)):
            self.report.skipped[fault] += 1
            fault = "kill"
        self.report.faults[fault] += 1
        self.fault = fault
        host = f"h{self.count}"
        self._make_host(host)
        faulted_step = "protect" if fault in PROTECT_ONLY else self.random.choice(
            ("protect", "restore", "delete"))
        if fault in ARMED:
            key = "hang_pre" if fault == "hang" else "raise_pre"
            (self.cluster.root / "faults.json").write_text(json.dumps({key: [host]}))
        try:
            await self._steps(host, fault, faulted_step)
        finally:
            (self.cluster.root / "faults.json").unlink(missing_ok=True)
        try:
            await self._check_cluster(host)
        except StepHung as hung:
            self.report.count_hung(self.count, fault, "checks", hung.step)
            await self.cluster.renew_client()

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
        self.provider = S3_PROVIDER_ID if fault == "bank_503" else PROVIDER_ID
        ids: dict[str, Any] = {"provider_id": self.provider, "deadline": DEADLINE}
        protect = ProtectRequest(resources=[ResourceRef(HOST, host)],
                                 parameters={DISK: {"delay": DISK_DELAY}}, **ids)
        ended = await self._operation(protect, fault if faulted_step == "protect" else None)
        if getattr(ended, "status", None) != "succeeded":  # hung, failed, or rejected
            return
        checkpoint = ended.checkpoint_id
        source = self.cluster.root / "hosts" / host
        target = self.cluster.root / "restored" / host
        restore = RestoreRequest(checkpoint_id=checkpoint, **ids, parameters={
            f"Strongbox::Directory#{source / name}": {"target": str(target / name)}
            for name in DIRECTORIES})
        restored = await self._operation(restore, fault if faulted_step == "restore" else None)
        if getattr(restored, "status", None) == "succeeded":
            try:
                async with bounded("compare", MARGIN):
                    for name in DIRECTORIES:
                        if not await asyncio.to_thread(_same_tree, target / name, source / name):
                            self.report.mismatches += 1
                            self.report.failures.append(f"trial {self.count}: {name} differs")
            except StepHung as hung:
                self.report.count_hung(self.count, fault, "restore check", hung.step)
        shutil.rmtree(target, ignore_errors=True)
        await self._operation(DeleteRequest(checkpoint_id=checkpoint, **ids),
                              fault if faulted_step == "delete" else None)

    async def _operation(self, request: AnyRequest, fault: str | None) -> Any:
        """Run one request, injecting ``fault`` while it runs; its end, or None if a step
        of it hung (counted, with the step) or its deadline ended it."""
        cluster = self.cluster
        kind = type(request).__name__.removesuffix("Request").lower()
        hung: StepHung | None = None
        subscription: EventSubscription | None = None
        undo: Undo | None = None
        injected_at = None
        ended: Any = None
        try:
            async with bounded("subscribe", MARGIN):
                assert cluster.client is not None
                subscription = cluster.client.subscribe(request.request_id)
                await subscription.bound  # type: ignore[attr-defined]
            async with bounded("publish", MARGIN):
                await cluster.submit(request)
            if fault in ARMED:
                injected_at = time.monotonic()
            elif fault is not None:
                await asyncio.sleep(self.random.uniform(0.2, 1.2))  # a moment mid-operation
                injected_at = time.monotonic()
                async with bounded(f"inject {fault}", DEADLINE):
                    undo = await inject(cluster, fault, self.random)
            async with bounded("end", wait_bound(LEASE_TTL)):
                ended = await self._wait_end(request.request_id, subscription)
        except StepHung as error:
            hung = error
        for step, action in (("undo the fault", undo),
                             ("unsubscribe", subscription.close if subscription else None)):
            if action is None:
                continue
            try:
                async with bounded(step, MARGIN):
                    await action()
            except StepHung as error:
                hung = hung or error  # the first step that hung is the one to name
        if hung is not None:
            self.report.count_hung(self.count, fault, kind, hung.step)
            await cluster.renew_client()  # it may be the client that is stuck
            return None
        if not isinstance(ended, RequestRejected) and ended.error == DEADLINE_EXCEEDED:
            self.report.count_hung(self.count, fault, kind, "end (by its deadline)")
            return None
        if injected_at is not None:
            self.report.recovery.append(time.monotonic() - injected_at)
        self._count(request, kind, fault, ended)
        return ended

    def _count(self, request: AnyRequest, kind: str, fault: str | None, ended: Any) -> None:
        """Count an operation's end, and check that a failure or refusal names its cause."""
        if isinstance(ended, RequestRejected):  # set aside with its reason: expected there
            self.dead_letters.expect(request.request_id, ended.reason)
        status = "rejected" if isinstance(ended, RequestRejected) else ended.status
        self.report.outcomes[f"{kind} {status}"] += 1
        self.report.by_fault[f"{fault or 'none'}: {kind} {status}"] += 1
        if status == "succeeded":
            return
        reason = ended.reason if isinstance(ended, RequestRejected) else ended.error
        if not reason:
            self.report.failures.append(f"trial {self.count}: {kind} {status} names no cause")
        elif fault == "bank_503" and "bank" not in reason.lower():
            self.report.failures.append(f"trial {self.count}: {kind} {status} under 503s "
                                        f"names no bank error: {reason[:200]}")
        self.report.errors.append(f"trial {self.count} ({fault}): {kind} {status}: "
                                  f"{(reason or '')[:200]}")

    async def _wait_end(self, request_id: str, subscription: EventSubscription) -> Any:
        """The operation's end: its OperationFinished or refusal, else its record (events
        published while the broker was down are lost; the record is in the bank)."""
        bank = await self.cluster.bank(self.provider)
        events: asyncio.Queue[Any] = asyncio.Queue()

        async def collect() -> None:
            async for event in subscription:
                if isinstance(event, OperationFinished | RequestRejected):
                    events.put_nowait(event)

        collector = asyncio.create_task(collect())
        try:
            while True:  # bounded by the caller's step
                try:
                    async with asyncio.timeout(1.0):
                        return await events.get()
                except TimeoutError:
                    pass
                record = await read_record(bank, request_id)
                if record is not None and record.status != "running":
                    return _Ended(record.status, record.checkpoint_id, record.error)
        finally:
            collector.cancel()
            await asyncio.gather(collector, return_exceptions=True)

    async def _check_cluster(self, host: str) -> None:
        """After a trial: nothing quiesced, protecting, unverifiable or queued; then the
        suite's retention, and the garbage collection once the bank is half full.

        Raises:
            StepHung: naming the check that did not finish in its bound.
        """
        cluster = self.cluster
        if quiesce_marker(host).exists():
            self._failed([f"({self.fault}): host {host} left quiesced"])
        if cluster.crashed():
            self._failed([f"workers exited: {cluster.crashed()}"])
            async with bounded("restart workers", MARGIN * cluster.size):
                for worker_id in cluster.crashed():
                    cluster.workers.pop(worker_id)
                    await cluster.proxies.pop(worker_id).close()
                while len(cluster.workers) < cluster.size:
                    await cluster.start_worker()
        for provider_id in cluster.provider_ids:
            # a protect whose seal could not be written (a full bank) is ended by the
            # reaper once its lease lapses: give it those lease periods, no more
            async with bounded("reaper", REAPER_BOUND + MARGIN):
                indexes = await unprotected(cluster, provider_id)
            async with bounded("verify", DEADLINE):
                self._failed(await unverified(cluster, indexes))
            async with bounded("retention", DEADLINE):
                deleted, failed = await apply_retention(cluster.providers, provider_id,
                                                        indexes)
            self.report.retention_deletes += deleted
            self._failed(failed)
        if cluster.bank_usage() > GC_AT:
            async with bounded("gc", DEADLINE):
                self._failed(await collect_garbage(cluster))
        async with bounded("queues", MARGIN):
            self._failed(await unexpected_in_queues(cluster.node.url, cluster.namespace,
                                                    SHARDS, self.dead_letters))

    def _failed(self, problems: list[str]) -> None:
        self.report.failures += [f"trial {self.count}: {problem}" for problem in problems]


@dataclass
class _Ended:
    status: str
    checkpoint_id: str | None
    error: str | None


def _same_tree(restored: Path, original: Path) -> bool:
    return snapshot(restored) == snapshot(original)


def run_dir(base: Path) -> Path:
    path = base / f"chaos-{int(time.time())}"
    path.mkdir(parents=True)
    return path
