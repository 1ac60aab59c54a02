"""Three ``strongbox worker`` processes on the real broker run a plan every three seconds
while workers are SIGKILLed and restarted at random: each slot ends one way, a slot runs
at most one protect, no slot is missed, and retention keeps what the policy says."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import msgspec
import pytest

from actors.operations.engine import Engine
from actors.plans.access import LOCAL
from actors.plans.book import PlanBook
from actors.plans.plan import Plan
from actors.plans.schedule import slots_between
from actors.wire.events import Event, SlotEvent, SlotMissed, SlotScheduled, SlotSkipped
from actors.wire.requests import PlanUpdateRequest
from plugins.checkpoint.checkpoint import CheckpointIndex, CheckpointStatus
from plugins.checkpoint.operation_spec import OperationSpec
from tests import broker
from tests.conftest import write_provider
from tests.helpers.plans import create_request, directory_sections, make_source

pytestmark = pytest.mark.broker

REPOSITORY = Path(__file__).resolve().parents[2]
WORKERS = 3
EVERY = 3  # seconds between slots
SLOTS = 26  # slots decided before the schedule is removed
SCHEDULED = 20  # of which at least this many run (the others skipped: no overlap)
KEEP = 2


@pytest.fixture(scope="module")
def amqp_url() -> str:
    return broker.broker_url()


class Workers:
    """``strongbox worker`` processes sharing a namespace and a filesystem bank."""

    def __init__(self, url: str, namespace: str, providers: Path, logs: Path) -> None:
        self.url, self.namespace, self.providers, self.logs = url, namespace, providers, logs
        self.running: dict[str, subprocess.Popen[bytes]] = {}
        self.started = 0
        self.kills = 0

    def start(self) -> str:
        self.started += 1
        worker_id = f"w{self.started}"
        with (self.logs / f"{worker_id}.log").open("wb") as log:
            self.running[worker_id] = subprocess.Popen(
                [sys.executable, "-m", "actors.cli.main", "worker", "--amqp-url", self.url,
                 "--namespace", self.namespace, "--providers-dir", str(self.providers),
                 "--worker-id", worker_id, "--shards", str(broker.TEST_SHARDS),
                 "--lease-ttl", "15", "--plan-grace", "60", "--plan-gc-interval", "20",
                 "--log-level", "info"],
                cwd=REPOSITORY, stdout=log, stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONPATH": str(REPOSITORY)})
        return worker_id

    def kill_one(self, rng: random.Random) -> None:
        worker_id = rng.choice(sorted(self.running))
        process = self.running.pop(worker_id)
        process.send_signal(signal.SIGKILL)
        process.wait()
        self.kills += 1

    def log_of(self, worker_id: str) -> str:
        return (self.logs / f"{worker_id}.log").read_text(errors="replace")

    async def wait_started(self, worker_id: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while "worker_started" not in self.log_of(worker_id):
            if self.running[worker_id].poll() is not None:
                raise AssertionError(f"{worker_id} exited: {self.log_of(worker_id)[-3000:]}")
            assert time.monotonic() < deadline, f"{worker_id} did not start"
            await asyncio.sleep(0.1)

    def stop(self) -> None:
        for process in self.running.values():
            process.send_signal(signal.SIGTERM)
        for process in self.running.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def stored(engine: Engine, prefix: str, suffix: str, kind: type) -> list:
    bank = await engine.bank(engine.provider())
    found = []
    async for key in bank.list_all(prefix):
        if key.endswith(suffix):
            found.append(msgspec.json.decode(await bank.get(key), type=kind))
    return found


async def chaos(workers: Workers, stop: asyncio.Event, rng: random.Random) -> None:
    """Kill a random worker every 4-8 s and start a new one a second later: two at least
    stay alive, so some worker can always decide a slot."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(rng.uniform(4.0, 8.0)):
                await stop.wait()
        if stop.is_set():
            return
        workers.kill_one(rng)
        await asyncio.sleep(1.0)
        await workers.wait_started(workers.start())


