"""Running schedules: every worker evaluates every plan; each slot is decided once.

No central scheduler and no leader. Each worker (and an embedded ``strongbox worker``)
runs a ``PlanScheduler``: every ``interval`` it looks at the plans it knows (re-read from
the banks every ``refresh`` seconds, and at once after a plan change it carried out),
and for a plan with a slot due, or whose latest run may have ended, it takes its *turn*:

1. take the plan's lease (``actors.plans.store``) without waiting: a worker that finds
   it held leaves the plan to its holder this time;
2. re-read the plan under the lease;
3. if its latest run was still running, read that operation's record; if it ended, note
   how in the history, and after a success apply the retention policy
   (``actors.plans.thinning``);
4. ask ``due_slots`` what is due after the latest slot decided: the slot to run, and
   those missed (past the grace period). Each ends as exactly one of ``SlotScheduled``
   (its protect submitted, with ``request_id = slot_request_id(plan, slot)``),
   ``SlotSkipped`` (the previous run still running, or the owner's protect refused) and
   ``SlotMissed``;
5. write the plan back with its history (one put), release the lease, publish the events.

Exactly once per slot: turns are serialised by the lease, and a turn advances the
history's ``last_slot`` past every slot it decided, so no later turn decides them again.
A worker that dies within a turn leaves the lease to expire (``PLAN_LEASE_TTL``) and the
history unwritten: the next turn decides the same slots again. If the dead worker had
already submitted a slot's protect, submitting it again is a duplicate (the engine's
``admit`` is idempotent by request id), and a slot past its grace whose operation exists
is counted as scheduled, not missed. Events are published after the history is stored,
so a worker dying in between loses that turn's events (never its decisions): the history
and the checkpoints in the bank are the record; events are for watching.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Final

import msgspec
import structlog

from actors.errors import StrongboxError
from actors.operations.bank_gc import GcRefused, collect_bank_garbage
from actors.operations.engine import Engine
from actors.plans.authority import Authority, local_authority
from actors.plans.book import Clock, PlanBook, first_slot
from actors.plans.due import due_slots
from actors.plans.plan import Plan, PlanHistory, RunRecord, utc_now
from actors.plans.slot_ids import slot_request_id
from actors.plans.store import PlanStore
from actors.plans.thinning import thin
from actors.wire.events import (
    PlanEvent,
    RetentionApplied,
    SlotMissed,
    SlotScheduled,
    SlotSkipped,
)
from banks.errors import BankError, LeaseHeld, ObjectNotFound
from plugins.checkpoint.operation_record import read_operation_record
from plugins.checkpoint.operation_spec import read_spec
from plugins.errors import Forbidden, PluginError

log = structlog.get_logger(__name__)

# A slot may start this late and still run; older ones are missed.
DEFAULT_GRACE: Final = timedelta(minutes=5)
DEFAULT_INTERVAL: Final = 1.0
DEFAULT_REFRESH: Final = 10.0
# At most one garbage collection per bank this often, after retention deleted something.
DEFAULT_GC_INTERVAL: Final = 600.0
GC_MARKER: Final = "/plan-gc/last"
# A run noted with no operation behind it this long after is taken as never started.
NEVER_STARTED: Final = timedelta(minutes=2)
# Missed slots checked for an operation a dead worker submitted: the newest few.
MISSED_CHECKED: Final = 20


class PlanScheduler:
    """One worker's share of running every plan's schedule."""

    def __init__(self, engine: Engine, *, authority: Authority = local_authority,
                 clock: Clock = utc_now, grace: timedelta = DEFAULT_GRACE,
                 interval: float = DEFAULT_INTERVAL, refresh: float = DEFAULT_REFRESH,
                 gc_interval: float = DEFAULT_GC_INTERVAL) -> None:
        self.engine = engine
        self.book = PlanBook(engine, clock=clock)
        self.authority = authority
        self.clock = clock
        self.grace = grace
        self.interval = interval
        self.refresh = refresh
        self.gc_interval = gc_interval
        self.worker = engine.host.worker_id
        self._known: dict[str, tuple[Plan, PlanStore]] = {}
        self._refreshed_at = -math.inf
        self._wake = asyncio.Event()
        self._gc_wanted: set[str] = set()
        self._gc_task: asyncio.Task[None] | None = None

    def poke(self) -> None:
        """Re-read the plans and look at them now (a plan changed here)."""
        self._refreshed_at = -math.inf
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Take turns until ``stop`` is set; a failing pass is logged and the next one runs."""
        log.info("plan_scheduler_started", worker=self.worker, grace=self.grace.total_seconds())
        try:
            while not stop.is_set():
                try:
                    await self.tick()
                except Exception as error:  # a bank outage must not end the scheduler
                    log.warning("plan_scheduler_pass_failed", error=f"{type(error).__name__}: "
                                f"{error}")
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.interval):
                        await _first(stop, self._wake)
        finally:
            if self._gc_task is not None:
                self._gc_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._gc_task

    async def tick(self) -> list[PlanEvent]:
        """One pass over the known plans; return the events it published."""
        if time.monotonic() - self._refreshed_at >= self.refresh:
            await self._reload()
        published: list[PlanEvent] = []
        for plan_id, (plan, store) in list(self._known.items()):
            try:
                if await self._wants_turn(plan, store):
                    published.extend(await self.turn(plan_id, store))
            except (BankError, StrongboxError, PluginError) as error:
                log.warning("plan_turn_failed", plan_id=plan_id, error=f"{type(error).__name__}: "
                            f"{error}")
        self._collect_if_due()
        return published

    async def _reload(self) -> None:
        known: dict[str, tuple[Plan, PlanStore]] = {}
        for _, store in await self.book.stores():
            for plan in await store.list():
                known.setdefault(plan.id, (plan, store))
        self._known = known
        self._refreshed_at = time.monotonic()

    async def _wants_turn(self, plan: Plan, store: PlanStore) -> bool:
        """Whether a slot is due, or the latest run has ended unnoted (a cheap look
        without the lease; the turn checks again under it)."""
        run = plan.history.last_run
        if run is not None and run.status == "running":
            record = await read_operation_record(store.bank, run.operation_id)
            if record is not None and record.status != "running":
                return True
            if record is None and self.clock() - run.at > NEVER_STARTED:
                return True
        if plan.schedule is None:
            return False
        due = first_slot(plan.schedule, _baseline(plan))
        return due is not None and due <= self.clock()

    async def turn(self, plan_id: str, store: PlanStore) -> list[PlanEvent]:
        """Decide what is due for one plan, holding its lease; return the events published
        (none if another worker holds the lease)."""
        events: list[PlanEvent] = []
        try:
            owner = f"{self.worker}:{uuid.uuid4().hex[:8]}"
            async with store.locked(plan_id, wait=0.0, owner=owner):
                plan = await store.read(plan_id)
                if plan is None:
                    self._known.pop(plan_id, None)
                    return []
                history = await self._note_end(plan, plan.history, events)
                history = await self._decide(plan, store, history, events)
                if history != plan.history:
                    plan = msgspec.structs.replace(plan, history=history)
                    await store.write(plan)
                self._known[plan_id] = (plan, store)
        except LeaseHeld:
            return []
        for event in events:
            await self.engine.host.transport.publish(event)
        return events

    # -- a run's end, and retention ---------------------------------------------------

    async def _note_end(self, plan: Plan, history: PlanHistory,
                        events: list[PlanEvent]) -> PlanHistory:
        run = history.last_run
        if run is None or run.status != "running":
            return history
        bank = (await self.book.store_for(self.engine.provider(plan.provider_id))).bank
        record = await read_operation_record(bank, run.operation_id)
        if record is None and self.clock() - run.at > NEVER_STARTED and \
                await read_spec(bank, run.operation_id) is None:
            # noted by ``protect --plan`` before a submission that then failed: it never
            # ran, and must not hold back every later slot as "still running"
            lost = msgspec.structs.replace(run, status="never started")
            return msgspec.structs.replace(history, last_run=lost)
        if record is None or record.status == "running":
            return history
        ended = msgspec.structs.replace(
            run, status=record.status, error=record.error,
            finished_at=datetime.fromtimestamp(record.finished_at or time.time(), UTC))
        history = msgspec.structs.replace(history, last_run=ended)
        if record.status != "succeeded":
            return msgspec.structs.replace(
                history, last_error=f"operation {run.operation_id} {record.status}: "
                                    f"{record.error or 'no reason given'}",
                last_error_at=ended.finished_at)
        history = msgspec.structs.replace(history, last_success=ended)
        return await self._retain(plan, run, history, events)

    async def _retain(self, plan: Plan, run: RunRecord, history: PlanHistory,
                      events: list[PlanEvent]) -> PlanHistory:
        """After a success: apply the retention policy, note what it deleted."""
        if plan.retention is None:
            return history
        try:
            thinned = await thin(self.engine, plan, self.authority)
        except (Forbidden, StrongboxError, PluginError) as error:
            log.warning("retention_failed", plan_id=plan.id, error=str(error))
            return msgspec.structs.replace(
                history, last_error=f"retention: {type(error).__name__}: {error}",
                last_error_at=self.clock())
        if thinned.deleted:
            self._gc_wanted.add(plan.provider_id)
        events.append(RetentionApplied(
            operation_id=run.operation_id, plan_id=plan.id, plan_name=plan.name,
            worker=self.worker, deleted=thinned.deleted, kept=thinned.kept))
        return msgspec.structs.replace(
            history, retention_deleted=history.retention_deleted + len(thinned.deleted))

    # -- slots ------------------------------------------------------------------------

    async def _decide(self, plan: Plan, store: PlanStore, history: PlanHistory,
                      events: list[PlanEvent]) -> PlanHistory:
        schedule = plan.schedule
        if schedule is None:
            return history
        now = self.clock()
        due = due_slots(schedule, _baseline(plan), now, grace=self.grace)
        for position, slot in enumerate(due.missed):
            if now - slot <= self.grace:
                # not missed: only late (a turn that stalled, its worker dead); decided as
                # any slot is, in order: run, or skipped while the one before still runs
                history = await self._run(plan, slot, history, events)
                continue
            history = await self._missed(plan, store, slot, history, events,
                                         check=position >= len(due.missed) - MISSED_CHECKED)
        uncounted = due.missed_count - len(due.missed)
        if uncounted > 0:  # slots the schedule module did not list one by one
            history = msgspec.structs.replace(history, missed=history.missed + uncounted)
            if events and isinstance(events[-1], SlotMissed):
                last = events[-1]
                events[-1] = msgspec.structs.replace(last, missed_count=last.missed_count +
                                                     uncounted)
        if due.run is not None:
            history = await self._run(plan, due.run, history, events)
        decided = [slot for slot in (*due.missed, due.run) if slot is not None]
        if decided:
            history = msgspec.structs.replace(history, last_slot=max(decided))
        return msgspec.structs.replace(
            history, next_slot=first_slot(schedule, max(now, history.last_slot or now)))

    async def _missed(self, plan: Plan, store: PlanStore, slot: datetime,
                      history: PlanHistory, events: list[PlanEvent], *,
                      check: bool) -> PlanHistory:
        operation_id = slot_request_id(plan.id, slot)
        if check and await read_spec(store.bank, operation_id) is not None:
            # a worker that died within its turn had submitted it: it ran
            return self._scheduled(plan, slot, operation_id, history, events)
        events.append(SlotMissed(operation_id=operation_id, plan_id=plan.id,
                                 plan_name=plan.name, worker=self.worker, slot=slot))
        log.info("slot_missed", plan_id=plan.id, slot=slot.isoformat())
        return msgspec.structs.replace(history, missed=history.missed + 1,
                                       last_outcome="missed", last_reason=None)

    async def _run(self, plan: Plan, slot: datetime, history: PlanHistory,
                   events: list[PlanEvent]) -> PlanHistory:
        operation_id = slot_request_id(plan.id, slot)
        previous = history.last_run
        if previous is not None and previous.status == "running" and \
                previous.operation_id != operation_id:
            return self._skipped(plan, slot, operation_id, history, events,
                                 reason=f"previous operation {previous.operation_id} "
                                        f"still running")
        request = plan.protect_request(operation_id)
        try:
            grant = self.authority(plan, request)
            await self.engine.admit(request, user_id=grant.user_id, paths=grant.paths,
                                    project=grant.project, trust_id=grant.trust_id)
        except (BankError, StrongboxError, PluginError) as error:
            if isinstance(error, BankError) or getattr(error, "retryable", False):
                raise  # the bank or broker is away: decide this slot again next pass
            reason = f"{type(error).__name__}: {error}"
            history = msgspec.structs.replace(history, last_error=f"slot {slot.isoformat()}: "
                                              f"{reason}", last_error_at=self.clock())
            return self._skipped(plan, slot, operation_id, history, events, reason=reason)
        return self._scheduled(plan, slot, operation_id, history, events)

    def _scheduled(self, plan: Plan, slot: datetime, operation_id: str,
                   history: PlanHistory, events: list[PlanEvent]) -> PlanHistory:
        events.append(SlotScheduled(operation_id=operation_id, plan_id=plan.id,
                                    plan_name=plan.name, worker=self.worker, slot=slot))
        log.info("slot_scheduled", plan_id=plan.id, slot=slot.isoformat(),
                 operation_id=operation_id)
        run = RunRecord(operation_id=operation_id, at=self.clock(), slot=slot)
        newer = history.last_run is None or history.last_run.slot is None or \
            history.last_run.slot < slot
        return msgspec.structs.replace(
            history, scheduled=history.scheduled + 1, last_outcome="scheduled",
            last_reason=None, last_run=run if newer else history.last_run)

    def _skipped(self, plan: Plan, slot: datetime, operation_id: str, history: PlanHistory,
                 events: list[PlanEvent], *, reason: str) -> PlanHistory:
        events.append(SlotSkipped(operation_id=operation_id, plan_id=plan.id,
                                  plan_name=plan.name, worker=self.worker, slot=slot,
                                  reason=reason))
        log.info("slot_skipped", plan_id=plan.id, slot=slot.isoformat(), reason=reason)
        return msgspec.structs.replace(history, skipped=history.skipped + 1,
                                       last_outcome="skipped", last_reason=reason)

    # -- the bank's garbage collection ------------------------------------------------

    def _collect_if_due(self) -> None:
        if not self._gc_wanted or (self._gc_task is not None and not self._gc_task.done()):
            return
        provider_id = self._gc_wanted.pop()
        self._gc_task = asyncio.create_task(self._collect(provider_id))

    async def _collect(self, provider_id: str) -> None:
        """Collect the bank's garbage unless a worker did within ``gc_interval``; the
        collection's own lease keeps two from running at once."""
        provider = self.engine.provider(provider_id)
        bank = await self.engine.bank(provider)
        try:
            last = float((await bank.get(GC_MARKER)).decode())
        except (ObjectNotFound, ValueError):
            last = 0.0
        if time.time() - last < self.gc_interval:
            self._gc_wanted.add(provider_id)  # later: the deletes since then need it too
            return
        await bank.put(GC_MARKER, f"{time.time():.3f}".encode())
        try:
            report = await collect_bank_garbage(self.engine, provider=provider_id)
        except (GcRefused, LeaseHeld) as error:
            log.info("plan_gc_postponed", provider_id=provider_id, reason=str(error))
            self._gc_wanted.add(provider_id)
            return
        except Exception as error:  # a bank without a chunk store, an outage: say so
            log.warning("plan_gc_failed", provider_id=provider_id,
                        error=f"{type(error).__name__}: {error}")
            return
        log.info("plan_gc_done", provider_id=provider_id, deleted=report.sweep.deleted)


def _baseline(plan: Plan) -> datetime:
    """Slots are due after the latest one decided, never before the schedule took effect."""
    last = plan.history.last_slot
    return plan.schedule_since if last is None or last < plan.schedule_since else last


async def _first(*events: asyncio.Event) -> None:
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