async def until_decided(book: PlanBook, plan: Plan, count: int) -> None:
    async with asyncio.timeout(count * EVERY + 40):
        while True:
            history = (await book.find(plan.id, LOCAL))[0].history
            if history.scheduled + history.skipped + history.missed >= count:
                return
            await asyncio.sleep(0.5)


async def settled(engine: Engine, book: PlanBook,
                  plan: Plan) -> tuple[Plan, list[CheckpointIndex]]:
    """Once the last run ended and retention's deletes are done: the plan, its checkpoints."""
    async with asyncio.timeout(40):
        while True:
            current = (await book.find(plan.id, LOCAL))[0]
            indices = [i for i in await stored(engine, "/checkpoints/", "/index",
                                               CheckpointIndex) if i.plan_id == plan.id]
            run = current.history.last_run
            if run is not None and run.status != "running" and all(
                    i.status in ("available", "deleted", "error") for i in indices) \
                    and sum(i.status == "available" for i in indices) <= KEEP:
                return current, indices
            await asyncio.sleep(0.5)


async def test_three_workers_killed_at_random_run_each_slot_once_and_keep_the_last_two(
        amqp_url: str, tmp_path: Path) -> None:
    namespace = broker.new_namespace()
    source = make_source(tmp_path)
    providers = write_provider(tmp_path / "providers", "noop", bank="filesystem",
                               sections=directory_sections(tmp_path / "bank"))
    (tmp_path / "logs").mkdir()
    workers = Workers(amqp_url, namespace, providers, tmp_path / "logs")
    client = await broker.connect(amqp_url, namespace)  # declares the exchanges first
    events: list[Event] = []
    subscription = client.subscribe(None)

    async def collect() -> None:
        async for event in subscription:
            if isinstance(event, SlotEvent):
                events.append(event)

    collecting = asyncio.create_task(collect())
    stop_chaos = asyncio.Event()
    rng = random.Random(int(os.environ.get("STRONGBOX_SEED", time.time())))
    try:
        async with Engine.embedded(providers) as engine:
            book = PlanBook(engine)
            plan = await book.create(create_request(source, every=EVERY, keep_last=KEEP), LOCAL)
            for _ in range(WORKERS):
                await workers.wait_started(workers.start())
            killing = asyncio.create_task(chaos(workers, stop_chaos, rng))
            await until_decided(book, plan, SLOTS)
            stop_chaos.set()
            await killing
            await book.update(PlanUpdateRequest(plan=plan.id, schedule=None), LOCAL)
            current, indices = await settled(engine, book, plan)
            protects = [s for s in await stored(engine, "/operations/", "/spec", OperationSpec)
                        if s.plan_id == plan.id and s.type == "protect"]
    finally:
        stop_chaos.set()
        workers.stop()
        await asyncio.sleep(0.5)  # the last events
        await subscription.close()
        await collecting
        await client.close()
        await broker.delete_namespace(amqp_url, namespace)

    check_outcome(current, plan, protects, indices=indices, events=events, kills=workers.kills)


def check_outcome(current: Plan, plan: Plan, protects: list[OperationSpec], *,
                  indices: list[CheckpointIndex], events: list[Event], kills: int) -> None:
    schedule = plan.schedule
    assert schedule is not None
    history = current.history
    decided = history.scheduled + history.skipped + history.missed
    expected = slots_between(schedule, plan.schedule_since, history.last_slot)
    print(f"\nslots {decided} (scheduled {history.scheduled}, skipped {history.skipped}, "
          f"missed {history.missed}); kills {kills}; protects {len(protects)}; "
          f"slot events {len(events)}; checkpoints {len(indices)}")
    # every slot from the first to the last decided once, none missed
    assert decided == len(expected) >= SLOTS
    assert history.missed == 0
    # a slot runs at most one protect: one operation per scheduled slot, each its own
    assert len(protects) == history.scheduled == len({s.id for s in protects})
    assert history.scheduled >= SCHEDULED
    # events: never two outcomes for one slot; lost only with a worker killed mid-turn
    slots = [e.slot for e in events]
    assert len(slots) == len(set(slots))
    assert not any(isinstance(e, SlotMissed) for e in events)
    assert all(e.reason.startswith("previous operation ") for e in events
               if isinstance(e, SlotSkipped))
    scheduled_events = {e.operation_id for e in events if isinstance(e, SlotScheduled)}
    assert scheduled_events <= {s.id for s in protects}
    assert len(scheduled_events) >= history.scheduled - kills
    # one checkpoint per protect; retention kept the newest KEEP that succeeded
    assert len(indices) == len(protects)
    by_age = sorted(indices, key=lambda i: i.created_at)
    succeeded = [i for i in by_age if i.status != CheckpointStatus.ERROR]
    kept = [i.id for i in by_age if i.status == CheckpointStatus.AVAILABLE]
    assert kept == [i.id for i in succeeded[-KEEP:]]
    assert all(i.status == CheckpointStatus.DELETED for i in succeeded[:-KEEP])


def cli(*arguments: str) -> subprocess.CompletedProcess[str]:
    """``strongbox ARGUMENTS`` from this checkout, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "actors.cli.main", *arguments],
                          cwd=REPOSITORY, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPOSITORY)}, check=False)


async def test_plans_are_created_run_and_refused_through_the_workers_from_the_cli(
        amqp_url: str, tmp_path: Path) -> None:
    namespace = broker.new_namespace()
    source = make_source(tmp_path)
    providers = write_provider(tmp_path / "providers", "noop", bank="filesystem",
                               sections=directory_sections(tmp_path / "bank"))
    (tmp_path / "logs").mkdir()
    workers = Workers(amqp_url, namespace, providers, tmp_path / "logs")
    remote = ("--amqp-url", amqp_url, "--namespace", namespace)
    local = ("--providers-dir", str(providers))
    try:
        await workers.wait_started(workers.start())
        target = f"Strongbox::Directory#{source}"
        created = await asyncio.to_thread(cli, *remote, "plans", "create", "nightly", target,
                                          "--cron", "0 2 * * *", "--keep-last", "2")
        assert created.returncode == 0, created.stderr
        plan_id = created.stdout.strip()
        again = await asyncio.to_thread(cli, *remote, "plans", "create", "nightly", target,
                                        "--cron", "0 3 * * *")
        assert again.returncode == 1
        assert f"a plan named 'nightly' already exists ({plan_id})" in again.stderr
        bad = await asyncio.to_thread(cli, *remote, "plans", "create", "other", target,
                                      "--cron", "every night")
        assert bad.returncode == 1
        assert "request rejected: RequestInvalid: schedule.cron: 'every night'" in bad.stderr
        ran = await asyncio.to_thread(cli, *remote, "protect", "--plan", "nightly", "--wait",
                                      "--json")
        assert ran.returncode == 0, ran.stderr
        listed = await asyncio.to_thread(cli, *local, "--json", "checkpoints", "list",
                                         "--plan", "nightly")
        checkpoints = msgspec.json.decode(listed.stdout)
        assert [c["plan_id"] for c in checkpoints] == [plan_id]
        shown = await asyncio.to_thread(cli, *local, "plans", "show", "nightly")
        assert "last run" in shown.stdout and "succeeded" not in shown.stderr
        deleted = await asyncio.to_thread(cli, *remote, "plans", "delete", "nightly")
        assert deleted.returncode == 0 and deleted.stdout.strip() == plan_id
        gone = await asyncio.to_thread(cli, *local, "--json", "plans", "list")
        assert msgspec.json.decode(gone.stdout) == []
    finally:
        workers.stop()
        await broker.delete_namespace(amqp_url, namespace)
